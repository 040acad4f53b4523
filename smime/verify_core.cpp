#include "smime/verify_core.h"

#include "smime/cms_load.h"

#include "smime/error.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>

namespace segel::smime {

namespace {
std::string micalg_name(const X509_ALGOR* alg) {
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
    switch (OBJ_obj2nid(obj)) {
        case NID_sha1:
            return "sha-1";
        case NID_sha224:
            return "sha-224";
        case NID_sha256:
            return "sha-256";
        case NID_sha384:
            return "sha-384";
        case NID_sha512:
            return "sha-512";
        case NID_md5:
            return "md5";
        default: {
            char buf[80];
            OBJ_obj2txt(buf, sizeof buf, obj, 0);
            return buf;
        }
    }
}
/** The signingTime attribute (RFC 5652 §11.3), when present and readable; beyond 2262 TimePoint::max(). */
std::optional<TimePoint> signing_time(CMS_SignerInfo* si) {
    const int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    if (idx < 0) {
        return std::nullopt;
    }
    X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
    ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(attr, 0);
    if (t != nullptr && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME)) {
        return asn1_time(t->value.utctime);
    }
    return std::nullopt;
}

/** A memory BIO over the content under one digest BIO per algorithm; owns them all. */
class DigestChain {
public:
    DigestChain() = default;
    DigestChain(DigestChain&& o) noexcept : m_bios(std::move(o.m_bios)) {}
    DigestChain& operator=(DigestChain&& o) noexcept {
        std::swap(m_bios, o.m_bios);
        return *this;
    }
    DigestChain(const DigestChain&) = delete;
    DigestChain& operator=(const DigestChain&) = delete;
    ~DigestChain() {
        if (!m_bios.empty()) {
            BIO_free_all(m_bios.back());  // the top frees everything below it
        }
    }
    void push(BIO* b) {
        if (!m_bios.empty()) {
            BIO_push(b, m_bios.back());
        }
        m_bios.push_back(b);
    }
    [[nodiscard]] BIO* top() const { return m_bios.empty() ? nullptr : m_bios.back(); }

private:
    std::vector<BIO*> m_bios;
};

/** The digest a SignerInfo names, also when it names a signature algorithm instead (old clients). */
const EVP_MD* signer_md(CMS_SignerInfo* si) {
    X509_ALGOR* alg = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &alg, nullptr);
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
    const int nid = OBJ_obj2nid(obj);
    if (const EVP_MD* md = EVP_get_digestbynid(nid)) {
        return md;
    }
    int md_nid = NID_undef;
    return OBJ_find_sigid_algs(nid, &md_nid, nullptr) == 1 ? EVP_get_digestbynid(md_nid) : nullptr;
}

/**
 * Reads @p content once through one digest per distinct algorithm of @p sis
 * (at most one per signer, so bounded by Limits::max_signers — never one per
 * entry of the structure's own digestAlgorithms list, which anyone can make long).
 * CMS_SignerInfo_verify_content() then finds each signer's digest in the chain.
 */
DigestChain digest_content(std::string_view content, const std::vector<CMS_SignerInfo*>& sis) {
    DigestChain chain;
    chain.push(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    std::vector<int> seen;
    for (CMS_SignerInfo* si : sis) {
        const EVP_MD* md = signer_md(si);
        if (md == nullptr || std::find(seen.begin(), seen.end(), EVP_MD_get_type(md)) != seen.end()) {
            continue;
        }
        seen.push_back(EVP_MD_get_type(md));
        BIO* b = BIO_new(BIO_f_md());
        if (b == nullptr || BIO_set_md(b, md) != 1) {
            BIO_free(b);
            continue;
        }
        chain.push(b);
    }
    char buf[64 * 1024];
    while (BIO_read(chain.top(), buf, sizeof buf) > 0) {
    }
    ERR_clear_error();
    return chain;
}

/**
 * The SHA-256 of what went through @p chain (lower-case hex) when one of its digests is
 * SHA-256, from a copy of that digest's state: the content is not hashed again for the
 * record of what was verified. "" when no signer uses SHA-256.
 */
std::string sha256_of(const DigestChain& chain) {
    for (BIO* b = chain.top(); b != nullptr && (b = BIO_find_type(b, BIO_TYPE_MD)) != nullptr; b = BIO_next(b)) {
        EVP_MD_CTX* ctx = nullptr;
        if (BIO_get_md_ctx(b, &ctx) != 1 || ctx == nullptr || EVP_MD_CTX_get0_md(ctx) == nullptr ||
            EVP_MD_get_type(EVP_MD_CTX_get0_md(ctx)) != NID_sha256) {
            continue;
        }
        const ossl::Ptr<EVP_MD_CTX> copy(EVP_MD_CTX_new());
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (copy && EVP_MD_CTX_copy_ex(copy.get(), ctx) == 1 && EVP_DigestFinal_ex(copy.get(), md, &len) == 1) {
            return ossl::hex(md, len);
        }
        break;
    }
    ERR_clear_error();
    return "";
}

}  // namespace

