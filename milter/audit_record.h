#pragma once
// The audit trail in the daemon (docs/audit.md): every finished message's
// Outcome becomes an event that is committed before its answer goes to the
// MTA; start, stop, reload and certificate state changes are events too.
// When the trail cannot be written, audit.on_failure decides: defer the mail
// (451, the default: no signed message without a record) or let it through
// and log the loss.
#include "audit/trail.h"
#include "engine/edits.h"
#include "engine/gateway.h"
#include "engine/outcome.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace segel::milter {

/**
 * The events for one Outcome: the message's own (sign, sign+encrypt, pass,
 * refuse, verify, decrypt, internal-error) and, for an incident (R12), an
 * `incident` event beside it. None for a message that was never decided.
 */
std::vector<audit::Event> events_of(const engine::Outcome& outcome, audit::TimePoint now);

/**
 * The `incident` event of @p incident (docs/audit.md): @p base's fields (the
 * message's event, or only a time) with kind incident, reason_code the
 * incident's kind word, reasons its detail, and its login, client and serial.
 */
audit::Event incident_event(const policy::Incident& incident, audit::Event base);

/** One "serial=… sha256=… address=… state=…" line per installed certificate (start and reload events). */
std::vector<std::string> credential_lines(const engine::Gateway& gateway, audit::TimePoint now);

class Recorder {
public:
    /**
     * Opens the node's trail for @p gateway's audit settings and records the
     * start. @throws config::ConfigError (the seal), audit::Error (the store)
     */
    Recorder(const engine::Gateway& gateway, const std::string& config_path);
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    /**
     * Records @p outcome (blocks until committed, shared with concurrent
     * messages). @return the reply to give instead of @p reply when the record
     * could not be written and the mail must wait (audit.on_failure: tempfail);
     * refusals stay refusals. Never throws: a failure is logged.
     */
    std::optional<engine::Reply> record(const engine::Outcome& outcome, const engine::Reply& reply) noexcept;

    /**
     * A reloaded configuration: records the reload and each certificate whose
     * state changed. A different node, file or seal opens the new trail first.
     * @throws config::ConfigError, audit::Error: the reload fails, the old configuration stays
     */
    void reloaded(const engine::Gateway& gateway, const std::string& config_path);

    /**
     * Records an incident of the gateway itself (audit-store-failure,
     * checkpoint-gap): now when @p now_or_later, else with the next message's
     * events (at most 100 wait; more are counted in the log only). Never throws.
     */
    void record_incident(const policy::Incident& incident, audit::TimePoint when, bool now_or_later) noexcept;

    /**
     * Rule 7 while running (docs/incidents.md): events that have waited for a
     * checkpoint longer than audit.checkpoint_minutes × incidents.checkpoint_gap.factor
     * (the checkpointer keeps failing, e.g. the seal's token is gone). Called
     * about once a second from the main loop; @return the incident once per gap
     */
    std::optional<policy::Incident> watch_checkpoints(const config::Incidents& t, audit::TimePoint now) noexcept;

    /** Records the stop and signs a last checkpoint over everything. Never throws. */
    void stopped() noexcept;

private:
    void open(const engine::Gateway& gateway);
    void lifecycle(const char* kind, const engine::Gateway& gateway, const std::string& config_path);

    std::mutex m_mutex;  ///< guards m_trail's replacement (reload), not appends
    std::shared_ptr<audit::Trail> m_trail;
    config::Audit m_settings;
    std::map<std::string, std::string> m_states;  ///< certificate fingerprint → last recorded state
    std::mutex m_pending_mutex;
    std::vector<audit::Event> m_pending;  ///< incident events waiting for the next successful append
    // watch_checkpoints(): the trail's counters when the last checkpoint was seen, and since when
    // events have waited (main thread only).
    std::uint64_t m_seen_checkpoints = 0;
    std::uint64_t m_seen_events = 0;
    std::optional<audit::TimePoint> m_waiting_since;
    bool m_gap_reported = false;
};

/** The process's recorder (set by main when audit: is configured), or nullptr. */
Recorder* recorder();
void set_recorder(std::unique_ptr<Recorder> r);

}  // namespace segel::milter
