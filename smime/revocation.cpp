#include "smime/revocation.h"
#include "base/time.h"

#include "smime/error.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace segel::smime {

namespace {

TimePoint to_time(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return TimePoint{};
    }
    return Clock::from_time_t(timegm(&tm));
}

std::string asn1_string(const ASN1_STRING* s) {
    if (s == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string subject_line(X509* cert) {
    auto bio = ossl::adopt(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return ossl::bio_to_string(bio.get());
}

/** RFC 5280 §5.3.1 CRLReason names (the same codes OCSP uses, RFC 6960 §4.2.1). */
std::string reason_name(long code) {
    if (code < 0) {
        return "unspecified";
    }
    const char* s = OCSP_crl_reason_str(code);
    return s != nullptr && s[0] != '(' ? s : "reason " + std::to_string(code);
}

RevocationStatus unknown(RevocationStatus::Source source, std::string detail) {
    RevocationStatus s;
    s.state = RevocationState::Unknown;
    s.source = source;
    s.detail = std::move(detail);
    ERR_clear_error();
    return s;
}

const char* response_status_text(int status) {
    switch (status) {
        case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST:
            return "malformedRequest";
        case OCSP_RESPONSE_STATUS_INTERNALERROR:
            return "internalError";
        case OCSP_RESPONSE_STATUS_TRYLATER:
            return "tryLater";
        case OCSP_RESPONSE_STATUS_SIGREQUIRED:
            return "sigRequired";
        case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
            return "unauthorized";
        default:
            return "an unknown status";
    }
}

/** The value of the nonce extension of an answer, or "" when it has none. */
std::string response_nonce(OCSP_BASICRESP* bs) {
    const int idx = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
    if (idx < 0) {
        return {};
    }
    return asn1_string(X509_EXTENSION_get_data(OCSP_BASICRESP_get_ext(bs, idx)));
}

bool same_certificate(X509* a, X509* b) {
    return a != nullptr && b != nullptr && X509_cmp(a, b) == 0;
}

/**
 * RFC 6960 §4.2.2.2: the answer is signed by the CA itself, or by a
 * certificate the CA issued for the purpose (id-kp-OCSPSigning), valid now.
 * "" when authorised, else why not.
 */
std::string responder_unauthorized(X509* signer, X509* issuer, TimePoint now) {
    if (same_certificate(signer, issuer)) {
        return {};
    }
    const std::string who = "the answer is signed by " + subject_line(signer);
    if (X509_check_issued(issuer, signer) != X509_V_OK || X509_verify(signer, X509_get0_pubkey(issuer)) != 1) {
        ERR_clear_error();
        return who + ", which the certificate's issuer (" + subject_line(issuer) +
               ") did not issue: not an authorised responder";
    }
    const uint32_t flags = X509_get_extension_flags(signer);
    if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
        return who + ", which lacks the id-kp-OCSPSigning extended key usage: not an authorised responder";
    }
    if (now < to_time(X509_get0_notBefore(signer)) || now >= to_time(X509_get0_notAfter(signer))) {
        return who + ", whose certificate is not valid now (" +
               base::format_date(to_time(X509_get0_notBefore(signer))) + ".." +
               base::format_date(to_time(X509_get0_notAfter(signer))) + ")";
    }
    return {};
}

}  // namespace

const char* to_string(RevocationState s) {
    switch (s) {
        case RevocationState::NotChecked:
            return "not checked";
        case RevocationState::Good:
            return "good";
        case RevocationState::Revoked:
            return "revoked";
        case RevocationState::Unknown:
            return "unknown";
    }
    return "unknown";
}

const char* to_string(RevocationStatus::Source s) {
    switch (s) {
        case RevocationStatus::Source::None:
            return "";
        case RevocationStatus::Source::Ocsp:
            return "ocsp";
        case RevocationStatus::Source::Crl:
            return "crl";
        case RevocationStatus::Source::CrlFile:
            return "crl file";
    }
    return "";
}

std::string format_age(std::chrono::seconds age) {
    const long long s = std::max<long long>(0, age.count());
    if (s < 60) {
        return "just now";
    }
    if (s < 3600) {
        return std::to_string(s / 60) + " min";
    }
    if (s < 48 * 3600) {
        return std::to_string(s / 3600) + " h";
    }
    return std::to_string(s / 86400) + " d";
}

std::string source_and_age(const RevocationStatus& s, TimePoint now) {
    const std::string source = to_string(s.source);
    if (s.source == RevocationStatus::Source::CrlFile) {
        return source;
    }
    const std::string age = format_age(std::chrono::duration_cast<std::chrono::seconds>(now - s.obtained));
    return source + (age == "just now" ? ", just now" : ", " + age + " old");
}

std::string evidence(const RevocationStatus& s, TimePoint now) {
    const std::string source = to_string(s.source);
    const std::string with_age = source_and_age(s, now);
    const std::string old = with_age.substr(source.size());  // ", 2 h old" (nothing for a CRL file)
    switch (s.state) {
        case RevocationState::Good:
            return source + " good" + old;
        case RevocationState::Revoked:
            return source + " revoked on " + base::format_date(s.revoked_at) + " (" + s.reason + ")" + old;
        case RevocationState::Unknown:
            return "unknown: " + s.detail;
        case RevocationState::NotChecked:
            return "not checked: " + s.detail;
    }
    return {};
}

RevocationPoints revocation_points(X509* cert) {
    RevocationPoints out;
    auto aia =
        ossl::adopt(static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
    if (aia) {
        for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
            const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
            if (OBJ_obj2nid(ad->method) == NID_ad_OCSP && ad->location->type == GEN_URI) {
                out.ocsp.push_back(asn1_string(ad->location->d.uniformResourceIdentifier));
            }
        }
    }
    auto cdp = ossl::adopt(
        static_cast<CRL_DIST_POINTS*>(X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr)));
    if (cdp) {
        for (int i = 0; i < sk_DIST_POINT_num(cdp.get()); ++i) {
            const DIST_POINT* dp = sk_DIST_POINT_value(cdp.get(), i);
            // Only full names: a relative name needs the CRL issuer's name and is not used in practice.
            if (dp->distpoint == nullptr || dp->distpoint->type != 0) {
                continue;
            }
            const GENERAL_NAMES* names = dp->distpoint->name.fullname;
            for (int k = 0; k < sk_GENERAL_NAME_num(names); ++k) {
                const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, k);
                if (gn->type == GEN_URI) {
                    out.crl.push_back(asn1_string(gn->d.uniformResourceIdentifier));
                }
            }
        }
    }
    ERR_clear_error();
    return out;
}

