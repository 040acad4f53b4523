#pragma once
// Decoding CMS structures from mail, with the certificates they carry taken
// from a per-process cache.
#include "smime/certificate.h"
#include "smime/limits.h"
#include "smime/ossl/ptr.h"

#include <cstddef>
#include <string_view>

namespace segel::smime {

/**
 * d2i_CMS of @p der (nullptr when it is not a CMS structure). For a
 * SignedData the embedded certificates are decoded once per process: OpenSSL
 * 3.0 runs a full public-key decoder search for every certificate it decodes,
 * which cost more than half of verifying a signed 2 KB message, and mail keeps
 * carrying the same intermediates and the same senders' certificates. The
 * SignedData (DER, or BER as NSS writes it) is decoded without its
 * certificates field and the certificates, from the cache (keyed by their exact
 * encoding), are added back in their order — the same structure a plain
 * d2i_CMS gives. Anything unusual (other certificate choices, a duplicate, an
 * encoding error) takes the plain d2i_CMS.
 */
ossl::Ptr<CMS_ContentInfo> load_cms(std::string_view der);

/**
 * Refuses a CMS structure that would cost more to decode than @p limits allow,
 * judged from its encoding alone, before any decoder builds it: more than
 * k_max_cms_elements ASN.1 elements, more SignerInfos than max_signers, more
 * certificates or CRLs than max_certificates (or one larger than
 * k_max_certificate_bytes), more recipients than max_recipients (each
 * key-agreement recipient counted). RFC 5652 §5.1, §6.1; RFC 5083 §2.1.
 * @param what how the reason names the structure ("the signature", "the message")
 * @throws Error{Limit} with a reason naming the limit; Error{Malformed} when
 *         the encoding cannot be read at all
 */
void check_cms_limits(std::string_view der, const Limits& limits, const char* what);

/**
 * inspect(@p cert), computed once per certificate of the cache above (a
 * certificate load_cms took from it): the sender's and the intermediate's facts
 * are not worked out again for every message they come with (≈ 120 K
 * instructions each: names, the fingerprint, extensions). Any other certificate
 * is inspected as it is.
 */
CertInfo certificate_info(X509* cert);

/** Certificates in the cache (for tests and diagnostics). */
std::size_t cms_certificate_cache_size();

}  // namespace segel::smime
