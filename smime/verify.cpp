#include "smime/verify.h"

#include "base/address.h"
#include "base/text.h"
#include "base/time.h"

#include "smime/base64.h"
#include "smime/canonical.h"
#include "smime/cms_load.h"
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/mime/mime.h"
#include "smime/mime/structure.h"
#include "smime/timestamp.h"
#include "smime/verify_core.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace segel::smime {

const char* to_string(AuthResult r) {
    switch (r) {
        case AuthResult::None:
            return "none";
        case AuthResult::Pass:
            return "pass";
        case AuthResult::Fail:
            return "fail";
        case AuthResult::Policy:
            return "policy";
        case AuthResult::Neutral:
            return "neutral";
        case AuthResult::TempError:
            return "temperror";
        case AuthResult::PermError:
            return "permerror";
    }
    return "permerror";
}

const char* to_string(VerifyResult::Problem p) {
    using P = VerifyResult::Problem;
    switch (p) {
        case P::None:
            return "none";
        case P::NotSigned:
            return "not-signed";
        case P::ContentChanged:
            return "content-changed";
        case P::Untrusted:
            return "untrusted";
        case P::Expired:
            return "expired";
        case P::NotYetValid:
            return "not-yet-valid";
        case P::Revoked:
            return "revoked";
        case P::Usage:
            return "usage";
        case P::SignerNotSender:
            return "signer-not-sender";
        case P::NoAddress:
            return "no-address";
        case P::WeakAlgorithm:
            return "weak-algorithm";
        case P::PartiallySigned:
            return "partially-signed";
        case P::Malformed:
            return "malformed";
        case P::Unsupported:
            return "unsupported";
        case P::Internal:
            return "internal";
    }
    return "internal";
}

namespace {

using Problem = VerifyResult::Problem;

using base::lower;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/** One header field, unfolded (RFC 5322 §2.2.3), value without leading white space. */
struct Field {
    std::string name;
    std::string value;
};

/**
 * Splits an entity into its header fields (bounded by max_header_bytes);
 * returns where the body starts (size() when none).
 * @throws Error{Limit} when the header block is larger
 */
std::size_t split_entity(std::string_view entity, std::vector<Field>& fields, const Limits& limits) {
    const mime::HeaderBlock head = mime::read_header(entity, limits);
    for (const auto& f : head.fields) {
        fields.push_back({f.name, f.unfolded()});
    }
    return head.body;
}

const std::string* field(const std::vector<Field>& fields, std::string_view name) {
    for (const auto& f : fields) {
        if (iequals(f.name, name)) {
            return &f.value;
        }
    }
    return nullptr;
}

using mime::MediaType;

/** @throws Error{Limit} when a field holds more than max_parameters parameters */
MediaType media_type(const std::vector<Field>& fields, const Limits& limits) {
    mime::one_content_type(static_cast<std::size_t>(
        std::count_if(fields.begin(), fields.end(), [](const Field& f) { return iequals(f.name, "Content-Type"); })));
    auto value = [&](const char* name) {
        const std::string* v = field(fields, name);
        return v != nullptr ? std::optional<std::string>(*v) : std::nullopt;
    };
    return mime::media_type(value("Content-Type"), value("Content-Disposition"), limits);
}

bool ends_with_ci(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && iequals(std::string_view(s).substr(s.size() - suffix.size()), suffix);
}

bool is_pkcs7_signature(const MediaType& mt) {
    return mt.is("application", "pkcs7-signature") || mt.is("application", "x-pkcs7-signature");
}

bool is_smime_protocol(const std::string& protocol) {
    return protocol == "application/pkcs7-signature" || protocol == "application/x-pkcs7-signature";
}

/** An opaque S/MIME blob: application/(x-)pkcs7-mime, or octet-stream named *.p7m (RFC 8551 §3.3). */
bool is_pkcs7_mime(const MediaType& mt, bool allow_octet_stream) {
    return mt.is("application", "pkcs7-mime") || mt.is("application", "x-pkcs7-mime") ||
           (allow_octet_stream && mt.is("application", "octet-stream") && ends_with_ci(mt.name, ".p7m"));
}

bool all_base64(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n' || c == ' ' ||
               c == '\t';
    });
}

/** The DER bytes of a CMS part body, decoded per its Content-Transfer-Encoding. */
std::optional<std::string> decode_body(const std::vector<Field>& fields, std::string_view body) {
    const std::string* cte = field(fields, "Content-Transfer-Encoding");
    std::string enc = cte != nullptr ? lower(*cte) : "";
    while (!enc.empty() && (enc.back() == ' ' || enc.back() == '\t')) {
        enc.pop_back();
    }
    if (enc == "base64" || (enc.empty() && !body.empty() && all_base64(body))) {
        return base64::decode(body);
    }
    return std::string(body);
}

