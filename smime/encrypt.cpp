#include "smime/encrypt.h"

#include "smime/cms_load.h"

#include "smime/canonical.h"

#include "smime/base64.h"
#include "smime/error.h"
#include "smime/mime/mime.h"
#include "smime/ossl/der.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

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

// The witness (EncryptedMessage::witness): a KEKRecipientInfo under a one-time AES-256 key-wrap
// key. Its key identifier is fixed: the structure never leaves the process.
constexpr std::size_t k_witness_kek_len = 32;
constexpr unsigned char k_witness_id[] = {'s', 'e', 'g', 'e', 'l', ' ', 's', 'e',
                                          'l', 'f', '-', 'c', 'h', 'e', 'c', 'k'};

/** Bytes for CMS_add0_recipient_key, which takes them over only when it succeeds. */
struct OsslBytes {
    void operator()(unsigned char* p) const noexcept { OPENSSL_clear_free(p, k_witness_kek_len); }
};

/** Adds the witness's KEKRecipientInfo with a fresh random key-encryption key; the structure owns both. */
CMS_RecipientInfo* add_witness(CMS_ContentInfo* cms) {
    std::unique_ptr<unsigned char, OsslBytes> kek(static_cast<unsigned char*>(OPENSSL_malloc(k_witness_kek_len)));
    std::unique_ptr<unsigned char, OsslBytes> id(static_cast<unsigned char*>(OPENSSL_malloc(k_witness_kek_len)));
    ossl::check(kek && id && RAND_priv_bytes(kek.get(), static_cast<int>(k_witness_kek_len)) == 1,
                "the self-check's key-encryption key");
    std::memcpy(id.get(), k_witness_id, sizeof k_witness_id);
    CMS_RecipientInfo* ri = CMS_add0_recipient_key(cms, NID_undef, kek.get(), k_witness_kek_len, id.get(),
                                                   sizeof k_witness_id, nullptr, nullptr, nullptr);
    ossl::check(ri != nullptr, "CMS_add0_recipient_key (the self-check's KEKRecipientInfo)");
    static_cast<void>(kek.release());  // now the RecipientInfo's
    static_cast<void>(id.release());
    return ri;
}

/** Takes @p ri out of @p cms's RecipientInfos: it is the caller's now. */
ossl::Ptr<CMS_RecipientInfo> take_out(CMS_ContentInfo* cms, CMS_RecipientInfo* ri) {
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms);
    for (int i = 0; ris != nullptr && i < sk_CMS_RecipientInfo_num(ris); ++i) {
        if (sk_CMS_RecipientInfo_value(ris, i) == ri) {
            return ossl::Ptr<CMS_RecipientInfo>(sk_CMS_RecipientInfo_delete(ris, i));
        }
    }
    throw Error(Category::Internal, "the self-check's RecipientInfo is not in the message");
}

/** Where an (Auth)EnvelopedData's DER keeps its version and its content-encryption algorithm. */
struct EnvelopeFields {
    ossl::Tlv version;
    ossl::Tlv algorithm;  ///< the algorithm's OBJECT IDENTIFIER
};

/**
 * Walks ContentInfo → [0] → SEQUENCE { version, [0] originatorInfo OPTIONAL,
 * recipientInfos, EncryptedContentInfo { contentType, AlgorithmIdentifier } }
 * (RFC 5652 §6.1; RFC 5083 §2.1 has the same head). nullopt when it is not that.
 */
std::optional<EnvelopeFields> envelope_fields(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    const unsigned char* end = p + der.size();
    ossl::Tlv ci, type, explicit0, env, next, eci, content_type, alg;
    EnvelopeFields f;
    if (!ossl::read_tlv(p, end, ci) || ci.tag != V_ASN1_SEQUENCE) {
        return std::nullopt;
    }
    const unsigned char* c = ci.content;
    if (!ossl::read_tlv(c, ci.end, type) || !ossl::read_tlv(c, ci.end, explicit0)) {
        return std::nullopt;
    }
    const unsigned char* e = explicit0.content;
    if (!ossl::read_tlv(e, explicit0.end, env) || env.tag != V_ASN1_SEQUENCE) {
        return std::nullopt;
    }
    const unsigned char* g = env.content;
    if (!ossl::read_tlv(g, env.end, f.version) || f.version.tag != V_ASN1_INTEGER ||
        !ossl::read_tlv(g, env.end, next)) {
        return std::nullopt;
    }
    if (next.cls == V_ASN1_CONTEXT_SPECIFIC && !ossl::read_tlv(g, env.end, next)) {  // originatorInfo
        return std::nullopt;
    }
    if (!ossl::read_tlv(g, env.end, eci) || eci.tag != V_ASN1_SEQUENCE) {
        return std::nullopt;
    }
    const unsigned char* h = eci.content;
    if (!ossl::read_tlv(h, eci.end, content_type) || !ossl::read_tlv(h, eci.end, alg) || alg.tag != V_ASN1_SEQUENCE) {
        return std::nullopt;
    }
    const unsigned char* a = alg.content;
    if (!ossl::read_tlv(a, alg.end, f.algorithm) || f.algorithm.tag != V_ASN1_OBJECT) {
        return std::nullopt;
    }
    return f;
}

