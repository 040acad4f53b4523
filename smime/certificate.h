#pragma once
// Facts about certificates, the trust store, and signing credentials.
// Everything here is loaded once (start or reload), never per message.
#include "smime/keys.h"
#include "smime/ossl/ptr.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace segel::smime {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

/** What a certificate says, in plain data. */
struct CertInfo {
    std::vector<std::string> addresses;  ///< SAN rfc822Name and subject emailAddress, lower-cased
    std::string subject;                 ///< one-line RFC 2253 form
    std::string common_name;
    std::string issuer;
    std::string serial;       ///< hex, upper case, no separators
    std::string fingerprint;  ///< SHA-256 of the DER, lower-case hex
    TimePoint not_before;
    TimePoint not_after;
    bool key_usage_present = false;
    bool key_usage_signs = false;  ///< digitalSignature or nonRepudiation (true when KU absent)
    bool eku_present = false;
    bool eku_email = false;  ///< emailProtection or anyExtendedKeyUsage (true when EKU absent)
    std::string key_type;    ///< "RSA", "EC P-256", ...
    int key_bits = 0;
};

CertInfo inspect(X509* cert);

/**
 * An ASN.1 UTCTime or GeneralizedTime (RFC 5280 §4.1.2.5) as a TimePoint,
 * clamped as base::time_from_unix() does (beyond 2262: TimePoint::max(),
 * shown as 9999-12-31 by base::format_date); nullopt when it cannot be read.
 */
std::optional<TimePoint> asn1_time(const ASN1_TIME* t);

/** An ASN.1 UTCTime/GeneralizedTime as a time point, clamped as asn1_time() (the epoch when it cannot be read). */
TimePoint to_time_point(const ASN1_TIME* t);

/** Result of building a path from a leaf to a trust anchor. */
struct ChainCheck {
    bool trusted = false;
    std::string error;                  ///< OpenSSL's reason when not trusted
    TimePoint earliest_not_after;       ///< the first moment any certificate of the path expires
    std::vector<ossl::Ptr<X509>> path;  ///< leaf first, anchor last (when trusted)
};

/** Trust anchors (the BSrE roots) plus extra intermediates. Immutable after load. */
class TrustStore {
public:
    /** Loads every certificate from the PEM files; throws Error{Credential} naming the file. */
    static TrustStore load(const std::vector<std::string>& anchor_files,
                           const std::vector<std::string>& intermediate_files);
    TrustStore() = default;

    /**
     * Builds and checks a path. With @p at empty, validity periods are not
     * checked (the caller compares them to its own clock); with a time, they are.
     */
    ChainCheck check(X509* leaf, const std::vector<ossl::Ptr<X509>>& untrusted,
                     std::optional<TimePoint> at = std::nullopt) const;

    [[nodiscard]] X509_STORE* store() const { return m_store.get(); }
    [[nodiscard]] const std::vector<ossl::Ptr<X509>>& intermediates() const { return m_intermediates; }
    [[nodiscard]] std::size_t anchor_count() const { return m_anchor_count; }

private:
    std::shared_ptr<X509_STORE> m_store;
    std::vector<ossl::Ptr<X509>> m_intermediates;
    std::size_t m_anchor_count = 0;
};

/** A private key with its certificate and chain. */
struct Credential {
    std::string source;  ///< the file or PKCS#11 URI it came from, for logs and explain
    ossl::Ptr<X509> cert;
    std::shared_ptr<const KeySource> key;  ///< in memory, or in a token (smime/keys.h): use() it per operation
    std::vector<ossl::Ptr<X509>> chain;    ///< intermediates shipped with the key
    CertInfo info;
    /** DER of the ESS signing-certificate-v2 value (RFC 5035, SHA-256) naming @c cert: made once at load. */
    std::string ess_v2;
};

/**
 * Loads a PKCS#12 file (modern AES or legacy RC2/3DES). The passphrase is read
 * from @p passphrase_file (one trailing newline ignored) and wiped after use.
 * Refuses key and passphrase files that group or others may read.
 */
Credential load_pkcs12(const std::string& file, const std::string& passphrase_file);

/** Loads a PEM certificate (chain may follow in the same file) and a PEM key. */
Credential load_pem(const std::string& cert_file, const std::string& key_file, const std::string& passphrase_file = {});

/**
 * Opens a key in a PKCS#11 token (smime/keys.h open_token_key) with its
 * certificate: from @p certificate_file (PEM, the chain may follow) when given,
 * else the certificate stored in the token next to the key.
 * @throws Error{Credential} naming the URI or file and the fix
 */
Credential load_pkcs11(const TokenKeyRef& ref, const std::string& certificate_file = {});

/** Throws Error{Credential} when @p file can be read by group or others. */
void require_private_file(const std::string& file, const char* what);

/** Reads every certificate in a PEM file. */
std::vector<ossl::Ptr<X509>> read_pem_certs(const std::string& file);

}  // namespace segel::smime
