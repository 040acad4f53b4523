#pragma once
// Submitting one message over SMTP (libcurl), for the gateway's own mail:
// expiry notices to owners and administrators go through the local Postfix
// (notices.relay), like any other mail. Plain SMTP on a trusted relay; no
// AUTH, no TLS (the relay is local by design). A failure is a returned result.
#include <chrono>
#include <string>
#include <vector>

namespace segel::services::smtp {

struct Options {
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds total_timeout{60000};
    std::string helo = "localhost";  ///< the name this client gives in EHLO
};

/**
 * Sends @p message (RFC 5322, CRLF line ends) to @p relay ("host:port") as
 * MAIL FROM:<@p from>, RCPT TO each of @p to.
 * @return "" when the relay accepted it, else what went wrong (naming the relay)
 */
std::string send(const std::string& relay, const std::string& from, const std::vector<std::string>& to,
                 const std::string& message, const Options& options = {});

}  // namespace segel::services::smtp
