#include "engine/outcome_format.h"

#include "base/json.h"
#include "base/text.h"
#include "base/time.h"

#include <cstdio>

namespace segel::engine {

const char* to_string(Direction d) {
    switch (d) {
        case Direction::Unknown:
            return "unknown";
        case Direction::Outbound:
            return "outbound";
        case Direction::Inbound:
            return "inbound";
    }
    return "unknown";
}

const char* to_string(Decision d) {
    switch (d) {
        case Decision::None:
            return "none";
        case Decision::Sign:
            return "sign";
        case Decision::SignEncrypt:
            return "encrypt";
        case Decision::Pass:
            return "pass";
        case Decision::Refuse:
            return "reject";
        case Decision::Defer:
            return "defer";
        case Decision::Deliver:
            return "verify";
        case Decision::Quarantine:
            return "quarantine";
        case Decision::Error:
            return "error";
    }
    return "none";
}

namespace {

const char* decryption_word(DecryptionFacts::Result r) {
    switch (r) {
        case DecryptionFacts::Result::NotOurs:
            return "not-ours";
        case DecryptionFacts::Result::Decrypted:
            return "decrypted";
        case DecryptionFacts::Result::Failed:
            return "failed";
    }
    return "failed";
}

std::string ms(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

class Line {
public:
    explicit Line(std::string word) : m_text(std::move(word)) {}
    Line& kv(const char* key, std::string_view value) {
        m_text += ' ';
        m_text += key;
        m_text += '=';
        base::append_kv_value(m_text, value);
        return *this;
    }
    Line& kv_if(const char* key, std::string_view value) { return value.empty() ? *this : kv(key, value); }
    [[nodiscard]] std::string str() const { return m_text; }

private:
    std::string m_text;
};

std::string angle(const std::string& a) {
    return "<" + a + ">";
}

std::string reply_of(const Outcome& o) {
    return o.reply_code + " " + o.reply_xcode + " " + o.reply_text;
}

std::string decision_line(const Outcome& o) {
    const double total = o.timings.decide_ms + o.timings.process_ms;
    Line l(to_string(o.decision));
    if (o.decision == Decision::Deliver || o.decision == Decision::Quarantine ||
        (o.direction == Direction::Inbound && o.verification && o.decision == Decision::Refuse)) {
        const VerificationFacts* v = o.verification ? &*o.verification : nullptr;
        l.kv("smime", v != nullptr ? smime::to_string(v->result) : "none");
        if (v != nullptr) {
            l.kv_if("signer", v->identifier)
                .kv_if("sealed_for", v->sealed_for)
                .kv_if("serial", v->serial)
                .kv_if("digest", v->digest)
                .kv_if("part", v->part);
            if (v->time_stamp) {
                l.kv("timestamp", base::format_time(*v->time_stamp));
            }
        }
        l.kv("from", angle(o.mail_from)).kv("client", o.client_ip);
        if (v != nullptr) {
            l.kv("action", v->action);
            if (v->forged_results_removed > 0) {
                l.kv("removed_forged_ar", std::to_string(v->forged_results_removed));
            }
            l.kv_if("harvested", v->harvested);
            if (v->revocation) {  // the evidence in words is in the reason
                l.kv("revocation", v->revocation->status).kv_if("revocation_source", v->revocation->source);
            }
        }
        if (o.decryption) {
            l.kv("decrypt", decryption_word(o.decryption->result)).kv_if("key_owner", o.decryption->key_owner);
        }
        l.kv_if("sha256", o.content_sha256);
        if (o.decision == Decision::Refuse) {
            l.kv("reply", reply_of(o));
        }
        l.kv("reason", v != nullptr ? v->reason : (o.decryption ? o.decryption->detail : std::string("not verified")));
        l.kv("ms", ms(total));
        return l.str();
    }
    l.kv("from", angle(o.mail_from)).kv("login", o.login).kv("client", o.client_ip);
    switch (o.decision) {
        case Decision::Sign:
        case Decision::SignEncrypt:
            l.kv("signer", o.signer).kv_if("sealed_by", o.sealed_by);
            if (o.certificate) {
                l.kv("cert", o.certificate->serial).kv("key", o.certificate->key_store);
                l.kv_if("revocation", o.revocation ? o.revocation->evidence : std::string());
                l.kv_if("compatibility", o.certificate->compatibility);
            }
            if (o.decision == Decision::SignEncrypt && o.encryption) {
                l.kv("cipher", o.encryption->cipher).kv("certificates", std::to_string(o.encryption->certificates));
            } else {
                l.kv("format", o.format);
            }
            if (o.time_stamp) {
                l.kv("timestamp", o.time_stamp->stamped
                                      ? o.time_stamp->authority + "@" + base::format_time(o.time_stamp->time)
                                      : std::string("none"));
            }
            l.kv("size", std::to_string(o.size)).kv("reencoded", std::to_string(o.reencoded));
            l.kv_if("sha256", o.content_sha256);
            if (o.encryption && o.encryption->considered) {
                l.kv("encryption", o.encryption->summary);
            }
            l.kv("ms", ms(total));
            break;
        case Decision::Refuse:
        case Decision::Defer:
            l.kv("reply", reply_of(o)).kv("reason", o.reply_text);
            if (o.revocation) {  // refused or deferred for the signing certificate's revocation state (R6)
                l.kv("cert", o.revocation->serial).kv("revocation", o.revocation->evidence);
            }
            break;
        case Decision::Error:
            if (o.error) {
                l.kv("step", o.error->step).kv("action", o.error->accepted_unchanged ? "accept" : "defer");
            }
            break;
        default:
            l.kv("reason", o.summary);
            break;
    }
    return l.str();
}

}  // namespace

std::string incident_line(const policy::Incident& i) {
    return Line("incident")
        .kv("kind", i.kind)
        .kv_if("login", i.login)
        .kv_if("address", i.address.empty() ? "" : angle(i.address))
        .kv_if("client", i.client)
        .kv_if("serial", i.serial)
        .kv("detail", i.detail)
        .str();
}

std::vector<LogLine> log_lines(const Outcome& o) {
    std::vector<LogLine> out;
    if (o.decision == Decision::None) {
        return out;
    }
    out.push_back({o.decision == Decision::Error ? LogLine::Level::Error : LogLine::Level::Info, decision_line(o)});
    if (o.error) {
        out.push_back({LogLine::Level::Error, o.error->step + ": internal error: " + o.error->what});
    }
    for (const auto& n : o.notes) {
        out.push_back({LogLine::Level::Warning, n});
    }
    for (const auto& i : o.incidents) {
        out.push_back({LogLine::Level::Warning, incident_line(i)});
    }
    if (o.decryption && o.decryption->result == DecryptionFacts::Result::Failed) {
        out.push_back({LogLine::Level::Warning,
                       Line("decrypt failed").kv("from", angle(o.mail_from)).kv("reason", o.decryption->detail).str() +
                           " (delivered as it arrived)"});
    }
    if (o.verification && !o.verification->harvest_note.empty()) {
        out.push_back({LogLine::Level::Warning, "certificate not stored: " + o.verification->harvest_note});
    }
    return out;
}

namespace {

void revocation_json(base::JsonWriter& w, const RevocationEvidence& r) {
    w.begin_object();
    w.field("serial", r.serial).field("status", r.status).field("reason", r.reason);
    w.key("revoked_at");
    if (r.revoked_at) {
        w.value(base::format_time(*r.revoked_at));
    } else {
        w.null();
    }
    w.field("source", r.source).field("url", r.url).field("evidence", r.evidence);
    w.end_object();
}

}  // namespace

std::string to_json(const Outcome& o, bool timings) {
    base::JsonWriter w;
    w.begin_object();
    w.field("queue_id", o.queue_id);
    w.field("direction", to_string(o.direction));
    w.field("decision", to_string(o.decision));
    if (!o.reply_code.empty()) {
        w.key("reply").begin_object();
        w.field("code", o.reply_code).field("xcode", o.reply_xcode).field("text", o.reply_text);
        w.end_object();
    }
    if (!o.reason_code.empty()) {
        w.field("reason_code", o.reason_code);
    }
    w.field("summary", o.summary);
    w.field("reasons", o.reasons);
    w.field("client_ip", o.client_ip).field("client_name", o.client_name).field("login", o.login);
    w.field("mail_from", o.mail_from).field("recipients", o.recipients).field("header_from", o.header_from);
    w.field("signer", o.signer).field("matched_rule", o.matched_rule).field("unit", o.unit);
    if (!o.sealed_by.empty()) {
        w.field("sealed_by", o.sealed_by);
    }
    if (o.certificate) {
        w.key("certificate").begin_object();
        w.field("serial", o.certificate->serial).field("fingerprint", o.certificate->fingerprint);
        w.field("subject", o.certificate->subject).field("source", o.certificate->source);
        w.field("key_store", o.certificate->key_store);
        w.field("not_after", base::format_time(o.certificate->not_after));
        w.field("compatibility", o.certificate->compatibility);
        w.end_object();
    }
    if (o.revocation) {
        w.key("revocation");
        revocation_json(w, *o.revocation);
    }
    if (!o.format.empty()) {
        w.field("format", o.format).field("reencoded", o.reencoded);
    }
    if (o.time_stamp) {
        const auto& t = *o.time_stamp;
        w.key("time_stamp").begin_object();
        w.field("stamped", t.stamped).field("authority", t.authority).field("tsa", t.tsa);
        if (t.stamped) {
            w.field("time", base::format_time(t.time)).field("serial", t.serial);
        }
        w.field("failures", t.failures);
        w.end_object();
    }
    if (o.encryption) {
        const auto& e = *o.encryption;
        w.key("encryption").begin_object();
        w.field("considered", e.considered).field("encrypted", e.encrypted).field("required", e.required);
        w.field("triggered", e.triggered).field("cipher", e.cipher);
        w.field("certificates", static_cast<std::uint64_t>(e.certificates)).field("lacking", e.lacking);
        w.field("summary", e.summary);
        w.end_object();
    }
    if (o.decryption) {
        const auto& d = *o.decryption;
        w.key("decryption").begin_object();
        w.field("result", decryption_word(d.result)).field("detail", d.detail).field("key_owner", d.key_owner);
        w.field("serial", d.serial).field("smime_type", d.smime_type).field("cipher", d.cipher);
        w.end_object();
    }
    if (o.verification) {
        const auto& v = *o.verification;
        w.key("verification").begin_object();
        w.field("result", smime::to_string(v.result)).field("reason", v.reason).field("identifier", v.identifier);
        w.field("signer_name", v.signer_name).field("serial", v.serial).field("fingerprint", v.fingerprint);
        w.field("issuer", v.issuer).field("digest", v.digest);
        w.key("signing_time");
        if (v.signing_time) {
            w.value(base::format_time(*v.signing_time));
        } else {
            w.null();
        }
        w.field("partially_signed", v.partially_signed).field("part", v.part).field("weaknesses", v.weaknesses);
        w.field("action", v.action)
            .field("forged_results_removed", static_cast<std::uint64_t>(v.forged_results_removed));
        w.field("harvested", v.harvested).field("harvest_note", v.harvest_note);
        w.field("sealed_for", v.sealed_for);
        w.key("time_stamp");
        if (v.time_stamp) {
            w.begin_object().field("time", base::format_time(*v.time_stamp)).field("tsa", v.time_stamp_tsa);
            w.end_object();
        } else if (!v.time_stamp_error.empty()) {
            w.begin_object().field("error", v.time_stamp_error).end_object();
        } else {
            w.null();
        }
        if (v.revocation) {
            w.key("revocation");
            revocation_json(w, *v.revocation);
        }
        w.end_object();
    }
    w.field("content_sha256", o.content_sha256);
    w.field("size", static_cast<std::uint64_t>(o.size));
    w.key("incidents").begin_array();
    for (const auto& i : o.incidents) {
        w.begin_object().field("kind", i.kind).field("login", i.login).field("address", i.address);
        w.field("client", i.client).field("serial", i.serial).field("detail", i.detail).end_object();
    }
    w.end_array();
    w.field("notes", o.notes);
    if (o.error) {
        w.key("error").begin_object();
        w.field("step", o.error->step).field("what", o.error->what);
        w.field("accepted_unchanged", o.error->accepted_unchanged);
        w.end_object();
    }
    if (timings) {
        w.key("timings").begin_object();
        w.field("decide_ms", o.timings.decide_ms).field("process_ms", o.timings.process_ms);
        w.end_object();
    }
    w.end_object();
    return w.str() + "\n";
}

}  // namespace segel::engine
