#pragma once
// What reading one inbound message may cost: bounds on its MIME structure and on
// the CMS structures in it (docs/verification.md, "Limits"; config key
// inbound.limits). They are enforced before or while the bytes are parsed —
// never after a parser has built what they describe — and beyond any of them the
// message is not read further: Error{Category::Limit}, which verification reports
// as permerror with the limit's name, and decryption as a failure.
#include <cstddef>

namespace segel::smime {

struct Limits {
    std::size_t max_parts = 1000;               ///< MIME entities in one message, every level counted
    std::size_t max_depth = 64;                 ///< MIME nesting levels
    std::size_t max_parameters = 100;           ///< parameters of one Content-Type or Content-Disposition field
    std::size_t max_header_bytes = 256 * 1024;  ///< one header block (the message's or a part's), folds included
    std::size_t max_signers = 8;                ///< SignerInfos in one SignedData (each is evaluated)
    std::size_t max_certificates = 64;          ///< certificates and CRLs carried in one CMS structure
    std::size_t max_recipients = 256;           ///< recipients of one EnvelopedData or AuthEnvelopedData
};

/** ASN.1 elements in one CMS structure (each becomes an object in OpenSSL's decoder). */
inline constexpr std::size_t k_max_cms_elements = 100000;
/** One certificate carried in a CMS structure (real ones are 1–3 KB). */
inline constexpr std::size_t k_max_certificate_bytes = 64 * 1024;

}  // namespace segel::smime
