#include "smime/sign.h"

#include "smime/base64.h"
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/mime/mime.h"
#include "smime/verify_core.h"

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/rand.h>

#include <cstring>
#include <optional>

#include <strings.h>
#include <unistd.h>

namespace segel::smime {

namespace {

Protection classify_type(GMimeContentType* ct) {
    if (ct == nullptr) {
        return Protection::None;
    }
    if (g_mime_content_type_is_type(ct, "multipart", "signed")) {
        return Protection::Signed;
    }
    if (g_mime_content_type_is_type(ct, "multipart", "encrypted")) {
        return Protection::Encrypted;
    }
    if (g_mime_content_type_is_type(ct, "application", "pkcs7-mime") ||
        g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime")) {
        const char* st = g_mime_content_type_get_parameter(ct, "smime-type");
        return st != nullptr && strcasecmp(st, "signed-data") == 0 ? Protection::Signed : Protection::Encrypted;
    }
    return Protection::None;
}

Protection classify_object(GMimeObject* part) {
    return classify_type(part != nullptr ? g_mime_object_get_content_type(part) : nullptr);
}

/**
 * The header block of @p message (up to and including the blank line), read
 * without mapping or copying the body; nullopt when no blank line is found
 * within @p limit bytes.
 */
std::optional<std::string> head_of(const Blob& message, std::size_t limit) {
    std::string head;
    auto complete = [&head](std::size_t from) {
        const std::size_t start = from > 3 ? from - 3 : 0;
        for (std::size_t i = head.find('\n', start); i != std::string::npos; i = head.find('\n', i + 1)) {
            if (i == 0 || head[i - 1] == '\n' || (head[i - 1] == '\r' && i >= 2 && head[i - 2] == '\n')) {
                head.resize(i + 1);
                return true;
            }
        }
        return false;
    };
    const int fd = message.dup_fd();
    if (fd < 0) {
        const std::string_view v = message.view();
        head.assign(v.substr(0, std::min(v.size(), limit)));
        return complete(0) ? std::optional<std::string>(std::move(head)) : std::nullopt;
    }
    char buf[16384];
    bool found = false;
    while (!found && head.size() < limit) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        const std::size_t before = head.size();
        head.append(buf, static_cast<std::size_t>(n));
        found = complete(before);
    }
    ::close(fd);
    return found ? std::optional<std::string>(std::move(head)) : std::nullopt;
}

/**
 * Classifies from the top-level Content-Type field alone, which is all that
 * decides it; nullopt when the head is unusual (no end, no colon, several
 * Content-Type fields) and the whole message must be parsed instead.
 */
std::optional<Protection> classify_head(const Blob& message) {
    const auto head = head_of(message, 256 * 1024);
    if (!head) {
        return std::nullopt;
    }
    const mime::HeaderBlock block = mime::split_fields(*head);
    if (block.stray_line) {
        return std::nullopt;  // an unusual head: the full parse decides
    }
    const mime::Field* content_type = nullptr;
    for (const auto& f : block.fields) {
        if (strcasecmp(f.name.c_str(), "Content-Type") == 0) {
            if (content_type != nullptr) {
                return std::nullopt;
            }
            content_type = &f;
        }
    }
    if (content_type == nullptr) {
        return Protection::None;  // RFC 2045 §5.2: text/plain by default
    }
    mime::init();
    auto ct = gobj::adopt(g_mime_content_type_parse(nullptr, content_type->unfolded().c_str()));
    return classify_type(ct.get());
}

std::string random_boundary() {
    unsigned char rnd[12];
    ossl::check(RAND_bytes(rnd, sizeof rnd) == 1, "RAND_bytes");
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string b = "=_segel_";
    for (const unsigned char c : rnd) {
        b += k_hex[c >> 4U];
        b += k_hex[c & 15U];
    }
    return b;
}

void add_signed_attributes(CMS_SignerInfo* si, X509* cert, TimePoint now) {
    // signingTime from the injected clock (RFC 5652 §11.3), so tests can pin it.
    auto t = ossl::adopt(ASN1_TIME_adj(nullptr, Clock::to_time_t(now), 0, 0));
    ossl::check(t != nullptr, "ASN1_TIME_adj");
    ossl::check(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1) == 1, "add signingTime");
    // ESS signing-certificate-v2 (RFC 5035): binds the signer certificate to the signature.
    ESS_SIGNING_CERT_V2* ess = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, nullptr, 0);
    ossl::check(ess != nullptr, "ESS signing-certificate-v2");
    unsigned char* der = nullptr;
    const int len = i2d_ESS_SIGNING_CERT_V2(ess, &der);
    ESS_SIGNING_CERT_V2_free(ess);
    ossl::check(len > 0, "encode ESS signing-certificate-v2");
    auto seq = ossl::adopt(ASN1_STRING_new());
    const int set = ASN1_STRING_set(seq.get(), der, len);
    OPENSSL_free(der);
    ossl::check(set == 1, "ASN1_STRING_set");
    ossl::check(
        CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, seq.get(), -1) == 1,
        "add ESS signing-certificate-v2");
}