std::string short_name(const std::string& dn) {
    // "CN=NSS Test CA (RSA),O=..." → the CN for a person, else the whole DN.
    const std::size_t cn = dn.find("CN=");
    if (cn == std::string::npos) {
        return dn;
    }
    std::size_t end = cn + 3;
    while (end < dn.size() && !(dn[end] == ',' && dn[end - 1] != '\\')) {
        ++end;
    }
    return dn.substr(cn + 3, end - cn - 3);
}

struct CrlStackFree {
    void operator()(STACK_OF(X509_CRL) * s) const noexcept { sk_X509_CRL_free(s); }  // the CRLs stay the caller's
};

/** Revocation of the signer per the configured CRLs: the revocation date, or nullopt when not revoked/unknown. */
struct Revocation {
    bool revoked = false;
    bool checked = false;  ///< a CRL file covers the issuer
    std::string note;      ///< "no CRL for this issuer", "CRL has expired", ... (status unknown)
};

Revocation check_revocation(const SignerCheck& s, const std::vector<ossl::Ptr<X509>>& carried, const TrustStore& trust,
                            const std::vector<X509_CRL*>& crls, TimePoint at) {
    Revocation rv;
    X509_NAME* issuer = X509_get_issuer_name(s.cert.get());
    const bool have = std::any_of(crls.begin(), crls.end(),
                                  [&](X509_CRL* crl) { return X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) == 0; });
    if (!have) {
        return rv;  // nothing configured for this issuer: not checked (documented)
    }
    rv.checked = true;
    std::vector<ossl::Ptr<X509>> untrusted;
    for (const auto& x : carried) {
        untrusted.push_back(ossl::retain(x.get()));
    }
    for (const auto& x : trust.intermediates()) {
        untrusted.push_back(ossl::retain(x.get()));
    }
    auto stack = ossl::make_stack(untrusted);
    std::unique_ptr<STACK_OF(X509_CRL), CrlStackFree> crl_stack(sk_X509_CRL_new_null());
    for (X509_CRL* crl : crls) {
        sk_X509_CRL_push(crl_stack.get(), crl);
    }
    auto ctx = ossl::adopt(X509_STORE_CTX_new());
    if (!ctx || trust.store() == nullptr ||
        X509_STORE_CTX_init(ctx.get(), trust.store(), s.cert.get(), stack.get()) != 1) {
        ERR_clear_error();
        rv.note = "revocation not checked (internal error)";
        return rv;
    }
    X509_STORE_CTX_set0_crls(ctx.get(), crl_stack.get());
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, Clock::to_time_t(at));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
    if (X509_verify_cert(ctx.get()) != 1) {
        const int err = X509_STORE_CTX_get_error(ctx.get());
        if (err == X509_V_ERR_CERT_REVOKED) {
            rv.revoked = true;
        } else {
            rv.note = std::string("revocation unknown: ") + X509_verify_cert_error_string(err);
        }
    }
    ERR_clear_error();
    return rv;
}