CmsCheck check_cms(std::string_view der, std::optional<std::string_view> detached, const TrustStore& trust,
                   TimePoint chain_time, const Limits& limits) {
    ossl::init_providers();
    CmsCheck r;
    const char* what = detached ? "the signature" : "the message";  // a signature part, or an opaque body
    check_cms_limits(der, limits, what);                            // before OpenSSL's decoder builds anything
    auto cms = load_cms(der);
    if (!cms) {
        ERR_clear_error();
        throw Error(Category::Malformed, "the signature is not a CMS structure");
    }
    const ASN1_OBJECT* type = CMS_get0_type(cms.get());
    if (OBJ_obj2nid(type) != NID_pkcs7_signed) {
        char buf[80];
        OBJ_obj2txt(buf, sizeof buf, type, 1);
        r.content_type_oid = buf;
        return r;
    }
    r.is_signed_data = true;
    STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
    r.signer_count = infos != nullptr ? sk_CMS_SignerInfo_num(infos) : 0;
    if (r.signer_count == 0) {
        r.signature_error = "the signature has no signer";
        return r;
    }
    if (static_cast<std::size_t>(r.signer_count) > limits.max_signers) {
        throw Error(Category::Limit, std::string(what) + " has more than " + std::to_string(limits.max_signers) +
                                         " signers (limit max_signers)");
    }
    STACK_OF(X509)* certs = CMS_get1_certs(cms.get());
    if (certs != nullptr) {
        while (sk_X509_num(certs) > 0) {
            r.certificates.push_back(ossl::adopt(sk_X509_shift(certs)));
        }
        sk_X509_free(certs);
    }

    // The content every signer's digest is over: the given bytes, or the encapsulated content.
    std::string_view content;
    if (detached) {
        content = *detached;
    } else {
        ASN1_OCTET_STRING** econtent = CMS_get0_content(cms.get());
        if (econtent == nullptr || *econtent == nullptr) {
            r.content_missing = true;
        } else {
            r.content.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*econtent)),
                             static_cast<std::size_t>(ASN1_STRING_length(*econtent)));
            content = r.content;
        }
    }

    // 1. Each SignerInfo's certificate, digest algorithm and signingTime.
    std::vector<CMS_SignerInfo*> sis;
    for (int i = 0; i < r.signer_count; ++i) {
        CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, i);
        sis.push_back(si);
        SignerCheck s;
        X509_ALGOR* digest = nullptr;
        CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, nullptr);
        if (digest != nullptr) {
            s.digest = micalg_name(digest);
        }
        s.signing_time = signing_time(si);
        // RFC 3161 appendix A: a signature time-stamp is an unsigned attribute over the signature value.
        if (const ASN1_OCTET_STRING* value = CMS_SignerInfo_get0_signature(si); value != nullptr) {
            s.signature_value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                     static_cast<std::size_t>(ASN1_STRING_length(value)));
        }
        if (const int ts = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1); ts >= 0) {
            const ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(CMS_unsigned_get_attr(si, ts), 0);
            if (t != nullptr && t->type == V_ASN1_SEQUENCE) {
                s.time_stamp_token.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t->value.sequence)),
                                          static_cast<std::size_t>(ASN1_STRING_length(t->value.sequence)));
            }
        }
        for (const auto& c : r.certificates) {
            if (CMS_SignerInfo_cert_cmp(si, c.get()) == 0) {
                s.cert = ossl::retain(c.get());
                CMS_SignerInfo_set1_signer_cert(si, c.get());
                s.info = certificate_info(c.get());  // once per certificate the process has seen
                break;
            }
        }
        r.signers.push_back(std::move(s));
    }
    ERR_clear_error();

    // 2. One pass over the content through a digest per algorithm the signers use.
    DigestChain chain;
    if (!r.content_missing) {
        chain = digest_content(content, sis);
        r.content_sha256 = sha256_of(chain);
    }

    // 3. Each signer on its own: its digest of the content (checkable without its certificate
    //    when it has signed attributes), then its signature with its certificate.
    for (std::size_t i = 0; i < sis.size(); ++i) {
        SignerCheck& s = r.signers[i];
        CMS_SignerInfo* si = sis[i];
        const bool attributes = CMS_signed_get_attr_count(si) >= 0;
        if (r.content_missing) {
            s.error = "no content to check the signature over";
        } else if (!attributes && !s.cert) {
            s.certificate_missing = true;
            s.error = "its certificate is not in the message";
        } else {
            const int dv = CMS_SignerInfo_verify_content(si, chain.top());
            if (dv == 0) {
                s.status = SignerCheck::Status::Tampered;
                s.error = attributes ? "content changed after signing (digest mismatch)"
                                     : "content changed after signing (signature mismatch)";
            } else if (dv < 0) {
                s.error = ossl::drain_errors("signature check failed");
            } else if (!attributes) {
                s.status = SignerCheck::Status::Verified;  // the signature over the digest checked out
            } else if (!s.cert) {
                s.certificate_missing = true;
                s.error = "its certificate is not in the message";
            } else if (CMS_SignerInfo_verify(si) == 1) {
                s.status = SignerCheck::Status::Verified;
            } else if (ERR_GET_REASON(ERR_peek_last_error()) == CMS_R_VERIFICATION_FAILURE) {
                s.status = SignerCheck::Status::Tampered;
                s.error = "content changed after signing (the signature does not verify)";
            } else {
                s.error = ossl::drain_errors("signature check failed");
            }
        }
        ERR_clear_error();
        if (s.status == SignerCheck::Status::Verified) {
            const ChainCheck cc = trust.check(s.cert.get(), r.certificates, chain_time);
            s.chain_trusted = cc.trusted;
            s.chain_error = cc.error;
            if (cc.trusted && cc.path.size() >= 2) {
                s.chain_issuer = ossl::retain(cc.path[1].get());
            }
        }
    }

    // 4. The summary (what a caller that judges one signer reads).
    const auto tampered = std::find_if(r.signers.begin(), r.signers.end(),
                                       [](const SignerCheck& s) { return s.status == SignerCheck::Status::Tampered; });
    auto primary = std::find_if(r.signers.begin(), r.signers.end(),
                                [](const SignerCheck& s) { return s.status == SignerCheck::Status::Verified; });
    r.signature_valid = tampered == r.signers.end() && primary != r.signers.end();
    if (tampered != r.signers.end()) {
        r.signature_error = tampered->error;
    } else if (primary == r.signers.end()) {
        r.signature_error = r.signers.front().error;
    }
    if (primary == r.signers.end()) {
        primary =
            std::find_if(r.signers.begin(), r.signers.end(), [](const SignerCheck& s) { return s.cert != nullptr; });
    }
    const SignerCheck& p = primary != r.signers.end() ? *primary : r.signers.front();
    r.digest = p.digest;
    r.signing_time = p.signing_time;
    r.signature_value = p.signature_value;
    r.time_stamp_token = p.time_stamp_token;
    if (p.cert) {
        r.signer = ossl::retain(p.cert.get());
        r.signer_info = p.info;
        if (p.status == SignerCheck::Status::Verified) {
            r.chain_trusted = p.chain_trusted;
            r.chain_error = p.chain_error;
        } else {
            const ChainCheck cc = trust.check(p.cert.get(), r.certificates, chain_time);
            r.chain_trusted = cc.trusted;
            r.chain_error = cc.error;
        }
    } else {
        r.chain_error = "the signer's certificate is not in the message";
    }
    return r;
}

}  // namespace segel::smime
