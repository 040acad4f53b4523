#pragma once
// The revocation service (R6): OCSP and CRLs fetched over HTTP, judged with
// smime/revocation.h, cached, and kept fresh in the background for the
// gateway's own signing certificates, so the mail path never waits on the
// network to sign. Inbound signers and recipients' certificates are checked
// on demand through the same caches (a CRL per URL, an OCSP answer per
// certificate), bounded by the configured timeouts, and a responder that is
// down is not asked again before revocation.retry_interval.
//
// Lifetime: one process-wide service (process()), created by the first
// configuration loaded and kept until the process exits, so what is known
// survives reloads (a reload while BSSN's responder is down must not forget
// the last good answers). engine::Gateway holds a shared_ptr to it and
// configures it with every (re)loaded snapshot; segel-milter start()s its
// background thread; segelctl calls refresh() itself. With
// revocation.cache_directory the answers also survive restarts, and
// segelctl and the milter share them (each picks up the other's files).
//
// Thread-safe. Does not log: state changes go to the listener given to start().
#include "config/settings.h"
#include "smime/revocation.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace segel::services {

using TimePoint = std::chrono::system_clock::time_point;

/** revocation.responders, resolved: URLs that replace a certificate's own. */
struct Override {
    smime::ossl::Ptr<X509> issuer;  ///< the CA whose certificates it is for; null: every certificate
    bool has_ocsp = false;
    std::vector<std::string> ocsp;
    bool has_crl = false;
    std::vector<std::string> crl;
};

/**
 * Loads the issuer files of revocation.responders.
 * @throws smime::Error{Credential} naming the file; @p failed_index receives the entry's index
 */
std::vector<Override> load_overrides(const config::Revocation& settings, std::size_t* failed_index = nullptr);

/** A certificate to keep fresh: a loaded signing certificate and the CA that issued it. */
struct Watched {
    smime::ossl::Ptr<X509> cert;
    smime::ossl::Ptr<X509> issuer;
};

/** What is known about one watched certificate. */
struct CertificateStatus {
    /** The latest evidence: Good or Revoked with its time; NotChecked/Unknown when there is none yet. */
    smime::RevocationStatus evidence;
    /** The latest check's failure ("OCSP http://…: Couldn't connect …; CRL …: …"), empty when it worked. */
    std::string problem;
    TimePoint last_attempt{};            ///< zero: never tried
    std::vector<std::string> ocsp_urls;  ///< where it is asked (after revocation.responders)
    std::vector<std::string> crl_urls;
};

class RevocationService {
public:
    /** The process-wide service (see the file comment). */
    static std::shared_ptr<RevocationService> process();

    RevocationService();
    ~RevocationService();
    RevocationService(const RevocationService&) = delete;
    RevocationService& operator=(const RevocationService&) = delete;

    /**
     * Applies a (re)loaded configuration: settings, URL overrides and the
     * certificates to watch. What is known about certificates that stay is
     * kept; answers in the cache directory are loaded for the others. No
     * network, except while running: then new certificates without any
     * answer are checked before it returns (reloads happen off the mail path).
     */
    void configure(const config::Revocation& settings, std::vector<Override> overrides, std::vector<Watched> watched);

    /** What is known about a watched certificate (NotChecked when it is not watched). No I/O. */
    [[nodiscard]] CertificateStatus status(X509* cert) const;
    /**
     * The same by the certificate's SHA-256 fingerprint (smime::ossl::fingerprint_sha256),
     * for callers that keep it: hashing a certificate costs more than the lookup.
     */
    [[nodiscard]] CertificateStatus status_of(const std::string& fingerprint) const;

    /**
     * Checks the watched certificates now: all of them with @p force, else
     * those due (never checked, or older than check_interval). Synchronous.
     */
    void refresh(bool force, TimePoint now);

    /** Called on every change of a watched certificate's state or problem (from the checking thread). */
    using Listener = std::function<void(X509* cert, const CertificateStatus& before, const CertificateStatus& after)>;

    /** Checks what is due, then keeps checking in a background thread until stop() (segel-milter). */
    void start(Listener listener = {});
    void stop();

    /**
     * The status of any certificate (an inbound signer, a recipient's
     * certificate) issued by @p issuer, judged at @p now: a watched
     * certificate's evidence, a cached answer, or — CRL first (one CRL serves
     * every sender of that CA), OCSP where there is no usable CRL — a fetch
     * bounded by revocation.timeout. @p fingerprint: @p cert's SHA-256 (hex) when the
     * caller has it (X509_digest re-encodes the certificate: ≈ 40 K instructions). Never throws.
     */
    smime::RevocationStatus check(X509* cert, X509* issuer, TimePoint now, const std::string& fingerprint = {});

    /** Certificates that signed OCSP answers the service accepted (for expiry notices). */
    [[nodiscard]] std::vector<smime::ossl::Ptr<X509>> responder_certificates() const;

    /** Where @p cert is asked: its AIA / CDP URLs, or revocation.responders' when one applies. */
    [[nodiscard]] smime::RevocationPoints points(X509* cert) const;

private:
    struct Entry;
    struct CrlCopy;
    struct CrlEntry;

    smime::RevocationStatus ask_ocsp(const std::string& url, X509* cert, X509* issuer, TimePoint now,
                                     std::optional<TimePoint> skip_if_down_since);
    /** The copy to judge with; @p error says why there is none, or why a due refresh failed. */
    std::shared_ptr<const CrlCopy> crl_copy(const std::string& url, TimePoint now, std::string& error, bool revalidate);
    bool fetch_crl(const std::string& url, TimePoint now, std::string& error);
    /** @p refresh_error receives why a due refresh failed when an older copy (still valid) answered. */
    smime::RevocationStatus ask_crl(const std::string& url, X509* cert, X509* issuer, TimePoint now,
                                    bool revalidate = false, std::string* refresh_error = nullptr);
    /** Checks one watched certificate; @p revalidate (forced rounds): CRL URLs asked again once per round. */
    void attempt(const std::string& fp, TimePoint now, std::map<std::string, std::string>* dead,
                 std::set<std::string>* revalidate = nullptr);
    void load_cached(Entry& e);
    void pick_up_files();
    void run();
    void record_down(const std::string& url, const std::string& error, TimePoint now);
    bool is_down(const std::string& url, TimePoint since, std::string& error) const;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::condition_variable m_crl_done;
    config::Revocation m_settings;
    std::vector<Override> m_overrides;
    std::map<std::string, Entry> m_watched;                           ///< by fingerprint
    std::map<std::string, CrlEntry> m_crls;                           ///< by URL
    std::map<std::string, smime::RevocationStatus> m_answers;         ///< OCSP answers for certificates not watched
    std::map<std::string, std::pair<TimePoint, std::string>> m_down;  ///< URL → when it failed, why
    std::map<std::string, smime::ossl::Ptr<X509>> m_responders;       ///< by fingerprint
    std::set<std::string> m_refresh_queue;                            ///< CRL URLs to refresh in the background
    Listener m_listener;
    std::thread m_thread;
    bool m_running = false;
    bool m_stop = false;
};

}  // namespace segel::services
