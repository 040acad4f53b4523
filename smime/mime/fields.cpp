#include "smime/mime/fields.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace segel::smime::mime {

namespace {
bool wsp(char c) {
    return c == ' ' || c == '\t';
}
}  // namespace

std::string Field::value() const {
    std::size_t k = 0;
    while (k < raw.size() && wsp(raw[k])) {
        ++k;
    }
    return raw.substr(k);
}

std::string Field::unfolded() const {
    return unfold(raw);
}

std::string unfold(std::string_view raw) {
    std::string out;
    bool at_start = true;
    bool pending_space = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\n') {
            pending_space = !at_start;
            while (i + 1 < raw.size() && wsp(raw[i + 1])) {
                ++i;
            }
            continue;
        }
        if (at_start && wsp(raw[i])) {
            continue;
        }
        if (pending_space) {
            out += ' ';
            pending_space = false;
        }
        at_start = false;
        out += raw[i];
    }
    while (!out.empty() && wsp(out.back())) {
        out.pop_back();
    }
    return out;
}

namespace {
/**
 * The walk over a header block (split_fields()):
 * @p emit gets each complete field (name, and its value as written: from after
 * the colon to the end of its last line, folds with their line ends) and may
 * stop the walk by returning false. Fills the shape of @p h (not its fields).
 */
template <typename Emit>
void walk_fields(std::string_view entity, std::size_t max_bytes, const std::function<bool(std::string_view)>& stop,
                 HeaderBlock& h, Emit&& emit) {
    std::size_t pos = 0;
    std::string_view name;
    std::size_t raw_begin = 0;
    std::size_t raw_end = 0;
    bool have = false;
    auto flush = [&]() -> bool {
        const bool go_on = !have || emit(name, entity.substr(raw_begin, raw_end - raw_begin));
        have = false;
        return go_on;
    };
    while (pos < entity.size()) {
        const std::size_t eol = entity.find('\n', pos);
        const std::size_t end = eol == std::string_view::npos ? entity.size() : eol;
        std::string_view line = entity.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const std::size_t next = eol == std::string_view::npos ? entity.size() : eol + 1;
        if (line.empty()) {
            h.blank_line = true;
            h.body = next;
            flush();
            return;
        }
        if (stop && stop(line)) {
            h.body = pos;  // e.g. a delimiter line: the header ends, the (empty) body starts here
            flush();
            return;
        }
        if (next > max_bytes) {
            h.too_large = true;
            h.body = pos;
            flush();
            return;
        }
        if (wsp(line.front()) && have) {
            raw_end = pos + line.size();  // a fold: the field goes on
            pos = next;
            continue;
        }
        const std::size_t colon = line.find(':');
        std::string_view n = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
        while (!n.empty() && wsp(n.back())) {
            n.remove_suffix(1);
        }
        if (n.empty() || n.find_first_of(" \t") != std::string_view::npos) {
            h.stray_line = true;  // not a header field: the body starts here
            h.body = pos;
            flush();
            return;
        }
        if (!flush()) {
            h.body = pos;
            return;
        }
        name = n;
        raw_begin = pos + colon + 1;
        raw_end = pos + line.size();
        have = true;
        pos = next;
    }
    h.body = entity.size();
    flush();
}

}  // namespace

std::string crlf_to_lf(std::string_view text) {
    // The runs between CRLFs copied whole: byte at a time, this was 25 K instructions of every
    // inbound message's 30 header fields (docs/performance.md, fix 35).
    std::string out;
    out.reserve(text.size());
    std::size_t from = 0;
    for (std::size_t cr = text.find('\r'); cr != std::string_view::npos; cr = text.find('\r', cr + 1)) {
        if (cr + 1 < text.size() && text[cr + 1] == '\n') {
            out.append(text.substr(from, cr - from));
            from = cr + 1;  // the LF stays, the CR goes; a lone CR is kept
        }
    }
    out.append(text.substr(from));
    return out;
}

