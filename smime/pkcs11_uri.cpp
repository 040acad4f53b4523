#include "smime/pkcs11_uri.h"

#include "base/text.h"

#include "smime/error.h"

#include <cctype>
#include <cstdio>

namespace segel::smime {

namespace {

[[noreturn]] void bad(std::string_view uri, const std::string& what) {
    // The URI is shown as written: it cannot hold a PIN that got this far (pin-value is refused
    // before anything else is read), and an administrator needs to see what was parsed.
    std::string shown;
    for (const char c : uri.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        shown += u >= 0x20 && u < 0x7f ? c : '?';  // one printable line for logs
    }
    throw Error(Category::Credential, "PKCS#11 URI \"" + shown + "\": " + what);
}

bool unreserved(unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

/** RFC 7512 §2.3 pk11-path-res-avail plus unreserved: what a path value may hold unescaped. */
bool path_char(unsigned char c) {
    static constexpr std::string_view k_res = ":[]@!$'()*+,=&";
    return unreserved(c) || k_res.find(static_cast<char>(c)) != std::string_view::npos;
}

std::string decode_value(std::string_view uri, std::string_view name, std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c == '%') {
            const bool complete = i + 2 < v.size();
            const int hi = complete ? base::hex_digit(v[i + 1]) : -1;
            const int lo = complete ? base::hex_digit(v[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                bad(uri, std::string(name) + ": \"%\" must be followed by two hex digits (write a literal % as %25)");
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == ' ') {
            bad(uri, std::string(name) + ": a space must be written %20 (RFC 7512)");
        } else if (c >= 0x80 || c < 0x20 || c == 0x7f) {
            bad(
                uri, std::string(name) + ": byte 0x" + [c] {
                    char b[3];
                    std::snprintf(b, sizeof b, "%02x", c);
                    return std::string(b);
                }() + " must be percent-encoded (UTF-8, e.g. %C3%A9)");
        } else if (!path_char(c)) {
            bad(uri, std::string(name) + ": \"" + std::string(1, static_cast<char>(c)) +
                         "\" must be percent-encoded (RFC 7512 §2.3)");
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

Pkcs11Uri parse_pkcs11_uri(std::string_view text) {
    constexpr std::string_view k_scheme = "pkcs11:";
    Pkcs11Uri u;
    if (text.size() > 4096) {
        bad(text, "longer than 4096 characters");
    }
    // RFC 3986: the scheme is case-insensitive.
    if (text.size() < k_scheme.size()) {
        bad(text, "does not start with pkcs11: (e.g. pkcs11:token=segel;object=siti)");
    }
    for (std::size_t i = 0; i < k_scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != k_scheme[i]) {
            bad(text, "does not start with pkcs11: (e.g. pkcs11:token=segel;object=siti)");
        }
    }
    std::string_view rest = text.substr(k_scheme.size());
    // Refuse a PIN before anything else, whatever else is wrong, so no message echoes it further.
    for (const std::string_view secret : {"pin-value=", "pin-source="}) {
        if (rest.find(secret) != std::string_view::npos) {
            throw Error(Category::Credential,
                        "PKCS#11 URI: " + std::string(secret.substr(0, secret.size() - 1)) +
                            " is not accepted: the PIN goes in pin_file (mode 600), never in the configuration");
        }
    }
    u.text = std::string(text);
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        const std::string_view query = rest.substr(q + 1);
        if (query.rfind("module-path=", 0) == 0 || query.rfind("module-name=", 0) == 0) {
            bad(text, "name the PKCS#11 module with the credential's module: key, not in the URI");
        }
        bad(text, "query attributes (after '?') are not used; select the key with path attributes");
    }
    if (rest.empty()) {
        bad(text, "names nothing: give the token (token=…) and the key (object=… or id=…)");
    }
    std::size_t pos = 0;
    while (pos <= rest.size()) {
        const std::size_t end = std::min(rest.find(';', pos), rest.size());
        const std::string_view attr = rest.substr(pos, end - pos);
        pos = end + 1;
        if (attr.empty()) {
            bad(text, "an empty attribute (two ';' in a row, or a ';' at the end)");
        }
        const std::size_t eq = attr.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            bad(text, "\"" + std::string(attr.substr(0, 40)) + "\" is not name=value");
        }
        const std::string_view name = attr.substr(0, eq);
        const std::string value = decode_value(text, name, attr.substr(eq + 1));
        auto set = [&](std::optional<std::string>& field) {
            if (field) {
                bad(text, std::string(name) + " is given twice");
            }
            field = value;
        };
        if (name == "token") {
            set(u.token);
        } else if (name == "manufacturer") {
            set(u.manufacturer);
        } else if (name == "model") {
            set(u.model);
        } else if (name == "serial") {
            set(u.serial);
        } else if (name == "object") {
            set(u.object);
        } else if (name == "id") {
            set(u.id);
        } else if (name == "type") {
            set(u.type);
            if (value != "private") {
                bad(text, "type=" + value +
                              " does not name a private key: write type=private or leave type out (the certificate "
                              "is found next to the key)");
            }
        } else if (name == "slot-id") {
            if (u.slot_id) {
                bad(text, "slot-id is given twice");
            }
            if (value.empty() || value.size() > 19 || value.find_first_not_of("0123456789") != std::string::npos) {
                bad(text, "slot-id must be a decimal number");
            }
            u.slot_id = std::stoul(value);
        } else if (name == "library-manufacturer" || name == "library-description" || name == "library-version" ||
                   name == "slot-description" || name == "slot-manufacturer" || name.rfind("x-", 0) == 0) {
            bad(text, std::string(name) +
                          " is not used to select keys here; use token, manufacturer, model, serial, slot-id, "
                          "object, id, type");
        } else {
            bad(text, "unknown attribute \"" + std::string(name.substr(0, 40)) +
                          "\" (RFC 7512: token, manufacturer, model, serial, slot-id, object, id, type)");
        }
    }
    if (!u.object && !u.id) {
        bad(text, "does not name the key: add object=LABEL or id=%XX (e.g. from p11tool --list-privkeys --login)");
    }
    if (!u.token && !u.serial && !u.slot_id) {
        bad(text, "does not name the token: add token=LABEL (or serial=…), so a second token cannot take its place");
    }
    return u;
}

std::string pkcs11_uri_escape(std::string_view bytes) {
    std::string out;
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c)) {
            out += ch;
        } else {
            char b[4];
            std::snprintf(b, sizeof b, "%%%02X", c);
            out += b;
        }
    }
    return out;
}

}  // namespace segel::smime