/**
 * RFC 5652 §6.1: an EnvelopedData without originatorInfo and unprotectedAttrs
 * (segel writes neither) is version 0 when all its RecipientInfos are version 0
 * (key transport naming issuer and serial, as segel writes them), else 2.
 * AuthEnvelopedData is always version 0 (RFC 5083 §2.1).
 */
int expected_version(CMS_ContentInfo* cms, bool authenticated) {
    if (authenticated) {
        return 0;
    }
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms);
    for (int i = 0; ris != nullptr && i < sk_CMS_RecipientInfo_num(ris); ++i) {
        CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(ris, i);
        ASN1_OCTET_STRING* keyid = nullptr;
        X509_NAME* issuer = nullptr;
        ASN1_INTEGER* serial = nullptr;
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS ||
            CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial) != 1 || keyid != nullptr) {
            return 2;
        }
    }
    return 0;
}

/** Whether @p ri names @p cert (key transport: issuer and serial; key agreement: its one encrypted key). */
bool names(CMS_RecipientInfo* ri, X509* cert) {
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS) {
        return CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0;
    }
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE) {
        STACK_OF(CMS_RecipientEncryptedKey)* reks = CMS_RecipientInfo_kari_get0_reks(ri);
        return reks != nullptr && sk_CMS_RecipientEncryptedKey_num(reks) == 1 &&
               CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, 0), cert) == 0;
    }
    return false;
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
    // CMS_final in its parts, so that the witness can be taken out between them:
    // CMS_dataInit makes the content-encryption key and wraps it for every
    // RecipientInfo, the witness's too; the structure is encoded after CMS_dataFinal.
    CMS_RecipientInfo* witness = add_witness(cms.get());
    EncryptedMessage out;
    {
        auto content = ossl::adopt(CMS_dataInit(cms.get(), nullptr));
        ossl::check(content != nullptr, "CMS_dataInit (encrypt)");
        out.witness = take_out(cms.get(), witness);
        for (std::size_t off = 0; off < entity.size();) {
            const int n = static_cast<int>(std::min<std::size_t>(entity.size() - off, INT_MAX / 2));
            ossl::check(BIO_write(content.get(), entity.data() + off, n) == n, "BIO_write (encrypt)");
            off += static_cast<std::size_t>(n);
        }
        ossl::check(BIO_flush(content.get()) == 1, "BIO_flush (encrypt)");
        ossl::check(CMS_dataFinal(cms.get(), content.get()) == 1, "CMS_dataFinal (encrypt)");
    }
    auto der_bio = ossl::adopt(BIO_new(BIO_s_mem()));
    ossl::check(i2d_CMS_bio(der_bio.get(), cms.get()) == 1, "i2d_CMS_bio");
    std::string der = ossl::bio_to_string(der_bio.get());
    // OpenSSL set the EnvelopedData's version while the witness was still among the
    // RecipientInfos (a KEKRecipientInfo is version 4, which makes it 2); without it, a
    // message to RSA recipients only is version 0 (RFC 5652 §6.1). The INTEGER is one byte
    // either way, so nothing else moves; check_encrypted() verifies the result.
    const auto fields = envelope_fields(der);
    if (!fields || fields->version.end - fields->version.content != 1) {
        throw Error(Category::Internal, "the encrypted structure made has an unexpected layout");
    }
    const auto at =
        static_cast<std::size_t>(fields->version.content - reinterpret_cast<const unsigned char*>(der.data()));
    der[at] = static_cast<char>(expected_version(cms.get(), is_authenticated(options.cipher)));

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

