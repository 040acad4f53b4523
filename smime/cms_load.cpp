#include "smime/cms_load.h"

#include "smime/error.h"
#include "smime/ossl/der.h"

#include <openssl/err.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace segel::smime {

namespace {

/** At most this many certificates, of at most k_max_der bytes each, are kept. */
constexpr std::size_t k_max_cached = 512;
constexpr std::size_t k_max_der = 16 * 1024;

/** Hashes std::string and std::string_view alike, so a lookup by the DER in the message copies nothing. */
struct DerHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view der) const noexcept { return std::hash<std::string_view>{}(der); }
};

/** A certificate decoded once, and what inspect() says of it, once it was asked. */
struct Cached {
    ossl::Ptr<X509> cert;
    std::shared_ptr<const CertInfo> info;
};

std::mutex g_mutex;
std::unordered_map<std::string, Cached, DerHash, std::equal_to<>> g_cache;
/** The same entries by certificate: they hold a reference, so no other certificate can have that address. */
std::unordered_map<const X509*, Cached*> g_by_cert;

/** The certificate with exactly this DER, decoded once; nullptr when it does not decode. */
ossl::Ptr<X509> certificate(std::string_view der) {
    {
        const std::lock_guard<std::mutex> lock(g_mutex);
        if (const auto it = g_cache.find(der); it != g_cache.end()) {
            return ossl::retain(it->second.cert.get());
        }
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!x || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
        ERR_clear_error();
        return nullptr;
    }
    if (der.size() <= k_max_der) {
        const std::lock_guard<std::mutex> lock(g_mutex);
        if (g_cache.size() >= k_max_cached) {
            // Bounded: an arbitrary one makes room (a message that holds it keeps its own reference).
            g_by_cert.erase(g_cache.begin()->second.cert.get());
            g_cache.erase(g_cache.begin());
        }
        if (const auto [it, added] = g_cache.try_emplace(std::string(der), Cached{ossl::retain(x.get()), nullptr});
            added) {
            g_by_cert.emplace(it->second.cert.get(), &it->second);
        }
    }
    return x;
}

/** DER length octets for @p n content bytes. */
std::string der_length(std::size_t n) {
    if (n < 0x80) {
        return std::string(1, static_cast<char>(n));
    }
    std::string digits;
    for (std::size_t v = n; v > 0; v >>= 8U) {
        digits.insert(digits.begin(), static_cast<char>(v & 0xFFU));
    }
    return std::string(1, static_cast<char>(0x80U | digits.size())) + digits;
}

std::string wrap(unsigned char tag, const std::string& content) {
    return std::string(1, static_cast<char>(tag)) + der_length(content.size()) + content;
}

/**
 * d2i_CMS straight from memory: d2i_CMS_bio would first copy the whole structure into a
 * growing buffer (a 30 MB EnvelopedData cost 30 MB more, and the copies as it grew).
 */
