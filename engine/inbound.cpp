#include "engine/inbound.h"

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

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/** CRLs read once and re-read when the file changes (so a CRL update needs no reload). */
class CrlCache {
public:
    std::vector<X509_CRL*> get(const std::vector<std::string>& files) {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<X509_CRL*> out;
        for (const auto& f : files) {
            struct stat st {};
            if (::stat(f.c_str(), &st) != 0) {
                throw smime::Error(smime::Category::Credential,
                                   "cannot read CRL file " + f + ": " + std::strerror(errno));
            }
            Entry& e = m_entries[f];
            if (!e.crls || e.mtime != st.st_mtim.tv_sec || e.mtime_ns != st.st_mtim.tv_nsec || e.size != st.st_size) {
                auto fresh = std::make_shared<std::vector<smime::ossl::Ptr<X509_CRL>>>(smime::load_crls(f));
                e.crls = fresh;
                e.mtime = st.st_mtim.tv_sec;
                e.mtime_ns = st.st_mtim.tv_nsec;
                e.size = st.st_size;
                m_keep.push_back(std::move(fresh));  // older readers may still hold the previous pointers
            }
            for (const auto& c : *e.crls) {
                out.push_back(c.get());
            }
        }
        return out;
    }

private:
    struct Entry {
        std::shared_ptr<std::vector<smime::ossl::Ptr<X509_CRL>>> crls;
        time_t mtime = 0;
        long mtime_ns = 0;
        off_t size = 0;
    };
    std::mutex m_mutex;
    std::map<std::string, Entry> m_entries;
    std::vector<std::shared_ptr<std::vector<smime::ossl::Ptr<X509_CRL>>>> m_keep;
};

CrlCache& crl_cache() {
    static CrlCache cache;
    return cache;
}

std::string header_text(const std::string& utf8) {
    return smime::mime::encode_header_text(utf8);
}

std::string decode_header_text(const std::string& raw) {
    return smime::mime::decode_header_text(raw);
}

/** Removes every occurrence of a tag pattern ("[Signed: {name}]": any name) from @p text. */
bool remove_tag(std::string& text, const std::string& pattern) {
    if (pattern.empty()) {
        return false;
    }
    const std::size_t ph = pattern.find("{name}");
    const std::string prefix = ph == std::string::npos ? pattern : pattern.substr(0, ph);
    const std::string suffix = ph == std::string::npos ? "" : pattern.substr(ph + 6);
    bool changed = false;
    std::size_t pos = 0;
    while (!prefix.empty() && (pos = text.find(prefix, pos)) != std::string::npos) {
        std::size_t end = pos + prefix.size();
        if (ph != std::string::npos) {
            const std::size_t s = suffix.empty() ? text.find(' ', end) : text.find(suffix, end);
            end = s == std::string::npos ? text.size() : s + suffix.size();
        }
        while (end < text.size() && text[end] == ' ') {
            ++end;
        }
        text.erase(pos, end - pos);
        changed = true;
    }
    return changed;
}

std::string tag_for(const smime::VerifyResult& r, const config::Inbound::SubjectTag& t) {
    switch (r.result) {
        case Result::Pass: {
            std::string name = !r.signer_name.empty() ? r.signer_name : r.identifier;
            std::string tag = t.signed_text;
            const std::size_t ph = tag.find("{name}");
            if (ph != std::string::npos) {
                tag.replace(ph, 6, name);
            }
            return tag;
        }
        case Result::Policy:
            return t.not_sender_text;
        case Result::Fail:
        case Result::PermError:
            return t.invalid_text;
        case Result::Neutral:
            return r.partially_signed ? t.partial_text : "";
        case Result::None:
        case Result::TempError:
            return "";
    }
    return "";
}

/** The first raw Subject value of a message head (without the leading space). */
std::optional<std::string> raw_subject(const std::vector<RawHeader>& head) {
    for (const auto& h : head) {
        if (strcasecmp(h.name.c_str(), "Subject") == 0) {
            std::string v = h.value;
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
                v.erase(0, 1);
            }
            return v;
        }
    }
    return std::nullopt;
}

bool safe_file_name(const std::string& address) {
    return !address.empty() && address.front() != '.' && address.find('/') == std::string::npos &&
           address.find('\0') == std::string::npos && address.find("..") == std::string::npos &&
           address.find('@') != std::string::npos;
}

}  // namespace

smime::VerifyOptions verify_options(const config::Settings& settings, TimePoint now) {
    const auto& in = settings.inbound;
    smime::VerifyOptions o;
    o.now = now;
    o.certificate_time = in.certificate_time == config::Inbound::CertificateTime::SigningTime
                             ? smime::CertificateTime::SigningTime
                             : smime::CertificateTime::Arrival;
    o.weak = in.weak_algorithms_fail ? smime::WeakAlgorithms::Fail : smime::WeakAlgorithms::Report;
    o.lf_fallback = in.accept_lf_signatures;
    if (!in.crl_files.empty()) {
        o.crls = crl_cache().get(in.crl_files);
    }
    return o;
}

