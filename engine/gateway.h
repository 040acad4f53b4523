#pragma once
// The gateway's one code path, shared by segel-milter and segelctl: the
// validated settings, the keys and trust store loaded once, and "decide, then
// sign" for one message. Knows nothing of libmilter; does not log.
#include "config/settings.h"
#include "engine/crl_files.h"
#include "engine/outcome.h"
#include "engine/recipients.h"
#include "policy/decide.h"
#include "services/revocation.h"
#include "smime/blob.h"
#include "smime/certificate.h"
#include "smime/sign.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::services::tsa {
class Client;
}

namespace segel::engine {

using TimePoint = std::chrono::system_clock::time_point;

/** An immutable snapshot: settings + trust store + keys. Reload builds a new one. */
class Gateway {
public:
    /**
     * Loads the configuration and everything it names (trust anchors, keys).
     * @throws config::ConfigError pointing at the config line for every problem,
     *         including unreadable or world-readable key files.
     */
    static std::shared_ptr<const Gateway> load(const std::string& config_path);
    static std::shared_ptr<const Gateway> from_settings(config::Settings settings);

    [[nodiscard]] const config::Settings& settings() const { return m_settings; }
    /** The installed certificates as loaded (revocation: as known at load; see facts()). */
    [[nodiscard]] const std::vector<policy::CertFacts>& certificates() const { return m_facts; }
    /** certificates() with the revocation service's current knowledge, judged at @p now (no I/O). */
    [[nodiscard]] std::vector<policy::CertFacts> facts(TimePoint now) const;
    /** The process-wide revocation service this snapshot configured (services/revocation.h). */
    [[nodiscard]] services::RevocationService& revocation() const { return *m_revocation; }
    [[nodiscard]] const smime::TrustStore& trust() const { return m_trust; }
    /** The loaded keys (same order as certificates()); for decryption (engine/encrypt.h). */
    [[nodiscard]] const std::vector<smime::Credential>& credentials() const { return m_credentials; }
    /** Recipient certificate lookup for encryption (engine/recipients.h); thread-safe. */
    [[nodiscard]] const RecipientStore& recipients() const { return *m_recipients; }

    /** The policy decision for an envelope (no message needed: used at end of headers). */
    [[nodiscard]] policy::Decision decide(const policy::Envelope& env, TimePoint now) const;

    /**
     * Rules 8 and 9 of the policy (policy::decide_protected) for a Sign decision:
     * when the client already signed @p message, verifies the signature with the
     * trust store at @p now (revocation: inbound.crl_files) against the decision's
     * sender; client-encrypted mail cannot be checked. Returns @p d unchanged for
     * an unprotected message, else Pass (the sender's own valid signature, or
     * client_*: pass), Sign (client_*: wrap) or Reject.
     * @p known is what the message is when the caller could tell from the head it
     * holds (smime::classify_content_type); nullopt: the spool is classified, and
     * only when @p d signs.
     * @throws smime::Error when the verification could not be done (temperror: the caller tempfails)
     */
    [[nodiscard]] policy::Decision check_client_protection(const policy::Decision& d, const smime::Blob& message,
                                                           std::optional<smime::Protection> known, TimePoint now) const;

    /**
     * Signs with the chosen certificate of @p decision (Sign decisions only);
     * with a @p sink the new body goes there as it is made, and @p body_scan is
     * the body as received already scanned (smime::SignOptions::body_scan), and
     * @p boundary the multipart/signed boundary to use ("" draws one). When
     * the signer's domain names time-stamp authorities, the signature gets an
     * RFC 3161 time-stamp, and @p time_stamp (when given) what happened.
     * @throws smime::Error{Unavailable} when no authority gave a valid time-stamp
     *         and timestamping.on_failure is defer
     */
    [[nodiscard]] smime::SignedMessage sign(const policy::Decision& decision, const smime::Blob& message, TimePoint now,
                                            const smime::BodySink& sink = {},
                                            const smime::canonical::Scanner* body_scan = nullptr,
                                            const std::string& boundary = {},
                                            std::optional<TimeStampFacts>* time_stamp = nullptr) const;
    /** The anchors TSA certificates must chain to (timestamping.anchors, else trust.anchors). */
    [[nodiscard]] const smime::TrustStore& tsa_trust() const { return *m_tsa_trust; }

