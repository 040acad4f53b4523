#include "milter/report.h"

#include "engine/outcome_format.h"
#include "milter/incidents.h"
#include "milter/log.h"
#include "milter/metrics.h"

#include <spdlog/spdlog.h>

namespace segel::milter {

void report_outcome(const engine::Outcome& outcome) noexcept {
    try {
        for (const auto& line : engine::log_lines(outcome)) {
            const auto level = line.level == engine::LogLine::Level::Error     ? spdlog::level::err
                               : line.level == engine::LogLine::Level::Warning ? spdlog::level::warn
                                                                               : spdlog::level::info;
            spdlog::log(level, "{}: {}", outcome.queue_id, line.text);
        }
        for (const auto& r : outcome.reasons) {
            spdlog::debug("{}: {}", outcome.queue_id, r);
        }
        metrics().record(outcome);
        if (Incidents* i = incidents(); i != nullptr && !outcome.incidents.empty()) {
            i->notify(outcome, std::chrono::system_clock::now());
        }
    } catch (...) {
        // the log is best effort; the message's answer does not depend on it
    }
}

ReportLine revocation_line(const std::string& serial, const std::vector<std::string>& addresses,
                           const services::CertificateStatus& before, const services::CertificateStatus& after,
                           std::chrono::system_clock::time_point now) {
    std::string addrs;
    for (const auto& a : addresses) {
        addrs += (addrs.empty() ? "" : ",") + a;
    }
    const smime::RevocationStatus& is = after.evidence;
    const bool revoked = is.state == smime::RevocationState::Revoked;
    std::string line = "revocation " + log::fields({{"serial", serial},
                                                    {"addresses", addrs},
                                                    {"state", smime::to_string(is.state)},
                                                    {"evidence", smime::evidence(is, now)},
                                                    {"url", is.url}});
    if (revoked) {
        line += " " + log::fields({{"was", smime::evidence(before.evidence, now)}, {"action", "signs nothing more"}});
    } else if (!after.problem.empty()) {
        line += " " + log::fields({{"check", "failed"}, {"error", after.problem}});
    }
    return {revoked || !after.problem.empty(), line};
}

}  // namespace segel::milter
