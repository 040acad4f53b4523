#include "engine/inbound.h"

#include "base/address.h"
#include "base/text.h"

#include "smime/authres.h"
#include "smime/error.h"
#include "smime/mime/fields.h"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

namespace segel::engine {

namespace {

using Result = smime::AuthResult;
using Problem = smime::VerifyResult::Problem;

std::string header_text(const std::string& utf8) {
    return smime::mime::encode_header_text(utf8);
}

std::string decode_header_text(const std::string& raw) {
    return smime::mime::decode_header_text(raw);
}

/**
 * Removes every occurrence of a tag pattern ("[Signed: {name}]": any name) from
 * @p text, in one pass (a Subject of thousands of forged tags costs its length,
 * not its length times their number).
 */
bool remove_tag(std::string& text, const std::string& pattern) {
    if (pattern.empty()) {
        return false;
    }
    const std::size_t ph = pattern.find("{name}");
    const std::string prefix = ph == std::string::npos ? pattern : pattern.substr(0, ph);
    const std::string suffix = ph == std::string::npos ? "" : pattern.substr(ph + 6);
    if (prefix.empty()) {
        return false;
    }
    std::string out;
    bool changed = false;
    std::size_t copied = 0;
    for (std::size_t pos = text.find(prefix); pos != std::string::npos; pos = text.find(prefix, copied)) {
        std::size_t end = pos + prefix.size();
        if (ph != std::string::npos) {
            const std::size_t s = suffix.empty() ? text.find(' ', end) : text.find(suffix, end);
            end = s == std::string::npos ? text.size() : s + suffix.size();
        }
        while (end < text.size() && text[end] == ' ') {
            ++end;
        }
        out.append(text, copied, pos - copied);
        copied = end;
        changed = true;
    }
    if (changed) {
        out.append(text, copied, std::string::npos);
        text = std::move(out);
    }
    return changed;
}

/** Our tag text with the signer's name for "{name}". */
std::string with_name(std::string tag, const smime::VerifyResult& r) {
    const std::size_t ph = tag.find("{name}");
    if (ph != std::string::npos) {
        tag.replace(ph, 6, !r.signer_name.empty() ? r.signer_name : r.identifier);
    }
    return tag;
}

policy::Verdict verdict_of(smime::AuthResult r) {
    switch (r) {
        case Result::None:
            return policy::Verdict::None;
        case Result::Pass:
            return policy::Verdict::Pass;
        case Result::Fail:
            return policy::Verdict::Fail;
        case Result::Policy:
            return policy::Verdict::Policy;
        case Result::Neutral:
            return policy::Verdict::Neutral;
        case Result::TempError:
            return policy::Verdict::TempError;
        case Result::PermError:
            return policy::Verdict::PermError;
    }
    return policy::Verdict::PermError;
}

}  // namespace

smime::Limits inbound_limits(const config::Settings& settings) {
    const auto& l = settings.inbound.limits;
    smime::Limits out;
    out.max_parts = l.max_parts;
    out.max_depth = l.max_depth;
    out.max_parameters = l.max_parameters;
    out.max_header_bytes = l.max_header_bytes;
    out.max_signers = l.max_signers;
    out.max_certificates = l.max_certificates;
    out.max_recipients = l.max_recipients;
    return out;
}

InboundOptions verify_options(const Gateway& gateway, TimePoint now) {
    const auto& in = gateway.settings().inbound;
    InboundOptions out;
    smime::VerifyOptions& o = out.options;
    o.now = now;
    o.limits = inbound_limits(gateway.settings());
    o.certificate_time = in.certificate_time == config::Inbound::CertificateTime::SigningTime
                             ? smime::CertificateTime::SigningTime
                             : smime::CertificateTime::Arrival;
    o.weak = in.weak_algorithms_fail ? smime::WeakAlgorithms::Fail : smime::WeakAlgorithms::Report;
    o.lf_fallback = in.accept_lf_signatures;
    o.tsa_trust = &gateway.tsa_trust();  // RFC 3161 time-stamps in signatures (docs/keys.md)
    if (!in.crl_files.empty()) {
        out.crls = gateway.crl_files().get(in.crl_files);
        for (const auto& set : out.crls) {
            for (const auto& c : *set) {
                o.crls.push_back(c.get());
            }
        }
    }
    return out;
}

void add_revocation(smime::VerifyOptions& options, const Gateway& gateway) {
    const config::Revocation& rv = gateway.settings().revocation;
    if (!rv.enabled) {
        return;
    }
    services::RevocationService* service = &gateway.revocation();
    options.revocation = [service](X509* cert, const std::string& fingerprint, X509* issuer, TimePoint at) {
        smime::RevocationStatus st = service->check(cert, issuer, at, fingerprint);
        constexpr std::size_t k_max_detail = 300;  // it ends up in a header comment and a log line
        if (st.detail.size() > k_max_detail) {
            st.detail = st.detail.substr(0, k_max_detail) + "...";
        }
        return st;
    };
    options.revocation_unknown_temperror = rv.verify_unknown == config::Revocation::VerifyUnknown::TempError;
}

std::vector<std::pair<std::string, int>> forged_results(const Head& head, const std::string& authserv_id) {
    std::vector<std::pair<std::string, int>> out;
    for (const HeadField* f : head.all("Authentication-Results")) {
        if (smime::authres::claims(f->raw, authserv_id)) {
            out.emplace_back(f->name, f->index);
        }
    }
    return out;
}

std::optional<std::string> tag_subject(const std::optional<std::string>& subject, const std::string& tag,
                                       const config::Inbound::SubjectTag& tags) {
    std::string text = subject ? decode_header_text(*subject) : "";
    bool changed = false;
    for (const std::string* p : {&tags.signed_text, &tags.invalid_text, &tags.not_sender_text, &tags.partial_text,
                                 &tags.unsigned_official_text}) {
        changed = remove_tag(text, *p) || changed;
    }
    if (!tag.empty()) {
        text = tag + (text.empty() ? "" : " " + text);
        changed = true;
    }
    if (!changed) {
        return std::nullopt;
    }
    return header_text(text);
}

std::vector<std::string> harvest(const std::string& directory, X509* cert, TimePoint now) {
    std::vector<std::string> written;
    const smime::CertInfo info = smime::inspect(cert);
    if (now < info.not_before || now >= info.not_after) {
        return written;  // never store what a sender could not use now
    }
    if (::mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST) {
        throw smime::Error(smime::Category::Io, "cannot create " + directory + ": " + std::strerror(errno));
    }
    const std::string pem = smime::to_pem(cert);
    for (const auto& address : info.addresses) {
        if (!base::file_safe_address(address)) {
            continue;
        }
        const std::string file = directory + "/" + address + ".pem";
        if (::access(file.c_str(), F_OK) == 0) {
            try {
                const auto existing = smime::read_pem_certs(file);
                if (X509_cmp(existing.front().get(), cert) == 0) {
                    continue;  // already known
                }
                if (smime::inspect(existing.front().get()).not_before >= info.not_before) {
                    continue;  // the stored one is newer: newest wins
                }
            } catch (const smime::Error&) {
                // unreadable or damaged: replace it
            }
        }
        const std::string tmp = file + ".tmp." + std::to_string(::getpid());
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out << pem;
            if (!out) {
                throw smime::Error(smime::Category::Io, "cannot write " + tmp + ": " + std::strerror(errno));
            }
        }
        if (std::rename(tmp.c_str(), file.c_str()) != 0) {
            const int err = errno;
            std::remove(tmp.c_str());
            throw smime::Error(smime::Category::Io, "cannot rename to " + file + ": " + std::strerror(err));
        }
        written.push_back(file);
    }
    return written;
}