/** A signature as made: the DER that leaves, and the structure it was encoded from. */
struct Signature {
    ossl::Ptr<CMS_ContentInfo> cms;
    std::string der;
};

Signature cms_sign(std::string_view entity, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                   TimePoint now, bool detached) {
    // CMS_BINARY: the entity is already canonical (CRLF); OpenSSL must not touch it.
    const unsigned flags = CMS_BINARY | CMS_PARTIAL | (detached ? CMS_DETACHED : 0U);
    auto cms = ossl::adopt(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    ossl::check(cms != nullptr, "CMS_sign");
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), signer.cert.get(), signer.key.get(), EVP_sha256(), flags);
    ossl::check(si != nullptr, "CMS_add1_signer");  // also adds SMIMECapabilities
    add_signed_attributes(si, signer.cert.get(), now);
    for (const auto& c : chain) {
        ossl::check(CMS_add1_cert(cms.get(), c.get()) == 1, "CMS_add1_cert");
    }
    auto data = ossl::mem_bio(entity.data(), entity.size());
    ossl::check(CMS_final(cms.get(), data.get(), nullptr, flags) == 1, "CMS_final");
    auto out = ossl::adopt(BIO_new(BIO_s_mem()));
    ossl::check(i2d_CMS_bio(out.get(), cms.get()) == 1, "i2d_CMS_bio");
    return {std::move(cms), ossl::bio_to_string(out.get())};
}

/**
 * Verifies the produced body exactly as it will be handed back to the MTA.
 * The signature bytes in the body must decode to exactly the DER that was made,
 * and that signature must verify over the exact content bytes in the body. The
 * structure is checked in memory rather than decoded again from the DER: the
 * bytes are proven identical, and re-decoding costs OpenSSL 3.0 a full public-key
 * decoder run per embedded certificate — more than the RSA signature itself
 * (docs/performance.md). The signer's chain was validated once when the
 * credential was loaded (engine::Gateway), and the policy checks its validity
 * period for every message; it is checked here again at @p now.
 */
void self_check(const SignedMessage& msg, std::string_view entity, const std::string& boundary, bool detached,
                const Signature& sig, const Credential& signer) {
    const std::string_view body = msg.body.view();
    std::optional<std::string_view> content;
    std::optional<std::string> der;
    if (detached) {
        const SignedParts parts = split_multipart_signed(body, boundary);
        if (parts.content != entity) {
            throw Error(Category::Internal, "self-check: the signed part changed while building the message");
        }
        content = parts.content;
        const std::size_t blank = parts.signature.find("\r\n\r\n");
        if (blank != std::string_view::npos) {
            der = base64::decode(parts.signature.substr(blank + 4));
        }
    } else {
        der = base64::decode(body);
    }
    if (!der || *der != sig.der) {
        throw Error(Category::Internal, "self-check: the signature in the body is not the signature that was made");
    }
    ossl::Ptr<BIO> dcont;
    if (content) {
        dcont = ossl::mem_bio(content->data(), content->size());
    }
    // Detached: no output BIO, so OpenSSL discards the content it hashes instead of
    // copying all of it into a growing memory buffer (20 MB for a 20 MB message).
    ossl::Ptr<BIO> out;
    if (!detached) {
        out = ossl::adopt(BIO_new(BIO_s_mem()));
        ossl::check(out != nullptr, "BIO_new");
    }
    if (CMS_verify(sig.cms.get(), nullptr, nullptr, dcont.get(), out.get(), CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) !=
        1) {
        throw Error(Category::Internal, ossl::drain_errors("self-check: signature does not verify"));
    }
    if (!detached && ossl::bio_to_string(out.get()) != entity) {
        throw Error(Category::Internal, "self-check: the encapsulated content differs from the entity");
    }
    // The signature must name our signer. Its chain was validated when the credential was
    // loaded (engine::Gateway), and the policy judged every validity period at this moment.
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(sig.cms.get()), 0);
    if (si == nullptr || CMS_SignerInfo_cert_cmp(si, signer.cert.get()) != 0) {
        throw Error(Category::Internal, "self-check: the signature names another signer");
    }
}

