#include "smime/sign.h"

#include "smime/base64.h"
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/mime/mime.h"
#include "smime/mime/transport_safe.h"

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>

#include <strings.h>
#include <unistd.h>

namespace segel::smime {

namespace {

/**
 * What a Content-Type protects, from @p is (whether it is type/subtype) and its
 * smime-type= parameter: the one reading for GMime's parse and the plain one.
 */
template <class Is>
Protection protection_of(const Is& is, std::optional<std::string_view> smime_type) {
    if (is("multipart", "signed")) {
        return Protection::Signed;
    }
    if (is("multipart", "encrypted")) {
        return Protection::Encrypted;
    }
    if (is("application", "pkcs7-mime") || is("application", "x-pkcs7-mime")) {
        return smime_type && smime_type->size() == 11 && strncasecmp(smime_type->data(), "signed-data", 11) == 0
                   ? Protection::Signed
                   : Protection::Encrypted;
    }
    return Protection::None;
}

Protection classify_type(GMimeContentType* ct) {
    if (ct == nullptr) {
        return Protection::None;
    }
    const char* st = g_mime_content_type_get_parameter(ct, "smime-type");
    return protection_of([ct](const char* t, const char* s) { return g_mime_content_type_is_type(ct, t, s) != 0; },
                         st != nullptr ? std::optional<std::string_view>(st) : std::nullopt);
}

/** classify_type for a value read without GMime (mime::PlainValue). */
Protection classify_plain(const mime::PlainValue& ct) {
    return protection_of([&ct](const char* t, const char* s) { return ct.is(t, s); }, ct.param("smime-type"));
}

Protection classify_object(GMimeObject* part) {
    return classify_type(part != nullptr ? g_mime_object_get_content_type(part) : nullptr);
}

/**
 * Classifies from the top-level Content-Type field alone, which is all that
 * decides it; nullopt when the head is unusual (no end, no colon, several
 * Content-Type fields) and the whole message must be parsed instead.
 */
std::optional<Protection> classify_head(const Blob& message) {
    const mime::TopContentType top = mime::top_content_type(message);
    if (!top.known) {
        return std::nullopt;  // an unusual head: the full parse decides
    }
    return classify_content_type(top.field ? std::optional<std::string_view>(top.field->raw) : std::nullopt);
}

/**
 * A fresh multipart boundary with 96 unpredictable bits. Each thread draws its
 * seed from OpenSSL's DRBG once and steps a SplitMix64 generator from there: a
 * boundary needs uniqueness, not secrecy, and a DRBG call per message cost 1 %.
 */
std::string random_boundary_impl() {
    thread_local std::uint64_t state = [] {
        std::uint64_t seed = 0;
        ossl::check(RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) == 1, "RAND_bytes");
        return seed;
    }();
    auto next = [] {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31U);
    };
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string b = "=_segel_";
    const std::uint64_t hi = next();
    const std::uint64_t lo = next();
    for (int i = 60; i >= 0; i -= 4) {
        b += k_hex[(hi >> static_cast<unsigned>(i)) & 15U];
    }
    for (int i = 28; i >= 0; i -= 4) {
        b += k_hex[(lo >> static_cast<unsigned>(i)) & 15U];
    }
    return b;
}

/**
 * DER of this gateway's SMIMECapabilities (RFC 8551 §2.5.2), made once: the
 * content ciphers segel decrypts that RFC 8551 §2.7 recommends, strongest
 * first, so a peer that encrypts to staff picks AES-GCM or AES-CBC — never
 * RC2, DES or 3DES (OpenSSL's default list offers all three). No parameters:
 * RFC 3565 §5 gives the AES capabilities none (the key size is in the OID),
 * and the GCM ones are written the same way.
 */
