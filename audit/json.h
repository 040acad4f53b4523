#pragma once
// The little JSON the audit trail writes (proofs, export lines, show --json).
#include <string>
#include <string_view>

namespace segel::audit::json {

/**
 * A JSON string literal for @p s: quotes, backslash and control characters
 * escaped; bytes that are not well-formed UTF-8 become U+FFFD (the exact
 * bytes travel base64-encoded beside the text where they matter).
 */
std::string str(std::string_view s);

}  // namespace segel::audit::json
