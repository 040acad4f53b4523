#pragma once
// The cryptography the floors and limits of the benchmark share (bench/limit.cpp,
// bench/noop_milter.cpp --sign): a signer loaded once, one detached CMS signature
// as OpenSSL's CMS_sign makes it, and the verification segel's self-check asks
// of it (issue 2). Benchmarks only; nothing here is part of the product.
#include "bench/common.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace segel::bench {

template <typename T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Free<CMS_ContentInfo, CMS_ContentInfo_free>>;
inline void free_x509_stack(STACK_OF(X509) * s) {
    sk_X509_pop_free(s, X509_free);
}
using StackPtr = std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), free_x509_stack>>;

[[noreturn]] inline void fail(const std::string& what) {
    std::string err = what;
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        err += std::string(": ") + buf;
    }
    throw std::runtime_error(err);
}

struct Signer {
    X509Ptr cert;
    KeyPtr key;
    StackPtr chain{sk_X509_new_null()};
};

inline Signer load_pkcs12(const std::string& path, const std::string& pass_file) {
    const std::string der = read_file(path);
    const std::string pass = read_file(pass_file);
    BioPtr bio(BIO_new_mem_buf(der.data(), static_cast<int>(der.size())));
    std::unique_ptr<PKCS12, Free<PKCS12, PKCS12_free>> p12(d2i_PKCS12_bio(bio.get(), nullptr));
    if (!p12) {
        fail("cannot read " + path);
    }
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    if (PKCS12_parse(p12.get(), pass.c_str(), &key, &cert, &ca) != 1) {
        fail("cannot decrypt " + path);
    }
    Signer s;
    s.key.reset(key);
    s.cert.reset(cert);
    if (ca != nullptr) {
        s.chain.reset(ca);
    }
    return s;
}

inline Signer load_pem(const std::string& cert_path, const std::string& key_path) {
    Signer s;
    BioPtr cb(BIO_new_file(cert_path.c_str(), "r"));
    if (!cb) {
        fail("cannot open " + cert_path);
    }
    s.cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    if (!s.cert) {
        fail("no certificate in " + cert_path);
    }
    while (X509* c = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) {
        sk_X509_push(s.chain.get(), c);
    }
    ERR_clear_error();
    BioPtr kb(BIO_new_file(key_path.c_str(), "r"));
    if (!kb) {
        fail("cannot open " + key_path);
    }
    s.key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!s.key) {
        fail("no private key in " + key_path);
    }
    return s;
}

/** One detached CMS signature (SHA-256, signer certificate and chain embedded). */
inline CmsPtr sign_cms(const Signer& s, const std::string& message) {
    BioPtr in(BIO_new_mem_buf(message.data(), static_cast<int>(message.size())));
    CmsPtr cms(CMS_sign(s.cert.get(), s.key.get(), s.chain.get(), in.get(), CMS_BINARY | CMS_DETACHED));
    if (!cms) {
        fail("CMS_sign");
    }
    return cms;
}

/** @p cms DER-encoded into a memory BIO. */
inline BioPtr encode(CMS_ContentInfo* cms) {
    BioPtr out(BIO_new(BIO_s_mem()));
    if (i2d_CMS_bio(out.get(), cms) != 1) {
        fail("i2d_CMS_bio");
    }
    return out;
}

inline std::size_t mem_size(BIO* b, const char** data = nullptr) {
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    if (data != nullptr) {
        *data = p;
    }
    return static_cast<std::size_t>(n);
}

/**
 * The sign+check path: the signature DER-encoded, then what segel's self-check
 * asks of OpenSSL (smime/sign.cpp self_check_detached): the signature over the
 * signed attributes verifies with the certificate's public key.
 */
inline BioPtr sign_checked(const Signer& s, const std::string& message) {
    const CmsPtr cms = sign_cms(s, message);
    BioPtr der = encode(cms.get());
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    if (si == nullptr) {
        fail("CMS_sign made no SignerInfo");
    }
    CMS_SignerInfo_set1_signer_cert(si, s.cert.get());
    if (CMS_SignerInfo_verify(si) != 1) {
        fail("CMS_SignerInfo_verify (sign+check)");
    }
    return der;
}

/** @p n bytes at @p data in base64, in lines of 76 characters ending CRLF (RFC 2045 §6.8). */
inline std::string base64_lines(const char* data, std::size_t n) {
    std::string out;
    out.reserve(n / 57 * 78 + 80);
    unsigned char line[80];
    for (std::size_t at = 0; at < n; at += 57) {
        const int len = EVP_EncodeBlock(line, reinterpret_cast<const unsigned char*>(data + at),
                                        static_cast<int>(std::min<std::size_t>(57, n - at)));
        out.append(reinterpret_cast<const char*>(line), static_cast<std::size_t>(len)).append("\r\n");
    }
    return out;
}

}  // namespace segel::bench