std::string check_encrypted(EncryptedMessage& message, std::string_view entity,
                            const std::vector<ossl::Ptr<X509>>& recipients) {
    if (!message.witness) {
        return "no content-encryption key to check with (the message was checked already)";
    }
    // 1. What leaves: the body decodes to one structure of the type and cipher chosen.
    const auto der = base64::decode(message.body.view());
    if (!der) {
        return "the encrypted body is not base64";
    }
    auto cms = load_cms(*der);
    const auto fields = envelope_fields(*der);
    if (!cms || !fields) {
        ERR_clear_error();
        return "the encrypted body is not an (Auth)EnvelopedData";
    }
    const bool authenticated = is_authenticated(message.cipher);
    const int type = OBJ_obj2nid(CMS_get0_type(cms.get()));
    if (type != (authenticated ? NID_id_smime_ct_authEnvelopedData : NID_pkcs7_enveloped)) {
        return "the encrypted body is not of the type made";
    }
    const ASN1_OBJECT* want = OBJ_nid2obj(EVP_CIPHER_get_nid(evp_cipher(message.cipher)));
    const std::string_view alg(reinterpret_cast<const char*>(fields->algorithm.content),
                               static_cast<std::size_t>(fields->algorithm.end - fields->algorithm.content));
    if (want == nullptr || OBJ_length(want) == 0 ||
        alg != std::string_view(reinterpret_cast<const char*>(OBJ_get0_data(want)), OBJ_length(want))) {
        return std::string("the content is not encrypted with ") + cipher_name(message.cipher);
    }
    // 2. Every recipient, and no one else, has exactly one RecipientInfo naming them.
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms.get());
    const int count = ris != nullptr ? sk_CMS_RecipientInfo_num(ris) : 0;
    if (count < 0 || static_cast<std::size_t>(count) != recipients.size()) {
        return "the message has " + std::to_string(count) + " RecipientInfos for " + std::to_string(recipients.size()) +
               " recipients";
    }
    for (const auto& cert : recipients) {
        int named = 0;
        for (int i = 0; i < count; ++i) {
            named += names(sk_CMS_RecipientInfo_value(ris, i), cert.get()) ? 1 : 0;
        }
        if (named != 1) {
            ERR_clear_error();
            return "a recipient is named by " + std::to_string(named) + " RecipientInfos instead of one";
        }
    }
    if (fields->version.end - fields->version.content != 1 ||
        fields->version.content[0] != expected_version(cms.get(), authenticated)) {
        return "the EnvelopedData version does not follow RFC 5652 §6.1";
    }
    // 3. The content opens, with the key every RecipientInfo wraps, to exactly the entity.
    CMS_RecipientInfo* witness = message.witness.get();
    if (sk_CMS_RecipientInfo_push(ris, witness) <= 0) {
        return "cannot hand the content-encryption key to the check";
    }
    static_cast<void>(message.witness.release());  // freed with cms
    // Decrypted in pieces and compared as it comes (no copy of the content is kept): what
    // CMS_decrypt does without a private key, reading to the end so that the padding (CBC) or
    // the authentication tag (GCM) is checked by the cipher's final step.
    const char* const does_not_decrypt =
        authenticated ? "the content does not decrypt with its key (the authentication tag does not match)"
                      : "the content does not decrypt with its key";
    if (CMS_RecipientInfo_decrypt(cms.get(), witness) != 1) {
        ERR_clear_error();
        return does_not_decrypt;
    }
    auto content = ossl::adopt(CMS_dataInit(cms.get(), nullptr));
    if (!content) {
        ERR_clear_error();
        return does_not_decrypt;
    }
    // Not zeroed, and no larger than the entity needs (plus a cipher block): a 64 KB buffer
    // cleared for every 2 KB message was 65 K instructions of memset (docs/performance.md, fix 37).
    const std::size_t piece_size = std::clamp<std::size_t>(entity.size() + 64, 4096, 64 * 1024);
    const auto piece = std::make_unique_for_overwrite<char[]>(piece_size);
    std::size_t seen = 0;
    bool same = true;
    for (;;) {
        const int n = BIO_read(content.get(), piece.get(), static_cast<int>(piece_size));
        if (n <= 0) {
            if (n < 0 || BIO_get_cipher_status(content.get()) <= 0) {
                ERR_clear_error();
                return does_not_decrypt;
            }
            break;
        }
        const auto got = static_cast<std::size_t>(n);
        same = same && seen + got <= entity.size() && entity.compare(seen, got, piece.get(), got) == 0;
        seen += got;
    }
    if (!same || seen != entity.size()) {
        return "the content decrypts to something other than the signed entity";
    }
    return {};
}

}  // namespace segel::smime
