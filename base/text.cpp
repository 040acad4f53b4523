#include "base/text.h"

#include <array>

namespace segel::base {

namespace {
constexpr char fold(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = fold(c);
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (fold(a[i]) != fold(b[i])) {
            return false;
        }
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && ws(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && ws(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

std::string without_cr(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (c != '\r') {
            out += c;
        }
    }
    return out;
}

namespace {

/** Length of the valid UTF-8 sequence at @p s (RFC 3629: no overlongs, no surrogates), 0 when invalid. */
std::size_t utf8_length(std::string_view s) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    std::size_t n = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (s.size() < n || b(1) < lo || b(1) > hi) {
        return 0;
    }
    for (std::size_t i = 2; i < n; ++i) {
        if (b(i) < 0x80 || b(i) > 0xbf) {
            return 0;
        }
    }
    return n;
}

}  // namespace

namespace {
/** The bytes a plain kv token may hold: letters, digits, and @ . _ - + / : < > [ ] , = */
constexpr std::array<bool, 256> k_kv_plain = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
    for (const char c : std::string_view("@._-+/:<>[],=")) {
        t[static_cast<unsigned char>(c)] = true;
    }
    return t;
}();
}  // namespace

void append_kv_value(std::string& out, std::string_view v) {
    if (v.empty()) {
        out += '-';
        return;
    }
    bool quote = false;
    for (const char c : v) {
        quote = quote || !k_kv_plain[static_cast<unsigned char>(c)];
    }
    if (!quote) {
        out.append(v);
        return;
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    const auto hex = [&](unsigned char u) {
        out += "\\x";
        out += k_hex[u >> 4U];
        out += k_hex[u & 15U];
    };
    out += '"';
    for (std::size_t i = 0; i < v.size();) {
        const auto u = static_cast<unsigned char>(v[i]);
        if (u == '"' || u == '\\') {
            out += '\\';
            out += static_cast<char>(u);
        } else if (u < 0x20 || u == 0x7f) {
            hex(u);
        } else if (u >= 0x80) {
            // Valid UTF-8 is kept, except C1 controls (U+0080..U+009F) and the line and
            // paragraph separators (U+2028, U+2029), which some viewers take for a new line;
            // those and bytes that are not UTF-8 become \xNN, one per byte.
            const std::size_t n = utf8_length(v.substr(i));
            const auto next = [&](std::size_t k) { return static_cast<unsigned char>(v[i + k]); };
            const bool c1 = n == 2 && u == 0xc2 && next(1) < 0xa0;
            const bool separator = n == 3 && u == 0xe2 && next(1) == 0x80 && (next(2) == 0xa8 || next(2) == 0xa9);
            if (n > 0 && !c1 && !separator) {
                out.append(v.substr(i, n));
                i += n;
                continue;
            }
            hex(u);
        } else {
            out += static_cast<char>(u);
        }
        ++i;
    }
    out += '"';
}

std::string kv_value(std::string_view v) {
    std::string out;
    append_kv_value(out, v);
    return out;
}

}  // namespace segel::base
