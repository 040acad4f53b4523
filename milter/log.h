#pragma once
// segel-milter's log: where lines go (syslog facility mail beside Postfix's
// lines, the journal, or stderr), and key=value fields written with
// base::kv_value so that every line parses as key=value (logfmt).
#include "config/settings.h"

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace segel::milter::log {

/**
 * "key=" followed by base::kv_value(v) (the one escaping of log values: plain
 * tokens as they are, anything else double-quoted with backslash escapes, so a
 * hostile address or login can never start a new line or forge a field).
 * @p key is a name chosen in code (letters, digits, '_', '-', '.').
 */
std::string field(std::string_view key, std::string_view v);

/** field() for each pair, separated by one space: fields({{"from", a}, {"login", b}}) → "from=<a> login=b". */
std::string fields(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

/** Where the lines go: settings.log.destination resolved (auto looks at stderr and at the journal). */
config::Settings::Log::Destination resolve(config::Settings::Log::Destination wanted);

/**
 * Makes the default spdlog logger write to @p destination (resolve()d) at the
 * configured level: syslog(3) with the configured facility and real priorities;
 * the journal (sd_journal_send, PRIORITY and SYSLOG_FACILITY); or stderr with
 * ISO 8601 timestamps and the time zone (2026-11-21T09:15:02.118+07:00).
 * @return the destination in use, for the start-up line
 */
std::string setup(const config::Settings::Log& settings);

/** The level a reload may change; the destination stays what it was at start. */
void set_level(const std::string& level);

}  // namespace segel::milter::log
