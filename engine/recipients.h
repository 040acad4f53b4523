#pragma once
// Finding a recipient's encryption certificate: a local store, the
// certificates harvested from verified inbound mail, then an LDAP directory
// (in that order); each candidate is checked (trust, validity, key usage,
// address) and the newest usable one wins. Answers are cached with a bounded
// size and lifetime. Thread-safe: one store serves every milter thread.
#include "config/settings.h"
#include "smime/certificate.h"

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace segel::engine {

using TimePoint = std::chrono::system_clock::time_point;

/** A usable certificate and where it came from. */
struct RecipientCertificate {
    smime::ossl::Ptr<X509> cert;
    std::string source;  ///< "directory /etc/segel/recipients/a@b.pem", "harvest ...", "ldap ldap://..."
    smime::CertInfo info;
};

/** The answer for one address. */
struct RecipientLookup {
    std::shared_ptr<const RecipientCertificate> found;  ///< null: no usable certificate
    bool lookup_failed = false;                         ///< a source could not be asked (temporary; not cached)
    std::string why;                                    ///< one line: what was chosen, or why nothing was
    bool cached = false;
};

/** Where certificates come from, apart from files: an LDAP search (replaceable in tests). */
class CertificateDirectory {
public:
    virtual ~CertificateDirectory() = default;
    /**
     * DER certificates published for @p address (userCertificate;binary, and the
     * certificates inside userSMIMECertificate).
     * @throws smime::Error{Io} when the directory cannot be asked
     */
    virtual std::vector<std::string> search(const std::string& address) const = 0;
    [[nodiscard]] virtual std::string name() const = 0;
};

/** The libldap implementation of CertificateDirectory (RFC 4523 / RFC 2798 attributes). */
std::unique_ptr<CertificateDirectory> make_ldap_directory(const config::Encryption::Ldap& ldap);

/** RFC 4515 §3 escaping of a value placed into a search filter. */
std::string ldap_escape(const std::string& value);

class RecipientStore {
public:
    /**
     * @param enc the encryption settings (sources, cache bounds)
     * @param trust the anchors recipient certificates must chain to (built by load_trust)
     * @param directory the LDAP source, or null for none
     */
    /**
     * Why a trusted certificate must not be encrypted to for revocation reasons
     * (known revoked; unknown, when so configured), or "" (services/revocation.h).
     */
    using RevocationVeto = std::function<std::string(X509* cert, X509* issuer, TimePoint now)>;

    RecipientStore(const config::Encryption& enc, std::string harvest_directory, smime::TrustStore trust,
                   std::unique_ptr<CertificateDirectory> directory, RevocationVeto revocation = {});

    /**
     * Builds the recipient trust store: trust.anchors and intermediates, plus
     * encryption.extra_anchors, plus the system CA bundle when system_trust.
     * @throws smime::Error{Credential} naming an unreadable file
     */
    static smime::TrustStore load_trust(const config::Settings& s);

    /** Looks @p address up (lower-cased) at time @p now; never throws for a lookup problem. */
    RecipientLookup lookup(const std::string& address, TimePoint now) const;

    /** Why @p cert cannot encrypt to @p address at @p now, or "" when it can. */
    std::string unusable(X509* cert, const std::vector<smime::ossl::Ptr<X509>>& chain, const std::string& address,
                         TimePoint now) const;

    [[nodiscard]] std::size_t cache_entries() const;

private:
    struct Entry {
        RecipientLookup answer;
        TimePoint expires;
        std::list<std::string>::iterator lru;
    };
    RecipientLookup search(const std::string& address, TimePoint now) const;
    RecipientLookup choose(const std::string& address, const std::string& source,
                           std::vector<smime::ossl::Ptr<X509>> certs, TimePoint now, std::string& rejected) const;

    std::string m_directory;
    std::string m_harvest;
    smime::TrustStore m_trust;
    std::unique_ptr<CertificateDirectory> m_ldap;
    RevocationVeto m_revocation;
    std::size_t m_cache_size;
    std::chrono::seconds m_ttl;
    std::chrono::seconds m_negative_ttl;
    mutable std::mutex m_mutex;
    mutable std::unordered_map<std::string, Entry> m_cache;
    mutable std::list<std::string> m_lru;  ///< most recently used first
};

}  // namespace segel::engine
