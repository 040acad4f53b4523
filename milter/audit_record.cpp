#include "milter/audit_record.h"

#include "audit/error.h"
#include "audit/setup.h"
#include "base/time.h"
#include "milter/incidents.h"
#include "policy/decide.h"
#include "smime/verify.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace segel::milter {

namespace {

audit::Hash hash_of(const std::string& hex) {
    audit::Hash h{};
    if (!audit::from_hex(hex, h)) {
        return audit::Hash{};
    }
    return h;
}

const char* kind_of(const engine::Outcome& o) {
    using engine::Decision;
    switch (o.decision) {
        case Decision::Sign:
            return audit::kind::k_sign;
        case Decision::SignEncrypt:
            return audit::kind::k_sign_encrypt;
        case Decision::Pass:
            return audit::kind::k_pass;
        case Decision::Refuse:
        case Decision::Defer:
            return audit::kind::k_refuse;
        case Decision::Deliver:
        case Decision::Quarantine:
            return o.decryption && o.decryption->result == engine::DecryptionFacts::Result::Decrypted
                       ? audit::kind::k_decrypt
                       : audit::kind::k_verify;
        case Decision::Error:
            return audit::kind::k_internal_error;
        case Decision::None:
            break;
    }
    return nullptr;
}

/** Whether @p reply lets the message through (the record must exist before that answer). */
bool lets_through(const engine::Reply& reply) {
    return reply.kind == engine::Reply::Kind::Continue || reply.kind == engine::Reply::Kind::Accept;
}

std::shared_ptr<const audit::Seal> seal_of(const engine::Gateway& gateway) {
    return audit::load_seal(gateway.settings());
}

}  // namespace

audit::Event incident_event(const policy::Incident& incident, audit::Event base) {
    base.kind = audit::kind::k_incident;
    base.reason_code = incident.kind;  // one of policy::incident: the reports count by it
    base.reasons = {incident.detail};
    if (!incident.login.empty()) {
        base.login = incident.login;
    }
    if (!incident.client.empty()) {
        base.client = incident.client;
    }
    if (!incident.serial.empty()) {
        base.cert_serial = incident.serial;
    }
    base.notes.clear();
    if (!incident.address.empty()) {
        base.notes.push_back("address=" + incident.address);
    }
    return base;
}

