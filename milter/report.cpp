#include "milter/report.h"

#include "engine/outcome_format.h"
#include "milter/incidents.h"
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

}  // namespace segel::milter
