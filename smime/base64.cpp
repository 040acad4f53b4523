#include "smime/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

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

/**
 * Decoding four characters at once: the value of each position already shifted into place, so
 * a quantum is four lookups OR-ed together; anything outside the alphabet sets bit 24 (k_bad).
 */
constexpr std::uint32_t k_bad = 1U << 24U;
constexpr std::array<std::uint32_t, 256> make_shifted(unsigned shift) {
    std::array<std::uint32_t, 256> t{};
    for (std::size_t c = 0; c < 256; ++c) {
        t[c] = k_table[c] < 0 ? k_bad : static_cast<std::uint32_t>(k_table[c]) << shift;
    }
    return t;
}
constexpr auto k_dec0 = make_shifted(18);
constexpr auto k_dec1 = make_shifted(12);
constexpr auto k_dec2 = make_shifted(6);
constexpr auto k_dec3 = make_shifted(0);

/** Encoding twelve bits at once: the two characters for each value 0..4095. */
constexpr std::array<std::array<char, 2>, 4096> make_pairs() {
    std::array<std::array<char, 2>, 4096> t{};
    for (std::size_t v = 0; v < 4096; ++v) {
        t[v] = {k_alphabet[v >> 6U], k_alphabet[v & 63U]};
    }
    return t;
}
constexpr auto k_pairs = make_pairs();

/** Appends @p data as base64 lines of 76 characters, each ending CRLF. */
void encode_chunk(std::string_view data, std::string& out) {
    constexpr std::size_t k_line = 57;  // 57 bytes -> 76 characters
    const std::size_t lines = (data.size() + k_line - 1) / k_line;
    const std::size_t start = out.size();
    out.resize(start + (data.size() + 2) / 3 * 4 + lines * 2);
    char* o = out.data() + start;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    for (std::size_t pos = 0; pos < data.size(); pos += k_line) {
        const std::size_t n = std::min(k_line, data.size() - pos);
        const unsigned char* q = p + pos;
        std::size_t i = 0;
        for (; i + 3 <= n; i += 3) {
            const unsigned v = (unsigned{q[i]} << 16U) | (unsigned{q[i + 1]} << 8U) | q[i + 2];
            std::memcpy(o, k_pairs[v >> 12U].data(), 2);
            std::memcpy(o + 2, k_pairs[v & 0xFFFU].data(), 2);
            o += 4;
        }
        if (n - i == 1) {
            const unsigned v = unsigned{q[i]} << 16U;
            *o++ = k_alphabet[(v >> 18U) & 63U];
            *o++ = k_alphabet[(v >> 12U) & 63U];
            *o++ = '=';
            *o++ = '=';
        } else if (n - i == 2) {
            const unsigned v = (unsigned{q[i]} << 16U) | (unsigned{q[i + 1]} << 8U);
            *o++ = k_alphabet[(v >> 18U) & 63U];
            *o++ = k_alphabet[(v >> 12U) & 63U];
            *o++ = k_alphabet[(v >> 6U) & 63U];
            *o++ = '=';
        }
        *o++ = '\r';
        *o++ = '\n';
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

bool Decoder::feed(std::string_view text, std::string& out) {
    if (m_bad) {
        return false;
    }
    const std::size_t start = out.size();
    out.resize(start + text.size() / 4 * 3 + 3);
    char* const begin = out.data() + start;
    char* o = begin;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    unsigned acc = m_acc;
    int bits = m_bits;
    int pad = m_pad;
    for (std::size_t i = 0; i < n;) {
        if (bits == 0 && pad == 0) {
            // On a quantum boundary, four alphabet characters are three bytes: whole
            // quanta at a time (a line of 76 is 19 of them), the rest one by one below.
            while (i + 4 <= n) {
                const std::uint32_t v = k_dec0[p[i]] | k_dec1[p[i + 1]] | k_dec2[p[i + 2]] | k_dec3[p[i + 3]];
                if ((v & k_bad) != 0) {
                    break;
                }
                o[0] = static_cast<char>((v >> 16U) & 0xFFU);
                o[1] = static_cast<char>((v >> 8U) & 0xFFU);
                o[2] = static_cast<char>(v & 0xFFU);
                o += 3;
                i += 4;
            }
            if (i == n) {
                break;
            }
        }
        const unsigned char ch = p[i++];
        const int v = k_table[ch];
        if (v < 0) {
            if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
                continue;
            }
            if (ch == '=') {
                ++pad;
                continue;
            }
            m_bad = true;  // garbage
            break;
        }
        if (pad > 0) {
            m_bad = true;  // data after padding
            break;
        }
        acc = (acc << 6U) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU);
        }
    }
    out.resize(start + static_cast<std::size_t>(o - begin));
    m_acc = acc;
    m_bits = bits;
    m_pad = pad;
    return !m_bad;
}

bool Decoder::finish(Tail tail) const {
    if (m_bad || m_pad > 2 || (m_pad > 0 && m_bits == 0)) {
        return false;
    }
    // bits left over: 0, 6, 4, 2 after 0, 1, 2, 3 characters of the last quantum; whole with padding
    return tail != Tail::Quanta || m_bits == 0 || (m_bits == 4 && m_pad == 2) || (m_bits == 2 && m_pad == 1);
}

std::optional<std::string> decode(std::string_view text, Tail tail) {
    std::string out;
    Decoder d;
    if (!d.feed(text, out) || !d.finish(tail)) {
        return std::nullopt;
    }
    return out;
}

}  // namespace segel::smime::base64
