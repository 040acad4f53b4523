#pragma once
// The consumers of a finished message's Outcome in the daemon: today the log
// (one decision line and warning lines, docs/operations.md).
#include "engine/outcome.h"
#include "services/revocation.h"

#include <string>
#include <vector>

namespace segel::milter {

/** Logs @p outcome, every line prefixed with its queue id. Never throws. */
void report_outcome(const engine::Outcome& outcome) noexcept;

/** A line to log and whether it is a warning. */
struct ReportLine {
    bool warning = false;
    std::string text;
};

/**
 * The line for what the revocation service learnt about a signing certificate (R6), when its
 * state changed: @p before and @p after, judged at @p now (the evidence's age).
 */
ReportLine revocation_line(const std::string& serial, const std::vector<std::string>& addresses,
                           const services::CertificateStatus& before, const services::CertificateStatus& after,
                           std::chrono::system_clock::time_point now);

}  // namespace segel::milter
