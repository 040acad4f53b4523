#include "smime/canonical.h"

#include "smime/error.h"
#include "smime/mime/mime.h"
#include "smime/mime/transport_safe.h"

#include <strings.h>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace segel::smime::canonical {

std::string Hazards::describe() const {
    std::string s;
    auto add = [&s](bool b, const char* what) {
        if (b) {
            s += s.empty() ? "" : ", ";
            s += what;
        }
    };
    add(eight_bit, "8-bit bytes");
    add(nul, "NUL bytes");
    add(bare_cr, "bare CR");
    add(long_line, "body lines over 76 characters");
    add(overlong_line, "lines over 998 octets");
    add(trailing_space, "trailing white space");
    add(from_line, "\"From \" lines");
    return s.empty() ? "none" : s;
}

std::string wire_problems(const Hazards& hazards, const LineFacts& lines) {
    std::string s;
    auto add = [&s](bool b, const char* what) {
        if (b) {
            s += s.empty() ? "" : ", ";
            s += what;
        }
    };
    add(hazards.eight_bit, "8-bit bytes");
    add(hazards.nul, "NUL bytes");
    add(hazards.bare_cr, "bare CR");
    add(lines.bare_lf, "bare LF line ends");
    add(hazards.overlong_line, "lines over 998 octets");
    add(hazards.trailing_space, "trailing white space");
    add(hazards.from_line, "\"From \" lines");
    return s;
}

namespace {
/** Bytes the scanner must look at one by one: NUL, CR, LF and everything >= 0x80. */
constexpr std::array<bool, 256> make_special() {
    std::array<bool, 256> t{};
    t[0] = true;
    t['\r'] = true;
    t['\n'] = true;
    for (int c = 0x80; c < 256; ++c) {
        t[static_cast<std::size_t>(c)] = true;
    }
    return t;
}
constexpr auto k_special = make_special();

/** How much of a possible Content-Transfer-Encoding line the scanner keeps (longer lines are long lines). */
constexpr std::size_t k_capture = 128;

/**
 * The first special byte at or after @p i (or @p n): 16 bytes at a time with
 * SSE2 (every x86-64 CPU has it), else 8 at a time (SWAR: high bit, zero, CR or LF).
 */
inline std::size_t next_special(const unsigned char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
    // One signed compare finds them all: bytes >= 0x80 are negative, and NUL, LF and CR are
    // below 14. (Tab and the other controls below 14 stop the run too; the byte-by-byte path
    // treats them as the ordinary bytes they are.)
    const __m128i limit = _mm_set1_epi8(14);
    while (i + 16 <= n) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmplt_epi8(v, limit)));
        if (mask != 0) {
            return i + static_cast<std::size_t>(__builtin_ctz(mask));
        }
        i += 16;
    }
#else
    constexpr std::uint64_t k_ones = 0x0101010101010101ULL;
    constexpr std::uint64_t k_high = 0x8080808080808080ULL;
    auto has_zero = [](std::uint64_t v) { return (v - k_ones) & ~v & k_high; };
    while (i + 8 <= n) {
        std::uint64_t w = 0;
        std::memcpy(&w, p + i, sizeof w);
        if (((w & k_high) | has_zero(w) | has_zero(w ^ (k_ones * '\r')) | has_zero(w ^ (k_ones * '\n'))) != 0) {
            break;
        }
        i += 8;
    }
#endif
    while (i < n && !k_special[p[i]]) {
        ++i;
    }
    return i;
}
}  // namespace