/** Weak and broken cryptography in a good signature (interop finding 5). */
void assess_algorithms(const SignerCheck& s, const VerifyOptions& o, std::vector<std::string>& weak,
                       std::vector<std::string>& broken) {
    if (s.digest == "md5") {
        broken.emplace_back("MD5 digest");
    } else if (s.digest == "sha-1") {
        weak.emplace_back("SHA-1 digest");
    }
    const auto& info = s.info;
    if (info.key_type == "RSA" && info.key_bits > 0) {
        if (info.key_bits < k_broken_rsa_bits) {
            broken.push_back("RSA-" + std::to_string(info.key_bits) + " key");
        } else if (info.key_bits < o.min_rsa_bits) {
            weak.push_back("RSA-" + std::to_string(info.key_bits) + " key");
        }
    }
    if (s.cert) {
        const int sig = X509_get_signature_nid(s.cert.get());
        int md = NID_undef;
        OBJ_find_sigid_algs(sig, &md, nullptr);
        if (md == NID_md5) {
            weak.emplace_back("MD5-signed certificate");
        } else if (md == NID_sha1) {
            weak.emplace_back("SHA-1-signed certificate");
        }
    }
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

void set(VerifyResult& r, AuthResult word, Problem p, std::string reason) {
    r.result = word;
    r.problem = p;
    r.reason = std::move(reason);
}

/** Why a chain did not validate, in words a recipient understands. */
void chain_failure(VerifyResult& r, const std::string& e, const CertInfo& info, TimePoint at) {
    auto is = [&](int code) { return e == X509_verify_cert_error_string(code); };
    if (is(X509_V_ERR_CERT_HAS_EXPIRED)) {
        if (at >= info.not_after) {
            set(r, AuthResult::Fail, Problem::Expired, "certificate expired on " + base::format_date(info.not_after));
        } else {
            set(r, AuthResult::Fail, Problem::Expired, "an issuing CA certificate has expired");
        }
    } else if (is(X509_V_ERR_CERT_NOT_YET_VALID)) {
        set(r, AuthResult::Fail, Problem::NotYetValid,
            at < info.not_before ? "certificate not valid before " + base::format_date(info.not_before)
                                 : std::string("an issuing CA certificate is not yet valid"));
    } else if (is(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) || is(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) ||
               is(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) || is(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) ||
               is(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)) {
        set(r, AuthResult::Fail, Problem::Untrusted, "untrusted issuer: " + short_name(info.issuer));
    } else if (is(X509_V_ERR_CERT_REVOKED)) {
        set(r, AuthResult::Fail, Problem::Revoked, "certificate revoked");
    } else {
        set(r, AuthResult::Fail, Problem::Untrusted, "certificate not trusted: " + e);
    }
}

/**
 * The revocation callback (VerifyOptions::revocation) for a trusted signer.
 * False when it decided the verdict (revoked, or temperror); else the
 * evidence is put in @p note for the reason.
 */
bool check_signer_revocation(VerifyResult& r, const SignerCheck& s, X509* issuer, const VerifyOptions& o, TimePoint at,
                             std::string& note) {
    if (issuer == nullptr) {
        return true;  // a self-signed anchor as signer: nothing issued it
    }
    r.revocation = o.revocation(s.cert.get(), s.info.fingerprint, issuer, o.now);
    const RevocationStatus& st = r.revocation;
    switch (st.state) {
        case RevocationState::Revoked: {
            // A signature made before a revocation for a reason other than compromise stays good
            // when validity is judged at the signing time (inbound.certificate_time: signing_time).
            const bool compromise = st.reason == "keyCompromise" || st.reason == "cACompromise";
            if (at < st.revoked_at && !compromise) {
                note = "revocation: revoked after signing, on " + base::format_date(st.revoked_at) + ": " + st.reason;
                return true;
            }
            // No parentheses: the reason becomes an Authentication-Results comment.
            set(r, AuthResult::Fail, Problem::Revoked,
                "certificate revoked on " + base::format_date(st.revoked_at) + ": " + st.reason +
                    "; revocation: " + source_and_age(st, o.now));
            return false;
        }
        case RevocationState::Good:
            note = "revocation: " + evidence(st, o.now);
            return true;
        case RevocationState::NotChecked:
            return true;  // nowhere to ask: the reason stays as it was (r.revocation says why, for the log)
        case RevocationState::Unknown:
            if (o.revocation_unknown_temperror) {
                set(r, AuthResult::TempError, Problem::Internal, "revocation " + evidence(st, o.now));
                return false;
            }
            note = "revocation " + evidence(st, o.now);
            return true;
    }
    return true;
}

/** Who a signer is, for a result and for the notes about the other signers. */
void identify(VerifyResult& r, const SignerCheck& s) {
    r.digest = s.digest;
    r.signing_time = s.signing_time;
    if (s.cert) {
        r.signer_cert = ossl::retain(s.cert.get());
        r.signer_fingerprint = s.info.fingerprint;
        r.signer_addresses = s.info.addresses;
        r.signer_name = s.info.common_name;
        r.serial = s.info.serial;
        r.issuer = s.info.issuer;
        if (!s.info.addresses.empty()) {
            r.identifier = s.info.addresses.front();
        }
    }
}

/** A fresh result that knows what @p r knows about the message (not about a signer). */
VerifyResult context_of(const VerifyResult& r) {
    VerifyResult v;
    v.from = r.from;
    v.sender = r.sender;
    v.opaque = r.opaque;
    v.lf_normalised = r.lf_normalised;
    v.partially_signed = r.partially_signed;
    v.part = r.part;
    return v;
}

/** The verdict for one SignerInfo whose digest and signature checked out (everything after the bytes). */
void judge_signer(VerifyResult& r, const SignerCheck& s, const CmsCheck& c, const TrustStore& trust,
                  const VerifyOptions& o) {
    identify(r, s);
    r.signature_valid = true;

    std::vector<std::string> broken;
    assess_algorithms(s, o, r.weaknesses, broken);
    if (!broken.empty()) {
        set(r, AuthResult::Fail, Problem::WeakAlgorithm, "weak algorithm: " + join(broken));
        return;
    }

    // Validity moment: arrival by default; the signer's own signingTime only when configured;
    // a valid RFC 3161 time-stamp (a TSA vouches for it) always.
    TimePoint at = o.now;
    if (!s.time_stamp_token.empty()) {
        const timestamp::Token t = timestamp::check_token(s.time_stamp_token, s.signature_value,
                                                          o.tsa_trust != nullptr ? *o.tsa_trust : trust, o.now);
        if (t.valid) {
            r.time_stamp = t.time;
            r.time_stamp_tsa = t.tsa;
        } else {
            r.time_stamp_error = t.error;
        }
    }
    if (r.time_stamp) {
        at = *r.time_stamp;
    } else if (o.certificate_time == CertificateTime::SigningTime && s.signing_time) {
        if (*s.signing_time > o.now + k_future_skew) {
            set(r, AuthResult::Fail, Problem::NotYetValid,
                "signing time " + base::format_time(*s.signing_time) + " lies in the future");
            return;
        }
        at = *s.signing_time;
    }
    bool trusted = s.chain_trusted;
    std::string chain_error = s.chain_error;
    // The issuer on the path valid at `at` (for revocation): the chain is built once per moment.
    ossl::Ptr<X509> issuer = s.chain_issuer ? ossl::retain(s.chain_issuer.get()) : nullptr;
    if (at != o.now) {  // re-check at `at`: check_cms used the arrival moment
        ChainCheck cc = trust.check(s.cert.get(), c.certificates, at);
        trusted = cc.trusted;
        chain_error = cc.error;
        issuer = cc.trusted && cc.path.size() >= 2 ? std::move(cc.path[1]) : nullptr;
    }
    if (!trusted) {
        chain_failure(r, chain_error, s.info, at);
        return;
    }
    std::string revocation_note;
    bool crl_file_checked = false;
    if (!o.crls.empty()) {
        const Revocation rv = check_revocation(s, c.certificates, trust, o.crls, at);
        if (rv.revoked) {
            // For the record: the entry's date and reason (the chain check named only the fact).
            r.revocation.state = RevocationState::Revoked;
            for (X509_CRL* crl : o.crls) {
                if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(s.cert.get())) != 0) {
                    continue;
                }
                if (crl_entry(crl, s.cert.get(), r.revocation)) {
                    break;
                }
            }
            r.revocation.source = RevocationStatus::Source::CrlFile;
            r.revocation.obtained = at;
            set(r, AuthResult::Fail, Problem::Revoked, "certificate revoked");
            return;
        }
        revocation_note = rv.note;
        crl_file_checked = rv.checked && rv.note.empty();
        if (crl_file_checked) {
            r.revocation.state = RevocationState::Good;
            r.revocation.source = RevocationStatus::Source::CrlFile;
            revocation_note = "revocation: crl file good";
        }
    }
    if (o.revocation && !crl_file_checked) {
        if (!check_signer_revocation(r, s, issuer.get(), o, at, revocation_note)) {
            return;
        }
    }
    r.chain_trusted = true;
    // RFC 8550 §4.4.2/§4.4.4: a signing certificate must allow signing, and e-mail when EKUs are present.
    if (!s.info.key_usage_signs) {
        set(r, AuthResult::Fail, Problem::Usage, "certificate not for signing (key usage)");
        return;
    }
    if (!s.info.eku_email) {
        set(r, AuthResult::Fail, Problem::Usage, "certificate not for e-mail (extended key usage)");
        return;
    }
    if (!r.weaknesses.empty() && o.weak == WeakAlgorithms::Fail) {
        set(r, AuthResult::Fail, Problem::WeakAlgorithm, "weak algorithm: " + join(r.weaknesses));
        return;
    }
    // RFC 8550 §3: the signer's address must be the sender's (R4).
    if (s.info.addresses.empty()) {
        set(r, AuthResult::Policy, Problem::NoAddress, "signer certificate has no e-mail address");
    } else {
        std::string match;
        for (const auto& from : r.from) {
            if (std::find(s.info.addresses.begin(), s.info.addresses.end(), from) != s.info.addresses.end()) {
                match = from;
                break;
            }
        }
        // RFC 8550 §3 also accepts the Sender field: an organisation seal signing for a person
        // (docs/keys.md). Only a Sender of the From's own organisation (its domain or one above
        // it) counts, so a certificate of elsewhere cannot speak for this From by naming itself Sender.
        std::string seal;
        if (match.empty() && !r.from.empty()) {
            for (const auto& sender : r.sender) {
                const bool signer_is_sender =
                    std::find(s.info.addresses.begin(), s.info.addresses.end(), sender) != s.info.addresses.end();
                if (signer_is_sender &&
                    base::domain_matches(base::domain_of(r.from.front()), base::domain_of(sender), true)) {
                    seal = sender;
                    break;
                }
            }
        }
        if (!seal.empty()) {
            r.identifier = seal;
            r.sealed_for = r.from.front();
            set(r, AuthResult::Pass, Problem::None, "good signature; sealed by " + seal + " for " + r.sealed_for);
        } else if (match.empty()) {
            set(r, AuthResult::Policy, Problem::SignerNotSender,
                "signer " + r.identifier + " is not the sender" +
                    (r.from.empty() ? " (no From)" : " " + r.from.front()));
        } else {
            r.identifier = match;
            set(r, AuthResult::Pass, Problem::None, "good signature");
        }
    }
    if (!r.weaknesses.empty()) {
        r.reason += "; weak: " + join(r.weaknesses);
        if (r.problem == Problem::None) {
            r.problem = Problem::WeakAlgorithm;
        }
    }
    if (!revocation_note.empty()) {
        r.reason += "; " + revocation_note;
    }
}

