#include "smime/timestamp.h"

#include "smime/error.h"

#include "base/time.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <climits>
#include <cstdio>
#include <ctime>

namespace segel::smime::timestamp {

namespace {

const EVP_MD* md_of(Hash h) {
    switch (h) {
        case Hash::Sha384:
            return EVP_sha384();
        case Hash::Sha512:
            return EVP_sha512();
        case Hash::Sha256:
            break;
    }
    return EVP_sha256();
}

/** Drains the error queue into one line, with the data OpenSSL attached (a verify error's text). */
std::string errors(const std::string& what) {
    std::string out = what;
    bool first = true;
    const char* data = nullptr;
    int flags = 0;
    unsigned long code = 0;
    while ((code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
        const char* reason = ERR_reason_error_string(code);
        out += first ? ": " : "; ";
        out += reason != nullptr ? reason : "error";
        if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
            out += std::string(" (") + data + ")";
        }
        first = false;
    }
    return out;
}

/** Plain words for the checks OpenSSL's TS verifier makes, so a log line says what was wrong. */
std::string explain(const std::string& raw) {
    if (raw.find("nonce mismatch") != std::string::npos) {
        return "the nonce does not match the request (" + raw + ")";
    }
    if (raw.find("message imprint mismatch") != std::string::npos) {
        return "the message imprint is not the hash of this signature (" + raw + ")";
    }
    if (raw.find("certificate verify error") != std::string::npos) {
        return "the TSA certificate does not chain to the time-stamping anchors with the critical timeStamping "
               "usage (" +
               raw + ")";
    }
    return raw;
}

std::string hex(const ASN1_INTEGER* i) {
    auto bn = ossl::adopt(ASN1_INTEGER_to_BN(i, nullptr));
    if (!bn) {
        return "";
    }
    char* h = BN_bn2hex(bn.get());
    std::string out = h != nullptr ? h : "";
    OPENSSL_free(h);
    return out;
}

/**
 * A store with @p trust's anchors whose verification time is @p now (the TS
 * verifier builds its chain from the store's parameters, and a shared store
 * must not be changed per call).
 */
ossl::Ptr<X509_STORE> store_at(const TrustStore& trust, TimePoint now) {
    auto store = ossl::adopt(X509_STORE_new());
    ossl::check(store != nullptr, "X509_STORE_new");
    if (trust.store() != nullptr) {
        STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(trust.store());
        for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
            X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
            if (cert != nullptr) {
                ossl::check(X509_STORE_add_cert(store.get(), cert) == 1, "X509_STORE_add_cert");
            }
        }
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), Clock::to_time_t(now));
    return store;
}

/** Hands @p trust (anchors at @p now, intermediates) to a TS verification context, which owns what it gets. */
void set_trust(TS_VERIFY_CTX* ctx, const TrustStore& trust, TimePoint now) {
    TS_VERIFY_CTX_set_store(ctx, store_at(trust, now).release());
    TS_VERIFY_CTX_set_certs(ctx, ossl::make_stack(trust.intermediates()).release());
}

/** What a verified token says: DER, time, serial, imprint hash, and the TSA's name. */
void describe(Token& t, PKCS7* token, TS_TST_INFO* tst) {
    unsigned char* der = nullptr;
    const int len = i2d_PKCS7(token, &der);
    ossl::check(len > 0, "encode the time-stamp token");
    t.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    t.time = to_time_point(TS_TST_INFO_get_time(tst));
    t.serial = hex(TS_TST_INFO_get_serial(tst));
    const X509_ALGOR* algo = TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(tst));
    switch (OBJ_obj2nid(algo != nullptr ? algo->algorithm : nullptr)) {
        case NID_sha256:
            t.hash = "sha-256";
            break;
        case NID_sha384:
            t.hash = "sha-384";
            break;
        case NID_sha512:
            t.hash = "sha-512";
            break;
        default:
            t.hash = "other";
    }
    STACK_OF(X509)* signers = PKCS7_get0_signers(token, nullptr, 0);
    if (signers != nullptr && sk_X509_num(signers) > 0) {
        const CertInfo info = inspect(sk_X509_value(signers, 0));
        t.tsa = !info.common_name.empty() ? info.common_name : info.subject;
    }
    sk_X509_free(signers);  // get0: the certificates belong to the token
    ERR_clear_error();
}

}  // namespace

const char* hash_name(Hash h) {
    switch (h) {
        case Hash::Sha384:
            return "sha-384";
        case Hash::Sha512:
            return "sha-512";
        case Hash::Sha256:
            break;
    }
    return "sha-256";
}