OcspRequest ocsp_request(X509* cert, X509* issuer) {
    auto req = ossl::adopt(OCSP_REQUEST_new());
    ossl::check(req != nullptr, "OCSP_REQUEST_new");
    // RFC 5019 §2.1.1 / RFC 6960: SHA-1 CertID is what every responder understands.
    OCSP_CERTID* id = OCSP_cert_to_id(nullptr, cert, issuer);
    ossl::check(id != nullptr, "OCSP_cert_to_id");
    if (OCSP_request_add0_id(req.get(), id) == nullptr) {
        OCSP_CERTID_free(id);
        ossl::check(false, "OCSP_request_add0_id");
    }
    // RFC 8954: a nonce of 16 random bytes (32 is the maximum).
    ossl::check(OCSP_request_add1_nonce(req.get(), nullptr, 16) == 1, "OCSP_request_add1_nonce");
    OcspRequest out;
    const int idx = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1);
    ossl::check(idx >= 0, "OCSP nonce");
    out.nonce = asn1_string(X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req.get(), idx)));
    unsigned char* der = nullptr;
    const int len = i2d_OCSP_REQUEST(req.get(), &der);
    ossl::check(len > 0, "i2d_OCSP_REQUEST");
    out.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

RevocationStatus check_ocsp(std::string_view der, X509* cert, X509* issuer, const std::string& nonce,
                            const OcspPolicy& policy, ossl::Ptr<X509>* responder_cert) {
    using Source = RevocationStatus::Source;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    auto resp = ossl::adopt(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    if (!resp || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
        return unknown(Source::Ocsp, "the answer is not an OCSP response (" + std::to_string(der.size()) + " bytes)");
    }
    const int rstatus = OCSP_response_status(resp.get());
    if (rstatus != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        return unknown(Source::Ocsp, std::string("the responder answered ") + response_status_text(rstatus));
    }
    auto bs = ossl::adopt(OCSP_response_get1_basic(resp.get()));
    if (!bs) {
        return unknown(Source::Ocsp, "the answer holds no basic OCSP response");
    }
    // Who signed it: a certificate in the answer, or the issuer itself.
    X509* signer = nullptr;
    auto extra = ossl::make_stack({});
    X509_up_ref(issuer);
    sk_X509_push(extra.get(), issuer);
    if (OCSP_resp_get0_signer(bs.get(), &signer, extra.get()) != 1 || signer == nullptr) {
        return unknown(Source::Ocsp, "the answer names a signer whose certificate is neither in it nor the issuer");
    }
    // The signature only: who may sign is judged below (responder_unauthorized), at the injected time.
    if (OCSP_basic_verify(bs.get(), extra.get(), nullptr, OCSP_NOVERIFY) != 1) {
        return unknown(Source::Ocsp, "the answer's signature does not verify");
    }
    if (const std::string why = responder_unauthorized(signer, issuer, policy.now); !why.empty()) {
        return unknown(Source::Ocsp, why);
    }
    const std::string got_nonce = response_nonce(bs.get());
    std::string note;
    if (!nonce.empty() && !got_nonce.empty() && got_nonce != nonce) {
        return unknown(Source::Ocsp, "the answer carries another request's nonce (a replayed answer): refused");
    }
    if (!nonce.empty() && got_nonce.empty()) {
        if (policy.require_nonce) {
            return unknown(Source::Ocsp, "the answer has no nonce (revocation.require_nonce: true)");
        }
        note = "the answer has no nonce (pre-produced)";
    }
    auto id = ossl::adopt(OCSP_cert_to_id(nullptr, cert, issuer));
    int status = 0;
    int reason = -1;
    ASN1_GENERALIZEDTIME* revtime = nullptr;
    ASN1_GENERALIZEDTIME* thisupd = nullptr;
    ASN1_GENERALIZEDTIME* nextupd = nullptr;
    if (!id || OCSP_resp_find_status(bs.get(), id.get(), &status, &reason, &revtime, &thisupd, &nextupd) != 1) {
        return unknown(Source::Ocsp, "the answer does not cover this certificate");
    }
    RevocationStatus s;
    s.source = Source::Ocsp;
    s.this_update = to_time(thisupd);
    if (nextupd != nullptr) {
        s.next_update = to_time(nextupd);
    }
    s.responder = subject_line(signer);
    s.detail = note;
    if (s.this_update > policy.now + policy.skew) {
        return unknown(Source::Ocsp,
                       "the answer's thisUpdate " + base::format_time(s.this_update) + " lies in the future");
    }
    if (s.next_update && *s.next_update + policy.skew < policy.now) {
        return unknown(Source::Ocsp,
                       "the answer is out of date (nextUpdate " + base::format_time(*s.next_update) + ")");
    }
    if (!s.next_update && s.this_update + policy.max_age < policy.now) {
        return unknown(Source::Ocsp, "the answer is older than " + format_age(policy.max_age) + " (thisUpdate " +
                                         base::format_time(s.this_update) + ")");
    }
    switch (status) {
        case V_OCSP_CERTSTATUS_GOOD:
            s.state = RevocationState::Good;
            break;
        case V_OCSP_CERTSTATUS_REVOKED:
            s.state = RevocationState::Revoked;
            s.revoked_at = to_time(revtime);
            s.reason = reason_name(reason);
            break;
        default:
            return unknown(Source::Ocsp, "the responder does not know this certificate (status unknown)");
    }
    if (responder_cert != nullptr) {
        *responder_cert = ossl::retain(signer);
    }
    ERR_clear_error();
    return s;
}

ossl::Ptr<X509_CRL> parse_crl(std::string_view bytes, std::string* error) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size()))) {
        return ossl::adopt(crl);
    }
    ERR_clear_error();
    auto bio = ossl::mem_bio(bytes.data(), bytes.size());
    if (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
        return ossl::adopt(crl);
    }
    ERR_clear_error();
    if (error != nullptr) {
        *error = "not a CRL (neither DER nor PEM; " + std::to_string(bytes.size()) + " bytes)";
    }
    return nullptr;
}

