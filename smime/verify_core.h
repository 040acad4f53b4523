#pragma once
// The CMS part of signature checking, for inbound verification and the tests
// that check segel's own signatures: is the signature over these bytes good, who made it,
// and does the signer chain to our anchors. A bad signature is a result.
#include "smime/certificate.h"
#include "smime/limits.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

/** One SignerInfo of a SignedData, checked on its own (RFC 5652 §5.6). */
struct SignerCheck {
    enum class Status {
        Verified,      ///< its digest of the content and its signature check out with its certificate
        Tampered,      ///< its messageDigest is not the content's digest, or its signature does not verify
        Unverifiable,  ///< it cannot be checked: its certificate is not in the message, an unknown algorithm, ...
    };
    Status status = Status::Unverifiable;
    std::string error;                 ///< Tampered / Unverifiable: why, in words
    bool certificate_missing = false;  ///< Unverifiable because the message does not carry its certificate
    ossl::Ptr<X509> cert;              ///< its certificate when the message carries it
    CertInfo info;                     ///< of cert
    bool chain_trusted = false;        ///< cert chains to a trust anchor (Verified only)
    std::string chain_error;
    ossl::Ptr<X509> chain_issuer;  ///< chain_trusted: the certificate that issued cert on that path (else null)
    std::optional<TimePoint> signing_time;
    std::string digest;            ///< e.g. "sha-256" (RFC 8551 micalg names)
    std::string signature_value;   ///< its signature octets (what a time-stamp covers)
    std::string time_stamp_token;  ///< DER of its unsigned id-aa-timeStampToken (RFC 3161 appendix A), or ""
};

struct CmsCheck {
    bool is_signed_data = false;  ///< the CMS content type is id-signedData
    int signer_count = 0;
    /** Every SignerInfo, in the order the structure holds them (at most Limits::max_signers). */
    std::vector<SignerCheck> signers;
    /** The encapsulated content is absent (a detached signature given without its content). */
    bool content_missing = false;

    // The summary: the first verified signer (else the first one carrying its certificate, else the first).
    bool signature_valid = false;  ///< no signer shows tampering, and at least one verified
    std::string signature_error;  ///< the first tampering, or (nothing verified) the first reason none could be checked
    bool chain_trusted = false;   ///< that signer's certificate chains to a trust anchor
    std::string chain_error;
    ossl::Ptr<X509> signer;
    CertInfo signer_info;
    std::optional<TimePoint> signing_time;
    std::string digest;            ///< e.g. "sha-256" (RFC 8551 micalg names)
    std::string content;           ///< encapsulated content (opaque signatures only)
    std::string content_sha256;    ///< SHA-256 of the content checked (hex), when a signer's digest is SHA-256; else ""
    std::string content_type_oid;  ///< the CMS content type when not signed-data
    std::vector<ossl::Ptr<X509>> certificates;  ///< every certificate the CMS carries (untrusted)
    std::string signature_value;                ///< that signer's signature octets (what a time-stamp covers)
    std::string time_stamp_token;               ///< that signer's id-aa-timeStampToken (RFC 3161 appendix A), or ""
};

/**
 * Checks a DER CMS SignedData, every SignerInfo on its own. With @p detached
 * set, the signatures are checked over exactly those bytes (no
 * canonicalisation: the caller decides). The chains are checked at
 * @p chain_time (signing time or now — the caller's choice). Before anything
 * is decoded, the structure is held to @p limits (check_cms_limits).
 * @throws Error{Malformed} only when @p der is not CMS at all; Error{Limit}
 *         when it exceeds @p limits
 */
CmsCheck check_cms(std::string_view der, std::optional<std::string_view> detached, const TrustStore& trust,
                   TimePoint chain_time, const Limits& limits = {});

}  // namespace segel::smime
