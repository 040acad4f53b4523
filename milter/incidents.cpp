#include "milter/incidents.h"

#include "audit/event.h"
#include "audit/setup.h"
#include "audit/sqlite_store.h"
#include "base/address.h"
#include "base/time.h"
#include "engine/outcome_format.h"
#include "milter/audit_record.h"
#include "milter/log.h"
#include "milter/metrics.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace segel::milter {

namespace {

/** What the recipient of the mail should do about each kind (docs/incidents.md). */
std::string advice(const std::string& kind) {
    namespace k = policy::incident;
    if (kind == k::k_forged_official_sender) {
        return "Mail from outside claimed an official sender of this region without a valid signature.\n"
               "Warn the recipients; check the sending host; the message was handled per inbound.sender_protection.";
    }
    if (kind == k::k_invalid_signature) {
        return "A signature claiming a government signer does not verify: the message was changed or forged.";
    }
    if (kind == k::k_revoked_signer) {
        return "Mail was signed with a revoked government certificate: the key may be in someone else's hands.";
    }
    if (kind == k::k_sign_revoked) {
        return "Someone tried to sign with a revoked certificate. Check that the owner has a new one, and who\n"
               "is using this login.";
    }
    if (kind == k::k_sign_expired) {
        return "Someone tried to sign with an expired certificate: the owner needs a renewed one from BSrE.";
    }
    if (kind == k::k_send_as_repeated) {
        return "This login was refused repeatedly while sending as others: a misconfigured client or an\n"
               "attempt to sign as someone else.";
    }
    if (kind == k::k_volume_anomaly || kind == k::k_client_anomaly) {
        return "This login signs far more, or from more networks, than its own history: its password may be\n"
               "stolen and used for signed spam. Consider locking the account and changing the password.";
    }
    if (kind == k::k_audit_store_failure) {
        return "The audit trail could not be written; mail is deferred (audit.on_failure: tempfail) until it can.";
    }
    return "The audit trail has a gap between checkpoints: run `segelctl audit verify` and look for tampering.";
}

std::unique_ptr<Incidents>& holder() {
    static std::unique_ptr<Incidents> i;
    return i;
}

}  // namespace

Incidents* incidents() {
    return holder().get();
}

void set_incidents(std::unique_ptr<Incidents> i) {
    holder() = std::move(i);
}

Incidents::Incidents(const engine::Gateway& gateway)
    : m_mailer(make_mailer(gateway)),
      m_notify(gateway.settings().incidents.notify),
      m_node(gateway.settings().audit.node) {}

std::unique_ptr<services::IncidentMailer> Incidents::make_mailer(const engine::Gateway& gateway) {
    const config::Settings& s = gateway.settings();
    if (!s.incidents.notify.enabled) {
        return nullptr;
    }
    std::shared_ptr<const audit::Seal> seal = audit::load_seal(s);
    services::IncidentMailer::Options o;
    o.relay = s.incidents.notify.relay;
    o.from = s.incidents.notify.from;
    if (o.from.empty() && !seal->credential.info.addresses.empty()) {
        o.from = seal->credential.info.addresses.front();
    }
    if (o.from.find('@') == std::string::npos) {
        throw std::runtime_error(
            "incidents.notify: the mail needs a sender: set incidents.notify.from (the seal certificate has no "
            "address)");
    }
    o.period = s.incidents.notify.period;
    o.queue = s.incidents.notify.queue;
    o.seal = &seal->credential;
    o.chain = &seal->chain;
    o.seal_owner = seal;
    o.report = [](const std::string& result, const services::IncidentNotice& n, const std::string& detail) {
        metrics().incident_mail(result);
        const auto level = result == "sent" ? spdlog::level::info : spdlog::level::warn;
        std::string to;
        for (const auto& t : n.to) {
            to += (to.empty() ? "" : ",") + t;
        }
        spdlog::log(
            level, "incident mail {}",
            log::fields({{"result", result}, {"kind", n.kind}, {"login", n.login}, {"to", to}, {"detail", detail}}));
    };
    return std::make_unique<services::IncidentMailer>(std::move(o));
}

void Incidents::stop() noexcept {
    std::shared_ptr<services::IncidentMailer> old;
    {
        std::lock_guard lock(m_mutex);
        old = std::move(m_mailer);
        m_stopped = true;
    }
    old.reset();  // joins the worker outside the lock
}

void Incidents::reconfigure(const engine::Gateway& gateway) {
    const auto& fresh = gateway.settings().incidents.notify;
    std::shared_ptr<services::IncidentMailer> old;
    {
        std::lock_guard lock(m_mutex);
        const bool same = fresh.enabled == m_notify.enabled && fresh.relay == m_notify.relay &&
                          fresh.from == m_notify.from && fresh.period == m_notify.period &&
                          fresh.queue == m_notify.queue;
        if (same || m_stopped) {
            m_notify = fresh;
            return;
        }
    }
    std::shared_ptr<services::IncidentMailer> mailer = make_mailer(gateway);  // throws: the reload fails
    std::lock_guard lock(m_mutex);
    m_notify = fresh;
    old = std::move(m_mailer);
    m_mailer = std::move(mailer);
}