std::vector<audit::Event> events_of(const engine::Outcome& o, audit::TimePoint now) {
    const char* kind = kind_of(o);
    if (kind == nullptr) {
        return {};
    }
    audit::Event e;
    e.time = now;
    e.kind = kind;
    e.queue_id = o.queue_id == "NOQUEUE" ? "" : o.queue_id;
    e.direction = o.direction == engine::Direction::Unknown ? "" : engine::to_string(o.direction);
    e.sender = o.mail_from;
    e.login = o.login;
    e.client = o.client_ip;
    e.recipients = o.recipients;
    e.unit = o.unit;
    e.decision = engine::to_string(o.decision);
    e.reasons = o.reasons;
    if (e.reasons.empty() && !o.summary.empty()) {
        e.reasons.push_back(o.summary);
    }
    if (!o.reply_code.empty()) {
        e.reply = o.reply_code + " " + o.reply_xcode + " " + o.reply_text;
    }
    if (!o.reason_code.empty()) {
        e.reason_code = o.reason_code;  // the stable word (docs/refusals.md, "Reason words")
    } else if (!o.reply_code.empty()) {
        e.reason_code = o.reply_code + " " + o.reply_xcode;  // a refusal nobody named: its SMTP code
    } else if (!o.matched_rule.empty()) {
        e.reason_code = o.matched_rule.substr(0, o.matched_rule.find(':'));  // "signing.domains", "signing.systems"
    }
    if (o.certificate) {
        e.cert_serial = o.certificate->serial;
        e.cert_fingerprint = hash_of(o.certificate->fingerprint);
    }
    if (o.verification) {
        const auto& v = *o.verification;
        std::string verdict = smime::to_string(v.result);
        if (!v.identifier.empty()) {
            verdict += " signer=" + v.identifier;
        }
        if (!v.reason.empty()) {
            verdict += " reason=" + v.reason;
        }
        e.verdicts.push_back(verdict);
        if (e.cert_serial.empty()) {
            e.cert_serial = v.serial;
            e.cert_fingerprint = hash_of(v.fingerprint);
        }
        if (!v.action.empty()) {
            e.notes.push_back("action=" + v.action);
        }
    }
    e.content_sha256 = hash_of(o.content_sha256);
    if (o.encryption && o.encryption->encrypted) {
        e.cipher = o.encryption->cipher;
        for (const auto& r : o.recipients) {
            if (std::find(o.encryption->lacking.begin(), o.encryption->lacking.end(), r) ==
                o.encryption->lacking.end()) {
                e.encrypted_for.push_back(r);
            }
        }
    }
    if (o.decryption && o.decryption->result != engine::DecryptionFacts::Result::NotOurs) {
        e.notes.push_back(
            "decryption=" +
            std::string(o.decryption->result == engine::DecryptionFacts::Result::Decrypted ? "decrypted" : "failed") +
            " key=" + o.decryption->key_owner + " serial=" + o.decryption->serial);
    }
    if (o.error) {
        e.error = o.error->what;
        e.notes.push_back("step=" + o.error->step);
        if (o.error->accepted_unchanged) {
            e.notes.push_back("accepted_unchanged");
        }
    }
    if (!o.format.empty()) {
        e.notes.push_back("format=" + o.format);
    }
    if (o.size != 0) {
        e.notes.push_back("size=" + std::to_string(o.size));
    }
    for (const auto& n : o.notes) {
        e.notes.push_back(n);
    }
    e.duration_us = static_cast<std::uint64_t>(std::max(0.0, o.timings.decide_ms + o.timings.process_ms) * 1000.0);
    std::vector<audit::Event> out{e};
    for (const auto& incident : o.incidents) {
        out.push_back(incident_event(incident, e));
    }
    return out;
}

std::vector<std::string> credential_lines(const engine::Gateway& gateway, audit::TimePoint now) {
    std::vector<std::string> out;
    for (const auto& c : gateway.certificates()) {
        std::string addrs;
        for (const auto& a : c.addresses) {
            addrs += (addrs.empty() ? "" : ",") + a;
        }
        // state= last: its value has spaces ("usable, expires in 42 days: renew now").
        out.push_back("serial=" + c.serial + " sha256=" + c.fingerprint + " address=" + addrs +
                      " not_before=" + base::format_date(c.not_before) +
                      " not_after=" + base::format_date(c.not_after) + " state=" + policy::certificate_state(c, now));
    }
    return out;
}

Recorder::Recorder(const engine::Gateway& gateway, const std::string& config_path) {
    open(gateway);
    lifecycle(audit::kind::k_start, gateway, config_path);
}

Recorder::~Recorder() {
    stopped();
}

void Recorder::open(const engine::Gateway& gateway) {
    audit::TrailOptions options = audit::trail_options(gateway.settings(), seal_of(gateway));
    options.report = [](const std::string& what) { spdlog::error("audit: {}", what); };
    auto trail = std::make_shared<audit::Trail>(std::move(options));
    // The last recorded state of each certificate, so a reload records only changes.
    std::map<std::string, std::string> states;
    auto store = audit::SqliteStore::open(gateway.settings().audit.local, gateway.settings().audit.node, false);
    audit::Query q;
    q.kind = audit::kind::k_certificate_state;
    store->find(q, [&](const std::string&, const audit::RowView& row) {
        const audit::Event e = audit::decode(row.data);
        states[audit::to_hex(e.cert_fingerprint)] = e.state;
        return true;
    });
    std::lock_guard lock(m_mutex);
    m_trail = std::move(trail);
    m_settings = gateway.settings().audit;
    m_states = std::move(states);
}

