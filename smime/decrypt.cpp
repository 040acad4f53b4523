#include "smime/decrypt.h"

#include "smime/base64.h"
#include "smime/canonical.h"
#include "smime/cms_load.h"
#include "smime/mime/fields.h"
#include "smime/mime/structure.h"

#include "smime/error.h"
#include "smime/mime/mime.h"
#include "smime/ossl/der.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <vector>

namespace segel::smime {

namespace {

using ossl::read_tlv;
using ossl::Tlv;

/**
 * The content-encryption algorithm of an Enveloped- or AuthEnvelopedData read
 * from its encoding @p p .. @p end (DER, or BER: read_tlv follows indefinite
 * lengths): ContentInfo → [0] → SEQUENCE { version, [0] originatorInfo
 * OPTIONAL, recipientInfos, EncryptedContentInfo { type, AlgorithmIdentifier } }
 * (RFC 5652 §6.1, RFC 5083 §2.1), lower case; nullopt when the walk fails.
 */
std::optional<std::string> cipher_in(const unsigned char* p, const unsigned char* end) {
    std::optional<std::string> name;
    Tlv ci;
    Tlv type;
    Tlv explicit0;
    Tlv env;
    Tlv version;
    Tlv next;
    Tlv eci;
    Tlv eci_type;
    Tlv alg;
    if (read_tlv(p, end, ci)) {
        const unsigned char* c = ci.content;
        if (read_tlv(c, ci.end, type) && read_tlv(c, ci.end, explicit0)) {
            const unsigned char* e = explicit0.content;
            if (read_tlv(e, explicit0.end, env)) {
                const unsigned char* f = env.content;
                bool ok = read_tlv(f, env.end, version) && read_tlv(f, env.end, next);
                if (ok && next.cls == V_ASN1_CONTEXT_SPECIFIC) {  // originatorInfo: skip to recipientInfos
                    ok = read_tlv(f, env.end, next);
                }
                if (ok && read_tlv(f, env.end, eci)) {
                    const unsigned char* g = eci.content;
                    if (read_tlv(g, eci.end, eci_type) && read_tlv(g, eci.end, alg)) {
                        const unsigned char* oid = alg.content;
                        ASN1_OBJECT* obj = d2i_ASN1_OBJECT(nullptr, &oid, alg.end - alg.content);
                        if (obj != nullptr) {
                            const int nid = OBJ_obj2nid(obj);
                            if (nid == NID_aes_128_gcm || nid == NID_aes_192_gcm || nid == NID_aes_256_gcm) {
                                name = nid == NID_aes_128_gcm   ? "aes-128-gcm"
                                       : nid == NID_aes_192_gcm ? "aes-192-gcm"
                                                                : "aes-256-gcm";
                            } else if (nid != NID_undef) {
                                name = OBJ_nid2sn(nid);
                            } else {
                                char buf[80];
                                OBJ_obj2txt(buf, sizeof buf, obj, 1);
                                name = buf;
                            }
                            ASN1_OBJECT_free(obj);
                        }
                    }
                }
            }
        }
    }
    ERR_clear_error();
    if (name) {
        std::transform(name->begin(), name->end(), name->begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    }
    return name;
}

/**
 * content_cipher of @p cms, read from the bytes it was decoded from (@p der);
 * re-encoded only if those cannot be walked. Re-encoding every message cost
 * 63 K instructions and a copy of the ciphertext (docs/performance.md, fix 36).
 * "unknown" when neither walk finds it.
 */
std::string content_cipher(std::string_view der, CMS_ContentInfo* cms) {
    const auto* in = reinterpret_cast<const unsigned char*>(der.data());
    if (auto name = cipher_in(in, in + der.size())) {
        return *name;
    }
    unsigned char* encoded = nullptr;
    const int len = i2d_CMS_ContentInfo(cms, &encoded);
    if (len <= 0) {
        ERR_clear_error();
        return "unknown";
    }
    auto name = cipher_in(encoded, encoded + len);
    OPENSSL_free(encoded);
    return name.value_or("unknown");
}

/**
 * RFC 5652 §6.2.1 lets a sender name the recipient by subjectKeyIdentifier.
 * When the certificate carries no SKI extension, senders compute one: RFC 5280
 * §4.2.1.2 method 1 (SHA-1 of the subjectPublicKey bits), or, as Windows and
 * Outlook 2010 do, SHA-1 of the whole DER SubjectPublicKeyInfo. Both count.
 */
bool key_id_matches(const ASN1_OCTET_STRING* keyid, X509* cert) {
    if (keyid == nullptr || X509_get0_subject_key_id(cert) != nullptr) {
        return false;  // with an SKI extension OpenSSL's own comparison already decided
    }
    const auto same = [&](const unsigned char* md, unsigned int len) {
        return static_cast<int>(len) == ASN1_STRING_length(keyid) &&
               std::equal(md, md + len, ASN1_STRING_get0_data(keyid));
    };
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(cert, EVP_sha1(), md, &len) == 1 && same(md, len)) {
        return true;
    }
    unsigned char* spki = nullptr;
    const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    bool match = false;
    if (spki_len > 0 && EVP_Digest(spki, static_cast<std::size_t>(spki_len), md, &len, EVP_sha1(), nullptr) == 1) {
        match = same(md, len);
    }
    OPENSSL_free(spki);
    ERR_clear_error();
    return match;
}

bool ktri_matches(CMS_RecipientInfo* ri, X509* cert) {
    if (CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0) {
        return true;
    }
    ASN1_OCTET_STRING* keyid = nullptr;
    X509_NAME* issuer = nullptr;
    ASN1_INTEGER* serial = nullptr;
    return CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial) == 1 && key_id_matches(keyid, cert);
}

bool rek_matches(CMS_RecipientEncryptedKey* rek, X509* cert) {
    if (CMS_RecipientEncryptedKey_cert_cmp(rek, cert) == 0) {
        return true;
    }
    ASN1_OCTET_STRING* keyid = nullptr;
    ASN1_GENERALIZEDTIME* date = nullptr;
    X509_NAME* issuer = nullptr;
    ASN1_INTEGER* serial = nullptr;
    return CMS_RecipientEncryptedKey_get0_id(rek, &keyid, &date, nullptr, &issuer, &serial) == 1 &&
           key_id_matches(keyid, cert);
}

/** The RecipientInfo (and for key agreement the encrypted-key entry) that names @p cert. */
struct Match {
    CMS_RecipientInfo* ri = nullptr;
    CMS_RecipientEncryptedKey* rek = nullptr;
};

Match find_recipient(CMS_ContentInfo* cms, X509* cert) {
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms);
    for (int i = 0; ris != nullptr && i < sk_CMS_RecipientInfo_num(ris); ++i) {
        CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(ris, i);
        const int type = CMS_RecipientInfo_type(ri);
        if (type == CMS_RECIPINFO_TRANS && ktri_matches(ri, cert)) {
            return {ri, nullptr};
        }
        if (type == CMS_RECIPINFO_AGREE) {
            STACK_OF(CMS_RecipientEncryptedKey)* reks = CMS_RecipientInfo_kari_get0_reks(ri);
            for (int k = 0; reks != nullptr && k < sk_CMS_RecipientEncryptedKey_num(reks); ++k) {
                if (rek_matches(sk_CMS_RecipientEncryptedKey_value(reks, k), cert)) {
                    return {ri, sk_CMS_RecipientEncryptedKey_value(reks, k)};
                }
            }
        }
    }
    ERR_clear_error();
    return {};
}