void Scanner::feed(std::string_view bytes) {
    m_size += bytes.size();
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        // A run of ordinary bytes (the bulk of any text or base64 line) is accounted for at
        // once: the same state changes as feeding them one by one below.
        const std::size_t run = next_special(p, i, n);
        if (m_line_start && !m_pending_cr && run + 1 < n && p[run] == '\r' && p[run + 1] == '\n') {
            // A whole CRLF line in view, the usual case: judged in place, with no state to carry.
            whole_line(bytes.substr(i, run - i));
            i = run + 2;
            continue;
        }
        if (run > i) {
            if (m_pending_cr) {
                m_pending_cr = false;
                m_h.bare_cr = true;
            }
            const std::size_t len = run - i;
            if (m_line_start) {
                line_begins(p[i]);
            }
            if (m_capture && m_line.size() < k_capture) {
                m_line.append(bytes.substr(i, std::min(k_capture - m_line.size(), len)));
            }
            m_col += len;
            if (m_col > k_max_line) {
                judge_length(m_col);
            }
            if (m_head_len < sizeof m_head) {
                const std::size_t take = std::min(sizeof m_head - m_head_len, len);
                std::memcpy(m_head + m_head_len, p + i, take);
                m_head_len += take;
                check_from();
            }
            m_last = static_cast<char>(p[run - 1]);
            i = run;
            if (i == n) {
                break;
            }
        }
        feed_byte(p[i++]);
    }
}

void Scanner::whole_line(std::string_view line) {
    if (line.size() > k_max_line) {
        judge_length(line.size());
    }
    if (!line.empty()) {
        const char first = line.front();
        if (first == '\t') {
            m_lines.tab_start = true;
        } else if (first == 'C' || first == 'c') {
            m_capture = true;
            m_line.assign(line.substr(0, k_capture));
            line_ends();
        } else if (first == 'F' && line.size() >= 5 && std::memcmp(line.data(), "From ", 5) == 0) {
            m_h.from_line = true;
        }
        const char last = line.back();
        if (last == ' ' || last == '\t') {
            m_h.trailing_space = true;
        }
    }
    m_last = '\n';
    next_line(line.size(), line.size() >= 2 && line[0] == '-' && line[1] == '-');
}

void Scanner::judge_length(std::size_t length) {
    if (length > k_max_wire_line) {
        m_h.overlong_line = true;
    }
    if (length > k_max_line) {
        if (m_in_header) {
            m_lines.long_header_line = true;
        } else {
            m_h.long_line = true;
        }
    }
}

void Scanner::next_line(std::size_t length, bool dashes) {
    if (!m_structured) {
        return;
    }
    if (length == 0) {
        m_in_header = false;  // the blank line that ends a header block
    } else if (dashes) {
        m_in_header = true;  // perhaps a boundary delimiter: a part's header block follows
    }
}

void Scanner::line_begins(unsigned char first) {
    m_line_start = false;
    if (first == '\t') {
        m_lines.tab_start = true;
    }
    m_capture = first == 'C' || first == 'c';
}

