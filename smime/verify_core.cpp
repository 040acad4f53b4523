#include "smime/verify_core.h"

#include "smime/cms_load.h"

#include "smime/error.h"

#include <openssl/err.h>
#include <openssl/objects.h>

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
}  // namespace

CmsCheck check_cms(std::string_view der, std::optional<std::string_view> detached, const TrustStore& trust,
                   TimePoint chain_time) {
    ossl::init_providers();
    CmsCheck r;
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
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
    {
        X509_ALGOR* digest = nullptr;
        CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, nullptr);
        if (digest != nullptr) {
            r.digest = micalg_name(digest);
        }
        // RFC 3161 appendix A: a signature time-stamp is an unsigned attribute over the signature value.
        if (const ASN1_OCTET_STRING* value = CMS_SignerInfo_get0_signature(si); value != nullptr) {
            r.signature_value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                     static_cast<std::size_t>(ASN1_STRING_length(value)));
        }
        if (const int ts = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1); ts >= 0) {
            const ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(CMS_unsigned_get_attr(si, ts), 0);
            if (t != nullptr && t->type == V_ASN1_SEQUENCE) {
                r.time_stamp_token.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t->value.sequence)),
                                          static_cast<std::size_t>(ASN1_STRING_length(t->value.sequence)));
            }
        }
        const int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
        if (idx >= 0) {
            X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
            ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(attr, 0);
            if (t != nullptr && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME)) {
                r.signing_time = asn1_time(t->value.utctime);  // beyond 2262: TimePoint::max()
            }
        }
    }

    // 1. The signature itself, with no chain building (that is step 2, under our rules).
    std::optional<ossl::Ptr<BIO>> dcont;
    if (detached) {
        dcont = ossl::mem_bio(detached->data(), detached->size());
    }
    auto out = ossl::adopt(BIO_new(BIO_s_mem()));
    const int ok = CMS_verify(cms.get(), nullptr, nullptr, dcont ? dcont->get() : nullptr, out.get(),
                              CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
    if (ok == 1) {
        r.signature_valid = true;
        if (!detached) {
            r.content = ossl::bio_to_string(out.get());
        }
    } else {
        const unsigned long code = ERR_peek_last_error();
        const int reason = ERR_GET_REASON(code);
        r.signature_error = reason == CMS_R_CONTENT_VERIFY_ERROR || reason == CMS_R_VERIFICATION_FAILURE
                                ? "content changed after signing (digest mismatch)"
                            : reason == CMS_R_SIGNER_CERTIFICATE_NOT_FOUND
                                ? "the signer's certificate is not in the message"
                                : ossl::drain_errors("signature check failed");
    }
    ERR_clear_error();

    // 2. Who signed, and do they chain to our anchors.
    STACK_OF(X509)* certs = CMS_get1_certs(cms.get());
    std::vector<ossl::Ptr<X509>> bag;
    if (certs != nullptr) {
        while (sk_X509_num(certs) > 0) {
            bag.push_back(ossl::adopt(sk_X509_shift(certs)));
        }
        sk_X509_free(certs);
    }
    for (const auto& c : bag) {
        if (CMS_SignerInfo_cert_cmp(si, c.get()) == 0) {
            r.signer = ossl::retain(c.get());
            break;
        }
    }
    if (!r.signer) {
        r.chain_error = "the signer's certificate is not in the message";
        r.certificates = std::move(bag);
        return r;
    }
    r.signer_info = inspect(r.signer.get());
    const ChainCheck chain = trust.check(r.signer.get(), bag, chain_time);
    r.chain_trusted = chain.trusted;
    r.chain_error = chain.error;
    r.certificates = std::move(bag);
    return r;
}

}  // namespace segel::smime