std::string crl_signed_by(X509_CRL* crl, X509* issuer) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
        return "the CRL is issued by another CA than the certificate";
    }
    if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0) {
        ERR_clear_error();
        return "the issuing CA's key usage does not allow cRLSign";
    }
    if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
        ERR_clear_error();
        return "the CRL's signature does not verify with the issuing CA's key";
    }
    ERR_clear_error();
    return {};
}

std::pair<TimePoint, std::optional<TimePoint>> crl_times(X509_CRL* crl) {
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
    return {to_time(X509_CRL_get0_lastUpdate(crl)),
            next != nullptr ? std::optional<TimePoint>(to_time(next)) : std::nullopt};
}

RevocationStatus check_crl(X509_CRL* crl, X509* cert, TimePoint now, std::chrono::seconds skew) {
    using Source = RevocationStatus::Source;
    RevocationStatus s;
    s.source = Source::Crl;
    const auto [this_update, next_update] = crl_times(crl);
    s.this_update = this_update;
    s.next_update = next_update;
    if (this_update > now + skew) {
        return unknown(Source::Crl, "the CRL's thisUpdate " + base::format_time(this_update) + " lies in the future");
    }
    if (!next_update) {
        return unknown(Source::Crl, "the CRL has no nextUpdate, so its currency cannot be judged");
    }
    if (*next_update + skew < now) {
        return unknown(Source::Crl, "the CRL expired on " + base::format_time(*next_update) + " (no newer one)");
    }
    if (!crl_entry(crl, cert, s)) {
        s.state = RevocationState::Good;  // not listed, or removeFromCRL (a delta CRL lifted a hold)
    }
    return s;
}

bool crl_entry(X509_CRL* crl, X509* cert, RevocationStatus& status) {
    X509_REVOKED* entry = nullptr;
    const int found = X509_CRL_get0_by_cert(crl, &entry, cert);
    ERR_clear_error();
    if (found != 1 || entry == nullptr) {
        return false;
    }
    status.state = RevocationState::Revoked;
    status.revoked_at = to_time(X509_REVOKED_get0_revocationDate(entry));
    auto code =
        ossl::adopt(static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
    status.reason = reason_name(code ? ASN1_ENUMERATED_get(code.get()) : -1);
    ERR_clear_error();
    return true;
}

}  // namespace segel::smime
