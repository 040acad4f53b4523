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

/**
 * decode() piece by piece (a spooled body read in pieces): the pieces fed in order give
 * exactly the bytes decode() gives their concatenation, and finish() its verdict.
 */
class Decoder {
public:
    /** Appends the bytes @p text completes to @p out; false from the first invalid character on. */
    bool feed(std::string_view text, std::string& out);
    /** Whether everything fed was valid base64 whose end @p tail accepts (decode()'s judgement). */
    [[nodiscard]] bool finish(Tail tail = Tail::Lenient) const;

private:
    unsigned m_acc = 0;  ///< the bits of the quantum under way
    int m_bits = 0;      ///< how many of them are not yet in a byte
    int m_pad = 0;       ///< '=' seen
    bool m_bad = false;  ///< an invalid character, or data after padding
};

}  // namespace segel::smime::base64