const std::string& smime_capabilities() {
    static const std::string der = [] {
        STACK_OF(X509_ALGOR)* caps = sk_X509_ALGOR_new_null();
        bool ok = caps != nullptr;
        for (const int nid : {NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc, NID_aes_128_cbc}) {
            ok = ok && PKCS7_simple_smimecap(caps, nid, 0) == 1;
        }
        unsigned char* out = nullptr;
        const int len = ok ? i2d_X509_ALGORS(caps, &out) : -1;
        sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
        ossl::check(len > 0, "encode SMIMECapabilities");
        std::string s(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
        OPENSSL_free(out);
        return s;
    }();
    return der;
}

/** Adds a SEQUENCE-valued signed attribute from its DER. */
void add_sequence_attribute(CMS_SignerInfo* si, int nid, const std::string& der, const char* what) {
    ossl::check(CMS_signed_add1_attr_by_NID(si, nid, V_ASN1_SEQUENCE, der.data(), static_cast<int>(der.size())) == 1,
                what);
}

/**
 * signingTime, SMIMECapabilities and ESS signing-certificate-v2. The last two
 * are the same for every message a credential signs, so their DER is made once
 * (the capabilities at first use, the ESS value when the credential is loaded).
 */
void add_signed_attributes(CMS_SignerInfo* si, const Credential& signer, TimePoint now) {
    // signingTime from the injected clock (RFC 5652 §11.3), so tests can pin it.
    auto t = ossl::adopt(ASN1_TIME_adj(nullptr, Clock::to_time_t(now), 0, 0));
    ossl::check(t != nullptr, "ASN1_TIME_adj");
    ossl::check(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1) == 1, "add signingTime");
    add_sequence_attribute(si, NID_SMIMECapabilities, smime_capabilities(), "add SMIMECapabilities");
    // ESS signing-certificate-v2 (RFC 5035): binds the signer certificate to the signature.
    if (signer.ess_v2.empty()) {  // made by load_pem/load_pkcs12, the only makers of a Credential
        throw Error(Category::Internal, "the signing credential has no ESS signing-certificate-v2 value");
    }
    add_sequence_attribute(si, NID_id_smime_aa_signingCertificateV2, signer.ess_v2, "add ESS signing-certificate-v2");
}

/** A signature as made: the DER that leaves, and the structure it was encoded from. */
struct Signature {
    /**
     * The signer's key, held as long as @c cms lives (declared first, released
     * last): the SignerInfo keeps references to the private key (its signing
     * context), and a key in a token must not be reconnected under them.
     */
    KeyUse key;
    ossl::Ptr<CMS_ContentInfo> cms;
    std::string der;

    /** The key operation failed: drops the CMS while the key is still held, then reports it. */
    [[noreturn]] void key_failed(const char* what) {
        cms.reset();
        throw key.failed(what);
    }
};

/** A SignedData with our signer and its attributes, not yet signed (CMS_PARTIAL). */
std::pair<ossl::Ptr<CMS_ContentInfo>, CMS_SignerInfo*> cms_prepare(const Credential& signer, EVP_PKEY* key,
                                                                   const std::vector<ossl::Ptr<X509>>& chain,
                                                                   TimePoint now, unsigned flags) {
    auto cms = ossl::adopt(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    ossl::check(cms != nullptr, "CMS_sign");
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), signer.cert.get(), key, EVP_sha256(), flags | CMS_NOSMIMECAP);
    ossl::check(si != nullptr, "CMS_add1_signer");
    add_signed_attributes(si, signer, now);
    for (const auto& c : chain) {
        ossl::check(CMS_add1_cert(cms.get(), c.get()) == 1, "CMS_add1_cert");
    }
    return {std::move(cms), si};
}

std::string cms_der(CMS_ContentInfo* cms) {
    auto out = ossl::adopt(BIO_new(BIO_s_mem()));
    ossl::check(out != nullptr && i2d_CMS_bio(out.get(), cms) == 1, "i2d_CMS_bio");
    return ossl::bio_to_string(out.get());
}

/**
 * A detached signature over content whose SHA-256 @p digest the caller computed
 * while streaming it out: the messageDigest and contentType attributes are set
 * here and the signed attributes signed (RFC 5652 §5.4), so OpenSSL never needs
 * the content itself — a 20 MB message is hashed once, as it leaves.
 */
