#pragma once
// RAII owners for OpenSSL handles. Every OpenSSL object in segel lives in one
// of these; a bare *_free outside smime/ossl is a review failure.
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pkcs12.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime::ossl {

/**
 * Frees a CMS_RecipientInfo that belongs to no CMS structure (OpenSSL 3.0 has
 * no public free function for one: a throwaway EnvelopedData takes it over).
 */
void free_recipient_info(CMS_RecipientInfo* ri) noexcept;

template <typename T>
struct Deleter;
#define SEGEL_OSSL_DELETER(T, fn)                       \
    template <>                                         \
    struct Deleter<T> {                                 \
        void operator()(T* p) const noexcept { fn(p); } \
    };
SEGEL_OSSL_DELETER(X509, X509_free)
SEGEL_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free)
SEGEL_OSSL_DELETER(BIO, BIO_free_all)
SEGEL_OSSL_DELETER(CMS_ContentInfo, CMS_ContentInfo_free)
SEGEL_OSSL_DELETER(X509_STORE, X509_STORE_free)
SEGEL_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free)
SEGEL_OSSL_DELETER(PKCS12, PKCS12_free)
SEGEL_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free)  // also ASN1_TIME, ASN1_BIT_STRING (same type)
SEGEL_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free)
SEGEL_OSSL_DELETER(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free)
SEGEL_OSSL_DELETER(BIGNUM, BN_free)
SEGEL_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free)
SEGEL_OSSL_DELETER(X509_VERIFY_PARAM, X509_VERIFY_PARAM_free)
SEGEL_OSSL_DELETER(X509_CRL, X509_CRL_free)
// RFC 3161 time-stamps (smime/timestamp.cpp)
SEGEL_OSSL_DELETER(TS_REQ, TS_REQ_free)
SEGEL_OSSL_DELETER(TS_RESP, TS_RESP_free)
SEGEL_OSSL_DELETER(TS_VERIFY_CTX, TS_VERIFY_CTX_free)
SEGEL_OSSL_DELETER(TS_MSG_IMPRINT, TS_MSG_IMPRINT_free)
SEGEL_OSSL_DELETER(TS_TST_INFO, TS_TST_INFO_free)
SEGEL_OSSL_DELETER(PKCS7, PKCS7_free)
SEGEL_OSSL_DELETER(X509_ALGOR, X509_ALGOR_free)
SEGEL_OSSL_DELETER(OCSP_REQUEST, OCSP_REQUEST_free)  // revocation (smime/revocation.cpp)
SEGEL_OSSL_DELETER(OCSP_RESPONSE, OCSP_RESPONSE_free)
SEGEL_OSSL_DELETER(OCSP_BASICRESP, OCSP_BASICRESP_free)
SEGEL_OSSL_DELETER(OCSP_CERTID, OCSP_CERTID_free)
SEGEL_OSSL_DELETER(X509_REVOKED, X509_REVOKED_free)
SEGEL_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free)
SEGEL_OSSL_DELETER(AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free)
SEGEL_OSSL_DELETER(CRL_DIST_POINTS, CRL_DIST_POINTS_free)
SEGEL_OSSL_DELETER(CMS_RecipientInfo, free_recipient_info)
#undef SEGEL_OSSL_DELETER

template <typename T>
using Ptr = std::unique_ptr<T, Deleter<T>>;

/** Takes ownership of a freshly created handle (OpenSSL "get0" results must not be adopted). */
template <typename T>
Ptr<T> adopt(T* p) noexcept {
    return Ptr<T>(p);
}

/** Shares an X509 owned elsewhere by bumping its reference count. */
inline Ptr<X509> retain(X509* p) {
    if (p != nullptr) {
        X509_up_ref(p);
    }
    return Ptr<X509>(p);
}
inline Ptr<EVP_PKEY> retain(EVP_PKEY* p) {
    if (p != nullptr) {
        EVP_PKEY_up_ref(p);
    }
    return Ptr<EVP_PKEY>(p);
}

/** A STACK_OF(X509) that owns its certificates. */
struct X509StackDeleter {
    void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;
X509Stack make_stack(const std::vector<Ptr<X509>>& certs);

/**
 * Drains OpenSSL's thread-local error queue into one readable line
 * ("what: reason; reason"). Never contains key material.
 */
std::string drain_errors(const std::string& what);

/** Throws smime::Error{Crypto} with the drained queue when @p ok is false. */
void check(bool ok, const char* what);

/** Loads the default and legacy providers once (legacy for RC2/3DES PKCS#12). */
void init_providers();

/** A read-only memory BIO over @p data (no copy; data must outlive the BIO). */
Ptr<BIO> mem_bio(const void* data, std::size_t len);

/** Reads a whole memory BIO into a string. */
std::string bio_to_string(BIO* bio);

/** Lower-case hex of @p len bytes. */
std::string hex(const unsigned char* data, std::size_t len);

/** SHA-256 of @p bytes, lower-case hex. */
std::string sha256_hex(std::string_view bytes);

/** SHA-256 fingerprint of a certificate's DER, lower-case hex ("" when it cannot be encoded). */
std::string fingerprint_sha256(X509* cert);

}  // namespace segel::smime::ossl