/** True when @p line starts with @p prefix, ignoring ASCII case. */
bool starts_with_nocase(std::string_view line, std::string_view prefix) {
    return line.size() >= prefix.size() && strncasecmp(line.data(), prefix.data(), prefix.size()) == 0;
}

/**
 * The received entity (its Content-* fields and body), when it can be signed as
 * it is: CRLF everywhere, nothing canonical::scan objects to, no line folded or
 * starting with a tab, no part labelled 8bit or binary, and for a multipart
 * nothing after the close delimiter. This is the common case for mail from
 * ordinary clients, and it spares GMime's parse and re-serialisation
 * (docs/performance.md). nullopt: make_transport_safe() must rewrite it.
 */
std::optional<std::string> entity_as_received(std::string_view message, std::size_t limit) {
    if (message.size() > limit) {
        return std::nullopt;  // large mail takes the streaming GMime path
    }
    const mime::HeaderBlock head = mime::split_fields(message);
    if (!head.blank_line) {
        return std::nullopt;
    }
    std::string entity;
    std::string content_type;
    for (const auto& f : head.fields) {
        if (!canonical::is_content_header(f.name) || strcasecmp(f.name.c_str(), "MIME-Version") == 0) {
            continue;
        }
        if (strcasecmp(f.name.c_str(), "Content-Type") == 0) {
            if (!content_type.empty()) {
                return std::nullopt;
            }
            content_type = f.unfolded();
        }
        entity += f.name + ":" + canonical::to_crlf(f.raw) + "\r\n";
    }
    entity += "\r\n";
    std::string_view body = message.substr(head.body);
    // For a multipart, the entity ends at its close delimiter (no epilogue is signed).
    if (starts_with_nocase(content_type, "multipart/")) {
        auto ct = gobj::adopt(g_mime_content_type_parse(nullptr, content_type.c_str()));
        const char* boundary = ct ? g_mime_content_type_get_parameter(ct.get(), "boundary") : nullptr;
        if (boundary == nullptr || *boundary == '\0') {
            return std::nullopt;
        }
        const std::string close = std::string("\r\n--") + boundary + "--";
        const std::size_t at = ("\r\n" + std::string(body)).rfind(close);
        if (at == std::string::npos) {
            return std::nullopt;
        }
        const std::size_t end = at + close.size() - 2;  // offset in body (the CRLF prefix was added)
        const std::string_view rest = body.substr(std::min(end, body.size()));
        if (!rest.empty() && rest != "\r\n") {
            return std::nullopt;  // an epilogue: let the GMime path drop it
        }
        body = body.substr(0, end);
    }
    entity += body;
    // Every line end CRLF, no tab at a line start (folds), no 8bit/binary label.
    for (std::size_t pos = 0; pos < entity.size();) {
        std::size_t eol = entity.find('\n', pos);
        if (eol == std::string::npos) {
            eol = entity.size();
        } else if (eol == 0 || entity[eol - 1] != '\r') {
            return std::nullopt;
        }
        const std::string_view line(entity.data() + pos, eol - pos);
        if (!line.empty() && line.front() == '\t') {
            return std::nullopt;
        }
        if (starts_with_nocase(line, "content-transfer-encoding:")) {
            std::string v(line.substr(26));
            for (auto& ch : v) {
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            }
            if (v.find("8bit") != std::string::npos || v.find("binary") != std::string::npos) {
                return std::nullopt;
            }
        }
        pos = eol + 1;
    }
    if (canonical::scan(entity).any()) {
        return std::nullopt;
    }
    return entity;
}

}  // namespace

Protection classify(const Blob& message) {
    // Only the top-level Content-Type decides; parsing the whole message for it
    // cost as much as a second signature pass (docs/performance.md).
    if (const auto p = classify_head(message)) {
        return *p;
    }
    auto msg = mime::parse_message(message);
    return classify_object(g_mime_message_get_mime_part(msg.get()));
}

