#pragma once
// Helpers shared by the segelctl commands: one argument parser, so every
// command takes --config (and the rest) the same way.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace segel::tools {

using TimePoint = std::chrono::system_clock::time_point;

/** Exit codes (sysexits.h for configuration and software errors). */
constexpr int k_refused = 1;  ///< the gateway would refuse (or a verdict is not pass)
constexpr int k_usage = 2;

/** Every option any command takes; each command checks what it needs. */
struct Args {
    std::string command;
    std::string config;
    std::string user;             ///< --user: check-config reads files as this user
    std::string from;             ///< --from: the envelope sender
    std::string header_from;      ///< --header-from (explain)
    std::string login;            ///< --login: the SMTP AUTH identity
    std::string client;           ///< --client: the SMTP client address
    std::vector<std::string> to;  ///< --to / --rcpt: envelope recipients
    std::optional<TimePoint> at;
    std::string queue_id;
    bool explain = false;                    ///< --explain / -v
    bool json = false;                       ///< --json
    bool message = false;                    ///< --message (process: also print the resulting message)
    std::vector<std::string> trust_anchors;  ///< verify --trust-anchors
    std::vector<std::string> crls;           ///< verify --crl
    std::string certificate_time;            ///< verify --certificate-time
    std::optional<long> warn_days;           ///< certs --warn-days N
    bool strict = false;                     ///< check-config --strict: warnings fail
    bool dry_run = false;                    ///< notify-expiry --dry-run
    std::vector<std::string> positional;
};

/**
 * Parses argv[first..]: argv[first] is the command word when @p with_command.
 * @throws std::invalid_argument naming the option (exit 2)
 */
Args parse_args(int argc, char** argv, int first = 1);

/**
 * The value that follows option argv[i], advancing @p i past it.
 * @throws std::invalid_argument "--opt needs a value" when there is none (exit 2)
 */
std::string option_value(int argc, char** argv, int& i);

/**
 * Parses the value of --at: "2026-12-01T00:00:00Z" (RFC 3339, UTC) or "2026-12-01".
 * @throws std::invalid_argument naming --at and the expected form (exit 2)
 */
TimePoint parse_at(const std::string& text);

/** Reads all of standard input. */
std::string read_stdin();

}  // namespace segel::tools