HeaderBlock split_fields(std::string_view entity, std::size_t max_bytes,
                         const std::function<bool(std::string_view)>& stop) {
    HeaderBlock h;
    walk_fields(entity, max_bytes, stop, h, [&h](std::string_view name, std::string_view raw) {
        h.fields.push_back({std::string(name), crlf_to_lf(raw)});
        return true;
    });
    return h;
}

std::string name_problem(std::string_view name) {
    if (name.empty()) {
        return "has no name";
    }
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 33 || c > 126 || c == ':') {
            return "is not a valid field name (RFC 5322 ftext: printable US-ASCII without a colon)";
        }
    }
    return "";
}

std::string field_problem(const Field& f) {
    if (std::string problem = name_problem(f.name); !problem.empty()) {
        return problem;
    }
    std::size_t line = f.name.size() + 1;  // the first line holds "name:"
    bool folded = false;
    bool only_space = true;
    for (const char ch : f.raw) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '\n') {
            if (folded && only_space) {
                return "has a folded line of only white space";
            }
            folded = true;
            only_space = true;
            line = 0;
            continue;
        }
        if (ch == '\r') {
            return "holds a bare CR";
        }
        if ((c < 32 && ch != '\t') || c == 127) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", c);
            return std::string("holds a control character (") + hex + ")";
        }
        only_space = only_space && (ch == ' ' || ch == '\t');
        if (++line > 998) {
            return "has a line longer than 998 octets";
        }
    }
    if (folded && only_space) {
        return "has a folded line of only white space";
    }
    return {};
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        out += (c < 32 || c >= 127 || ch == '"' || ch == '\\') ? '?' : ch;
    }
    return out;
}

namespace {
/** Where the header block in @p head ends (after its blank line), looking from @p from on. */
std::optional<std::size_t> head_end(std::string_view head, std::size_t from) {
    const std::size_t start = from > 3 ? from - 3 : 0;
    for (std::size_t i = head.find('\n', start); i != std::string_view::npos; i = head.find('\n', i + 1)) {
        // An empty line: LF or CRLF at the start, or right after the previous line's LF.
        if (i == 0 || head[i - 1] == '\n' || (head[i - 1] == '\r' && (i == 1 || head[i - 2] == '\n'))) {
            return i + 1;
        }
    }
    return std::nullopt;
}
}  // namespace

std::optional<std::string> read_head(const Blob& message, std::size_t limit) {
    const std::size_t total = std::min(limit, message.size());
    std::string head;
    std::size_t piece = 4096;  // most heads fit; then 8, 16, 32 KB …
    while (head.size() < total) {
        const std::size_t before = head.size();
        message.read(before, std::min(piece, total - before), [&head](std::string_view p) { head += p; });
        piece = std::min<std::size_t>(piece * 2, 64 * 1024);
        if (const auto end = head_end(head, before)) {
            head.resize(*end);
            return head;
        }
    }
    return std::nullopt;
}

bool mentions(std::string_view value, std::string_view word) {
    return std::search(value.begin(), value.end(), word.begin(), word.end(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           }) != value.end();
}

bool TopContentType::mentions(std::string_view word) const {
    return field && mime::mentions(field->raw, word);
}

