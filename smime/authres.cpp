#include "smime/authres.h"

#include <strings.h>

#include <cstring>

namespace segel::smime::authres {

namespace {

/** RFC 2045 §5.1 tspecials, plus SPACE and CTLs, are not token characters. */
bool token_char(unsigned char c) {
    return c > 32 && c < 127 && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

std::string seven_bit(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\r' || c == '\n' || c == '\t') {
            out += ' ';
        } else if (c < 32 || c >= 127) {
            out += '?';
        } else {
            out += ch;
        }
    }
    return out;
}

/** Skips white space and (nested) comments (RFC 5322 §3.2.2 CFWS). */
std::size_t skip_cfws(std::string_view v, std::size_t pos) {
    while (pos < v.size()) {
        const char c = v[pos];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            ++pos;
        } else if (c == '(') {
            int depth = 0;
            while (pos < v.size()) {
                if (v[pos] == '\\') {
                    pos += 2;
                    continue;
                }
                if (v[pos] == '(') {
                    ++depth;
                } else if (v[pos] == ')' && --depth == 0) {
                    ++pos;
                    break;
                }
                ++pos;
            }
            if (depth != 0) {
                return v.size();
            }
        } else {
            break;
        }
    }
    return pos;
}

}  // namespace

std::string value(std::string_view v) {
    const std::string s = seven_bit(v);
    bool token = !s.empty();
    for (const char c : s) {
        token = token && token_char(static_cast<unsigned char>(c));
    }
    // RFC 8601 §2.2 also allows [local-part] "@" domain-name unquoted: an address is fine as is.
    const bool address = s.find('@') != std::string::npos && s.find_first_of(" \t\"\\();,<>[]:") == std::string::npos;
    if (token || address) {
        return s;
    }
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string comment_text(std::string_view text) {
    std::string out;
    for (const char c : seven_bit(text)) {
        if (c == '(' || c == ')' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string format(const std::string& authserv_id, const VerifyResult& r) {
    std::string out = value(authserv_id) + ";\n\tsmime=" + to_string(r.result);
    if (!r.reason.empty()) {
        out += " (" + comment_text(r.reason) + ")";
    }
    // RFC 7281 §3: which signer, which certificate, which part.
    if (r.result != AuthResult::None && !r.identifier.empty()) {
        out += "\n\tbody.smime-identifier=" + value(r.identifier);
    }
    if (!r.part.empty()) {
        out += "\n\tbody.smime-part=" + value(r.part);
    }
    if (r.result != AuthResult::None && !r.serial.empty()) {
        out += "\n\tbody.smime-serial=" + value(r.serial);
    }
    if (r.result != AuthResult::None && !r.issuer.empty()) {
        out += "\n\tbody.smime-issuer=" + value(r.issuer);
    }
    return out;
}

std::optional<std::string> authserv_id(std::string_view v) {
    std::size_t pos = skip_cfws(v, 0);
    if (pos >= v.size()) {
        return std::nullopt;
    }
    std::string id;
    if (v[pos] == '"') {
        ++pos;
        while (pos < v.size() && v[pos] != '"') {
            if (v[pos] == '\\' && pos + 1 < v.size()) {
                ++pos;
            }
            id += v[pos++];
        }
        if (pos >= v.size()) {
            return std::nullopt;  // unterminated quoted-string
        }
    } else {
        // RFC 8601 authserv-id = value; a domain name is a token (dots are token characters).
        while (pos < v.size() && token_char(static_cast<unsigned char>(v[pos]))) {
            id += v[pos++];
        }
    }
    if (id.empty()) {
        return std::nullopt;
    }
    return id;
}

bool claims(std::string_view v, std::string_view ours) {
    const auto id = authserv_id(v);
    return id && id->size() == ours.size() && strncasecmp(id->data(), ours.data(), ours.size()) == 0;
}

}  // namespace segel::smime::authres