void Scanner::line_ends() {
    m_line_start = true;
    if (!m_capture) {
        return;
    }
    m_capture = false;
    static constexpr std::string_view k_cte = "content-transfer-encoding:";
    if (m_line.size() >= k_cte.size() && strncasecmp(m_line.data(), k_cte.data(), k_cte.size()) == 0) {
        std::string v = m_line.substr(k_cte.size());
        for (auto& ch : v) {
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        if (v.find("8bit") != std::string::npos || v.find("binary") != std::string::npos) {
            m_lines.binary_label = true;
        }
    }
    m_line.clear();
}

void Scanner::feed_byte(unsigned char c) {
    const bool after_cr = m_pending_cr;
    if (m_pending_cr) {
        m_pending_cr = false;
        if (c != '\n') {
            m_h.bare_cr = true;
        }
    }
    if (c == '\r') {
        m_pending_cr = true;
        return;
    }
    if (c == '\n') {
        if (!after_cr) {
            m_lines.bare_lf = true;
        }
        line_ends();
        next_line(m_col, m_head_len >= 2 && m_head[0] == '-' && m_head[1] == '-');
        if (m_last == ' ' || m_last == '\t') {
            m_h.trailing_space = true;
        }
        m_col = 0;
        m_head_len = 0;
        m_last = '\n';
        return;
    }
    if (m_line_start) {
        line_begins(c);
    }
    if (m_capture && m_line.size() < k_capture) {
        m_line += static_cast<char>(c);
    }
    if (c >= 0x80) {
        m_h.eight_bit = true;
    } else if (c == 0) {
        m_h.nul = true;
    }
    if (++m_col > k_max_line) {
        judge_length(m_col);
    }
    if (m_head_len < sizeof m_head) {
        m_head[m_head_len++] = static_cast<char>(c);
        check_from();
    }
    m_last = static_cast<char>(c);
}

Hazards Scanner::finish() {
    if (!m_line_start) {
        line_ends();  // a last line without a line end
    }
    if (m_pending_cr) {
        m_h.bare_cr = true;
    }
    if (m_last == ' ' || m_last == '\t') {
        m_h.trailing_space = true;
    }
    return m_h;
}

Hazards scan(std::string_view bytes, Layout layout) {
    Scanner s(layout);
    s.feed(bytes);
    return s.finish();
}

std::string qp_encode(std::string_view text) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() + text.size() / 8 + 16);
    std::size_t col = 0;
    auto emit = [&](std::string_view token) {
        // Keep room for the soft-break "=" (RFC 2045: at most 76 characters a line).
        if (col + token.size() > k_max_line - 1) {
            out += "=\r\n";
            col = 0;
        }
        out += token;
        col += token.size();
    };
    std::size_t i = 0;
    while (i < text.size()) {
        // One logical line, ending at LF (an optional CR before it belongs to the break).
        std::size_t end = text.find('\n', i);
        const bool has_break = end != std::string_view::npos;
        if (!has_break) {
            end = text.size();
        }
        std::size_t stop = end;
        if (has_break && stop > i && text[stop - 1] == '\r') {
            --stop;
        }
        for (std::size_t j = i; j < stop; ++j) {
            const auto c = static_cast<unsigned char>(text[j]);
            const bool last = j + 1 == stop;
            // A literal here would start a new (soft-broken) line when col is near the limit.
            const bool at_line_start = col == 0 || col + 1 > k_max_line - 1;
            const bool from = at_line_start && c == 'F' && text.substr(j, 5) == "From ";
            const bool dot = at_line_start && c == '.';
            const bool literal =
                ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) && !from && !dot;
            if (literal) {
                // A space or tab must not end up last before a soft break.
                if ((c == ' ' || c == '\t') && col + 1 >= k_max_line - 1) {
                    const char enc[3] = {'=', k_hex[c >> 4U], k_hex[c & 15U]};
                    emit(std::string_view(enc, 3));
                } else {
                    const char lit[1] = {static_cast<char>(c)};
                    emit(std::string_view(lit, 1));
                }
            } else {
                const char enc[3] = {'=', k_hex[c >> 4U], k_hex[c & 15U]};
                emit(std::string_view(enc, 3));
            }
        }
        if (has_break) {
            out += "\r\n";
            col = 0;
        }
        i = end + (has_break ? 1 : 0);
    }
    return out;
}

std::string to_crlf(std::string_view text) {
    // From line break to line break (memchr), copying the runs between: mail is mostly CRLF
    // already, and a byte-at-a-time copy was 1.4 % of decrypt+verify's CPU (docs/performance.md).
    std::string out;
    out.reserve(text.size() + text.size() / 32 + 8);
    std::size_t at = 0;
    while (at < text.size()) {
        const void* hit = std::memchr(text.data() + at, '\n', text.size() - at);
        if (hit == nullptr) {
            out.append(text.substr(at));
            break;
        }
        const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
        out.append(text.substr(at, nl - at));
        if (nl == 0 || text[nl - 1] != '\r') {
            out += '\r';
        }
        out += '\n';
        at = nl + 1;
    }
    return out;
}

bool is_content_header(std::string_view name) {
    return (name.size() >= 8 && strncasecmp(name.data(), "Content-", 8) == 0) ||
           (name.size() == 12 && strncasecmp(name.data(), "MIME-Version", 12) == 0);
}

