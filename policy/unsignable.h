#pragma once
// What happens to a message that cannot be signed because of something in the
// message itself (a header line of 1,200 octets with nowhere to fold it, a
// NUL byte in a part header, MIME nested 200 levels deep): retrying can never
// help, so the answer is permanent — a refusal with the reason, or sending it
// unsigned where the domain says so. A pure decision: no I/O, no logging.
#include "config/settings.h"
#include "policy/decide.h"

#include <string>

namespace segel::policy {

/**
 * The decision for a message that @p decision said to sign but that cannot be
 * signed for @p reason (smime::Error of category Malformed): Reject with
 * 554 5.6.0 and the reason, or Pass (sent unsigned) where the sender's domain
 * says signing.domains[].unsignable: pass. Mail that must be encrypted is
 * always refused, since it would leave in clear.
 * @param encryption_required the encryption policy requires this message encrypted
 */
Decision unsignable(const config::Settings& settings, const Decision& decision, const std::string& reason,
                    bool encryption_required);

}  // namespace segel::policy
