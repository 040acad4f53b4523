#pragma once
// The windows behind incident rules 4 and 5 (docs/incidents.md): per login,
// its recent send-as refusals, its signed messages this hour against its own
// trailing baseline, and its client networks this window against theirs. The
// rules themselves are policy/incident.h; this object only counts, with the
// time passed in. Memory is bounded: at most incidents.max_logins logins are
// kept (the least recently seen go first), and each login's state is a few
// numbers and at most incidents.clients.floor × factor + 1 networks.
#include "config/settings.h"
#include "engine/outcome.h"
#include "policy/incident.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace segel::engine {

class IncidentMonitor {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    /**
     * One finished message: counts it in its login's windows and returns the
     * incidents rules 4-5 find (send-as-repeated, volume-anomaly,
     * client-anomaly). Messages without a login count for nothing. Thread-safe.
     */
    std::vector<policy::Incident> observe(const config::Incidents& t, const Outcome& outcome, TimePoint now);

    /**
     * The same counting for a message recorded before this process started
     * (the history rebuilt from the audit store): no incidents are returned.
     * @param kind the audit event kind ("sign", "sign+encrypt", "refuse")
     * @param send_as a refusal because the login may not send as the sender
     */
    void replay(const config::Incidents& t, const std::string& kind, bool send_as, const std::string& login,
                const std::string& client, TimePoint when);

    /** Logins whose windows are kept now. */
    [[nodiscard]] std::size_t logins() const;

    /** Whether @p outcome is a send-as refusal (rule 6 of policy/decide.cpp: the login does not own the sender). */
    static bool send_as_refusal(const Outcome& outcome);

private:
    struct Login {
        std::deque<TimePoint> refusals;  ///< within send_as.within, at most send_as.refusals
        TimePoint hour{};                ///< start of the current hour window
        std::uint64_t signed_this_hour = 0;
        double baseline = 0;                ///< signed per hour, exponentially weighted over volume.history
        TimePoint window{};                 ///< start of the current client window
        std::vector<std::string> networks;  ///< distinct this window, bounded
        double networks_baseline = 0;       ///< networks per window, weighted the same way
        std::list<std::string>::iterator lru;
    };

    Login& login(const config::Incidents& t, const std::string& name);
    std::vector<policy::Incident> count(const config::Incidents& t, const std::string& kind, bool send_as,
                                        const std::string& login, const std::string& client, const std::string& address,
                                        TimePoint now);

    mutable std::mutex m_mutex;
    std::unordered_map<std::string, Login> m_logins;
    std::list<std::string> m_order;  ///< most recently seen first
};

}  // namespace segel::engine