namespace {

Hazards scan_stream(GMimeStream* stream) {
    Scanner s;
    g_mime_stream_reset(stream);
    char buf[65536];
    for (;;) {
        const ssize_t n = g_mime_stream_read(stream, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        s.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
    g_mime_stream_reset(stream);
    return s.finish();
}

/** What one make_transport_safe() run carries through the tree. */
struct Walk {
    const Blob* source;
    int max_depth;
    Rewrite& stats;
};

/**
 * Whether the field that starts at @p offset of @p source (its name, its value
 * and every continuation line) contains a NUL byte. Read in small windows: a
 * field ends at the first line end not followed by white space.
 */
bool field_has_nul(const Blob& source, gint64 offset) {
    if (offset < 0) {
        return false;
    }
    constexpr std::size_t k_window = 4096;
    bool found = false;
    bool done = false;
    char prev = 0;
    for (auto at = static_cast<std::size_t>(offset); !done && at < source.size(); at += k_window) {
        source.read(at, std::min(k_window, source.size() - at), [&](std::string_view piece) {
            for (const char c : piece) {
                if (done) {
                    return;
                }
                if (c == '\0') {
                    found = done = true;
                } else if (prev == '\n' && c != ' ' && c != '\t') {
                    done = true;
                }
                prev = c;
            }
        });
    }
    return found;
}

/**
 * No control or 8-bit bytes in a field name (RFC 5322 §2.2: printable US-ASCII). White space
 * before the colon is tolerated, as RFC 5322 §4.5 obsolete syntax has it: it travels unchanged.
 */
bool printable_name(std::string_view name) {
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 32 && c != '\t') || c >= 127) {
            return false;
        }
    }
    return !name.empty();
}

/**
 * @p raw (a value as GMime keeps it: after the colon, "\n" or "\r\n" line
 * ends) with every line over k_max_wire_line folded before white space
 * (RFC 5322 §2.2.3: unfolding gives back the same value). The first line
 * also carries the field name and its colon (@p name_len + 1 octets).
 * @throws Error{Malformed} when a line has no white space to fold at.
 */
std::string fold_overlong(std::string_view raw, const std::string& name) {
    std::string out;
    out.reserve(raw.size() + 16);
    std::size_t prefix = name.size() + 1;  // "Name:" precedes the first line
    std::size_t start = 0;
    while (start < raw.size()) {
        std::size_t end = raw.find('\n', start);
        const bool has_end = end != std::string_view::npos;
        std::size_t stop = has_end ? end : raw.size();
        if (stop > start && raw[stop - 1] == '\r') {
            --stop;
        }
        std::string_view line = raw.substr(start, stop - start);
        while (prefix + line.size() > k_max_wire_line) {
            // The last white space that leaves at most 998 octets before it, not the line's
            // first character (a fold there would leave an empty line before it).
            const std::size_t limit = k_max_wire_line - prefix;
            std::size_t cut = std::string_view::npos;
            for (std::size_t k = std::min(limit, line.size() - 1); k > 0; --k) {
                if (line[k] == ' ' || line[k] == '\t') {
                    cut = k;
                    break;
                }
            }
            if (cut == std::string_view::npos || (prefix > 0 && cut == 0)) {
                throw Error(Category::Malformed, "header field " + name + " has a line of " +
                                                     std::to_string(prefix + line.size()) +
                                                     " octets with no white space to fold it at (RFC 5322 allows 998)");
            }
            out.append(line.substr(0, cut));
            out += "\r\n";
            line.remove_prefix(cut);  // the continuation line starts with that white space
            prefix = 0;
        }
        out.append(line);
        if (has_end) {
            out += "\r\n";
        }
        prefix = 0;
        start = has_end ? end + 1 : raw.size();
    }
    return out;
}

/** Whether any line of @p raw (with the name on the first) is over k_max_wire_line. */
bool has_overlong_line(std::string_view raw, std::size_t name_len) {
    std::size_t col = name_len + 1;
    for (const char c : raw) {
        if (c == '\n') {
            col = 0;
        } else if (c != '\r' && ++col > k_max_wire_line) {
            return true;
        }
    }
    return false;
}

/**
 * @p raw with every continuation line starting with a space instead of a tab
 * and no white space before any line end (relays re-fold and strip those). A
 * continuation line of white space alone goes: left empty it would end the
 * header block (unfolding gives the same value without it).
 */