std::optional<std::string> TopContentType::media_type() const {
    if (!field) {
        return "text/plain";
    }
    std::string mt;
    for (const char ch : field->raw) {
        if (ch == ';') {
            break;
        }
        if (ch == '(' || ch == '"') {
            return std::nullopt;
        }
        if (std::isspace(static_cast<unsigned char>(ch)) == 0) {
            mt += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
    }
    if (mt.find('/') == std::string::npos) {
        return std::nullopt;
    }
    return mt;
}

TopContentType top_content_type(const Blob& message) {
    TopContentType top;
    const auto head = read_head(message);
    if (!head || head->find('\0') != std::string::npos) {
        return top;  // no end in sight, or a NUL byte (where GMime's C strings end): the full parse decides
    }
    HeaderBlock block = split_fields(*head);
    if (block.stray_line) {
        return top;
    }
    int encodings = 0;
    for (auto& f : block.fields) {
        if (strcasecmp(f.name.c_str(), "Content-Type") == 0) {
            if (top.field) {
                return TopContentType{};  // several: which one counts is the full parser's call
            }
            top.field = std::move(f);
        } else if (strcasecmp(f.name.c_str(), "Content-Transfer-Encoding") == 0 && ++encodings == 1) {
            std::string v = f.unfolded();
            std::transform(v.begin(), v.end(), v.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            top.transfer_encoding = std::move(v);
        }
    }
    if (encodings > 1) {
        top.transfer_encoding.reset();
    }
    top.body = block.body;
    top.known = true;
    return top;
}

namespace {
/** An RFC 2045 token character: printable US-ASCII but space and the tspecials. */
bool token_char(char c) {
    return c > ' ' && c < 127 && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

bool ieq(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/** Reads the plain form (PlainValue) of @p v; @p subtype: a Content-Type, else a disposition. */
std::optional<PlainValue> plain_value(std::string_view v, bool subtype) {
    PlainValue out;
    std::size_t i = 0;
    const std::size_t n = v.size();
    const auto space = [&] {
        while (i < n && (v[i] == ' ' || v[i] == '\t')) {
            ++i;
        }
    };
    const auto token = [&]() -> std::string_view {
        const std::size_t from = i;
        while (i < n && token_char(v[i])) {
            ++i;
        }
        return v.substr(from, i - from);
    };
    space();
    out.type = token();
    if (out.type.empty()) {
        return std::nullopt;
    }
    if (subtype) {
        if (i == n || v[i] != '/') {
            return std::nullopt;
        }
        ++i;
        out.subtype = token();
        if (out.subtype.empty()) {
            return std::nullopt;
        }
    }
    space();
    while (i < n) {
        if (v[i] != ';' || out.count == PlainValue::k_max) {
            return std::nullopt;
        }
        ++i;
        space();
        const std::string_view name = token();
        // '*' marks an RFC 2231 parameter (charset, language, continuations): GMime's to decode
        if (name.empty() || name.find('*') != std::string_view::npos || i == n || v[i] != '=') {
            return std::nullopt;
        }
        ++i;
        std::string_view value;
        if (i < n && v[i] == '"') {
            const std::size_t from = ++i;
            while (i < n && v[i] != '"') {
                if (v[i] < ' ' || v[i] >= 127 || v[i] == '\\') {
                    return std::nullopt;  // an escape, a control or an 8-bit byte: GMime's to read
                }
                ++i;
            }
            if (i == n || i == from) {
                return std::nullopt;  // unterminated, or empty
            }
            value = v.substr(from, i - from);
            ++i;
        } else {
            value = token();
            if (value.empty()) {
                return std::nullopt;
            }
        }
        if (value.find("=?") != std::string_view::npos || out.param(name)) {
            return std::nullopt;  // perhaps an RFC 2047 word, or a name given twice: GMime decides
        }
        out.params[out.count++] = {name, value};
        space();
    }
    return out;
}
}  // namespace

std::optional<std::string_view> PlainValue::param(std::string_view name) const {
    for (std::size_t k = 0; k < count; ++k) {
        if (ieq(params[k].name, name)) {
            return params[k].value;
        }
    }
    return std::nullopt;
}

bool PlainValue::is(std::string_view t, std::string_view s) const {
    return ieq(type, t) && (s == "*" || ieq(subtype, s));
}

std::optional<PlainValue> plain_content_type(std::string_view value) {
    return plain_value(value, true);
}

std::optional<PlainValue> plain_disposition(std::string_view value) {
    return plain_value(value, false);
}

}  // namespace segel::smime::mime
