#include "smime/usage.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <utility>

namespace segel::smime {

Usage usage_of(X509* cert) {
    Usage u;
    const uint32_t flags = X509_get_extension_flags(cert);
    u.key_usage_present = (flags & EXFLAG_KUSAGE) != 0;
    if (u.key_usage_present) {
        const uint32_t ku = X509_get_key_usage(cert);
        static const std::pair<uint32_t, const char*> k_bits[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
                                                                  {KU_NON_REPUDIATION, "nonRepudiation"},
                                                                  {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
                                                                  {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
                                                                  {KU_KEY_AGREEMENT, "keyAgreement"},
                                                                  {KU_KEY_CERT_SIGN, "keyCertSign"},
                                                                  {KU_CRL_SIGN, "cRLSign"},
                                                                  {KU_ENCIPHER_ONLY, "encipherOnly"},
                                                                  {KU_DECIPHER_ONLY, "decipherOnly"}};
        for (const auto& [bit, name] : k_bits) {
            if ((ku & bit) != 0) {
                u.key_usage.emplace_back(name);
            }
        }
    }
    const int idx = X509_get_ext_by_NID(cert, NID_ext_key_usage, -1);
    if (idx >= 0) {
        u.eku_present = true;
        u.eku_critical = X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) != 0;
        auto eku =
            ossl::adopt(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
        for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
            char oid[128] = {};
            OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku.get(), i), 1);
            u.eku.emplace_back(oid);
        }
    }
    auto sans =
        ossl::adopt(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        if (sk_GENERAL_NAME_value(sans.get(), i)->type == GEN_EMAIL) {
            u.address_in_san = true;
        }
    }
    u.address_in_subject = X509_NAME_get_index_by_NID(X509_get_subject_name(cert), NID_pkcs9_emailAddress, -1) >= 0;
    ERR_clear_error();
    return u;
}

std::vector<ossl::Ptr<X509>> anchor_certificates(const TrustStore& trust) {
    std::vector<ossl::Ptr<X509>> out;
    if (trust.store() == nullptr) {
        return out;
    }
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(trust.store());
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
        if (X509* x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) {
            out.push_back(ossl::retain(x));
        }
    }
    return out;
}

}  // namespace segel::smime