/**
 * Turns a CMS check into the verdict: the multi-signer rules of
 * docs/verification.md ("Several signers").
 *  1. Tampering shown by any SignerInfo (its messageDigest is not the content's
 *     digest, or its signature does not verify with its certificate) fails the message.
 *  2. Every SignerInfo that verified is judged on its own (chain, revocation,
 *     usage, algorithms, address); the message passes when one of them passes
 *     (the sender, fully verified), and otherwise gets the worst of their
 *     verdicts (fail before policy): another signer never softens a failure.
 *  3. A SignerInfo that cannot be checked (its certificate is not carried, an
 *     unknown algorithm) is reported and never changes a verdict the others
 *     decided; when none can be checked, the message fails when a certificate is
 *     missing (as for a lone signer) and is neutral otherwise.
 */
void judge_signers(VerifyResult& r, const CmsCheck& c, const TrustStore& trust, const VerifyOptions& o) {
    if (c.signer_count == 0) {
        set(r, AuthResult::PermError, Problem::Malformed, "the signature has no signer");
        return;
    }
    const std::size_t n = c.signers.size();
    auto ordinal = [n](std::size_t i) { return "signer " + std::to_string(i + 1) + " of " + std::to_string(n); };
    for (std::size_t i = 0; i < n; ++i) {  // rule 1
        const SignerCheck& s = c.signers[i];
        if (s.status == SignerCheck::Status::Tampered) {
            identify(r, s);
            const bool mismatch = s.error.find("digest mismatch") != std::string::npos;
            set(r, AuthResult::Fail, Problem::ContentChanged,
                n == 1 ? std::string("content changed after signing")
                       : "content changed after signing (" + ordinal(i) +
                             (mismatch ? std::string() : ": its signature does not verify") + ")");
            return;
        }
    }
    std::vector<VerifyResult> judged(n);
    std::optional<std::size_t> chosen;
    for (std::size_t i = 0; i < n; ++i) {  // rule 2
        if (c.signers[i].status != SignerCheck::Status::Verified) {
            continue;
        }
        judged[i] = context_of(r);
        judge_signer(judged[i], c.signers[i], c, trust, o);
        auto rank = [&](std::size_t k) {  // lower is chosen first
            const VerifyResult& v = judged[k];
            return v.result == AuthResult::Pass ? (v.weaknesses.empty() ? 0 : 1) : v.result == AuthResult::Fail ? 2 : 3;
        };
        if (!chosen || rank(i) < rank(*chosen)) {
            chosen = i;
        }
    }
    if (!chosen) {  // rule 3, nobody could be checked
        const auto with_cert =
            std::find_if(c.signers.begin(), c.signers.end(), [](const SignerCheck& s) { return s.cert != nullptr; });
        if (with_cert != c.signers.end()) {
            identify(r, *with_cert);
        }
        const bool missing =
            std::any_of(c.signers.begin(), c.signers.end(), [](const SignerCheck& s) { return s.certificate_missing; });
        if (missing) {
            set(r, AuthResult::Fail, Problem::Untrusted, "the signer's certificate is not in the message");
        } else {
            set(r, AuthResult::Neutral, Problem::Unsupported, "signature cannot be checked: " + c.signature_error);
        }
        return;
    }
    r = std::move(judged[*chosen]);
    std::vector<std::string> notes;  // rule 3: the others, reported
    for (std::size_t i = 0; i < n; ++i) {
        if (i == *chosen) {
            continue;
        }
        const SignerCheck& s = c.signers[i];
        if (s.status != SignerCheck::Status::Verified) {
            notes.push_back("signer " + std::to_string(i + 1) + " not checked: " + s.error);
            continue;
        }
        const VerifyResult& v = judged[i];
        const std::string who = !v.identifier.empty() ? v.identifier : ordinal(i);
        notes.push_back("also signed by " + who + (v.result == AuthResult::Fail ? " (" + v.reason + ")" : ""));
    }
    if (!notes.empty()) {
        r.reason += "; " + join(notes, "; ");
    }
}