void Recorder::lifecycle(const char* kind, const engine::Gateway& gateway, const std::string& config_path) {
    const auto now = std::chrono::system_clock::now();
    std::vector<audit::Event> events;
    audit::Event e;
    e.time = now;
    e.kind = kind;
    e.config_sha256 = audit::file_sha256(config_path);
    e.credentials = credential_lines(gateway, now);
    e.notes.push_back("config=" + config_path);
    e.notes.push_back("version=segel-milter 0.1.0");
    events.push_back(e);
    for (const auto& c : gateway.certificates()) {
        const std::string state = policy::certificate_state(c, now);
        const auto it = m_states.find(c.fingerprint);
        if ((it == m_states.end() && state == "usable") || (it != m_states.end() && it->second == state)) {
            continue;  // first seen usable, or unchanged: nothing to record
        }
        audit::Event s;
        s.time = now;
        s.kind = audit::kind::k_certificate_state;
        s.cert_serial = c.serial;
        s.cert_fingerprint = hash_of(c.fingerprint);
        s.state = state;
        for (const auto& a : c.addresses) {
            s.notes.push_back("address=" + a);
        }
        s.notes.push_back("was=" + (it == m_states.end() ? std::string("(not recorded)") : it->second));
        m_states[c.fingerprint] = state;
        events.push_back(std::move(s));
    }
    std::shared_ptr<audit::Trail> trail;
    {
        std::lock_guard lock(m_mutex);
        trail = m_trail;
    }
    if (!trail) {
        throw audit::Error(audit::Category::Unavailable, "the audit trail is closed");
    }
    trail->append_all(std::move(events));
}

void Recorder::record_incident(const policy::Incident& incident, audit::TimePoint when, bool now_or_later) noexcept {
    try {
        audit::Event base;
        base.time = when;
        audit::Event e = incident_event(incident, std::move(base));
        if (!now_or_later) {
            std::lock_guard lock(m_pending_mutex);
            if (m_pending.size() < 100) {
                m_pending.push_back(std::move(e));
            }
            return;
        }
        std::shared_ptr<audit::Trail> trail;
        {
            std::lock_guard lock(m_mutex);
            trail = m_trail;
        }
        if (trail) {
            trail->append(std::move(e));
        }
    } catch (const std::exception& e) {
        try {
            spdlog::error("audit: cannot record the {} incident: {}", incident.kind, e.what());
        } catch (...) {
        }
    }
}

std::optional<engine::Reply> Recorder::record(const engine::Outcome& outcome, const engine::Reply& reply) noexcept {
    std::vector<audit::Event> pending;
    try {
        std::vector<audit::Event> events = events_of(outcome, std::chrono::system_clock::now());
        std::shared_ptr<audit::Trail> trail;
        {
            std::lock_guard lock(m_mutex);
            trail = m_trail;
        }
        if (!trail) {
            throw audit::Error(audit::Category::Unavailable, "the audit trail is closed");
        }
        {
            std::lock_guard lock(m_pending_mutex);
            pending.swap(m_pending);
        }
        if (!pending.empty()) {
            events.insert(events.begin(), pending.begin(), pending.end());
        }
        if (!events.empty()) {
            trail->append_all(std::move(events));
        }
        return std::nullopt;
    } catch (const std::exception& e) {
        if (!pending.empty()) {
            std::lock_guard lock(m_pending_mutex);
            m_pending.insert(m_pending.begin(), pending.begin(), pending.end());
            if (m_pending.size() > 100) {
                m_pending.resize(100);
            }
        }
        if (Incidents* i = incidents()) {  // R12: rule 6 (docs/incidents.md)
            const auto found = policy::audit_store_rule(e.what(), outcome.queue_id).incident;
            i->raise(*found, std::chrono::system_clock::now(), false);
        }
        const bool defer = m_settings.on_failure == config::Audit::OnFailure::Tempfail && lets_through(reply);
        try {
            spdlog::error("{}: audit: cannot record the {} decision: {}; {}", outcome.queue_id,
                          engine::to_string(outcome.decision), e.what(),
                          defer                 ? "deferred (audit.on_failure: tempfail)"
                          : lets_through(reply) ? "sent on unrecorded (audit.on_failure: accept)"
                                                : "the refusal stands");
        } catch (...) {
        }
    }
    if (m_settings.on_failure == config::Audit::OnFailure::Tempfail && lets_through(reply)) {
        return engine::Reply::refuse("451", "4.3.0",
                                     "segel: cannot record this message in the audit trail; please try again later");
    }
    return std::nullopt;
}

