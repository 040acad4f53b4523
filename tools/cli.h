#pragma once
// Helpers shared by the segelctl commands.
#include <chrono>
#include <string>

namespace segel::tools {

/**
 * The value that follows option argv[i], advancing @p i past it.
 * @throws std::invalid_argument "--opt needs a value" when there is none (exit 2)
 */
std::string option_value(int argc, char** argv, int& i);

/**
 * Parses the value of --at: "2026-12-01T00:00:00Z" (RFC 3339, UTC) or "2026-12-01".
 * @throws std::invalid_argument naming --at and the expected form (exit 2)
 */
std::chrono::system_clock::time_point parse_at(const std::string& text);

}  // namespace segel::tools