    /**
     * Makes @p message ready to sign (smime::prepare): everything the message
     * itself makes unsignable throws here, as smime::Error{Malformed}, before
     * any edit exists (policy::unsignable answers it).
     */
    [[nodiscard]] smime::PreparedEntity prepare(const smime::Blob& message, TimePoint now,
                                                const smime::canonical::Scanner* body_scan = nullptr) const;

    /** Signs a prepared entity with the chosen certificate of @p decision (see sign() above). */
    [[nodiscard]] smime::SignedMessage sign(const policy::Decision& decision, const smime::PreparedEntity& entity,
                                            TimePoint now, const smime::BodySink& sink = {},
                                            const std::string& boundary = {},
                                            std::optional<TimeStampFacts>* time_stamp = nullptr) const;

    /** The SMIME options signing uses (format; the boundary is the caller's). */
    [[nodiscard]] smime::SignOptions sign_options(TimePoint now) const;
    /** The CRL files of inbound.crl_files, as this snapshot has read them. */
    [[nodiscard]] const CrlFiles& crl_files() const { return *m_crl_files; }

private:
    /** facts(now), assigned into @p out (whose buffers a caller may reuse from message to message). */
    void facts_into(std::vector<policy::CertFacts>& out, TimePoint now) const;
    /** The time-stamp anchors and, per domain with timestamp:, its authorities (credentials read). */
    static void load_time_stamping(Gateway& gw);

    config::Settings m_settings;
    smime::TrustStore m_trust;
    std::vector<smime::Credential> m_credentials;
    std::vector<std::vector<smime::ossl::Ptr<X509>>> m_chains;  ///< intermediates to embed, per credential
    std::vector<policy::CertFacts> m_facts;
    std::shared_ptr<const RecipientStore> m_recipients;         ///< built by make_recipient_store (engine/encrypt.h)
    std::shared_ptr<services::RevocationService> m_revocation;  ///< process-wide; this snapshot's watch list
    std::shared_ptr<CrlFiles> m_crl_files;
    std::shared_ptr<const smime::TrustStore> m_tsa_trust;
    /** signing.domains[].domain → its time-stamp authorities (domains without timestamp: absent). */
    std::map<std::string, std::shared_ptr<const services::tsa::Client>> m_tsa;
};

/** The revocation facts for policy from what the service knows, with the evidence put in words at @p now. */
policy::RevocationFacts revocation_facts(const services::CertificateStatus& status, TimePoint now);

/**
 * Adds one From header field to @p env: its raw value (what policy::decide reads
 * strictly) and GMime's reading of its mailboxes (for inbound verification).
 */
void add_from_header(policy::Envelope& env, const std::string& value);

/**
 * Reads the From header fields of a whole message into @p env (segelctl, tests).
 */
void read_from_headers(policy::Envelope& env, std::string_view message);

/**
 * The whole message with its top-level entity replaced: the original header
 * fields minus Content-* and MIME-Version, then MIME-Version and @p headers, a
 * blank line, then @p body. CRLF. (segelctl, tests, inner verification.)
 */
std::string replace_entity(std::string_view original, const std::vector<smime::Header>& headers, std::string_view body);

/** One raw header field of a message head: name and value as written (value keeps its folding). */
struct RawHeader {
    std::string name;
    std::string value;  ///< after the colon, with leading white space and folding, no final line end
};
/** Splits the head of @p message into fields; @p body_offset receives where the body starts. */
std::vector<RawHeader> split_head(std::string_view message, std::size_t* body_offset = nullptr);

}  // namespace segel::engine
