#include "engine/incidents.h"

#include <algorithm>
#include <cmath>

namespace segel::engine {

namespace {

using Seconds = std::chrono::seconds;

/** @p t rounded down to a multiple of @p step since the epoch (windows line up across restarts). */
IncidentMonitor::TimePoint floor_to(IncidentMonitor::TimePoint t, Seconds step) {
    const auto s = std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
    const auto k = step.count() > 0 ? step.count() : 1;
    return IncidentMonitor::TimePoint(Seconds(s - ((s % k) + k) % k));
}

/**
 * Moves a window that started at @p start forward to the one holding @p now,
 * folding the closed window's @p value into @p baseline (weight step/history)
 * and decaying it for each empty window after it. @return whether it moved
 */
bool roll(IncidentMonitor::TimePoint& start, IncidentMonitor::TimePoint now, Seconds step, Seconds history,
          double value, double& baseline) {
    const IncidentMonitor::TimePoint current = floor_to(now, step);
    if (start == IncidentMonitor::TimePoint{}) {
        start = current;
        return false;
    }
    if (current <= start) {
        return false;  // the same window, or an event older than it (replay order, a clock step back)
    }
    const double a = std::clamp(static_cast<double>(step.count()) / static_cast<double>(history.count()), 0.0, 1.0);
    const auto windows = (current - start) / step;
    baseline = baseline * (1 - a) + a * value;
    if (windows > 1) {
        baseline *= std::pow(1 - a, static_cast<double>(windows - 1));
    }
    start = current;
    return true;
}

constexpr std::size_t k_max_networks = 256;

}  // namespace

bool IncidentMonitor::send_as_refusal(const Outcome& o) {
    return o.decision == Decision::Refuse && !o.login.empty() && policy::is_send_as_refusal(o.reason_code);
}

IncidentMonitor::Login& IncidentMonitor::login(const config::Incidents& t, const std::string& name) {
    auto it = m_logins.find(name);
    if (it != m_logins.end()) {
        m_order.splice(m_order.begin(), m_order, it->second.lru);
        return it->second;
    }
    while (!m_order.empty() && m_logins.size() >= std::max<std::size_t>(t.max_logins, 1)) {
        m_logins.erase(m_order.back());  // the least recently seen login's history goes first
        m_order.pop_back();
    }
    m_order.push_front(name);
    Login& l = m_logins[name];
    l.lru = m_order.begin();
    return l;
}

std::vector<policy::Incident> IncidentMonitor::count(const config::Incidents& t, const std::string& kind, bool send_as,
                                                     const std::string& name, const std::string& client,
                                                     const std::string& address, TimePoint now) {
    std::vector<policy::Incident> out;
    if (name.empty()) {
        return out;
    }
    std::lock_guard lock(m_mutex);
    Login& l = login(t, name);
    // Rule 4: send-as refusals within send_as.within (one more than the threshold is kept, so
    // the rule fires once per burst).
    if (send_as) {
        while (!l.refusals.empty() && now - l.refusals.front() >= t.send_as.within) {
            l.refusals.pop_front();
        }
        l.refusals.push_back(now);
        while (l.refusals.size() > t.send_as.refusals + 1) {
            l.refusals.pop_front();
        }
        if (auto i = policy::send_as_rule(t, l.refusals.size(), name, address, client).incident) {
            out.push_back(std::move(*i));
        }
    }
    // Rule 5a: signed messages this hour against the login's own baseline.
    if (kind == "sign" || kind == "sign+encrypt") {
        if (roll(l.hour, now, std::chrono::hours(1), t.volume.history, static_cast<double>(l.signed_this_hour),
                 l.baseline)) {
            l.signed_this_hour = 0;
        }
        ++l.signed_this_hour;
        // The rule's words are built only when it fires (they were ≈ 7 K instructions per signed message).
        if (policy::volume_fires(t, l.signed_this_hour, l.baseline)) {
            if (auto i = policy::volume_rule(t, l.signed_this_hour, l.baseline, name, client).incident) {
                out.push_back(std::move(*i));
            }
        }
    }
    // Rule 5b: distinct client networks this window against the login's own baseline.
    if (!client.empty()) {
        if (roll(l.window, now, t.clients.within, t.volume.history, static_cast<double>(l.networks.size()),
                 l.networks_baseline)) {
            l.networks.clear();
        }
        const std::string net = policy::client_network(t, client);
        const double limit = std::max(t.clients.factor * l.networks_baseline, static_cast<double>(t.clients.floor));
        const std::size_t cap = std::min(k_max_networks, static_cast<std::size_t>(limit) + 1);
        if (std::find(l.networks.begin(), l.networks.end(), net) == l.networks.end() && l.networks.size() < cap) {
            l.networks.push_back(net);
            if (auto i = policy::client_rule(t, l.networks.size(), l.networks_baseline, name, client).incident) {
                out.push_back(std::move(*i));
            }
        }
    }
    return out;
}

std::vector<policy::Incident> IncidentMonitor::observe(const config::Incidents& t, const Outcome& o, TimePoint now) {
    const char* kind = o.decision == Decision::Sign          ? "sign"
                       : o.decision == Decision::SignEncrypt ? "sign+encrypt"
                       : o.decision == Decision::Refuse      ? "refuse"
                                                             : "other";
    std::vector<policy::Incident> out = count(t, kind, send_as_refusal(o), o.login, o.client_ip, o.mail_from, now);
    return out;
}

void IncidentMonitor::replay(const config::Incidents& t, const std::string& kind, bool send_as, const std::string& name,
                             const std::string& client, TimePoint when) {
    (void)count(t, kind, send_as, name, client, "", when);
}

std::size_t IncidentMonitor::logins() const {
    std::lock_guard lock(m_mutex);
    return m_logins.size();
}

}  // namespace segel::engine
