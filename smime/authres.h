#pragma once
// Authentication-Results (RFC 8601) for the "smime" method (RFC 7281):
// writing our result, and reading the authserv-id of fields that arrive from
// outside so that ones claiming to be ours can be removed (RFC 8601 §5).
#include "smime/verify.h"

#include <optional>
#include <string>
#include <string_view>

namespace segel::smime::authres {

/**
 * The value of an Authentication-Results field for @p r, e.g.
 *   mx.example.go.id;\n\tsmime=pass (good signature)\n\tbody.smime-identifier=siti@dinas.example.go.id
 *   \n\tbody.smime-serial=1E\n\tbody.smime-issuer="CN=BSrE,O=BSSN,C=ID"
 * Folded with "\n\t" (callers turn it into CRLF); 7-bit only (other bytes become '?').
 * The reason is a comment (RFC 8601 §2.2 CFWS); RFC 7281 §3 ptypes
 * body.smime-identifier, body.smime-part, body.smime-serial, body.smime-issuer.
 * @param authserv_id this gateway's id (RFC 8601 §2.5), e.g. its host name
 */
std::string format(const std::string& authserv_id, const VerifyResult& r);

/**
 * The authserv-id of an Authentication-Results field value (RFC 8601 §2.2:
 * leading CFWS, then a token or quoted-string), or nullopt when it cannot be read.
 */
std::optional<std::string> authserv_id(std::string_view value);

/** True when @p value claims @p ours as its authserv-id (case-insensitive, RFC 8601 §2.5). */
bool claims(std::string_view value, std::string_view ours);

/** A value as an RFC 2045 token, or a quoted-string when it is not one. */
std::string value(std::string_view v);

/** Text safe inside an RFC 5322 comment: 7-bit, parentheses and backslashes escaped, one line. */
std::string comment_text(std::string_view text);

}  // namespace segel::smime::authres