ossl::Ptr<CMS_ContentInfo> plain_d2i(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    return ossl::Ptr<CMS_ContentInfo>(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
}

/**
 * ContentInfo { OID signedData, [0] EXPLICIT SignedData { version, digestAlgorithms,
 * encapContentInfo, [0] IMPLICIT certificates, [1] crls OPTIONAL, signerInfos } }
 * (RFC 5652 §3, §5.1), in DER or BER. The same structure without its certificates
 * field (every other element as written, wrapped with definite lengths) and each
 * certificate as written; false when the structure is anything else.
 */
bool split_certificates(std::string_view der, std::string& stripped, std::vector<std::string_view>& certs) {
    static constexpr unsigned char k_signed_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    const unsigned char* const end = p + der.size();
    ossl::Tlv ci;
    ossl::Tlv oid;
    ossl::Tlv explicit0;
    ossl::Tlv sd;
    if (!ossl::read_tlv(p, end, ci) || ci.cls != V_ASN1_UNIVERSAL || ci.tag != V_ASN1_SEQUENCE) {
        return false;
    }
    const unsigned char* c = ci.content;
    if (!ossl::read_tlv(c, ci.end, oid) || oid.cls != V_ASN1_UNIVERSAL || oid.tag != V_ASN1_OBJECT ||
        static_cast<std::size_t>(oid.end - oid.content) != sizeof k_signed_data ||
        std::memcmp(oid.content, k_signed_data, sizeof k_signed_data) != 0) {
        return false;
    }
    if (!ossl::read_tlv(c, ci.end, explicit0) || explicit0.cls != V_ASN1_CONTEXT_SPECIFIC || explicit0.tag != 0 ||
        c != ci.end) {
        return false;
    }
    const unsigned char* e = explicit0.content;
    if (!ossl::read_tlv(e, explicit0.end, sd) || sd.cls != V_ASN1_UNIVERSAL || sd.tag != V_ASN1_SEQUENCE ||
        e != explicit0.end) {
        return false;
    }
    // version, digestAlgorithms, encapContentInfo: kept as they are
    const unsigned char* f = sd.content;
    ossl::Tlv el;
    for (int k = 0; k < 3; ++k) {
        if (!ossl::read_tlv(f, sd.end, el) || el.cls != V_ASN1_UNIVERSAL) {
            return false;
        }
    }
    std::string content(reinterpret_cast<const char*>(sd.content), static_cast<std::size_t>(el.after - sd.content));
    ossl::Tlv set;
    if (!ossl::read_tlv(f, sd.end, set) || set.cls != V_ASN1_CONTEXT_SPECIFIC || set.tag != 0 || !set.constructed) {
        return false;  // no certificates: nothing to take from the cache
    }
    for (const unsigned char* q = set.content; q < set.end;) {
        ossl::Tlv cert;
        if (!ossl::read_tlv(q, set.end, cert) || cert.cls != V_ASN1_UNIVERSAL || cert.tag != V_ASN1_SEQUENCE) {
            return false;  // an attribute or "other" certificate choice: the plain decoder's
        }
        certs.push_back(cert.bytes());
    }
    content.append(reinterpret_cast<const char*>(f), static_cast<std::size_t>(sd.end - f));  // crls, signerInfos
    stripped = wrap(0x30, std::string(oid.bytes()) + wrap(0xA0, wrap(0x30, content)));
    return !certs.empty();
}

/** The children of @p t, as elements; false on an encoding error. */
bool children(const ossl::Tlv& t, std::vector<ossl::Tlv>& out) {
    for (const unsigned char* q = t.content; q < t.end;) {
        ossl::Tlv c;
        if (!ossl::read_tlv(q, t.end, c)) {
            return false;
        }
        out.push_back(c);
    }
    return true;
}

bool is_oid(const ossl::Tlv& t, std::initializer_list<unsigned char> last) {
    // 1.2.840.113549.1.7.x and 1.2.840.113549.1.9.16.1.x (id-ct-authEnvelopedData = .23)
    static constexpr unsigned char k_pkcs[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01};
    const auto len = static_cast<std::size_t>(t.end - t.content);
    return t.cls == V_ASN1_UNIVERSAL && t.tag == V_ASN1_OBJECT && len == sizeof k_pkcs + last.size() &&
           std::memcmp(t.content, k_pkcs, sizeof k_pkcs) == 0 &&
           std::equal(last.begin(), last.end(), t.content + sizeof k_pkcs);
}

/** What the limits count, from the encoding (zero for what the structure does not have). */
struct Census {
    std::size_t signers = 0;
    std::size_t certificates = 0;  ///< certificates and CRLs
    std::size_t largest_certificate = 0;
    std::size_t recipients = 0;
};

/** A [0] certificates or [1] crls field: every item counts; certificates (not CRLs) also by size. */
void count_certificates(const ossl::Tlv& set, Census& c) {
    std::vector<ossl::Tlv> items;
    if (children(set, items)) {
        c.certificates += items.size();
        for (const auto& i : items) {
            if (set.tag == 0) {
                c.largest_certificate = std::max(c.largest_certificate, static_cast<std::size_t>(i.after - i.start));
            }
        }
    }
}

/**
 * ContentInfo { contentType, [0] EXPLICIT content }: SignedData { version,
 * digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos }
 * or (Auth)EnvelopedData { version, [0] originatorInfo { [0] certs, [1] crls },
 * recipientInfos, ... } with KeyAgreeRecipientInfo [1] { ..., recipientEncryptedKeys }.
 */
Census census(std::string_view der) {
    Census c;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::Tlv ci;
    std::vector<ossl::Tlv> top;
    if (!ossl::read_tlv(p, p + der.size(), ci) || !children(ci, top) || top.size() < 2) {
        return c;
    }
    std::vector<ossl::Tlv> inner;
    std::vector<ossl::Tlv> body;
    if (!children(top[1], inner) || inner.empty() || !children(inner[0], body)) {
        return c;
    }
    const bool signed_data = is_oid(top[0], {0x07, 0x02});
    const bool enveloped = is_oid(top[0], {0x07, 0x03}) || is_oid(top[0], {0x09, 0x10, 0x01, 0x17});
    for (std::size_t i = 1; i < body.size(); ++i) {
        const ossl::Tlv& f = body[i];
        const bool context = f.cls == V_ASN1_CONTEXT_SPECIFIC && f.constructed;
        if (signed_data && context && (f.tag == 0 || f.tag == 1)) {
            count_certificates(f, c);
        } else if (signed_data && f.cls == V_ASN1_UNIVERSAL && f.tag == V_ASN1_SET && i >= 3) {
            std::vector<ossl::Tlv> infos;
            children(f, infos);
            c.signers += infos.size();
        } else if (enveloped && context && f.tag == 0 && i == 1) {  // originatorInfo
            std::vector<ossl::Tlv> parts;
            children(f, parts);
            for (const auto& part : parts) {
                count_certificates(part, c);
            }
        } else if (enveloped && f.cls == V_ASN1_UNIVERSAL && f.tag == V_ASN1_SET) {  // recipientInfos
            std::vector<ossl::Tlv> infos;
            children(f, infos);
            for (const auto& ri : infos) {
                std::vector<ossl::Tlv> kari;
                if (ri.cls == V_ASN1_CONTEXT_SPECIFIC && ri.tag == 1 && children(ri, kari) && !kari.empty()) {
                    std::vector<ossl::Tlv> keys;  // recipientEncryptedKeys, the last field
                    children(kari.back(), keys);
                    c.recipients += std::max<std::size_t>(keys.size(), 1);
                } else {
                    ++c.recipients;
                }
            }
        }
    }
    return c;
}

}  // namespace

