// fuzz_authres: Authentication-Results (smime/authres.h). Reading: the authserv-id of a
// field that arrives from outside (RFC 8601 §2.2), which decides whether a forged field
// claiming our id is removed. Writing: our own field from a verdict whose strings (reason,
// identifier, serial, issuer, part) come from the sender's certificate and message.
// Input: a field value; also split into the strings of a verdict.
//
// Properties: authserv_id never throws and claims() agrees with it; an id we write comes
// back as the same id; what format() writes is 7-bit, folded with "\n\t" only, and reads
// back as exactly our id, one smime= result and the ptypes we put in, whatever the strings
// held (no comment, quote or semicolon in them can end or add a property).
#include "smime/authres.h"
#include "fuzz/support/fuzz.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <strings.h>

#include <utility>
#include <vector>

namespace {

using segel::fuzz::require;
namespace authres = segel::smime::authres;

bool token_char(unsigned char c) {
    return c > 32 && c < 127 && std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) == std::string::npos;
}

/** A minimal RFC 8601 reader for what format() writes: id; then method/ptype=value pairs. */
struct Parsed {
    std::string id;
    std::vector<std::pair<std::string, std::string>> props;  ///< "smime" → "pass", "body.smime-serial" → "1E"
    bool ok = true;
};

Parsed read(std::string_view v) {
    Parsed out;
    std::size_t i = 0;
    const auto skip_cfws = [&] {
        while (i < v.size()) {
            if (v[i] == ' ' || v[i] == '\t' || v[i] == '\n') {
                ++i;
            } else if (v[i] == '(') {
                int depth = 0;
                for (; i < v.size(); ++i) {
                    if (v[i] == '\\') {
                        ++i;
                    } else if (v[i] == '(') {
                        ++depth;
                    } else if (v[i] == ')' && --depth == 0) {
                        ++i;
                        break;
                    }
                }
                if (depth != 0) {
                    out.ok = false;
                    return;
                }
            } else {
                return;
            }
        }
    };
    const auto word = [&](bool value) {
        std::string w;
        if (i < v.size() && v[i] == '"') {
            for (++i; i < v.size() && v[i] != '"'; ++i) {
                if (v[i] == '\\') {
                    ++i;
                }
                if (i < v.size()) {
                    w += v[i];
                }
            }
            out.ok = out.ok && i < v.size();
            ++i;
            return w;
        }
        // A value may also be an address (RFC 8601 §2.2: [local-part] "@" domain-name).
        while (i < v.size() &&
               (token_char(static_cast<unsigned char>(v[i])) ||
                (value && v[i] != ' ' && v[i] != '\t' && v[i] != '\n' && v[i] != ';' && v[i] != '(' && v[i] != '"'))) {
            w += v[i++];
        }
        return w;
    };
    skip_cfws();
    out.id = word(false);
    skip_cfws();
    if (i >= v.size() || v[i] != ';') {
        out.ok = false;
        return out;
    }
    ++i;
    while (out.ok) {
        skip_cfws();
        if (i >= v.size()) {
            break;
        }
        std::string name;
        while (i < v.size() && v[i] != '=' && token_char(static_cast<unsigned char>(v[i]))) {
            name += v[i++];
        }
        if (name.empty() || i >= v.size() || v[i] != '=') {
            out.ok = false;
            break;
        }
        ++i;
        out.props.emplace_back(name, word(true));
    }
    return out;
}

/** What value()/comment_text() make of a string: 7-bit, CR/LF/TAB as spaces, others '?'. */
std::string seven_bit(std::string_view s) {
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        out += c == '\r' || c == '\n' || c == '\t' ? ' ' : (c < 32 || c >= 127) ? '?' : ch;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    const std::string_view whole = fuzz::bytes(data, size);
    // Reading a field from outside.
    const auto id = authres::authserv_id(whole);
    require(!id || !id->empty(), "authserv_id: nullopt or a non-empty id");
    if (id) {
        require(authres::claims(whole, *id), "claims() agrees with authserv_id()");
    }

    // Writing ours from a verdict made of the input's strings.
    FuzzedDataProvider in(data, size);
    // Our id is a token (config/inbound.cpp refuses anything else): the input's token characters.
    std::string ours;
    for (const char c : in.ConsumeRandomLengthString(64)) {
        if (token_char(static_cast<unsigned char>(c))) {
            ours += c;
        }
    }
    if (ours.empty()) {
        ours = "mx.dinas.example.go.id";
    }
    smime::VerifyResult r;
    r.result = static_cast<smime::AuthResult>(in.ConsumeIntegralInRange<int>(0, 6));
    r.reason = in.ConsumeRandomLengthString(256);
    r.identifier = in.ConsumeRandomLengthString(128);
    r.part = in.ConsumeRandomLengthString(16);
    r.serial = in.ConsumeRandomLengthString(64);
    r.issuer = in.ConsumeRemainingBytesAsString();
    const std::string value = authres::format(ours, r);
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        require(c < 128 && c != '\r', "format: 7-bit, no CR");
        require(c != '\n' || (i + 1 < value.size() && value[i + 1] == '\t'), "format: folds only with \\n\\t");
    }
    require(authres::claims(value, ours), "format: the id we write is the id authserv_id reads");
    const Parsed p = read(value);
    require(p.ok, "format: the value reads back");
    require(p.id == ours, "format: the id reads back");
    std::vector<std::pair<std::string, std::string>> want{{"smime", smime::to_string(r.result)}};
    const bool named = r.result != smime::AuthResult::None;
    if (named && !r.identifier.empty()) {
        want.emplace_back("body.smime-identifier", seven_bit(r.identifier));
    }
    if (!r.part.empty()) {
        want.emplace_back("body.smime-part", seven_bit(r.part));
    }
    if (named && !r.serial.empty()) {
        want.emplace_back("body.smime-serial", seven_bit(r.serial));
    }
    if (named && !r.issuer.empty()) {
        want.emplace_back("body.smime-issuer", seven_bit(r.issuer));
    }
    require(p.props == want, "format: exactly the result and ptypes we put in, with their values");
    return 0;
}