/** A BIO that appends what is written to the std::string set as its data (BIO_set_data). */
int string_sink_write(BIO* b, const char* data, std::size_t len, std::size_t* written) {
    try {
        static_cast<std::string*>(BIO_get_data(b))->append(data, len);
    } catch (...) {  // nothing may cross back into OpenSSL (C)
        return 0;
    }
    *written = len;
    return 1;
}

long string_sink_ctrl(BIO* /*b*/, int cmd, long /*num*/, void* /*ptr*/) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* string_sink() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "segel string sink");
        ossl::check(m != nullptr, "BIO_meth_new");
        BIO_meth_set_write_ex(m, string_sink_write);
        BIO_meth_set_ctrl(m, string_sink_ctrl);
        BIO_meth_set_create(m, [](BIO* b) {
            BIO_set_init(b, 1);
            return 1;
        });
        return m;
    }();
    return method;
}

/**
 * base64::decode of the message's bytes from @p from on, piece by piece as the Blob reads them
 * (base64::Decoder): for a spooled message never the whole text and its decoding at once.
 * nullopt when decode(…, @p tail) would refuse it.
 */
std::optional<std::string> strict_base64(const Blob& message, std::size_t from, base64::Tail tail) {
    std::string der;
    der.reserve((message.size() - from) / 4 * 3 + 3);
    base64::Decoder decoder;
    bool ok = true;
    message.read(from, message.size() - from, [&](std::string_view p) { ok = ok && decoder.feed(p, der); });
    return ok && decoder.finish(tail) ? std::optional<std::string>(std::move(der)) : std::nullopt;
}