std::string tidy_folds(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    std::size_t start = 0;
    bool first = true;
    while (start < raw.size()) {
        std::size_t end = raw.find('\n', start);
        const bool has_end = end != std::string_view::npos;
        end = has_end ? end + 1 : raw.size();
        std::string_view line = raw.substr(start, end - start);
        start = end;
        std::string_view eol;
        if (!line.empty() && line.back() == '\n') {
            eol = line.size() >= 2 && line[line.size() - 2] == '\r' ? line.substr(line.size() - 2)
                                                                    : line.substr(line.size() - 1);
        }
        std::string_view text = line.substr(0, line.size() - eol.size());
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
            text.remove_suffix(1);
        }
        if (!first && text.empty()) {
            continue;  // a continuation line of white space only
        }
        if (!first && text.front() == '\t') {
            out += ' ';
            text.remove_prefix(1);
        }
        out.append(text);
        out.append(eol);
        first = false;
    }
    return out;
}

void fix_headers(GMimeObject* object, Walk& w) {
    GMimeHeaderList* list = g_mime_object_get_header_list(object);
    const int n = g_mime_header_list_get_count(list);
    for (int i = 0; i < n; ++i) {
        GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
        const char* raw = g_mime_header_get_raw_value(h);
        if (raw == nullptr) {
            continue;
        }
        const std::string name = g_mime_header_get_name(h) != nullptr ? g_mime_header_get_name(h) : "";
        const std::string_view rv(raw);
        // GMime keeps a value as a C string: one cut short by a NUL lost its line end and
        // everything after the NUL (the part's body would become a header line).
        if ((rv.empty() || rv.back() != '\n') && w.source != nullptr &&
            field_has_nul(*w.source, g_mime_header_get_offset(h))) {
            throw Error(Category::Malformed, "header field " + name + " inside the message contains a NUL byte");
        }
        if (!printable_name(name)) {
            throw Error(Category::Malformed, "a header field name inside the message is not printable ASCII");
        }
        const bool eight_bit = mime::has_8bit(rv);
        const Hazards hz = scan(rv);
        if (hz.bare_cr) {
            throw Error(Category::Malformed, "header field " + name + " inside the message contains a bare CR");
        }
        if (eight_bit) {
            // Raw UTF-8 in a header: re-encode per RFC 2047 / RFC 2231 (GMime folds what it writes).
            const std::string value = g_mime_header_get_value(h) != nullptr ? g_mime_header_get_value(h) : "";
            g_mime_header_set_value(h, mime::crlf(), value.c_str(), "utf-8");
            ++w.stats.headers_reencoded;
            raw = g_mime_header_get_raw_value(h);
            if (raw == nullptr) {
                continue;
            }
        }
        const std::string before(raw);
        std::string fixed = tidy_folds(before);
        if (has_overlong_line(fixed, name.size())) {
            fixed = fold_overlong(fixed, name);
        }
        if (fixed != before) {
            g_mime_header_set_raw_value(h, fixed.c_str());
            w.stats.headers_reencoded += eight_bit ? 0 : 1;
        }
    }
}