/** The verdict, and a time-stamp's in its reason (so the Authentication-Results comment and the log name it). */
void evaluate(VerifyResult& r, const CmsCheck& c, const TrustStore& trust, const VerifyOptions& o) {
    judge_signers(r, c, trust, o);
    if (r.time_stamp) {
        r.reason += "; time-stamped " + base::format_time(*r.time_stamp) + " by " + r.time_stamp_tsa;
    } else if (!r.time_stamp_error.empty()) {
        r.reason += "; time-stamp not accepted: " + r.time_stamp_error;
    }
}

/** Checks a multipart/signed body (RFC 8551 §3.5.3) given its boundary. */
void verify_detached(VerifyResult& r, std::string_view body, const std::string& boundary, const TrustStore& trust,
                     const VerifyOptions& o) {
    if (boundary.empty()) {
        set(r, AuthResult::PermError, Problem::Malformed, "multipart/signed without a boundary");
        return;
    }
    SignedParts parts;
    try {
        parts = split_multipart_signed(body, boundary);
    } catch (const Error& e) {
        set(r, AuthResult::PermError, Problem::Malformed, e.what());
        return;
    }
    std::vector<Field> sig_fields;
    const std::size_t sig_body = split_entity(parts.signature, sig_fields, o.limits);
    const MediaType sig_type = media_type(sig_fields, o.limits);
    if (!is_pkcs7_signature(sig_type)) {
        set(r, AuthResult::PermError, Problem::Malformed,
            "the second part is " + sig_type.type + "/" + sig_type.subtype + ", not application/pkcs7-signature");
        return;
    }
    const auto der = decode_body(sig_fields, parts.signature.substr(std::min(sig_body, parts.signature.size())));
    if (!der || der->empty()) {
        set(r, AuthResult::PermError, Problem::Malformed, "the signature part is not valid base64");
        return;
    }
    // The signed part is checked in canonical CRLF form; bytes stored with LF
    // line ends (a saved .eml) are canonicalised first (RFC 8551 §3.1.1).
    const std::string content = canonical::to_crlf(parts.content);
    CmsCheck c;
    try {
        c = check_cms(*der, content, trust, o.now, o.limits);
    } catch (const Error& e) {
        set(r, AuthResult::PermError, Problem::Malformed,
            e.category() == Category::Limit ? e.what() : "the signature is not a CMS structure (truncated or garbage)");
        return;
    }
    if (!c.is_signed_data) {
        set(r, AuthResult::PermError, Problem::Malformed,
            "the signature part holds CMS " + c.content_type_oid + ", not signed-data");
        return;
    }
    if (!c.signature_valid && c.signer && o.lf_fallback && c.signature_error.rfind("content changed", 0) == 0) {
        // Interop finding 1: NSS signs the LF-only bytes of some parts. Accept
        // that form too and say so: only CR bytes differ, no text.
        const std::string lf = mime::crlf_to_lf(content);  // the form NSS signs
        if (lf != content) {
            CmsCheck again = check_cms(*der, lf, trust, o.now, o.limits);
            if (again.signature_valid) {
                c = std::move(again);
                r.lf_normalised = true;
            }
        }
    }
    evaluate(r, c, trust, o);
    // The bytes that verified (the LF form when that one did); their SHA-256 is usually the signer's own digest.
    r.content_sha256 = !c.content_sha256.empty()
                           ? c.content_sha256
                           : ossl::sha256_hex(r.lf_normalised ? mime::crlf_to_lf(content) : content);
    if (r.lf_normalised) {
        r.reason += "; signature computed over LF line ends (sender bug), accepted";
    }
}