/** The time-stamp the caller obtains for the signature value, as an unsigned attribute (RFC 3161 appendix A). */
void add_time_stamp(CMS_SignerInfo* si, const SignOptions& options) {
    if (!options.time_stamp) {
        return;
    }
    const ASN1_OCTET_STRING* value = CMS_SignerInfo_get0_signature(si);
    ossl::check(value != nullptr, "the signature value");
    const std::string token =
        options.time_stamp(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                            static_cast<std::size_t>(ASN1_STRING_length(value))));
    if (!token.empty()) {
        ossl::check(CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE, token.data(),
                                                  static_cast<int>(token.size())) == 1,
                    "add the time-stamp token");
    }
}

Signature cms_sign_digest(const std::array<unsigned char, 32>& digest, const Credential& signer,
                          const std::vector<ossl::Ptr<X509>>& chain, const SignOptions& options) {
    const TimePoint now = options.now;
    const unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_DETACHED;
    Signature sig{signer.key->use(), nullptr, {}};
    CMS_SignerInfo* si = nullptr;
    std::tie(sig.cms, si) = cms_prepare(signer, sig.key.get(), chain, now, flags);
    ossl::check(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest.data(),
                                            static_cast<int>(digest.size())) == 1,
                "add messageDigest");
    ossl::check(
        CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) == 1,
        "add contentType");
    if (CMS_SignerInfo_sign(si) != 1) {
        sig.key_failed("signing");
    }
    add_time_stamp(si, options);
    sig.der = cms_der(sig.cms.get());
    return sig;
}

/** An opaque signature (content encapsulated): OpenSSL hashes and embeds @p entity. */
Signature cms_sign_opaque(std::string_view entity, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                          const SignOptions& options) {
    const TimePoint now = options.now;
    // CMS_BINARY: the entity is already canonical (CRLF); OpenSSL must not touch it.
    const unsigned flags = CMS_BINARY | CMS_PARTIAL;
    Signature sig{signer.key->use(), nullptr, {}};
    CMS_SignerInfo* si = nullptr;
    std::tie(sig.cms, si) = cms_prepare(signer, sig.key.get(), chain, now, flags);
    auto data = ossl::mem_bio(entity.data(), entity.size());
    if (CMS_final(sig.cms.get(), data.get(), nullptr, flags) != 1) {
        sig.key_failed("signing");
    }
    add_time_stamp(si, options);
    sig.der = cms_der(sig.cms.get());
    return sig;
}

/** The one signer of @p sig, which must be @p signer. */
CMS_SignerInfo* our_signer(const Signature& sig, const Credential& signer) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(sig.cms.get()), 0);
    if (si == nullptr || CMS_SignerInfo_cert_cmp(si, signer.cert.get()) != 0) {
        throw Error(Category::Internal, "self-check: the signature names another signer");
    }
    return si;
}

/** The base64 in the body must decode to exactly the DER that was made. */
void check_encoding(std::string_view base64_text, const Signature& sig) {
    const auto der = base64::decode(base64_text);
    if (!der || *der != sig.der) {
        throw Error(Category::Internal, "self-check: the signature in the body is not the signature that was made");
    }
}

/**
 * The detached self-check (RFC 5652 §5.6, as CMS_verify does it, without
 * decoding our own DER again): the signature over the signed attributes
 * verifies with the signer certificate's public key, and their messageDigest
 * is @p digest — the SHA-256 of exactly the bytes handed out as the signed
 * part, computed as they were handed out. The structure is checked in memory:
 * re-decoding costs OpenSSL 3.0 a full public-key decoder run per embedded
 * certificate, more than the RSA signature itself (docs/performance.md).
 */
