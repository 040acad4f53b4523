#pragma once
// Dates and times for people and for machines, UTC, one copy each.
#include <chrono>
#include <string>

namespace segel::base {

using TimePoint = std::chrono::system_clock::time_point;

/** "2026-01-01" (UTC); TimePoint::max() (any moment past 2262) is "9999-12-31", min() "0001-01-01". */
std::string format_date(TimePoint t);

/** RFC 3339 UTC, seconds: "2026-01-01T08:00:00Z"; the ends as for format_date(). */
std::string format_time(TimePoint t);

/** An RFC 5322 Date field value, UTC: "Thu, 01 Jan 2026 08:00:00 +0000" (C locale names). */
std::string format_rfc5322(TimePoint t);

}  // namespace segel::base
