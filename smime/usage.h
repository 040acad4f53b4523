#pragma once
// What a certificate says it may be used for, as written: key usage bits by
// name, extended key usages by OID (with criticality), and where its address
// is. The facts behind "why is this certificate unfit for mail" (R4).
#include "smime/certificate.h"
#include "smime/ossl/ptr.h"

#include <string>
#include <vector>

namespace segel::smime {

struct Usage {
    bool key_usage_present = false;
    std::vector<std::string> key_usage;  ///< RFC 5280 §4.2.1.3 names, e.g. "digitalSignature", "keyEncipherment"
    bool eku_present = false;
    bool eku_critical = false;
    std::vector<std::string> eku;     ///< dotted OIDs in certificate order
    bool address_in_san = false;      ///< a subjectAltName rfc822Name
    bool address_in_subject = false;  ///< a subject emailAddress attribute
};

Usage usage_of(X509* cert);

/** The trust anchors of @p trust (for listings and expiry notices). */
std::vector<ossl::Ptr<X509>> anchor_certificates(const TrustStore& trust);

}  // namespace segel::smime