/** Signed or encrypted (RFC 1847, RFC 8551): what is inside must not change. */
bool is_protected(GMimeObject* object) {
    GMimeContentType* ct = g_mime_object_get_content_type(object);
    return ct != nullptr && (g_mime_content_type_is_type(ct, "multipart", "signed") ||
                             g_mime_content_type_is_type(ct, "multipart", "encrypted") ||
                             g_mime_content_type_is_type(ct, "application", "pkcs7-mime") ||
                             g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime"));
}

/** Whether @p object, written as it is, reaches a recipient unchanged (wire_problems() finds nothing). */
bool travels_as_is(GMimeObject* object) {
    Blob bytes;
    mime::write(object, bytes);
    Scanner scanner(Layout::Entity);
    bytes.read(0, bytes.size(), [&scanner](std::string_view piece) { scanner.feed(piece); });
    const Hazards h = scanner.finish();
    return wire_problems(h, scanner.lines()).empty();
}

bool unsafe_text(const char* s) {
    return s != nullptr && scan(s).any();
}

void fix_leaf(GMimePart* part, Rewrite& stats) {
    const GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
    GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
    Hazards hz;
    if (wrapper != nullptr) {
        hz = scan_stream(g_mime_data_wrapper_get_stream(wrapper));
    }
    const bool labelled_8bit = enc == GMIME_CONTENT_ENCODING_8BIT || enc == GMIME_CONTENT_ENCODING_BINARY;
    if (!hz.any()) {
        if (labelled_8bit) {
            g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_7BIT);
            ++stats.relabelled_7bit;
        }
        return;
    }
    GMimeContentType* ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    const bool text = ct != nullptr && g_mime_content_type_is_type(ct, "text", "*");
    if (text && enc != GMIME_CONTENT_ENCODING_BASE64 && enc != GMIME_CONTENT_ENCODING_UUENCODE) {
        const std::string encoded = qp_encode(mime::decoded_content(part));
        auto stream = gobj::adopt(g_mime_stream_mem_new_with_buffer(encoded.data(), encoded.size()));
        auto qp =
            gobj::adopt(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE));
        g_mime_part_set_content(part, qp.get());
        g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    } else {
        // Hand GMime the decoded bytes (lazily, through a filter) so that it really
        // re-encodes: setting the encoding a part already has would be a no-op.
        GMimeStream* raw = g_mime_data_wrapper_get_stream(wrapper);
        g_mime_stream_reset(raw);
        auto decoded = gobj::adopt(g_mime_stream_filter_new(raw));
        const GMimeContentEncoding from = g_mime_data_wrapper_get_encoding(wrapper);
        if (from == GMIME_CONTENT_ENCODING_BASE64 || from == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
            from == GMIME_CONTENT_ENCODING_UUENCODE) {
            auto filter = gobj::adopt(g_mime_filter_basic_new(from, FALSE));
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(decoded.get()), filter.get());
        }
        auto fresh = gobj::adopt(g_mime_data_wrapper_new_with_stream(decoded.get(), GMIME_CONTENT_ENCODING_DEFAULT));
        g_mime_part_set_content(part, fresh.get());
        g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
    }
    ++stats.parts_reencoded;
}

void walk(GMimeObject* object, int depth, Walk& w) {
    if (depth > w.max_depth) {
        throw Error(Category::Malformed,
                    "MIME structure nested deeper than " + std::to_string(w.max_depth) + " levels");
    }
    if (is_protected(object)) {
        // A forwarded signed (or encrypted) message, or one the client signed that is signed
        // over: its bytes are its own signature's. (The top level's epilogue is nobody's.)
        if (depth == 0 && GMIME_IS_MULTIPART(object)) {
            g_mime_multipart_set_epilogue(GMIME_MULTIPART(object), nullptr);
        }
        if (travels_as_is(object)) {
            ++w.stats.protected_kept;
            return;
        }
        ++w.stats.protected_rewritten;  // it could not travel as it is: made safe, its signature breaks
    }
    fix_headers(object, w);
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart* mp = GMIME_MULTIPART(object);
        if (unsafe_text(g_mime_multipart_get_prologue(mp))) {
            g_mime_multipart_set_prologue(mp, nullptr);
        }
        if (depth == 0 || unsafe_text(g_mime_multipart_get_epilogue(mp))) {
            g_mime_multipart_set_epilogue(mp, nullptr);
        }
        const int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; ++i) {
            walk(g_mime_multipart_get_part(mp, i), depth + 1, w);
        }
    } else if (GMIME_IS_MESSAGE_PART(object)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        if (inner != nullptr) {
            fix_headers(GMIME_OBJECT(inner), w);
            GMimeObject* body = g_mime_message_get_mime_part(inner);
            if (body != nullptr) {
                walk(body, depth + 1, w);
            }
        }
        // RFC 2046 §5.2.1: message/rfc822 may only be 7bit, 8bit or binary; ours is now 7bit.
        GMimeHeaderList* list = g_mime_object_get_header_list(object);
        if (g_mime_header_list_contains(list, "Content-Transfer-Encoding")) {
            g_mime_header_list_set(list, "Content-Transfer-Encoding", "7bit", nullptr);
        }
    } else if (GMIME_IS_PART(object)) {
        fix_leaf(GMIME_PART(object), w.stats);
    }
}

}  // namespace

Rewrite make_transport_safe(GMimeObject* entity, const Blob* source, int max_depth) {
    Rewrite stats;
    Walk w{source, max_depth, stats};
    walk(entity, 0, w);
    return stats;
}

}  // namespace segel::smime::canonical