SignedParts split_multipart_signed(std::string_view body, const std::string& boundary) {
    // RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter.
    const std::string delim = "--" + boundary;
    std::size_t first = std::string_view::npos;
    for (std::size_t pos = 0; pos < body.size();) {
        if (body.compare(pos, delim.size(), delim) == 0 &&
            (pos + delim.size() == body.size() || body[pos + delim.size()] == '\r' ||
             body[pos + delim.size()] == '\n' || body[pos + delim.size()] == ' ' || body[pos + delim.size()] == '\t')) {
            first = pos;
            break;
        }
        const std::size_t nl = body.find('\n', pos);
        if (nl == std::string_view::npos) {
            break;
        }
        pos = nl + 1;
    }
    if (first == std::string_view::npos) {
        throw Error(Category::Malformed, "multipart/signed: the first boundary is missing");
    }
    const std::size_t content_start = body.find('\n', first);
    if (content_start == std::string_view::npos) {
        throw Error(Category::Malformed, "multipart/signed: nothing after the first boundary");
    }
    auto find_delim = [&](std::size_t from) -> std::size_t {
        std::size_t pos = from;
        while ((pos = body.find("\n" + delim, pos)) != std::string_view::npos) {
            const std::size_t after = pos + 1 + delim.size();
            if (after == body.size() || body[after] == '\r' || body[after] == '\n' || body[after] == '-' ||
                body[after] == ' ' || body[after] == '\t') {
                return pos;
            }
            pos = after;
        }
        return std::string_view::npos;
    };
    const std::size_t second = find_delim(content_start);
    if (second == std::string_view::npos) {
        throw Error(Category::Malformed, "multipart/signed: the second boundary is missing");
    }
    std::size_t content_end = second;
    if (content_end > content_start + 1 && body[content_end - 1] == '\r') {
        --content_end;
    }
    SignedParts parts;
    parts.content = body.substr(content_start + 1, content_end - (content_start + 1));
    const std::size_t sig_start = body.find('\n', second + 1);
    if (sig_start == std::string_view::npos || body.compare(second + 1 + delim.size(), 2, "--") == 0) {
        throw Error(Category::Malformed, "multipart/signed: the signature part is missing");
    }
    const std::size_t third = find_delim(sig_start);
    if (third == std::string_view::npos) {
        throw Error(Category::Malformed, "multipart/signed: the closing boundary is missing");
    }
    std::size_t sig_end = third;
    if (sig_end > sig_start + 1 && body[sig_end - 1] == '\r') {
        --sig_end;
    }
    parts.signature = body.substr(sig_start + 1, sig_end - (sig_start + 1));
    return parts;
}

SignedMessage sign(const Blob& message, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                   const SignOptions& options) {
    ossl::init_providers();
    SignedMessage out;
    out.micalg = "sha-256";
    out.body = Blob(options.memory_limit, options.spool_dir);
    Blob entity_blob(options.memory_limit, options.spool_dir);
    std::string_view entity;
    if (auto as_received = entity_as_received(message.view(), options.memory_limit)) {
        entity_blob.append(*as_received);
        entity = entity_blob.view();
    } else {
        auto msg = mime::parse_message(message);
        GMimeObject* entity_obj = g_mime_message_get_mime_part(msg.get());
        if (entity_obj == nullptr) {
            throw Error(Category::Malformed, "the message has no body entity");
        }
        out.rewrite = canonical::make_transport_safe(entity_obj);
        mime::write(entity_obj, entity_blob);
        entity = entity_blob.view();
        // A multipart ends at its close delimiter: no trailing line break after it
        // (nothing outside the entity is signed; Outlook rejects a signed epilogue).
        if (GMIME_IS_MULTIPART(entity_obj)) {
            while (entity.size() >= 2 && entity.substr(entity.size() - 2) == "\r\n") {
                entity.remove_suffix(2);
            }
        }
    }
    if (const auto hz = canonical::scan(entity); hz.any()) {
        throw Error(Category::Internal, "the entity is still not transport-safe (" + hz.describe() + ")");
    }

    const bool detached = options.format == SignFormat::Detached;
    const Signature sig = cms_sign(entity, signer, chain, options.now, detached);
    const std::string& der = sig.der;
    std::string boundary;
    if (detached) {
        do {
            boundary = random_boundary();
        } while (entity.find(boundary) != std::string_view::npos);
        out.headers = {
            {"MIME-Version", "1.0"},
            {"Content-Type", "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=" + out.micalg +
                                 ";\n\tboundary=\"" + boundary + "\""},
        };
        out.body.append("--" + boundary + "\r\n");
        out.body.append(entity);
        out.body.append("\r\n--" + boundary + "\r\n");
        // RFC 8551 §3.5.3: the detached signature part; file name smime.p7s.
        out.body.append(
            "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
            "Content-Description: S/MIME Cryptographic Signature\r\n\r\n");
        out.body.append(base64::encode_lines(der));
        out.body.append("--" + boundary + "--\r\n");
    } else {
        // RFC 8551 §3.5.2: opaque signed-data, file name smime.p7m.
        out.headers = {
            {"MIME-Version", "1.0"},
            {"Content-Type", "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\""},
            {"Content-Transfer-Encoding", "base64"},
            {"Content-Disposition", "attachment; filename=\"smime.p7m\""},
            {"Content-Description", "S/MIME Cryptographic Signature"},
        };
        base64::encode_lines(der, out.body);
    }
    self_check(out, entity, boundary, detached, sig, signer);
    return out;
}

}  // namespace segel::smime