void self_check_detached(const Signature& sig, std::string_view base64_text,
                         const std::array<unsigned char, 32>& digest, const Credential& signer) {
    check_encoding(base64_text, sig);
    CMS_SignerInfo* si = our_signer(sig, signer);
    const auto* md = static_cast<const ASN1_OCTET_STRING*>(
        CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
    if (md == nullptr || static_cast<std::size_t>(ASN1_STRING_length(md)) != digest.size() ||
        std::memcmp(ASN1_STRING_get0_data(md), digest.data(), digest.size()) != 0) {
        throw Error(Category::Internal, "self-check: the messageDigest is not the digest of the signed part");
    }
    CMS_SignerInfo_set1_signer_cert(si, signer.cert.get());  // verify with the certificate's key
    if (CMS_SignerInfo_verify(si) != 1) {
        throw Error(Category::Internal, ossl::drain_errors("self-check: signature does not verify"));
    }
}

/** The opaque self-check: CMS_verify gives back exactly @p entity. */
void self_check_opaque(const Signature& sig, std::string_view base64_text, std::string_view entity,
                       const Credential& signer) {
    check_encoding(base64_text, sig);
    our_signer(sig, signer);
    auto out = ossl::adopt(BIO_new(BIO_s_mem()));
    ossl::check(out != nullptr, "BIO_new");
    if (CMS_verify(sig.cms.get(), nullptr, nullptr, nullptr, out.get(), CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
        throw Error(Category::Internal, ossl::drain_errors("self-check: signature does not verify"));
    }
    if (ossl::bio_to_string(out.get()) != entity) {
        throw Error(Category::Internal, "self-check: the encapsulated content differs from the entity");
    }
}

/** True when @p line starts with @p prefix, ignoring ASCII case. */
bool starts_with_nocase(std::string_view line, std::string_view prefix) {
    return line.size() >= prefix.size() && strncasecmp(line.data(), prefix.data(), prefix.size()) == 0;
}

/** The entity to sign: @c head, then the bytes [offset, offset + length) of @c source. */
struct Content {
    std::string head;
    const Blob* source = nullptr;
    std::size_t offset = 0;
    std::size_t length = 0;

    /** Hands every byte to @p fn in order, reading a spooled source in pieces. */
    void stream(const std::function<void(std::string_view)>& fn) const {
        if (!head.empty()) {
            fn(head);
        }
        if (length > 0) {
            source->read(offset, length, fn);
        }
    }
    [[nodiscard]] std::string str() const {
        std::string s;
        s.reserve(head.size() + length);
        stream([&s](std::string_view piece) { s += piece; });
        return s;
    }
};

/** @p content (a MIME entity: Content or PreparedEntity) fed to a fresh Scanner (finish() not yet called). */
template <typename Entity>
canonical::Scanner scanned(const Entity& content) {
    canonical::Scanner scanner(canonical::Layout::Entity);
    content.stream([&scanner](std::string_view piece) { scanner.feed(piece); });
    return scanner;
}

/** Whether what @p scanner saw may be signed exactly as it is: no hazard, no line fact. */
bool signable_as_is(canonical::Scanner scanner) {
    return !scanner.finish().any() && !scanner.lines().any();
}

/**
 * The received entity (its Content-* fields and body, which stays where it was
 * spooled), when it can be signed as it is: CRLF everywhere, nothing
 * canonical::scan objects to, no line starting with a tab (a fold), no
 * "Content-Transfer-Encoding:" line naming 8bit or binary, and for a multipart
 * nothing after the close delimiter. This is the common case for mail from
 * ordinary clients at any size, and it spares GMime's parse and re-serialisation
 * and every copy of the body (docs/performance.md). nullopt:
 * make_transport_safe() must rewrite it.
 */
std::optional<Content> entity_as_received(const Blob& message, const SignOptions& options) {
    const auto head = mime::read_head(message, 256 * 1024);
    if (!head) {
        return std::nullopt;
    }
    const mime::HeaderBlock block = mime::split_fields(*head);
    if (!block.blank_line) {
        return std::nullopt;
    }
    Content c;
    std::string content_type;
    for (const auto& f : block.fields) {
        if (!canonical::is_content_header(f.name) || strcasecmp(f.name.c_str(), "MIME-Version") == 0) {
            continue;
        }
        if (strcasecmp(f.name.c_str(), "Content-Type") == 0) {
            if (!content_type.empty()) {
                return std::nullopt;
            }
            content_type = f.unfolded();
        }
        c.head += f.name + ":" + canonical::to_crlf(f.raw) + "\r\n";
    }
    c.head += "\r\n";
    c.source = &message;
    c.offset = block.body;
    c.length = message.size() - std::min(message.size(), block.body);
    // For a multipart, the entity ends at its close delimiter: the body must end
    // with it (and at most a CRLF), or the GMime path drops the epilogue.
    if (starts_with_nocase(content_type, "multipart/")) {
        std::string boundary;
        if (const auto plain = mime::plain_content_type(content_type)) {  // the usual form, without GMime
            boundary = plain->param("boundary").value_or("");
        } else {
            mime::init();
            auto ct = gobj::adopt(g_mime_content_type_parse(nullptr, content_type.c_str()));
            const char* b = ct ? g_mime_content_type_get_parameter(ct.get(), "boundary") : nullptr;
            boundary = b != nullptr ? b : "";
        }
        if (boundary.empty()) {
            return std::nullopt;
        }
        const std::string close = "\r\n--" + boundary + "--";
        const std::size_t tail_len = std::min(c.length, close.size() + 2);
        std::string tail = "\r\n";
        message.read(c.offset + c.length - tail_len, tail_len, [&tail](std::string_view p) { tail += p; });
        const auto ends_with = [&tail](std::string_view suffix) {
            return tail.size() >= suffix.size() &&
                   tail.compare(tail.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        if (ends_with(close + "\r\n")) {
            c.length -= 2;
        } else if (!ends_with(close)) {
            return std::nullopt;
        }
    }
    const std::size_t body_size = message.size() - c.offset;
    if (options.body_scan != nullptr && options.body_scan->size() == body_size) {
        // The head ends with a blank line, so the body starts a fresh line: scanning
        // the head and the (whole) body apart finds exactly what one scan would.
        canonical::Scanner head_scan(canonical::Layout::Entity);
        head_scan.feed(c.head);
        const bool safe = signable_as_is(head_scan) && signable_as_is(*options.body_scan);
        return safe ? std::optional<Content>(c) : std::nullopt;
    }
    return signable_as_is(scanned(c)) ? std::optional<Content>(c) : std::nullopt;
}

/**
 * Collects the new body into pieces for a sink, or appends it to a Blob when
 * there is no sink. Small writes (boundary lines, part headers) are gathered
 * into pieces of at most k_piece bytes; a write of k_piece bytes or more goes
 * to the sink as it is, after what was gathered, so a spooled body is never
 * copied on its way out (the milter cuts it into protocol chunks itself).
 */
class Emitter {
public:
    static constexpr std::size_t k_piece = 65535;  // one milter body-replacement chunk

    Emitter(const BodySink& sink, Blob& body) : m_sink(sink), m_body(body) {}

    void write(std::string_view bytes) {
        if (!m_sink) {
            m_body.append(bytes);
            return;
        }
        if (bytes.size() >= k_piece) {
            flush();
            m_sink(bytes);
            return;
        }
        while (!bytes.empty()) {
            if (m_buf.capacity() < k_piece) {
                m_buf.reserve(k_piece);  // one allocation, not a doubling series of copies
            }
            const std::size_t n = std::min(bytes.size(), k_piece - m_buf.size());
            m_buf.append(bytes.substr(0, n));
            bytes.remove_prefix(n);
            if (m_buf.size() == k_piece) {
                flush();
            }
        }
    }
    void flush() {
        if (m_sink && !m_buf.empty()) {
            m_sink(m_buf);
            m_buf.clear();
        }
    }

private:
    const BodySink& m_sink;
    Blob& m_body;
    std::string m_buf;
};

/** SHA-256 over pieces (the digest algorithm this gateway signs with). */
class Sha256 {
public:
    Sha256() : m_ctx(EVP_MD_CTX_new()) {
        ossl::check(m_ctx != nullptr && EVP_DigestInit_ex(m_ctx.get(), md(), nullptr) == 1, "SHA-256 init");
    }
    void update(std::string_view bytes) {
        ossl::check(EVP_DigestUpdate(m_ctx.get(), bytes.data(), bytes.size()) == 1, "SHA-256 update");
    }
    std::array<unsigned char, 32> final() {
        std::array<unsigned char, 32> out{};
        unsigned len = 0;
        ossl::check(EVP_DigestFinal_ex(m_ctx.get(), out.data(), &len) == 1 && len == out.size(), "SHA-256 final");
        return out;
    }

private:
    /** Fetched once: an implicit fetch per message costs a provider lookup. */
    static const EVP_MD* md() {
        static EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        return fetched != nullptr ? fetched : EVP_sha256();
    }
    struct Free {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    std::unique_ptr<EVP_MD_CTX, Free> m_ctx;
};

}  // namespace

std::string new_boundary() {
    return random_boundary_impl();
}

std::vector<Header> signed_headers(const SignOptions& options) {
    if (options.format == SignFormat::Opaque) {
        // RFC 8551 §3.5.2: opaque signed-data, file name smime.p7m. OpenSSL embeds the content.
        return {
            {"MIME-Version", "1.0"},
            {"Content-Type", "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\""},
            {"Content-Transfer-Encoding", "base64"},
            {"Content-Disposition", "attachment; filename=\"smime.p7m\""},
            {"Content-Description", "S/MIME Cryptographic Signature"},
        };
    }
    if (options.boundary.empty()) {
        throw Error(Category::Internal, "signed_headers: a detached signature needs its boundary");
    }
    return {
        {"MIME-Version", "1.0"},
        {"Content-Type", "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\n\tboundary=\"" +
                             options.boundary + "\""},
    };
}

Protection classify_content_type(std::optional<std::string_view> content_type) {
    // Only multipart/signed, multipart/encrypted and application/(x-)pkcs7-mime are
    // protected: a value naming neither "multipart" nor "pkcs7" cannot be one of them
    // (no field at all: text/plain, RFC 2045 §5.2).
    if (!content_type || (!mime::mentions(*content_type, "multipart") && !mime::mentions(*content_type, "pkcs7"))) {
        return Protection::None;
    }
    const std::string value = mime::unfold(*content_type);
    if (const auto plain = mime::plain_content_type(value)) {  // the usual form, read without GMime
        return classify_plain(*plain);
    }
    mime::init();
    auto ct = gobj::adopt(g_mime_content_type_parse(nullptr, value.c_str()));
    return classify_type(ct.get());
}

Protection classify(const Blob& message) {
    // Only the top-level Content-Type decides; parsing the whole message for it
    // cost as much as a second signature pass (docs/performance.md).
    if (const auto p = classify_head(message)) {
        return *p;
    }
    auto msg = mime::parse_message(message);
    return classify_object(g_mime_message_get_mime_part(msg.get()));
}

void PreparedEntity::stream(const std::function<void(std::string_view)>& fn) const {
    if (!m_head.empty()) {
        fn(m_head);
    }
    if (m_length > 0) {
        (m_source != nullptr ? *m_source : m_rewritten).read(m_offset, m_length, fn);
    }
}

std::string PreparedEntity::str() const {
    std::string s;
    s.reserve(size());
    stream([&s](std::string_view piece) { s += piece; });
    return s;
}

PreparedEntity prepare(const Blob& message, const SignOptions& options) {
    PreparedEntity p;
    if (std::optional<Content> c = entity_as_received(message, options)) {
        p.m_head = std::move(c->head);
        p.m_source = &message;
        p.m_offset = c->offset;
        p.m_length = c->length;
        return p;
    }
    auto msg = mime::parse_message(message);
    GMimeObject* entity_obj = g_mime_message_get_mime_part(msg.get());
    if (entity_obj == nullptr) {
        throw Error(Category::Malformed, "the message has no body entity");
    }
    p.m_rewrite = canonical::make_transport_safe(entity_obj, &message);
    p.m_rewritten = Blob(options.memory_limit, options.spool_dir);
    mime::write(entity_obj, p.m_rewritten);
    p.m_length = p.m_rewritten.size();
    // A multipart ends at its close delimiter: no trailing line break after it
    // (nothing outside the entity is signed; Outlook rejects a signed epilogue).
    if (GMIME_IS_MULTIPART(entity_obj)) {
        std::string tail;
        const std::size_t n = std::min<std::size_t>(p.m_length, 64);
        p.m_rewritten.read(p.m_length - n, n, [&tail](std::string_view piece) { tail += piece; });
        while (tail.size() >= 2 && tail.compare(tail.size() - 2, 2, "\r\n") == 0) {
            tail.resize(tail.size() - 2);
            p.m_length -= 2;
        }
    }
    // What is signed must be what the recipient receives: bytes SMTP carries unchanged.
    // (mime::write makes every line end CRLF; make_transport_safe() refused, as Malformed,
    // what the message itself makes impossible.) Anything left is this gateway's fault.
    canonical::Scanner check = scanned(p);
    const canonical::Hazards hazards = check.finish();
    if (const std::string problems = canonical::wire_problems(hazards, check.lines()); !problems.empty()) {
        throw Error(Category::Internal,
                    "self-check: the rewritten entity would not reach the recipient unchanged (" + problems + ")");
    }
    return p;
}

SignedMessage sign(const Blob& message, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                   const SignOptions& options, const BodySink& sink) {
    return sign(prepare(message, options), signer, chain, options, sink);
}

SignedMessage sign(const PreparedEntity& entity, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                   const SignOptions& options, const BodySink& sink) {
    ossl::init_providers();
    mime::init();  // entity_as_received parses a multipart's Content-Type with GMime
    SignedMessage out;
    out.micalg = "sha-256";
    out.body = Blob(options.memory_limit, options.spool_dir);
    out.rewrite = entity.rewrite();

    Emitter emit(sink, out.body);
    if (options.format == SignFormat::Opaque) {
        // RFC 8551 §3.5.2: opaque signed-data, file name smime.p7m. OpenSSL embeds the content.
        out.headers = signed_headers(options);
        const std::string bytes = entity.str();
        out.content_sha256 = ossl::sha256_hex(bytes);
        const Signature sig = cms_sign_opaque(bytes, signer, chain, options);
        const std::string text = base64::encode_lines(sig.der);
        self_check_opaque(sig, text, bytes, signer);
        emit.write(text);
        emit.flush();
        return out;
    }

    // RFC 8551 §3.5.3 multipart/signed. The boundary has 96 random bits: it cannot
    // occur in the entity except by a chance of 2^-96 (what GMime and mail clients rely on).
    SignOptions with_boundary = options;
    if (with_boundary.boundary.empty()) {
        with_boundary.boundary = new_boundary();
    }
    const std::string& boundary = with_boundary.boundary;
    out.headers = signed_headers(with_boundary);
    emit.write("--" + boundary + "\r\n");
    // The signed part is hashed exactly as it is handed out, in one pass: the
    // digest the signature commits to is the digest of the bytes that leave.
    Sha256 hash;
    std::size_t hashed = 0;
    entity.stream([&](std::string_view piece) {
        hash.update(piece);
        emit.write(piece);
        hashed += piece.size();
    });
    if (hashed != entity.size()) {
        throw Error(Category::Internal, "self-check: the signed part changed while building the message");
    }
    const auto digest = hash.final();
    out.content_sha256 = ossl::hex(digest.data(), digest.size());
    const Signature sig = cms_sign_digest(digest, signer, chain, options);
    const std::string text = base64::encode_lines(sig.der);
    self_check_detached(sig, text, digest, signer);
    emit.write("\r\n--" + boundary +
               "\r\n"
               // The detached signature part; file name smime.p7s.
               "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
               "Content-Transfer-Encoding: base64\r\n"
               "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
               "Content-Description: S/MIME Cryptographic Signature\r\n\r\n");
    emit.write(text);
    emit.write("--" + boundary + "--\r\n");
    emit.flush();
    return out;
}

}  // namespace segel::smime
