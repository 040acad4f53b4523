#pragma once
// Revocation as small composable checks (the model: Botan's x509path.h,
// check_ocsp / check_crl): each judges one piece of evidence — an OCSP
// answer (RFC 6960) or a CRL (RFC 5280 §5) — for one certificate at an
// injected time and returns a RevocationStatus saying what it showed and
// why. No network I/O here (services/revocation.h fetches); nothing throws
// for hostile bytes.
#include "smime/certificate.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

/** Where a certificate says its status is published. */
struct RevocationPoints {
    std::vector<std::string> ocsp;  ///< Authority Information Access, id-ad-ocsp URIs (RFC 5280 §4.2.2.1)
    std::vector<std::string> crl;   ///< CRL Distribution Points, fullName URIs (RFC 5280 §4.2.1.13)
};
RevocationPoints revocation_points(X509* cert);

enum class RevocationState {
    NotChecked,  ///< no check was made (switched off, or nowhere to ask): detail says why
    Good,        ///< the evidence says the certificate is not revoked
    Revoked,     ///< the evidence says it is revoked (revoked_at, reason)
    Unknown,     ///< a check was tried and told nothing usable: detail says why
};
/** "not checked", "good", "revoked", "unknown" */
const char* to_string(RevocationState s);

/** One piece of revocation evidence, or the reason there is none. */
struct RevocationStatus {
    enum class Source { None, Ocsp, Crl, CrlFile };
    RevocationState state = RevocationState::NotChecked;
    Source source = Source::None;
    std::string url;                       ///< the responder or distribution point (or CRL file) asked
    TimePoint obtained{};                  ///< when the gateway obtained (or revalidated) the evidence
    TimePoint this_update{};               ///< the issuer's own statement time
    std::optional<TimePoint> next_update;  ///< when the issuer promises newer information
    TimePoint revoked_at{};                ///< Revoked only
    std::string reason;                    ///< Revoked only: the RFC 5280 CRLReason, e.g. "keyCompromise"
    std::string responder;                 ///< OCSP: the subject of the certificate that signed the answer
    std::string detail;                    ///< Unknown / NotChecked: why; else notes ("the answer has no nonce")
};

/** "ocsp", "crl", "crl file", "" */
const char* to_string(RevocationStatus::Source s);

/**
 * The evidence in a few words, for Authentication-Results comments, log lines
 * and segelctl: "ocsp good, 2 h old", "crl revoked on 2026-11-02 (keyCompromise),
 * 5 min old", "crl file good", "unknown: …", "not checked: …".
 */
std::string evidence(const RevocationStatus& s, TimePoint now);

/** Where the evidence came from and how old it is: "crl, just now", "ocsp, 2 h old", "crl file". */
std::string source_and_age(const RevocationStatus& s, TimePoint now);

/** "just now", "12 min", "5 h", "3 d": an age for people. */
std::string format_age(std::chrono::seconds age);

/** A DER OCSPRequest for one certificate, with a fresh 16-byte nonce (RFC 8954). */
struct OcspRequest {
    std::string der;
    std::string nonce;  ///< the nonce extension's value, to compare with the answer's
};
/** @throws Error{Crypto} when OpenSSL cannot build it */
OcspRequest ocsp_request(X509* cert, X509* issuer);

/** How an OCSP answer is judged. */
struct OcspPolicy {
    TimePoint now;                                ///< injected
    std::chrono::seconds skew{300};               ///< tolerated clock difference to the responder
    std::chrono::seconds max_age{7 * 24 * 3600};  ///< answers without nextUpdate: thisUpdate no older
    bool require_nonce = false;                   ///< refuse an answer without a nonce (a wrong one always is)
};

/**
 * Judges a DER OCSPResponse for @p cert, issued by @p issuer: the answer must
 * be signed by the issuer itself or by a responder certificate the issuer
 * issued with id-kp-OCSPSigning that is valid at policy.now (RFC 6960 §4.2.2.2),
 * carry @p nonce when one was sent (a different nonce is refused as a
 * replay), cover the certificate, and be current (thisUpdate not in the
 * future, nextUpdate not past). Good / Revoked, or Unknown with the reason.
 * @param responder_cert receives the certificate that signed the answer (for expiry notices)
 */
RevocationStatus check_ocsp(std::string_view der, X509* cert, X509* issuer, const std::string& nonce,
                            const OcspPolicy& policy, ossl::Ptr<X509>* responder_cert = nullptr);

/** Reads a CRL in DER or PEM form; nullptr and @p error when it is neither. */
ossl::Ptr<X509_CRL> parse_crl(std::string_view bytes, std::string* error = nullptr);

/** Whether @p crl was issued and signed by @p issuer (name, cRLSign, signature); "" or the reason. */
std::string crl_signed_by(X509_CRL* crl, X509* issuer);

/**
 * Judges @p cert against @p crl (which crl_signed_by(crl, issuer) accepted):
 * the CRL must be current at @p now (thisUpdate not in the future beyond
 * @p skew, nextUpdate present and not past), then the serial is looked up.
 * Good / Revoked, or Unknown ("the CRL expired on …").
 */
RevocationStatus check_crl(X509_CRL* crl, X509* cert, TimePoint now,
                           std::chrono::seconds skew = std::chrono::seconds(300));

/**
 * The entry of @p cert in @p crl, whatever the CRL's currency (for the record
 * once a chain check has judged it): Revoked with the date and reason into
 * @p status; false when the CRL does not list it.
 */
bool crl_entry(X509_CRL* crl, X509* cert, RevocationStatus& status);

/** thisUpdate and nextUpdate of a CRL (nextUpdate absent: nullopt). */
std::pair<TimePoint, std::optional<TimePoint>> crl_times(X509_CRL* crl);

}  // namespace segel::smime