std::vector<std::pair<std::string, int>> forged_results(std::string_view message, const std::string& authserv_id) {
    std::vector<std::pair<std::string, int>> out;
    std::map<std::string, int> count;
    for (const auto& h : split_head(message)) {
        const int index = ++count[lower(h.name)];
        if (strcasecmp(h.name.c_str(), "Authentication-Results") == 0 && smime::authres::claims(h.value, authserv_id)) {
            out.emplace_back(h.name, index);
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
        if (!safe_file_name(address)) {
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

InboundEdits inbound(const Gateway& gateway, const policy::Envelope& env, const smime::Blob& message, TimePoint now,
                     const std::string& not_verified) {
    const config::Settings& s = gateway.settings();
    const config::Inbound& in = s.inbound;
    InboundEdits e;
    const std::string_view bytes = message.view();
    const std::vector<RawHeader> head = split_head(bytes);

    // RFC 8601 §5: fields claiming our authserv-id did not come from us; remove them first.
    e.remove = forged_results(bytes, in.authserv_id);

    smime::VerifyOptions options;
    try {
        options = verify_options(s, now);
    } catch (const smime::Error& err) {
        e.result.result = Result::TempError;
        e.result.problem = Problem::Internal;
        e.result.reason = std::string("revocation data unavailable: ") + err.what();
    }
    for (const auto& a : env.header_from) {
        options.from.push_back(a);
    }
    if (!not_verified.empty()) {
        e.result.result = Result::TempError;
        e.result.problem = Problem::Internal;
        e.result.reason = not_verified;
    }
    if (e.result.result != Result::TempError) {
        e.result = smime::verify(message, gateway.trust(), options);
    }
    const smime::VerifyResult& r = e.result;
    e.add.push_back({"Authentication-Results", smime::authres::format(in.authserv_id, r)});

    // Government sender protection (R12): an official From arriving from outside needs a valid signature.
    std::string official;
    for (const auto& a : env.header_from) {
        if (policy::official_rule(s, policy::normalize_address(a)) != nullptr) {
            official = policy::normalize_address(a);
            break;
        }
    }
    std::string tag = in.subject_tag.enabled ? tag_for(r, in.subject_tag) : "";
    std::string action = "deliver";
    if (!official.empty() && r.result != Result::Pass) {
        e.incident = "official sender <" + official + "> from outside (client " + env.client_ip +
                     ") without a valid signature: smime=" + smime::to_string(r.result) + " (" + r.reason + ")";
        switch (in.sender_protection) {
            case config::Inbound::SenderProtection::Tag:
                if (tag.empty()) {
                    tag = r.result == Result::None || r.result == Result::TempError
                              ? in.subject_tag.unsigned_official_text
                          : r.result == Result::Policy ? in.subject_tag.not_sender_text
                                                       : in.subject_tag.invalid_text;
                }
                action = "tag";
                break;
            case config::Inbound::SenderProtection::Quarantine:
                e.disposition = InboundEdits::Disposition::Quarantine;
                e.reply_text = "segel: official sender " + official +
                               " without a valid signature (smime=" + smime::to_string(r.result) + ")";
                action = "quarantine";
                break;
            case config::Inbound::SenderProtection::Reject:
                e.disposition = InboundEdits::Disposition::Reject;
                e.reply_code = "550";
                e.reply_xcode = "5.7.1";
                e.reply_text = "message claims to be from " + official +
                               " but carries no valid S/MIME signature of that sender (" + r.reason + ")";
                action = "reject";
                break;
        }
    }
    if (in.subject_tag.enabled || !tag.empty()) {
        e.new_subject = tag_subject(raw_subject(head), tag, in.subject_tag);
    }

    // Keep the certificate of a trusted signer for the encryption path: only
    // from a whole-message good signature that chains to our anchors.
    const bool harvestable =
        (r.result == Result::Pass || (r.result == Result::Policy && r.problem == Problem::SignerNotSender)) &&
        r.signature_valid && r.chain_trusted && !r.partially_signed && r.weaknesses.empty() && r.signer_cert != nullptr;
    if (!in.harvest_directory.empty() && harvestable && e.disposition == InboundEdits::Disposition::Deliver) {
        try {
            const auto files = harvest(in.harvest_directory, r.signer_cert.get(), now);
            for (const auto& f : files) {
                e.harvested += (e.harvested.empty() ? "" : ",") + f;
            }
        } catch (const smime::Error& err) {
            e.harvest_note = err.what();
        }
    }

    e.summary = std::string("verify smime=") + smime::to_string(r.result) +
                (r.identifier.empty() ? "" : " signer=" + r.identifier) +
                (r.serial.empty() ? "" : " serial=" + r.serial) + (r.digest.empty() ? "" : " digest=" + r.digest) +
                (r.part.empty() ? "" : " part=" + r.part) + " from=<" + env.mail_from + "> client=" + env.client_ip +
                " action=" + action +
                (e.remove.empty() ? "" : " removed_forged_ar=" + std::to_string(e.remove.size())) +
                (e.harvested.empty() ? "" : " harvested=" + e.harvested) + " reason=\"" + r.reason + "\"";
    return e;
}

}  // namespace segel::engine