InboundCheck inbound(const Gateway& gateway, const policy::Envelope& env, const Head& head, const smime::Blob& message,
                     TimePoint now, const std::string& not_verified) {
    const config::Settings& s = gateway.settings();
    const config::Inbound& in = s.inbound;
    InboundCheck c;
    // RFC 8601 §5: fields claiming our authserv-id did not come from us; they go first.
    c.forged = forged_results(head, in.authserv_id);

    InboundOptions options;
    try {
        options = verify_options(gateway, now);
    } catch (const smime::Error& err) {
        c.result.result = Result::TempError;
        c.result.problem = Problem::Internal;
        c.result.reason = std::string("revocation data unavailable: ") + err.what();
    }
    add_revocation(options.options, gateway);
    for (const auto& a : env.header_from) {
        options.options.from.push_back(a);
    }
    if (!not_verified.empty()) {
        c.result.result = Result::TempError;
        c.result.problem = Problem::Internal;
        c.result.reason = not_verified;
    }
    if (c.result.result != Result::TempError) {
        c.result = smime::verify(message, gateway.trust(), options.options);
    }
    const smime::VerifyResult& r = c.result;
    c.authentication_results = smime::authres::format(in.authserv_id, r);
    c.verdict = verdict_of(r.result);
    c.decision = policy::decide_inbound(s, env.header_from, c.verdict, r.partially_signed, r.reason, env.client_ip);
    const std::string tag = with_name(c.decision.tag, r);
    if (in.subject_tag.enabled || !tag.empty()) {
        c.new_subject = tag_subject(head.value("Subject"), tag, in.subject_tag);
    }

    // Keep the certificate of a trusted signer for the encryption path: only
    // from a whole-message good signature that chains to our anchors.
    const bool harvestable =
        (r.result == Result::Pass || (r.result == Result::Policy && r.problem == Problem::SignerNotSender)) &&
        r.signature_valid && r.chain_trusted && !r.partially_signed && r.weaknesses.empty() && r.signer_cert != nullptr;
    if (!in.harvest_directory.empty() && harvestable &&
        c.decision.disposition == policy::InboundDecision::Disposition::Deliver) {
        try {
            for (const auto& f : harvest(in.harvest_directory, r.signer_cert.get(), now)) {
                c.harvested += (c.harvested.empty() ? "" : ",") + f;
            }
        } catch (const smime::Error& err) {
            c.harvest_note = err.what();
        }
    }
    return c;
}

}  // namespace segel::engine