void check_cms_limits(std::string_view der, const Limits& limits, const char* what) {
    // The named counts first (a few levels deep, each element read once per level: linear), so the
    // reason names the limit an administrator can change; then every element, in one pass.
    const std::string subject(what);
    const Census c = census(der);
    if (c.signers > limits.max_signers) {
        throw Error(Category::Limit,
                    subject + " has more than " + std::to_string(limits.max_signers) + " signers (limit max_signers)");
    }
    if (c.certificates > limits.max_certificates) {
        throw Error(Category::Limit, subject + " carries more than " + std::to_string(limits.max_certificates) +
                                         " certificates and CRLs (limit max_certificates)");
    }
    if (c.largest_certificate > k_max_certificate_bytes) {
        throw Error(Category::Limit, subject + " carries a certificate larger than " +
                                         std::to_string(k_max_certificate_bytes / 1024) + " KB");
    }
    if (c.recipients > limits.max_recipients) {
        throw Error(Category::Limit, subject + " is encrypted to more than " + std::to_string(limits.max_recipients) +
                                         " recipients (limit max_recipients)");
    }
    const auto elements = ossl::count_elements(der, k_max_cms_elements);
    if (!elements) {
        throw Error(Category::Malformed, subject + " is not a readable DER or BER encoding");
    }
    if (*elements > k_max_cms_elements) {
        throw Error(Category::Limit,
                    subject + " has more than " + std::to_string(k_max_cms_elements) + " ASN.1 elements");
    }
}

ossl::Ptr<CMS_ContentInfo> load_cms(std::string_view der) {
    ossl::init_providers();
    std::string stripped;
    std::vector<std::string_view> cert_ders;
    if (!split_certificates(der, stripped, cert_ders)) {
        return plain_d2i(der);
    }
    const auto* p = reinterpret_cast<const unsigned char*>(stripped.data());
    ossl::Ptr<CMS_ContentInfo> cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(stripped.size())));
    if (!cms || p != reinterpret_cast<const unsigned char*>(stripped.data() + stripped.size())) {
        ERR_clear_error();
        return plain_d2i(der);
    }
    for (const auto c : cert_ders) {
        const ossl::Ptr<X509> x = certificate(c);
        if (!x || CMS_add1_cert(cms.get(), x.get()) != 1) {
            ERR_clear_error();
            return plain_d2i(der);
        }
    }
    return cms;
}

CertInfo certificate_info(X509* cert) {
    {
        const std::lock_guard<std::mutex> lock(g_mutex);
        const auto it = g_by_cert.find(cert);
        if (it == g_by_cert.end()) {
            return inspect(cert);  // not from the cache (kept nowhere, so looked at each time)
        }
        if (it->second->info) {
            return *it->second->info;
        }
    }
    auto info = std::make_shared<const CertInfo>(inspect(cert));  // outside the lock: ≈ 120 K instructions
    const std::lock_guard<std::mutex> lock(g_mutex);
    if (const auto it = g_by_cert.find(cert); it != g_by_cert.end()) {
        it->second->info = info;  // unless it was evicted meanwhile
    }
    return *info;
}

std::size_t cms_certificate_cache_size() {
    const std::lock_guard<std::mutex> lock(g_mutex);
    return g_cache.size();
}

}  // namespace segel::smime
