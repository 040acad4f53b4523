#include "base/json.h"

#include <cmath>
#include <cstdio>

namespace segel::base {

namespace {

/** Length of the valid UTF-8 sequence at @p s[i], or 0 when it is not one. */
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > s.size()) {
        return 0;
    }
    unsigned cp = c & (0xFFU >> (n + 1));
    for (std::size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0U) != 0x80U) {
            return 0;
        }
        cp = (cp << 6U) | (cc & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

}  // namespace

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            default:
                break;
        }
        if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (const std::size_t n = utf8_length(s, i); n > 0) {
            out.append(s.substr(i, n));
            i += n - 1;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);  // not UTF-8: kept visible, still valid JSON
            out += buf;
        }
    }
    out += '"';
    return out;
}

void JsonWriter::newline() {
    if (m_indent > 0) {
        m_out += '\n';
        m_out.append(m_levels.size() * static_cast<std::size_t>(m_indent), ' ');
    }
}

void JsonWriter::before_value() {
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (!m_levels.empty()) {
        if (!m_levels.back().empty) {
            m_out += ',';
        }
        m_levels.back().empty = false;
        newline();
    }
}

JsonWriter& JsonWriter::begin_object() {
    before_value();
    m_out += '{';
    m_levels.push_back({true});
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    const bool empty = m_levels.back().empty;
    m_levels.pop_back();
    if (!empty) {
        newline();
    }
    m_out += '}';
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    before_value();
    m_out += '[';
    m_levels.push_back({false});
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    const bool empty = m_levels.back().empty;
    m_levels.pop_back();
    if (!empty) {
        newline();
    }
    m_out += ']';
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
    before_value();
    m_out += json_string(k);
    m_out += m_indent > 0 ? ": " : ":";
    m_after_key = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
    before_value();
    m_out += json_string(s);
    return *this;
}

JsonWriter& JsonWriter::value(bool b) {
    before_value();
    m_out += b ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::value(std::int64_t n) {
    before_value();
    m_out += std::to_string(n);
    return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t n) {
    before_value();
    m_out += std::to_string(n);
    return *this;
}

JsonWriter& JsonWriter::value(double d) {
    before_value();
    if (!std::isfinite(d)) {
        m_out += "null";
        return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", d);
    m_out += buf;
    return *this;
}

JsonWriter& JsonWriter::null() {
    before_value();
    m_out += "null";
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    before_value();
    while (!json.empty() && (json.back() == '\n' || json.back() == ' ')) {
        json.remove_suffix(1);
    }
    // Indented to where it now stands, so the whole document stays readable.
    const std::string pad = m_indent > 0 ? "\n" + std::string(m_levels.size() * static_cast<std::size_t>(m_indent), ' ')
                                         : std::string("\n");
    for (const char c : json) {
        if (c == '\n') {
            m_out += pad;
        } else {
            m_out += c;
        }
    }
    return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, const std::vector<std::string>& items) {
    key(k);
    begin_array();
    for (const auto& i : items) {
        value(i);
    }
    return end_array();
}

}  // namespace segel::base