bool has_bare_lf(std::string_view s) {
    for (std::size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1)) {
        if (i == 0 || s[i - 1] != '\r') {
            return true;
        }
    }
    return false;
}

/** @p text with CRLF line ends: itself when it has them already (a 30 MB entity is not copied). */
/** Whether @p head holds a CR that is not the first half of a CRLF. */
bool has_bare_cr(std::string_view head) {
    for (std::size_t i = head.find('\r'); i != std::string_view::npos; i = head.find('\r', i + 1)) {
        if (i + 1 == head.size() || head[i + 1] != '\n') {
            return true;
        }
    }
    return false;
}

/** @p text without its CR and NUL bytes (how a reader that drops them would read a word). */
std::string without_cr_nul(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::copy_if(text.begin(), text.end(), std::back_inserter(out), [](char c) { return c != '\r' && c != '\0'; });
    return out;
}

std::string crlf(std::string text) {
    return has_bare_lf(text) ? canonical::to_crlf(text) : std::move(text);
}

}  // namespace

std::optional<std::string> pkcs7_mime_der(const Blob& message, const Limits& limits) {
    // The head alone decides, read in small pieces: the message is never parsed whole (no GMime
    // tree, which a hostile body could make as large as it likes) and a spool is never mapped.
    std::optional<std::string> head = mime::read_head(message, limits.max_header_bytes);
    if (!head) {
        if (message.size() > limits.max_header_bytes) {
            return std::nullopt;  // no end of the header within the limit: verification says so (permerror)
        }
        head = std::string(message.view());  // small, and no blank line: all header, or a stray line ends it
    }
    const mime::HeaderBlock block = mime::split_fields(*head, limits.max_header_bytes);
    const mime::Field* ct = nullptr;
    const mime::Field* cte = nullptr;
    std::size_t content_types = 0;
    std::size_t encodings = 0;
    bool pkcs7 = false;
    for (const auto& f : block.fields) {
        if (strcasecmp(f.name.c_str(), "Content-Type") == 0) {
            ct = ct != nullptr ? ct : &f;
            ++content_types;
            pkcs7 = pkcs7 || mime::mentions(f.raw, "pkcs7");
        } else if (strcasecmp(f.name.c_str(), "Content-Transfer-Encoding") == 0) {
            cte = cte != nullptr ? cte : &f;
            ++encodings;
        }
    }
    // A head readers take apart differently: GMime's strings end at a NUL, a CR not before LF
    // ends a line for some readers and not for others, and where a line that is no field ends the
    // header the body's start is a reader's choice (each found by fuzz_pkcs7_mime: GMime decoded
    // other bytes, or saw pkcs7-mime where the fields here do not). Such a message that speaks of
    // pkcs7 anywhere is not opened, as with two Content-Type fields; other mail is not ours.
    const char* damage = head->find('\0') != std::string::npos ? "it holds a NUL byte"
                         : has_bare_cr(*head)                  ? "it holds a CR that does not end a line"
                         : block.stray_line ? "a line that is no field, with no blank line before the body"
                                            : nullptr;
    if (damage != nullptr && (pkcs7 || mime::mentions(without_cr_nul(*head), "pkcs7"))) {
        throw Error(Category::Malformed, std::string("the message header is damaged (") + damage + ")");
    }
    if (!pkcs7) {
        return std::nullopt;  // most mail: not even worth a parse of its Content-Type
    }
    // Several of either: which one counts is a reader's choice (mime::one_content_type); not opened.
    mime::one_content_type(content_types);
    if (encodings > 1) {
        throw Error(Category::Malformed,
                    "a header block with " + std::to_string(encodings) + " Content-Transfer-Encoding fields");
    }
    const mime::MediaType mt = mime::media_type({ct->unfolded()}, std::nullopt, limits);
    if (!mt.is("application", "pkcs7-mime") && !mt.is("application", "x-pkcs7-mime")) {
        return std::nullopt;
    }
    std::string encoding = cte != nullptr ? cte->unfolded() : "";
    std::transform(encoding.begin(), encoding.end(), encoding.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::size_t body = std::min(block.body, message.size());
    // The usual form (base64, as every client sends it): our strict decoder; anything it
    // refuses goes to GMime's lenient one below, including a last quantum cut short, which
    // GMime drops (base64::Tail::Quanta).
    if (encoding == "base64") {
        if (auto der = strict_base64(message, body, base64::Tail::Quanta); der && !der->empty()) {
            return der;
        }
    }
    // Otherwise decoded as GMime decodes a part's content (its transfer-encoding filter),
    // piece by piece over the spool.
    const GMimeContentEncoding enc = g_mime_content_encoding_from_string(encoding.c_str());
    std::string der;
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeEncoding state;
        g_mime_encoding_init_decode(&state, enc);
        std::vector<char> out;
        message.read(body, message.size() - body, [&](std::string_view p) {
            out.resize(g_mime_encoding_outlen(&state, p.size()));
            der.append(out.data(), g_mime_encoding_step(&state, p.data(), p.size(), out.data()));
        });
        out.resize(g_mime_encoding_outlen(&state, 0) + 16);
        der.append(out.data(), g_mime_encoding_flush(&state, nullptr, 0, out.data()));
    } else {
        der.reserve(message.size() - body);
        message.read(body, message.size() - body, [&der](std::string_view p) { der += p; });
    }
    if (der.empty()) {
        throw Error(Category::Malformed, "the application/pkcs7-mime part is empty");
    }
    return der;
}

