#pragma once
// The formatters of an Outcome: the per-message log lines (key=value, one
// main line and a warning line per incident) and the JSON record segelctl
// prints. Pure functions; the milter and segelctl do the writing.
#include "engine/outcome.h"

#include <string>
#include <vector>

namespace segel::engine {

struct LogLine {
    enum class Level { Info, Warning, Error };
    Level level = Level::Info;
    std::string text;  ///< without the queue id prefix
};

/**
 * The log lines for one message (docs/operations.md lists them): first the
 * decision line ("sign from=<…> login=… cert=… ms=…"), then one line each for
 * an internal error, an incident, a failed decryption and a certificate that
 * could not be stored. Values are escaped (base::kv_value); never content.
 */
std::vector<LogLine> log_lines(const Outcome& outcome);

/**
 * The warning line of one incident (docs/incidents.md), key=value:
 * `incident kind=send-as-repeated login=budi address=<siti@…> client=192.0.2.7 detail="…"`;
 * empty fields are left out.
 */
std::string incident_line(const policy::Incident& incident);

/** The Outcome as a JSON object (segelctl process, tests); @p timings: include the ms figures. */
std::string to_json(const Outcome& outcome, bool timings = true);

}  // namespace segel::engine
