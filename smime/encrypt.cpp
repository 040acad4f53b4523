#include "smime/encrypt.h"

#include "smime/cms_load.h"

#include "smime/canonical.h"

#include "smime/base64.h"
#include "smime/error.h"
#include "smime/mime/mime.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace segel::smime {

namespace {

const EVP_CIPHER* evp_cipher(ContentCipher c) {
    switch (c) {
        case ContentCipher::Aes256Cbc:
            return EVP_aes_256_cbc();
        case ContentCipher::Aes128Gcm:
            return EVP_aes_128_gcm();
        case ContentCipher::Aes256Gcm:
            return EVP_aes_256_gcm();
    }
    throw Error(Category::Internal, "unknown content cipher");
}

/** Adds one recipient: key transport for RSA, ephemeral-static ECDH for EC. */
void add_recipient(CMS_ContentInfo* cms, X509* cert) {
    EVP_PKEY* pub = X509_get0_pubkey(cert);
    if (pub == nullptr) {
        throw Error(Category::Credential, "a recipient certificate has no readable public key");
    }
    const bool ec = EVP_PKEY_is_a(pub, "EC");
    if (!ec && !EVP_PKEY_is_a(pub, "RSA")) {
        const char* type = EVP_PKEY_get0_type_name(pub);
        throw Error(Category::Credential, std::string("cannot encrypt to a ") + (type != nullptr ? type : "unknown") +
                                              " key (only RSA and EC certificates can receive S/MIME mail)");
    }
    // CMS_KEY_PARAM defers the key-agreement step to CMS_final so the KDF can be set first.
    CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms, cert, CMS_BINARY | (ec ? CMS_KEY_PARAM : 0U));
    ossl::check(ri != nullptr, "CMS_add1_recipient_cert");
    if (ec) {
        // RFC 5753 §7.1.4 / RFC 8551 §2.7.1.2: dhSinglePass-stdDH-sha256kdf-scheme, not OpenSSL's SHA-1 default.
        EVP_PKEY_CTX* pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
        ossl::check(pctx != nullptr, "CMS_RecipientInfo_get0_pkey_ctx");
        // Only the digest: OpenSSL sets the X9.63 KDF type itself and refuses a preset one.
        ossl::check(EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) > 0, "set ECDH KDF digest");
    }
}

}  // namespace

const char* cipher_name(ContentCipher cipher) {
    switch (cipher) {
        case ContentCipher::Aes256Cbc:
            return "aes-256-cbc";
        case ContentCipher::Aes128Gcm:
            return "aes-128-gcm";
        case ContentCipher::Aes256Gcm:
            return "aes-256-gcm";
    }
    return "unknown";
}

std::string cannot_receive(X509* cert) {
    EVP_PKEY* pub = X509_get0_pubkey(cert);
    if (pub == nullptr) {
        ERR_clear_error();
        return "the public key cannot be read";
    }
    const bool ec = EVP_PKEY_is_a(pub, "EC");
    if (!ec && !EVP_PKEY_is_a(pub, "RSA")) {
        const char* type = EVP_PKEY_get0_type_name(pub);
        return std::string("a ") + (type != nullptr ? type : "unknown") + " key cannot receive S/MIME mail";
    }
    const uint32_t flags = X509_get_extension_flags(cert);
    if ((flags & EXFLAG_KUSAGE) != 0) {
        const uint32_t ku = X509_get_key_usage(cert);
        if (!ec && (ku & KU_KEY_ENCIPHERMENT) == 0) {
            return "keyUsage does not allow keyEncipherment (a signing-only certificate)";
        }
        if (ec && (ku & KU_KEY_AGREEMENT) == 0) {
            return "keyUsage does not allow keyAgreement (a signing-only certificate)";
        }
    }
    if ((flags & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(cert) & (XKU_SMIME | XKU_ANYEKU)) == 0) {
        return "extendedKeyUsage does not allow emailProtection";
    }
    return {};
}

