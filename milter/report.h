#pragma once
// The consumers of a finished message's Outcome in the daemon: today the log
// (one decision line and warning lines, docs/operations.md).
#include "engine/outcome.h"

namespace segel::milter {

/** Logs @p outcome, every line prefixed with its queue id. Never throws. */
void report_outcome(const engine::Outcome& outcome) noexcept;

}  // namespace segel::milter