/** Checks an opaque signed-data body (RFC 8551 §3.5.2). */
void verify_opaque(VerifyResult& r, const std::vector<Field>& fields, std::string_view body, const TrustStore& trust,
                   const VerifyOptions& o) {
    r.opaque = true;
    const auto der = decode_body(fields, body);
    if (!der || der->empty()) {
        set(r, AuthResult::PermError, Problem::Malformed, "the S/MIME body is not valid base64");
        return;
    }
    CmsCheck c;
    try {
        c = check_cms(*der, std::nullopt, trust, o.now, o.limits);
    } catch (const Error& e) {
        set(r, AuthResult::PermError, Problem::Malformed,
            e.category() == Category::Limit ? e.what()
                                            : "the S/MIME body is not a CMS structure (truncated or garbage)");
        return;
    }
    if (!c.is_signed_data) {
        // Interop finding 4: the CMS content type decides, not smime-type.
        const std::string& oid = c.content_type_oid;
        const char* what = oid == "1.2.840.113549.1.7.3"         ? "encrypted (enveloped-data)"
                           : oid == "1.2.840.113549.1.9.16.1.23" ? "encrypted (authenticated-enveloped-data)"
                           : oid == "1.2.840.113549.1.9.16.1.9"  ? "compressed-data"
                                                                 : nullptr;
        if (what != nullptr) {
            const std::string* ct = field(fields, "Content-Type");
            const bool labelled_signed = ct != nullptr && lower(*ct).find("signed-data") != std::string::npos;
            set(r, AuthResult::None, Problem::NotSigned,
                std::string(what) + (labelled_signed ? " although labelled smime-type=signed-data" : "") +
                    ": a signature inside it is not visible to the gateway");
        } else {
            set(r, AuthResult::PermError, Problem::Malformed, "unexpected CMS content type " + oid);
        }
        return;
    }
    if (c.content_missing || (c.signature_valid && c.content.empty())) {
        set(r, AuthResult::PermError, Problem::Malformed, "a detached signature without the signed content");
        return;
    }
    evaluate(r, c, trust, o);
    if (c.signature_valid) {
        r.content_sha256 = !c.content_sha256.empty() ? c.content_sha256 : ossl::sha256_hex(c.content);
    }
}