void Recorder::reloaded(const engine::Gateway& gateway, const std::string& config_path) {
    const config::Audit& a = gateway.settings().audit;
    const config::Audit& old = m_settings;
    const bool same = a.local == old.local && a.node == old.node && a.sync == old.sync &&
                      a.seal.pkcs12 == old.seal.pkcs12 && a.seal.certificate == old.seal.certificate &&
                      a.seal.key == old.seal.key && a.checkpoint_events == old.checkpoint_events &&
                      a.checkpoint_minutes == old.checkpoint_minutes;
    if (!same) {
        std::shared_ptr<audit::Trail> previous;
        {
            std::lock_guard lock(m_mutex);
            previous = m_trail;
        }
        open(gateway);  // throws before anything changed when the new trail cannot be opened
        previous->close();
    } else {
        std::lock_guard lock(m_mutex);
        m_settings = a;
    }
    lifecycle(audit::kind::k_reload, gateway, config_path);
}

std::optional<policy::Incident> Recorder::watch_checkpoints(const config::Incidents& t, audit::TimePoint now) noexcept {
    try {
        std::shared_ptr<audit::Trail> trail;
        int minutes = 0;
        {
            std::lock_guard lock(m_mutex);
            trail = m_trail;
            minutes = m_settings.checkpoint_minutes;
        }
        if (!trail) {
            return std::nullopt;
        }
        const audit::Trail::Stats s = trail->stats();
        if (s.checkpoints != m_seen_checkpoints || s.events < m_seen_events) {
            m_seen_checkpoints = s.checkpoints;  // a checkpoint (with its own record) covers what came before
            m_seen_events = s.events;
            m_waiting_since.reset();
            m_gap_reported = false;
            return std::nullopt;
        }
        if (s.events > m_seen_events && !m_waiting_since) {
            m_waiting_since = now;
        }
        if (m_gap_reported) {
            return std::nullopt;
        }
        const policy::Finding f = policy::checkpoint_rule(t, minutes, std::nullopt, m_waiting_since, {}, now);
        m_gap_reported = f.incident.has_value();
        return f.incident;
    } catch (...) {
        return std::nullopt;
    }
}

void Recorder::stopped() noexcept {
    try {
        std::shared_ptr<audit::Trail> trail;
        {
            std::lock_guard lock(m_mutex);
            trail = std::move(m_trail);
        }
        if (!trail) {
            return;
        }
        audit::Event e;
        e.time = std::chrono::system_clock::now();
        e.kind = audit::kind::k_stop;
        e.notes.push_back("version=segel-milter 0.1.0");
        trail->append(std::move(e));
        trail->close();
    } catch (const std::exception& e) {
        try {
            spdlog::error("audit: stopping the trail: {}", e.what());
        } catch (...) {
        }
    }
}

namespace {
std::unique_ptr<Recorder>& holder() {
    static std::unique_ptr<Recorder> r;
    return r;
}
}  // namespace

Recorder* recorder() {
    return holder().get();
}

void set_recorder(std::unique_ptr<Recorder> r) {
    holder() = std::move(r);
}

}  // namespace segel::milter
