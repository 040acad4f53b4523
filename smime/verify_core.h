#pragma once
// The CMS part of signature checking, for inbound verification and the tests
// that check segel's own signatures: is the signature over these bytes good, who made it,
// and does the signer chain to our anchors. A bad signature is a result.
#include "smime/certificate.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

struct CmsCheck {
    bool is_signed_data = false;  ///< the CMS content type is id-signedData
    int signer_count = 0;
    bool signature_valid = false;  ///< digest and signature over the content check out
    std::string signature_error;
    bool chain_trusted = false;  ///< the signer's certificate chains to a trust anchor
    std::string chain_error;
    ossl::Ptr<X509> signer;
    CertInfo signer_info;
    std::optional<TimePoint> signing_time;
    std::string digest;                         ///< e.g. "sha-256" (RFC 8551 micalg names)
    std::string content;                        ///< encapsulated content (opaque signatures only)
    std::string content_type_oid;               ///< the CMS content type when not signed-data
    std::vector<ossl::Ptr<X509>> certificates;  ///< every certificate the CMS carries (untrusted)
    std::string signature_value;                ///< the SignerInfo's signature octets (what a time-stamp covers)
    std::string time_stamp_token;  ///< DER of its unsigned id-aa-timeStampToken (RFC 3161 appendix A), or ""
};

/**
 * Checks a DER CMS SignedData. With @p detached set, the signature is checked
 * over exactly those bytes (no canonicalisation: the caller decides). The
 * chain is checked at @p chain_time (signing time or now — the caller's choice).
 * @throws Error{Malformed} only when @p der is not CMS at all.
 */
CmsCheck check_cms(std::string_view der, std::optional<std::string_view> detached, const TrustStore& trust,
                   TimePoint chain_time);

}  // namespace segel::smime