std::string make_request(std::string_view signature_value, Hash hash) {
    ossl::init_providers();
    const EVP_MD* md = md_of(hash);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    ossl::check(EVP_Digest(signature_value.data(), signature_value.size(), digest, &digest_len, md, nullptr) == 1,
                "hash the signature value");
    auto algo = ossl::adopt(X509_ALGOR_new());
    ossl::check(algo != nullptr, "X509_ALGOR_new");
    X509_ALGOR_set_md(algo.get(), md);
    auto imprint = ossl::adopt(TS_MSG_IMPRINT_new());
    ossl::check(imprint && TS_MSG_IMPRINT_set_algo(imprint.get(), algo.get()) == 1 &&
                    TS_MSG_IMPRINT_set_msg(imprint.get(), digest, static_cast<int>(digest_len)) == 1,
                "time-stamp message imprint");
    auto req = ossl::adopt(TS_REQ_new());
    ossl::check(req && TS_REQ_set_version(req.get(), 1) == 1 && TS_REQ_set_msg_imprint(req.get(), imprint.get()) == 1,
                "time-stamp request");
    // RFC 3161 §2.4.1: a nonce binds the reply to this request (no replayed answer is accepted).
    auto bn = ossl::adopt(BN_new());
    ossl::check(bn && BN_rand(bn.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1, "time-stamp nonce");
    auto nonce = ossl::adopt(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    ossl::check(nonce && TS_REQ_set_nonce(req.get(), nonce.get()) == 1 && TS_REQ_set_cert_req(req.get(), 1) == 1,
                "time-stamp request nonce");
    unsigned char* der = nullptr;
    const int len = i2d_TS_REQ(req.get(), &der);
    ossl::check(len > 0, "encode the time-stamp request");
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

Token check_reply(std::string_view reply_der, std::string_view request_der, const TrustStore& tsa_trust, TimePoint now,
                  std::chrono::seconds max_skew) {
    ossl::init_providers();
    Token t;
    if (reply_der.size() > INT_MAX || request_der.size() > INT_MAX) {
        t.error = "the reply is too large";
        return t;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(reply_der.data());
    auto resp = ossl::adopt(d2i_TS_RESP(nullptr, &p, static_cast<long>(reply_der.size())));
    if (!resp || p != reinterpret_cast<const unsigned char*>(reply_der.data()) + reply_der.size()) {
        ERR_clear_error();
        t.error = "the answer is not an RFC 3161 TimeStampResp";
        return t;
    }
    // RFC 3161 §2.4.2: granted (0) or grantedWithMods (1); anything else carries no token.
    const TS_STATUS_INFO* status = TS_RESP_get_status_info(resp.get());
    const long code = status != nullptr ? ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(status)) : -1;
    if (code != 0 && code != 1) {
        t.error = "the TSA did not grant the request (PKIStatus " + std::to_string(code) + ")";
        return t;
    }
    const auto* q = reinterpret_cast<const unsigned char*>(request_der.data());
    auto req = ossl::adopt(d2i_TS_REQ(nullptr, &q, static_cast<long>(request_der.size())));
    ossl::check(req != nullptr, "decode our own time-stamp request");
    auto ctx = ossl::adopt(TS_REQ_to_TS_VERIFY_CTX(req.get(), nullptr));
    ossl::check(ctx != nullptr, "time-stamp verification context");
    // From the request: version, imprint and nonce (TS_VFY_ALL_IMPRINT minus the TSA name); plus the signature.
    TS_VERIFY_CTX_add_flags(ctx.get(), TS_VFY_SIGNATURE);
    set_trust(ctx.get(), tsa_trust, now);
    if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1) {
        t.error = explain(errors("time-stamp reply rejected"));
        return t;
    }
    describe(t, TS_RESP_get_token(resp.get()), TS_RESP_get_tst_info(resp.get()));
    if (t.time > now + max_skew || t.time + max_skew < now) {
        t.error = "the TSA's time " + base::format_time(t.time) + " is more than " + std::to_string(max_skew.count()) +
                  " s away from this gateway's clock";
        t.der.clear();
        return t;
    }
    t.valid = true;
    return t;
}

Token check_token(std::string_view token_der, std::string_view signature_value, const TrustStore& tsa_trust,
                  TimePoint now) {
    ossl::init_providers();
    Token t;
    if (token_der.size() > INT_MAX || signature_value.size() > INT_MAX) {
        t.error = "the time-stamp token is too large";
        return t;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(token_der.data());
    auto token = ossl::adopt(d2i_PKCS7(nullptr, &p, static_cast<long>(token_der.size())));
    auto tst = token ? ossl::adopt(PKCS7_to_TS_TST_INFO(token.get())) : nullptr;
    if (!tst) {
        ERR_clear_error();
        t.error = "the time-stamp token is not an RFC 3161 TimeStampToken";
        return t;
    }
    describe(t, token.get(), tst.get());
    if (t.hash == "other") {
        t.error = "the time-stamp imprint uses a hash other than SHA-256, SHA-384 or SHA-512";
        return t;
    }
    auto ctx = ossl::adopt(TS_VERIFY_CTX_new());
    ossl::check(ctx != nullptr, "TS_VERIFY_CTX_new");
    // RFC 3161 appendix A: the imprint is over the SignerInfo's signature value.
    TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_DATA | TS_VFY_SIGNER);
    TS_VERIFY_CTX_set_data(ctx.get(), ossl::mem_bio(signature_value.data(), signature_value.size()).release());
    set_trust(ctx.get(), tsa_trust, now);
    if (TS_RESP_verify_token(ctx.get(), token.get()) != 1) {
        t.error = explain(errors("time-stamp token rejected"));
        return t;
    }
    t.valid = true;
    return t;
}

}  // namespace segel::smime::timestamp
