// The "inbound:" section of the configuration: verification of incoming
// signed mail (docs/verification.md). Example:
//
//   inbound:
//     authserv_id: mx.dinas.example.go.id
//     sender_protection: quarantine      # tag | quarantine | reject
//     certificate_time: arrival          # arrival | signing_time
//     weak_algorithms: report            # report | fail
//     lf_signatures: accept              # accept | fail
//     crl_files: [/etc/segel/bsre.crl]
//     harvest_directory: /var/lib/segel/recipients
//     limits:                            # what reading one message may cost
//       max_parts: 1000
//     subject_tag:
//       enabled: true
//       language: id                     # id | en: default texts
//       signed: "[Tertandatangan: {name}]"
#include "config/reader.h"

#include <unistd.h>

namespace segel::config::detail {

namespace {

struct TagTexts {
    const char* signed_text;
    const char* invalid_text;
    const char* not_sender_text;
    const char* partial_text;
    const char* unsigned_official_text;
};

constexpr TagTexts k_indonesian{"[Tertandatangan: {name}]", "[TANDA TANGAN TIDAK SAH]",
                                "[PENANDA TANGAN BUKAN PENGIRIM]", "[SEBAGIAN TERTANDATANGAN]",
                                "[TIDAK TERTANDATANGAN]"};
constexpr TagTexts k_english{"[Signed: {name}]", "[INVALID SIGNATURE]", "[SIGNER IS NOT THE SENDER]",
                             "[PARTIALLY SIGNED]", "[NOT SIGNED]"};

/** RFC 8601 authserv-id: a token (a domain name is one); no spaces, ';' or quotes. */
bool valid_authserv_id(const std::string& id) {
    if (id.empty() || id.size() > 255) {
        return false;
    }
    for (const char c : id) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 32 || u >= 127 || std::string("()<>@,;:\\\"/[]?=").find(c) != std::string::npos) {
            return false;
        }
    }
    return true;
}

/** The "limits:" mapping: each a whole number (max_header_bytes a size) within its range. */
void parse_limits(const Reader& r, const YAML::Node& n, Inbound::Limits& limits) {
    struct Count {
        const char* key;
        std::size_t* target;
        std::size_t ceiling;
    };
    const Count counts[] = {
        {"max_parts", &limits.max_parts, 100000},
        {"max_depth", &limits.max_depth, 1000},
        {"max_parameters", &limits.max_parameters, 10000},
        {"max_signers", &limits.max_signers, 64},
        {"max_certificates", &limits.max_certificates, 1000},
        {"max_recipients", &limits.max_recipients, 100000},
    };
    r.require_map(n, "inbound.limits",
                  {"max_parts", "max_depth", "max_parameters", "max_header_bytes", "max_signers", "max_certificates",
                   "max_recipients"});
    for (const auto& c : counts) {
        if (const YAML::Node v = n[c.key]) {
            const std::string path = std::string("inbound.limits.") + c.key;
            const std::string text = r.scalar(v, path);
            std::size_t used = 0;
            unsigned long long value = 0;
            try {
                value = std::stoull(text, &used, 10);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != text.size() || text.front() == '-' || value < 1 || value > c.ceiling) {
                r.fail(v, path, "\"" + text + "\" is not a whole number from 1 to " + std::to_string(c.ceiling));
            }
            *c.target = static_cast<std::size_t>(value);
        }
    }
    if (const YAML::Node v = n["max_header_bytes"]) {
        const std::string text = r.scalar(v, "inbound.limits.max_header_bytes");
        std::size_t bytes = 0;
        if (!parse_size(text, bytes) || bytes < 4 * 1024 || bytes > 64 * 1024 * 1024) {
            r.fail(v, "inbound.limits.max_header_bytes", "\"" + text + "\" is not a size from 4K to 64M (e.g. 256K)");
        }
        limits.max_header_bytes = bytes;
    }
}

}  // namespace

