#pragma once
// What segel-milter counts, written as a file in the Prometheus text format
// (node_exporter's textfile collector reads it; `segelctl status` too).
//
// A file rather than an HTTP endpoint: the process that holds the signing keys
// opens no listening socket besides the milter's own, so nothing but Postfix
// can reach it; node_exporter (already on most monitored hosts, and already
// serving HTTP) publishes the file; and `segelctl status` reads the same file
// with no protocol of its own. The file is replaced atomically every
// metrics.interval seconds, after every reload and at stop (then removed).
#include "engine/gateway.h"
#include "engine/outcome.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace segel::milter {

using TimePoint = std::chrono::system_clock::time_point;

/** A histogram with fixed upper bounds (Prometheus: cumulative buckets, _sum, _count). */
struct Histogram {
    explicit Histogram(const std::vector<double>* upper) : bounds(upper), counts(upper->size(), 0) {}
    void observe(double v);
    const std::vector<double>* bounds;
    std::vector<std::uint64_t> counts;  ///< per bound, not cumulative
    std::uint64_t count = 0;
    double sum = 0;
};

/** The process's facts the file states beside the counters. */
struct DaemonFacts {
    std::string config_path;
    TimePoint started;
    std::size_t in_progress = 0;
    int interval_seconds = 15;
};

/** The counters of one running segel-milter. Thread-safe. */
class Metrics {
public:
    /** One finished message: its Outcome (milter/report.cpp). */
    void record(const engine::Outcome& outcome);
    /** An incident that is not a message's (audit-store-failure, checkpoint-gap). */
    void incident(const std::string& kind);
    /** What became of one incident mail: "sent", "failed", "dropped" (queue full), "suppressed" (rate limit). */
    void incident_mail(const std::string& result);
    /** A reload, successful or not. */
    void reloaded(bool ok, TimePoint when);

    /**
     * The exposition: build info, start time, configuration generation and
     * reloads, messages by direction/decision/reason, inbound verdicts,
     * incidents, latency and size histograms, and every certificate of @p gw
     * with its expiry time and whether it can sign at @p now.
     */
    [[nodiscard]] std::string render(const engine::Gateway& gw, const DaemonFacts& facts, TimePoint now) const;

private:
    mutable std::mutex m_mutex;
    std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t>
        m_messages;                                                           ///< direction, decision, reason
    std::map<std::pair<std::string, std::string>, std::uint64_t> m_verdicts;  ///< smime result, problem
    std::map<std::string, std::uint64_t> m_incidents;                         ///< by kind
    std::map<std::string, std::uint64_t> m_incident_mail;                     ///< by result
    std::map<std::string, Histogram> m_duration;                              ///< by direction, seconds
    std::map<std::string, Histogram> m_size;                                  ///< by direction, bytes
    std::uint64_t m_reloads_ok = 0;
    std::uint64_t m_reloads_failed = 0;
    std::optional<TimePoint> m_last_reload;
    bool m_last_reload_ok = true;
};

/** The process-wide counters. */
Metrics& metrics();

/** A label value in the Prometheus text format: \\ \" and \n escaped. */
std::string prometheus_label(std::string_view v);

/**
 * Replaces @p path with @p text atomically (a temporary file in the same
 * directory, then rename), mode 0644 so node_exporter may read it.
 * @return "" or what went wrong, with the system's reason
 */
std::string write_atomically(const std::string& path, const std::string& text);

}  // namespace segel::milter
