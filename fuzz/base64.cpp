// fuzz_base64: smime::base64 (RFC 2045 §6.8), the decoder that reads every encrypted and
// opaque-signed body straight from the spool. Input: text to decode; also data to encode.
//
// Properties: decode, and base64::Decoder fed the same text in pieces, agree with the plain reference decoder
// (tests/support/reference.h: one character at a time, the same leniency: white space skipped, up to two '=' at the
// end) on what it accepts and on the bytes, and with Tail::Quanta only on whole quanta; for canonical base64 it agrees
// with OpenSSL's EVP_DecodeBlock; encode_lines writes 76-character CRLF lines that decode back to the data, and the
// Blob form writes the same bytes as the string form.
#include "smime/base64.h"
#include "fuzz/support/fuzz.h"
#include "tests/support/reference.h"

#include <openssl/evp.h>

namespace {

using segel::fuzz::require;

/** Canonical base64: groups of four, '=' only to fill the last one, no white space. */
bool canonical(std::string_view t) {
    if (t.empty() || t.size() % 4 != 0 || t.find_first_of(" \t\r\n") != std::string_view::npos) {
        return false;
    }
    const std::size_t eq = t.find('=');
    return eq == std::string_view::npos ||
           (eq >= t.size() - 2 && t.substr(eq).find_first_not_of('=') == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    const std::string_view in = fuzz::bytes(data, size);

    const auto got = smime::base64::decode(in);
    const auto expected = test::base64_decode(in);
    require(got.has_value() == expected.has_value(), "decode accepts what the reference accepts");
    require(!got || *got == *expected, "decode gives the reference's bytes");
    // Tail::Quanta: the same, but only when the characters (padding included) make whole quanta.
    std::size_t chars = 0;
    for (const char c : in) {
        chars += c == ' ' || c == '\t' || c == '\r' || c == '\n' ? 0 : 1;
    }
    const auto quanta = smime::base64::decode(in, smime::base64::Tail::Quanta);
    require(quanta == (chars % 4 == 0 ? expected : std::nullopt), "decode(Tail::Quanta): whole quanta only");

    // Decoder (a spooled body, read in pieces): any split gives decode()'s bytes and verdict.
    for (const std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7} + (size > 0 ? data[0] % 64 : 0)}) {
        smime::base64::Decoder d;
        std::string fed;
        bool ok = true;
        for (std::size_t at = 0; at < in.size(); at += piece) {
            ok = d.feed(in.substr(at, piece), fed) && ok;
        }
        require((ok && d.finish()) == got.has_value(), "Decoder in pieces judges as decode");
        require(!got || fed == *got, "Decoder in pieces gives decode's bytes");
        require((ok && d.finish(smime::base64::Tail::Quanta)) == quanta.has_value(),
                "Decoder in pieces judges the tail as decode(Tail::Quanta)");
    }

    if (canonical(in) && expected) {
        std::string evp(in.size() / 4 * 3, '\0');
        const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(evp.data()),
                                      reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
        if (n >= 0) {  // EVP_DecodeBlock also refuses what RFC 4648 calls non-canonical padding
            const std::size_t padding = in.size() - in.find_last_not_of('=') - 1;
            evp.resize(static_cast<std::size_t>(n) - padding);  // it counts padding as zero bytes
            require(evp == *got, "decode agrees with EVP_DecodeBlock on canonical base64");
        }
    }

    const std::string encoded = smime::base64::encode_lines(in);
    smime::Blob blob;
    smime::base64::encode_lines(in, blob);
    require(blob.str() == encoded, "encode_lines: the Blob form writes what the string form writes");
    for (std::size_t pos = 0; pos < encoded.size();) {
        const std::size_t eol = encoded.find("\r\n", pos);
        require(eol != std::string::npos, "encode_lines: every line ends with CRLF");
        require(eol - pos <= 76 && eol > pos, "encode_lines: lines of 1 to 76 characters");
        require(encoded.find('\n', pos) == eol + 1, "encode_lines: no bare LF");
        pos = eol + 2;
    }
    const auto back = smime::base64::decode(encoded);
    require(back && *back == in, "decode(encode_lines(x)) == x");
    return 0;
}