std::optional<EncryptedContent> EncryptedContent::parse(std::string_view der, const Limits& limits) {
    ossl::init_providers();
    try {
        check_cms_limits(der, limits, "the message");  // before OpenSSL's decoder builds anything
    } catch (const Error& e) {
        if (e.category() == Category::Limit) {
            throw;
        }
        throw Error(Category::Malformed, "the application/pkcs7-mime body is not a CMS structure");
    }
    CMS_ContentInfo* raw = load_cms(der).release();
    if (raw == nullptr) {
        ERR_clear_error();
        throw Error(Category::Malformed, "the application/pkcs7-mime body is not a CMS structure");
    }
    EncryptedContent ec;
    ec.m_cms = std::shared_ptr<CMS_ContentInfo>(raw, CMS_ContentInfo_free);
    const int nid = OBJ_obj2nid(CMS_get0_type(raw));
    if (nid == NID_pkcs7_enveloped) {
        ec.m_type = "enveloped-data";
    } else if (nid == NID_id_smime_ct_authEnvelopedData) {
        ec.m_type = "authEnveloped-data";
    } else {
        return std::nullopt;
    }
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(raw);
    for (int i = 0; ris != nullptr && i < sk_CMS_RecipientInfo_num(ris); ++i) {
        CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(ris, i);
        if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE) {
            STACK_OF(CMS_RecipientEncryptedKey)* reks = CMS_RecipientInfo_kari_get0_reks(ri);
            ec.m_recipients += reks != nullptr ? static_cast<std::size_t>(sk_CMS_RecipientEncryptedKey_num(reks)) : 0;
        } else {
            ++ec.m_recipients;
        }
    }
    ec.m_cipher = content_cipher(der, raw);
    return ec;
}

bool EncryptedContent::addressed_to(X509* cert) const {
    return find_recipient(m_cms.get(), cert).ri != nullptr;
}