/** Verifies one S/MIME entity (headers + body); returns false when it is not an S/MIME signed entity. */
bool verify_entity(VerifyResult& r, const std::vector<Field>& fields, std::string_view body, const TrustStore& trust,
                   const VerifyOptions& o, bool top_level) {
    const MediaType mt = media_type(fields, o.limits);
    if (mt.is("multipart", "signed")) {
        if (mt.protocol.empty() || is_smime_protocol(mt.protocol)) {
            verify_detached(r, body, mt.boundary, trust, o);
            return true;
        }
        return false;  // OpenPGP (RFC 3156) or another protocol: not ours
    }
    if (is_pkcs7_mime(mt, top_level)) {
        verify_opaque(r, fields, body, trust, o);
        return true;
    }
    if (top_level && is_pkcs7_signature(mt)) {
        set(r, AuthResult::PermError, Problem::Malformed,
            "a lone application/pkcs7-signature: the signed content (multipart/signed) is missing");
        return true;
    }
    return false;
}

/**
 * The signed parts inside an unsigned multipart (a mailing-list footer and the
 * like), from the bounded walk over the message's bytes (mime::walk): a
 * multipart/signed of S/MIME or an application/(x-)pkcs7-mime part, not
 * entered; attached messages (message/rfc822) are other messages and are not
 * looked into. @throws Error{Limit} as mime::walk does.
 */
std::vector<mime::Part> find_signed_parts(std::string_view message, const Limits& limits) {
    std::vector<mime::Part> found;
    for (auto& p : mime::walk(message, limits)) {
        if (p.number.empty()) {
            continue;
        }
        const bool smime_signed =
            p.type.is("multipart", "signed") && (p.type.protocol.empty() || is_smime_protocol(p.type.protocol));
        if (smime_signed || p.type.is("application", "pkcs7-mime") || p.type.is("application", "x-pkcs7-mime")) {
            found.push_back(std::move(p));
        }
    }
    return found;
}

/** The addresses of every @p name field (From, Sender), lower case. */
std::vector<std::string> from_addresses(const std::vector<Field>& fields, std::string_view name = "From") {
    std::vector<std::string> out;
    for (const auto& f : fields) {
        if (iequals(f.name, name)) {
            for (const auto& mb : mime::parse_mailboxes(f.value)) {
                out.push_back(lower(mb.address));
            }
        }
    }
    return out;
}

