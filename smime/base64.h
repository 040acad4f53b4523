#pragma once
// Base64 (RFC 2045 §6.8) done here rather than through OpenSSL's BIO, which is
// slow on large mail (ENVIRONMENT.md: ≈340 MB/s).
#include "smime/blob.h"

#include <optional>
#include <string>
#include <string_view>

namespace segel::smime::base64 {

/** Encodes with 76-character lines ending in CRLF (the last line too). */
void encode_lines(std::string_view data, Blob& out);
std::string encode_lines(std::string_view data);

/** What a last quantum of fewer than four characters (padding included) is worth. */
enum class Tail {
    Lenient,  ///< its whole bytes count: "QQ" and "QQ=" are "A"
    Quanta,   ///< it makes the text invalid (nullopt), so only whole quanta decode, as GMime reads them
};

/** Decodes, skipping white space; nullopt on any other invalid character or bad padding. */
std::optional<std::string> decode(std::string_view text, Tail tail = Tail::Lenient);

}  // namespace segel::smime::base64
