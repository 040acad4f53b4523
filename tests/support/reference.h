#pragma once
// Reference implementations that the unit tests and the fuzz harnesses (fuzz/) check
// segel's fast paths against: written for clarity, not speed, one of each.
#include "smime/blob.h"

#include <optional>
#include <string>
#include <string_view>

namespace segel::test {

/**
 * Base64 the way smime::base64::decode promises it (RFC 4648 alphabet), one character at a
 * time: white space skipped, anything else outside the alphabet or data after '=' refused,
 * at most two '=' and not after a whole quantum; a short last quantum gives its whole bytes.
 */
std::optional<std::string> base64_decode(std::string_view text);

/**
 * What GMime decodes from @p message's top-level part when it is application/pkcs7-mime or
 * x-pkcs7-mime (the reference for smime::pkcs7_mime_der); nullopt when it is not.
 * @throws smime::Error{Malformed} when GMime cannot parse the message at all
 */
std::optional<std::string> gmime_pkcs7_mime(const smime::Blob& message);

/** @p text with every CR that comes right before an LF removed, one byte at a time (smime::mime::crlf_to_lf). */
std::string crlf_to_lf(std::string_view text);

/**
 * Where smime::mime::plain_content_type (@p content_type) or plain_disposition
 * reads @p value differently from GMime (g_mime_content_type_parse,
 * g_mime_content_disposition_parse): the type, the subtype, the number of
 * parameters or a parameter's value, described; empty when they agree or when
 * the plain reading declines (nullopt: GMime reads it in the product too).
 */
std::string plain_value_disagreement(const std::string& value, bool content_type);

}  // namespace segel::test