VerifyResult verify_message(const Blob& message, const TrustStore& trust, const VerifyOptions& o) {
    VerifyResult r;
    // As received, CRLF or LF (a saved .eml): every reader below takes either, and a
    // signed part is made canonical CRLF on its own (RFC 8551 §3.1.1), so the message is
    // never copied whole.
    const std::string_view raw = message.view();
    std::vector<Field> fields;
    const std::size_t body_at = split_entity(raw, fields, o.limits);
    const std::string_view body = raw.substr(std::min(body_at, raw.size()));
    r.sender = from_addresses(fields, "Sender");
    if (o.from.empty()) {
        r.from = from_addresses(fields);
    } else {
        for (const auto& a : o.from) {
            r.from.push_back(lower(a));
        }
    }
    if (verify_entity(r, fields, body, trust, o, true)) {
        return r;
    }
    // Not signed at the top: look for signed parts inside (partially signed).
    const MediaType mt = media_type(fields, o.limits);
    if (mt.type != "multipart") {
        set(r, AuthResult::None, Problem::NotSigned, "not signed");
        return r;
    }
    if (mt.subtype == "signed") {
        set(r, AuthResult::None, Problem::NotSigned, "signature protocol " + mt.protocol + " is not S/MIME");
        return r;
    }
    const std::vector<mime::Part> inner = find_signed_parts(raw, o.limits);
    if (inner.empty()) {
        set(r, AuthResult::None, Problem::NotSigned, "not signed");
        return r;
    }
    // Verify the signed parts to say what is in them; the message stays
    // unsigned as a whole. Encrypted parts (EFAIL layouts) are not signatures.
    constexpr std::size_t k_max_inner = 8;
    std::optional<VerifyResult> first;
    std::string first_part;
    std::size_t signed_parts = 0;
    bool encrypted_parts = false;
    for (std::size_t i = 0; i < inner.size() && i < k_max_inner; ++i) {
        // The part's bytes as received: what its signature is over.
        const std::string_view pv = raw.substr(inner[i].begin, inner[i].end - inner[i].begin);
        std::vector<Field> part_fields;
        const std::size_t part_body = split_entity(pv, part_fields, o.limits);
        VerifyResult part;
        part.from = r.from;
        part.sender = r.sender;
        verify_entity(part, part_fields, pv.substr(std::min(part_body, pv.size())), trust, o, false);
        if (part.result == AuthResult::None) {
            encrypted_parts = true;
            continue;
        }
        ++signed_parts;
        if (!first) {
            first = std::move(part);
            first_part = inner[i].number;
        }
    }
    if (!first) {
        set(r, AuthResult::None, Problem::NotSigned,
            encrypted_parts ? "not signed (holds encrypted parts)" : "not signed");
        return r;
    }
    const std::vector<std::string> from = r.from;
    r = std::move(*first);
    r.from = from;
    r.partially_signed = true;
    r.part = first_part;
    r.chain_trusted = false;  // never harvest from a partially signed message
    if (r.result == AuthResult::Fail || r.result == AuthResult::PermError) {
        // A broken signature inside is evidence of tampering: report it as such.
        r.reason = "partially signed, and the signed part " + r.part + " fails: " + r.reason;
        return r;
    }
    const std::string inner_verdict = std::string(to_string(r.result)) + (r.reason.empty() ? "" : ": " + r.reason);
    set(r, AuthResult::Neutral, Problem::PartiallySigned,
        "partially signed: only part " + r.part + " is signed (" + inner_verdict + ")" +
            (signed_parts > 1 ? "; " + std::to_string(signed_parts) + " signed parts" : "") +
            "; the rest was added by someone else");
    return r;
}

}  // namespace

VerifyResult verify(const Blob& message, const TrustStore& trust, const VerifyOptions& options) {
    try {
        ossl::init_providers();
        mime::init();
        return verify_message(message, trust, options);
    } catch (const Error& e) {
        VerifyResult r;
        if (e.category() == Category::Malformed || e.category() == Category::Limit) {
            set(r, AuthResult::PermError, Problem::Malformed, e.what());
        } else {
            set(r, AuthResult::TempError, Problem::Internal, std::string("could not verify: ") + e.what());
        }
        return r;
    } catch (const std::exception& e) {
        VerifyResult r;
        set(r, AuthResult::TempError, Problem::Internal, std::string("could not verify: ") + e.what());
        return r;
    }
}

std::vector<ossl::Ptr<X509_CRL>> load_crls(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(Category::Credential, "cannot read CRL file " + file + ": " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    std::vector<ossl::Ptr<X509_CRL>> out;
    {
        auto bio = ossl::mem_bio(bytes.data(), bytes.size());
        while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
            out.push_back(ossl::adopt(crl));
        }
        ERR_clear_error();
    }
    if (out.empty()) {
        auto bio = ossl::mem_bio(bytes.data(), bytes.size());
        if (X509_CRL* crl = d2i_X509_CRL_bio(bio.get(), nullptr)) {
            out.push_back(ossl::adopt(crl));
        }
        ERR_clear_error();
    }
    if (out.empty()) {
        throw Error(Category::Credential, file + ": no CRL found (expected PEM -----BEGIN X509 CRL----- or DER)");
    }
    return out;
}

std::string to_pem(X509* cert) {
    auto bio = ossl::adopt(BIO_new(BIO_s_mem()));
    ossl::check(bio != nullptr && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
    return ossl::bio_to_string(bio.get());
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
    // The bytes after the line end at @p line_end up to the CRLF (or LF) before the delimiter at @p delim_at.
    auto between = [&body](std::size_t line_end, std::size_t delim_at) {
        std::size_t end = delim_at;
        if (end > line_end + 1 && body[end - 1] == '\r') {
            --end;
        }
        return body.substr(line_end + 1, end - (line_end + 1));
    };
    SignedParts parts;
    parts.content = between(content_start, second);
    const std::size_t sig_start = body.find('\n', second + 1);
    if (sig_start == std::string_view::npos || body.compare(second + 1 + delim.size(), 2, "--") == 0) {
        throw Error(Category::Malformed, "multipart/signed: the signature part is missing");
    }
    const std::size_t third = find_delim(sig_start);
    if (third == std::string_view::npos) {
        throw Error(Category::Malformed, "multipart/signed: the closing boundary is missing");
    }
    parts.signature = between(sig_start, third);
    return parts;
}

}  // namespace segel::smime
