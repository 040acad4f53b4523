#include "base/text.h"

namespace segel::base {

namespace {
constexpr char fold(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

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

std::string kv_value(std::string_view v) {
    if (v.empty()) {
        return "-";
    }
    const auto plain = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '@' || c == '.' ||
               c == '_' || c == '-' || c == '+' || c == '/' || c == ':' || c == '<' || c == '>' || c == '[' ||
               c == ']' || c == ',' || c == '=';
    };
    bool quote = false;
    for (const char c : v) {
        quote = quote || !plain(static_cast<unsigned char>(c));
    }
    if (!quote) {
        return std::string(v);
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += k_hex[u >> 4U];
            out += k_hex[u & 15U];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

}  // namespace segel::base
