#include "smime/base64.h"

#include <array>

namespace segel::smime::base64 {

namespace {
constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_table() {
    std::array<signed char, 256> t{};
    for (auto& v : t) {
        v = -1;
    }
    for (int i = 0; i < 64; ++i) {
        t[static_cast<unsigned char>(k_alphabet[i])] = static_cast<signed char>(i);
    }
    return t;
}
constexpr auto k_table = make_table();

void encode_chunk(std::string_view data, std::string& out) {
    constexpr std::size_t k_line = 57;  // 57 bytes -> 76 characters
    for (std::size_t pos = 0; pos < data.size(); pos += k_line) {
        const std::size_t n = std::min(k_line, data.size() - pos);
        const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
        std::size_t i = 0;
        for (; i + 3 <= n; i += 3) {
            const unsigned v = (unsigned{p[i]} << 16U) | (unsigned{p[i + 1]} << 8U) | p[i + 2];
            out += k_alphabet[(v >> 18U) & 63U];
            out += k_alphabet[(v >> 12U) & 63U];
            out += k_alphabet[(v >> 6U) & 63U];
            out += k_alphabet[v & 63U];
        }
        if (n - i == 1) {
            const unsigned v = unsigned{p[i]} << 16U;
            out += k_alphabet[(v >> 18U) & 63U];
            out += k_alphabet[(v >> 12U) & 63U];
            out += "==";
        } else if (n - i == 2) {
            const unsigned v = (unsigned{p[i]} << 16U) | (unsigned{p[i + 1]} << 8U);
            out += k_alphabet[(v >> 18U) & 63U];
            out += k_alphabet[(v >> 12U) & 63U];
            out += k_alphabet[(v >> 6U) & 63U];
            out += '=';
        }
        out += "\r\n";
    }
}
}  // namespace

void encode_lines(std::string_view data, Blob& out) {
    constexpr std::size_t k_block = 57 * 1024;
    std::string buf;
    for (std::size_t pos = 0; pos < data.size(); pos += k_block) {
        buf.clear();
        encode_chunk(data.substr(pos, k_block), buf);
        out.append(buf);
    }
}

std::string encode_lines(std::string_view data) {
    std::string out;
    out.reserve(data.size() * 4 / 3 + data.size() / 28 + 8);
    encode_chunk(data, out);
    return out;
}

std::optional<std::string> decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    int pad = 0;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }
        if (c == '=') {
            ++pad;
            continue;
        }
        const int v = k_table[c];
        if (v < 0 || pad > 0) {
            return std::nullopt;  // garbage, or data after padding
        }
        acc = (acc << 6U) | static_cast<unsigned>(v);
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

}  // namespace segel::smime::base64
