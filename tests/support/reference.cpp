#include "tests/support/reference.h"

#include "smime/mime/mime.h"

namespace segel::test {

std::optional<std::string> base64_decode(std::string_view text) {
    static const std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    int pad = 0;
    for (const char ch : text) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            continue;
        }
        if (ch == '=') {
            ++pad;
            continue;
        }
        const std::size_t v = k_alphabet.find(ch);
        if (v == std::string_view::npos || pad > 0) {
            return std::nullopt;  // garbage, or data after padding
        }
        acc = ((acc << 6U) | static_cast<unsigned>(v)) & 0xFFFFFFU;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU);
        }
    }
    if (pad > 2 || (pad > 0 && bits == 0)) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> gmime_pkcs7_mime(const smime::Blob& message) {
    const auto msg = smime::mime::parse_message(message);
    GMimeObject* part = g_mime_message_get_mime_part(msg.get());
    GMimeContentType* ct = part != nullptr ? g_mime_object_get_content_type(part) : nullptr;
    if (ct == nullptr || !GMIME_IS_PART(part) ||
        !(g_mime_content_type_is_type(ct, "application", "pkcs7-mime") ||
          g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime"))) {
        return std::nullopt;
    }
    return smime::mime::decoded_content(GMIME_PART(part));
}

}  // namespace segel::test
