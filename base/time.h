#pragma once
// Dates and times for people and for machines, UTC, one copy each.
#include <chrono>
#include <cstdint>
#include <string>

namespace segel::base {

using TimePoint = std::chrono::system_clock::time_point;

/**
 * A moment given in seconds since 1970-01-01T00:00:00Z, clamped to what a
 * TimePoint holds: std::chrono::system_clock counts nanoseconds in 64 bits,
 * 1677-09-21 to 2262-04-11. Later moments — RFC 5280 §4.1.2.5's
 * 99991231235959Z, "no well-defined expiration date", and any date after
 * 2262 — are TimePoint::max(); earlier ones TimePoint::min(). Never overflows.
 */
TimePoint time_from_unix(std::int64_t seconds);

/** "2026-01-01" (UTC). TimePoint::max() (beyond 2262, time_from_unix) is "9999-12-31", min() "0001-01-01". */
std::string format_date(TimePoint t);

/** RFC 3339 UTC, seconds: "2026-01-01T08:00:00Z"; the ends as for format_date() ("9999-12-31T23:59:59Z"). */
std::string format_time(TimePoint t);

/** An RFC 5322 Date field value, UTC: "Thu, 01 Jan 2026 08:00:00 +0000" (C locale names). */
std::string format_rfc5322(TimePoint t);

}  // namespace segel::base