std::vector<policy::Incident> Incidents::rebuild(const engine::Gateway& gateway, TimePoint now) {
    const config::Settings& s = gateway.settings();
    std::vector<policy::Incident> found;
    if (!s.audit.enabled || ::access(s.audit.local.c_str(), F_OK) != 0) {
        return found;
    }
    auto store = audit::SqliteStore::open(s.audit.local, s.audit.node, false, audit::Sync::Normal, true);
    // The windows: the last incidents.volume.history of sign and refuse events, in order.
    audit::Query q;
    q.since_us = audit::to_micros(std::max(now - s.incidents.volume.history, TimePoint{}));
    std::size_t replayed = 0;
    store->find(q, [&](const std::string&, const audit::RowView& row) {
        const std::string_view kind = row.text[0];
        if (kind != audit::kind::k_sign && kind != audit::kind::k_sign_encrypt && kind != audit::kind::k_refuse) {
            return true;
        }
        const audit::Event e = audit::decode(row.data);
        const bool send_as = e.kind == audit::kind::k_refuse && policy::is_send_as_refusal(e.reason_code);
        m_monitor.replay(s.incidents, e.kind, send_as, e.login, e.client, e.time);
        ++replayed;
        return true;
    });
    // Rule 7: checkpoints in sequence, and no event waiting too long for one.
    const std::string node = store->node();
    std::vector<std::uint64_t> sequences;
    std::optional<TimePoint> last;
    std::uint64_t covered = 0;
    for (const auto& c : store->checkpoints(node)) {
        sequences.push_back(c.sequence);
        last = audit::from_micros(c.time_us);
        covered = std::max(covered, c.size);
    }
    std::optional<TimePoint> first_uncovered;
    if (covered < store->size(node)) {
        store->scan(node, covered, covered + 1, [&](const audit::RowView& row) {
            first_uncovered = audit::from_micros(row.time_us);
            return false;
        });
    }
    const policy::Finding f =
        policy::checkpoint_rule(s.incidents, s.audit.checkpoint_minutes, last, first_uncovered, sequences, now);
    if (f.incident) {
        found.push_back(*f.incident);
    }
    spdlog::info("incidents {}", log::fields({{"replayed", std::to_string(replayed)},
                                              {"logins", std::to_string(m_monitor.logins())},
                                              {"checkpoints", std::to_string(sequences.size())}}));
    return found;
}

void Incidents::detect(const config::Incidents& t, engine::Outcome& outcome, TimePoint now) noexcept {
    try {
        for (auto& i : m_monitor.observe(t, outcome, now)) {
            outcome.incidents.push_back(std::move(i));
        }
    } catch (...) {
        // detection never fails a message
    }
}

void Incidents::notify(const engine::Outcome& outcome, TimePoint now) noexcept {
    try {
        for (const auto& i : outcome.incidents) {
            mail(i, outcome.unit, outcome.queue_id, now);
        }
    } catch (...) {
    }
}

void Incidents::raise(const policy::Incident& incident, TimePoint now, bool record) noexcept {
    try {
        spdlog::warn("{}", engine::incident_line(incident));
        metrics().incident(incident.kind);
        if (Recorder* r = recorder()) {
            r->record_incident(incident, now, record);
        }
        mail(incident, "", "", now);
    } catch (...) {
    }
}

void Incidents::mail(const policy::Incident& i, const std::string& unit, const std::string& queue_id, TimePoint now) {
    std::shared_ptr<services::IncidentMailer> mailer;
    services::IncidentNotice n;
    {
        std::lock_guard lock(m_mutex);
        mailer = m_mailer;
        if (!mailer) {
            return;
        }
        n.to = m_notify.csirt;
        n.to.insert(n.to.end(), m_notify.administrators.begin(), m_notify.administrators.end());
        const std::string domain = !unit.empty() ? unit : base::domain_of(i.address);
        for (const auto& d : m_notify.domains) {
            if (!domain.empty() && base::domain_matches(domain, d.domain, d.subdomains)) {
                n.to.insert(n.to.end(), d.to.begin(), d.to.end());
            }
        }
    }
    std::sort(n.to.begin(), n.to.end());
    n.to.erase(std::unique(n.to.begin(), n.to.end()), n.to.end());
    if (n.to.empty()) {
        return;
    }
    n.kind = i.kind;
    n.login = i.login;
    n.subject = "[segel incident] " + i.kind + (i.login.empty() ? "" : ": login " + i.login) +
                (i.address.empty() ? "" : " <" + i.address + ">");
    auto line = [&n](const char* key, const std::string& v) {
        if (!v.empty()) {
            n.text += std::string(key) + ": " + v + "\n";
        }
    };
    n.text = "The segel mail gateway recorded a security incident (R12).\n\n";
    line("Kind", i.kind);
    line("Time", base::format_time(now));
    line("Node", m_node);
    line("Unit", unit);
    line("Login", i.login);
    line("Address", i.address);
    line("Client", i.client);
    line("Certificate", i.serial);
    line("Queue id", queue_id);
    line("Detail", i.detail);
    n.text += "\n" + advice(i.kind) + "\n\nThe incident is in the audit trail (kind incident, reason_code " + i.kind +
              "):\n    segelctl incidents --kind " + i.kind +
              " --since 1d\n\n"
              "This mail is signed with the gateway seal (S/MIME); an unsigned copy is not from segel.\n";
    mailer->submit(std::move(n), now);
}

}  // namespace segel::milter