std::vector<ossl::Ptr<X509>> certificates_from_der(std::string_view der) {
    std::vector<ossl::Ptr<X509>> out;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    if (X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size())); x != nullptr) {
        out.push_back(ossl::adopt(x));
        return out;
    }
    ERR_clear_error();
    auto cms = load_cms(der);
    if (!cms) {
        ERR_clear_error();
        return out;
    }
    STACK_OF(X509)* certs = CMS_get1_certs(cms.get());
    if (certs != nullptr) {
        while (sk_X509_num(certs) > 0) {
            out.push_back(ossl::adopt(sk_X509_shift(certs)));
        }
        sk_X509_free(certs);
    }
    ERR_clear_error();
    return out;
}

bool is_authenticated(ContentCipher cipher) {
    return cipher != ContentCipher::Aes256Cbc;
}

std::string entity_of(const Blob& message) {
    auto msg = mime::parse_message(message);
    GMimeObject* entity = g_mime_message_get_mime_part(msg.get());
    if (entity == nullptr) {
        throw Error(Category::Malformed, "the message has no body entity");
    }
    Blob out;
    mime::write(entity, out);
    return out.str();
}

std::string entity_of(const SignedMessage& signed_message) {
    std::string out;
    for (const auto& h : signed_message.headers) {
        if (strcasecmp(h.name.c_str(), "MIME-Version") == 0) {
            continue;
        }
        out += h.name + ": " + canonical::to_crlf(h.value) + "\r\n";
    }
    out += "\r\n";
    out += signed_message.body.view();
    return out;
}

EncryptedMessage encrypt_entity(std::string_view entity, const std::vector<ossl::Ptr<X509>>& recipients,
                                const EncryptOptions& options) {
    ossl::init_providers();
    if (recipients.empty()) {
        throw Error(Category::Internal, "encrypt called without recipients");
    }
    // CMS_BINARY: the entity is already canonical (CRLF); OpenSSL must not translate it.
    // CMS_PARTIAL: recipients are added one by one below; CMS_encrypt picks
    // AuthEnvelopedData by itself for an AEAD cipher (OpenSSL 3.0, RFC 5083).
    const unsigned flags = CMS_BINARY | CMS_PARTIAL;
    auto empty = ossl::make_stack({});
    auto cms = ossl::adopt(CMS_encrypt(empty.get(), nullptr, evp_cipher(options.cipher), flags));
    ossl::check(cms != nullptr, "CMS_encrypt");
    for (const auto& cert : recipients) {
        add_recipient(cms.get(), cert.get());
    }
    auto data = ossl::mem_bio(entity.data(), entity.size());
    ossl::check(CMS_final(cms.get(), data.get(), nullptr, flags) == 1, "CMS_final (encrypt)");
    auto der_bio = ossl::adopt(BIO_new(BIO_s_mem()));
    ossl::check(i2d_CMS_bio(der_bio.get(), cms.get()) == 1, "i2d_CMS_bio");
    const std::string der = ossl::bio_to_string(der_bio.get());

    EncryptedMessage out;
    out.cipher = options.cipher;
    out.recipient_count = recipients.size();
    out.body = Blob(options.memory_limit, options.spool_dir);
    // RFC 8551 §3.3 and §3.4 (authEnveloped-data, RFC 5083); file name smime.p7m.
    const std::string smime_type = is_authenticated(options.cipher) ? "authEnveloped-data" : "enveloped-data";
    out.headers = {
        {"MIME-Version", "1.0"},
        {"Content-Type", "application/pkcs7-mime; smime-type=" + smime_type + "; name=\"smime.p7m\""},
        {"Content-Transfer-Encoding", "base64"},
        {"Content-Disposition", "attachment; filename=\"smime.p7m\""},
        {"Content-Description", "S/MIME Encrypted Message"},
    };
    base64::encode_lines(der, out.body);
    return out;
}

}  // namespace segel::smime
