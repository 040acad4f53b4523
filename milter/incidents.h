#pragma once
// Incidents in the daemon (docs/incidents.md, R12): the owner of the
// per-login windows (engine/incidents.h) and of the incident mailer
// (services/incident_mail.h), for the life of the process. Every incident —
// found by policy for one message, by the windows, or about the gateway itself
// (audit-store-failure, checkpoint-gap) — is an audit event of kind
// `incident`, a warning log line and, when incidents.notify is configured, a
// signed mail. Nothing here makes a message wait: the mail goes from a queue.
#include "engine/gateway.h"
#include "engine/incidents.h"
#include "engine/outcome.h"
#include "services/incident_mail.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace segel::milter {

class Incidents {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    /** @throws std::exception when incidents.notify is set and the audit seal cannot be loaded */
    explicit Incidents(const engine::Gateway& gateway);

    /**
     * The history of the windows, rebuilt from the node's own audit store
     * (sign and refuse events of the last incidents.volume.history), and the
     * checkpoint check (rule 7) over that store. Call before the Recorder
     * opens the trail. @return the incidents found (for raise() once it is open)
     */
    std::vector<policy::Incident> rebuild(const engine::Gateway& gateway, TimePoint now);

    /**
     * At stop: the mail being sent finishes, what waits is dropped and logged;
     * later incidents are still logged and recorded, not mailed. The object
     * itself stays (callbacks may still hold it) until the process exits.
     */
    void stop() noexcept;

    /** A reloaded configuration: a new mailer when incidents.notify changed. */
    void reconfigure(const engine::Gateway& gateway);

    /** Rules 4-5 for one finished message: found incidents are appended to @p outcome.incidents. */
    void detect(const config::Incidents& t, engine::Outcome& outcome, TimePoint now) noexcept;

    /** The mail for each of @p outcome's incidents (queued). */
    void notify(const engine::Outcome& outcome, TimePoint now) noexcept;

    /**
     * An incident of the gateway itself: the warning line, the metric, the
     * mail, and the audit event (appended now when @p record, else with the
     * next message's events: a failed store must not be waited on twice).
     */
    void raise(const policy::Incident& incident, TimePoint now, bool record) noexcept;

private:
    void mail(const policy::Incident& incident, const std::string& unit, const std::string& queue_id, TimePoint now);
    static std::unique_ptr<services::IncidentMailer> make_mailer(const engine::Gateway& gateway);

    engine::IncidentMonitor m_monitor;
    std::mutex m_mutex;  ///< guards m_mailer's replacement and m_notify
    std::shared_ptr<services::IncidentMailer> m_mailer;
    config::Incidents::Notify m_notify;
    bool m_stopped = false;
    std::string m_node;
};

/** The process's incidents (set by main), or nullptr. */
Incidents* incidents();
void set_incidents(std::unique_ptr<Incidents> i);

}  // namespace segel::milter
