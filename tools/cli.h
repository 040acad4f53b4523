#pragma once
// Helpers shared by the segelctl commands.
#include <chrono>
#include <optional>
#include <string>

namespace segel::tools {

/** Parses "2026-12-01T00:00:00Z" (RFC 3339, UTC) or "2026-12-01"; nullopt when malformed. */
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text);

}  // namespace segel::tools