DecryptResult EncryptedContent::decrypt(X509* cert, EVP_PKEY* key) {
    DecryptResult r;
    const Match match = find_recipient(m_cms.get(), cert);
    if (match.ri == nullptr) {
        r.status = DecryptStatus::NotAddressed;
        r.detail = "the message is not encrypted to this certificate";
        return r;
    }
    ERR_clear_error();
    // Unwrap the content-encryption key from exactly this RecipientInfo; the key
    // is never tried on other recipients' entries (RFC 5652 §6.2).
    int unwrapped = 0;
    if (match.rek != nullptr) {
        unwrapped = CMS_RecipientInfo_kari_set0_pkey_and_peer(match.ri, key, nullptr) == 1 &&
                    CMS_RecipientInfo_kari_decrypt(m_cms.get(), match.ri, match.rek) == 1;
        CMS_RecipientInfo_kari_set0_pkey(match.ri, nullptr);
    } else {
        CMS_RecipientInfo_set0_pkey(match.ri, ossl::retain(key).release());  // takes a reference
        unwrapped = CMS_RecipientInfo_decrypt(m_cms.get(), match.ri);
        CMS_RecipientInfo_set0_pkey(match.ri, nullptr);
    }
    int ok = 0;
    // The plaintext is at most as long as the ciphertext: written straight into a string of that
    // size, not into a memory BIO that grows by copying and is then copied again.
    if (ASN1_OCTET_STRING** enc = CMS_get0_content(m_cms.get()); enc != nullptr && *enc != nullptr) {
        r.entity.reserve(static_cast<std::size_t>(ASN1_STRING_length(*enc)));
    }
    auto out = ossl::adopt(BIO_new(string_sink()));
    BIO_set_data(out.get(), &r.entity);
    if (unwrapped == 1) {
        // The key is set: CMS_decrypt without key and certificate only decrypts the content.
        // CMS_DEBUG_DECRYPT makes a bad key length an error instead of a silent random
        // key (OpenSSL's MMA counter-measure): results reach only the recipient's own
        // mailbox and the log, never the SMTP client, so they are no oracle for it.
        ok = CMS_decrypt(m_cms.get(), nullptr, nullptr, nullptr, out.get(), CMS_BINARY | CMS_DEBUG_DECRYPT);
    }
    if (ok == 1) {
        r.status = DecryptStatus::Decrypted;
        ERR_clear_error();
        return r;
    }
    r.entity.clear();
    r.entity.shrink_to_fit();  // whatever was written before the failure (an unverified GCM tag) goes
    bool key_length = false;
    for (unsigned long code = 0; (code = ERR_get_error()) != 0;) {
        if (ERR_GET_LIB(code) == ERR_LIB_CMS && ERR_GET_REASON(code) == CMS_R_INVALID_KEY_LENGTH) {
            key_length = true;
        }
    }
    if (key_length) {
        r.status = DecryptStatus::Malformed;
        r.detail = "the content-encryption key does not fit the declared cipher " + m_cipher;
    } else {
        r.status = DecryptStatus::Failed;
        r.detail = authenticated()
                       ? "cannot decrypt with the key of this certificate (wrong key, or the content was altered: "
                         "the authentication tag does not match)"
                       : "cannot decrypt with the key of this certificate (wrong key, or damaged " + m_type + ")";
    }
    return r;
}

Entity split_entity(std::string entity, const Limits& limits) {
    Entity e;
    const mime::HeaderBlock head = mime::read_header(entity, limits);
    if (head.fields.empty() && !head.blank_line) {
        // RFC 2045 §5.2: no Content-Type means text/plain; us-ascii. Some senders
        // (openssl cms -encrypt of a bare text) encrypt just a body.
        e.body = crlf(std::move(entity));
        return e;
    }
    if (head.stray_line) {
        throw Error(Category::Malformed, "the decrypted entity's header is damaged (a line that is no field)");
    }
    for (const auto& f : head.fields) {
        if (!canonical::is_content_header(f.name)) {
            e.ignored.push_back(mime::printable(f.name));
            continue;
        }
        if (const std::string problem = mime::field_problem(f); !problem.empty()) {
            throw Error(Category::Malformed,
                        "the decrypted entity's header field " + mime::printable(f.name) + " " + problem);
        }
        e.headers.push_back({f.name, f.value()});
    }
    entity.erase(0, head.body);  // the body, in place
    e.body = crlf(std::move(entity));
    return e;
}

}  // namespace segel::smime