void parse_inbound(const Reader& r, const YAML::Node& root, Settings& s) {
    Inbound& in = s.inbound;
    in.authserv_id = host_name();
    const TagTexts* texts = &k_indonesian;
    const YAML::Node n = root["inbound"];
    if (n) {
        in.origin = origin_of(n);
        in.enabled = true;
        if (!n.IsNull()) {  // "inbound:" with nothing under it: enabled with the defaults
            r.require_map(n, "inbound",
                          {"enabled", "authserv_id", "sender_protection", "certificate_time", "weak_algorithms",
                           "lf_signatures", "crl_files", "harvest_directory", "limits", "subject_tag"});
            if (n["enabled"]) {
                in.enabled = r.boolean(n["enabled"], "inbound.enabled");
            }
            if (n["authserv_id"]) {
                in.authserv_id = r.scalar(n["authserv_id"], "inbound.authserv_id");
                if (!valid_authserv_id(in.authserv_id)) {
                    r.fail(n["authserv_id"], "inbound.authserv_id",
                           "\"" + in.authserv_id +
                               "\" is not a valid authserv-id; use this host's name, e.g. mx.dinas.example.go.id");
                }
            }
            if (n["sender_protection"]) {
                in.sender_protection =
                    r.choice<Inbound::SenderProtection>(n["sender_protection"], "inbound.sender_protection",
                                                        {{"tag", Inbound::SenderProtection::Tag},
                                                         {"quarantine", Inbound::SenderProtection::Quarantine},
                                                         {"reject", Inbound::SenderProtection::Reject}});
            }
            if (n["certificate_time"]) {
                in.certificate_time =
                    r.choice<Inbound::CertificateTime>(n["certificate_time"], "inbound.certificate_time",
                                                       {{"arrival", Inbound::CertificateTime::Arrival},
                                                        {"signing_time", Inbound::CertificateTime::SigningTime}});
            }
            if (n["weak_algorithms"]) {
                in.weak_algorithms_fail = r.choice<bool>(n["weak_algorithms"], "inbound.weak_algorithms",
                                                         {{"report", false}, {"fail", true}});
            }
            if (n["lf_signatures"]) {
                in.accept_lf_signatures =
                    r.choice<bool>(n["lf_signatures"], "inbound.lf_signatures", {{"accept", true}, {"fail", false}});
            }
            if (n["crl_files"]) {
                in.crl_files = r.strings(n["crl_files"], "inbound.crl_files");
                int i = 0;
                for (const auto& f : in.crl_files) {
                    if (access(f.c_str(), R_OK) != 0) {
                        r.fail(n["crl_files"][i], Reader::index("inbound.crl_files", i),
                               "cannot read " + f + "; give the path of a PEM or DER CRL file");
                    }
                    ++i;
                }
            }
            if (n["harvest_directory"]) {
                in.harvest_directory = r.scalar(n["harvest_directory"], "inbound.harvest_directory");
                if (in.harvest_directory.empty() || in.harvest_directory.front() != '/') {
                    r.fail(n["harvest_directory"], "inbound.harvest_directory",
                           "must be an absolute directory path, e.g. /var/lib/segel/recipients");
                }
            }
            if (const YAML::Node l = n["limits"]) {
                parse_limits(r, l, in.limits);
            }
            if (const YAML::Node t = n["subject_tag"]) {
                r.require_map(
                    t, "inbound.subject_tag",
                    {"enabled", "language", "signed", "invalid", "not_sender", "partial", "unsigned_official"});
                in.subject_tag.enabled = true;
                if (t["enabled"]) {
                    in.subject_tag.enabled = r.boolean(t["enabled"], "inbound.subject_tag.enabled");
                }
                if (t["language"]) {
                    texts = r.choice<const TagTexts*>(t["language"], "inbound.subject_tag.language",
                                                      {{"id", &k_indonesian}, {"en", &k_english}});
                }
                auto text = [&](const char* key, std::string& target) {
                    if (t[key]) {
                        target = r.scalar(t[key], std::string("inbound.subject_tag.") + key);
                        if (target.find_first_of("\r\n") != std::string::npos) {
                            r.fail(t[key], std::string("inbound.subject_tag.") + key, "must be one line");
                        }
                    }
                };
                text("signed", in.subject_tag.signed_text);
                text("invalid", in.subject_tag.invalid_text);
                text("not_sender", in.subject_tag.not_sender_text);
                text("partial", in.subject_tag.partial_text);
                text("unsigned_official", in.subject_tag.unsigned_official_text);
            }
        }
    }
    auto fill = [](std::string& target, const char* fallback) {
        if (target.empty()) {
            target = fallback;
        }
    };
    fill(in.subject_tag.signed_text, texts->signed_text);
    fill(in.subject_tag.invalid_text, texts->invalid_text);
    fill(in.subject_tag.not_sender_text, texts->not_sender_text);
    fill(in.subject_tag.partial_text, texts->partial_text);
    fill(in.subject_tag.unsigned_official_text, texts->unsigned_official_text);
}

}  // namespace segel::config::detail
