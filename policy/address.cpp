#include "policy/address.h"

#include "base/text.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

namespace segel::policy::address {

namespace {

// ---------------------------------------------------------------------------------------------
// characters

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/** RFC 5322 §3.2.3 atext (ASCII part). */
bool is_atext(char c) {
    static constexpr std::string_view k_extra = "!#$%&'*+-/=?^_`{|}~";
    return is_alnum(c) || k_extra.find(c) != std::string_view::npos;
}

bool is_8bit(char c) {
    return (static_cast<unsigned char>(c) & 0x80U) != 0;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

using base::lower;

/**
 * Decodes one UTF-8 sequence at @p i (strict: no overlong forms, no surrogates,
 * at most U+10FFFF); returns its length, or 0 when the bytes are not UTF-8.
 */
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    if ((b0 & 0xE0U) == 0xC0) {
        len = 2;
        cp = b0 & 0x1FU;
        min = 0x80;
    } else if ((b0 & 0xF0U) == 0xE0) {
        len = 3;
        cp = b0 & 0x0FU;
        min = 0x800;
    } else if ((b0 & 0xF8U) == 0xF0) {
        len = 4;
        cp = b0 & 0x07U;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0U) != 0x80) {
            return 0;
        }
        cp = (cp << 6U) | (b & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_at(s, i, cp);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

std::string code_point_name(char32_t cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
    return buf;
}

/** Characters that look like mail syntax but are not, and what they imitate. */
const char* lookalike(char32_t cp) {
    switch (cp) {
        case 0x201C:  // “
        case 0x201D:  // ”
        case 0x201E:  // „
        case 0x201F:  // ‟
        case 0x2033:  // ″
        case 0x2036:  // ‶
        case 0x301D:  // 〝
        case 0x301E:  // 〞
        case 0x301F:  // 〟
        case 0xFF02:  // ＂
        case 0x00AB:  // «
        case 0x00BB:  // »
            return "a typographic quote, which mail programs do not read as a quote";
        case 0x2039:  // ‹
        case 0x203A:  // ›
        case 0x2329:  // 〈
        case 0x232A:  // 〉
        case 0x27E8:  // ⟨
        case 0x27E9:  // ⟩
        case 0x3008:  // 〈
        case 0x3009:  // 〉
        case 0xFE64:  // ﹤
        case 0xFE65:  // ﹥
        case 0xFF1C:  // ＜
        case 0xFF1E:  // ＞
            return "a look-alike of '<' or '>'";
        case 0xFE6B:  // ﹫
        case 0xFF20:  // ＠
            return "a look-alike of '@'";
        case 0xFF0C:  // ，
        case 0xFE50:  // ﹐
        case 0xFF1B:  // ；
        case 0xFE54:  // ﹔
        case 0x037E:  // ; (Greek question mark)
        case 0xFF1A:  // ：
        case 0xFE55:  // ﹕
            return "a look-alike of ',', ';' or ':'";
        default:
            return nullptr;
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 2047 encoded-words

bool accepted_charset(std::string cs, std::string& why) {
    cs = lower(cs);
    if (const auto star = cs.find('*'); star != std::string::npos) {
        cs.resize(star);  // RFC 2231 §5: charset*language
    }
    auto numbered = [&cs](std::string_view prefix, int lo, int hi) {
        if (cs.rfind(prefix, 0) != 0 || cs.size() == prefix.size() || cs.size() > prefix.size() + 2) {
            return false;
        }
        int n = 0;
        for (std::size_t i = prefix.size(); i < cs.size(); ++i) {
            if (cs[i] < '0' || cs[i] > '9') {
                return false;
            }
            n = n * 10 + (cs[i] - '0');
        }
        return n >= lo && n <= hi;
    };
    if (cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || numbered("iso-8859-", 1, 16) ||
        numbered("windows-125", 0, 8)) {
        return true;
    }
    // UTF-7 writes '@' as "+AEA-", UTF-16 as "\0@", ISO-2022 switches sets with ESC:
    // in each, what a reader shows is not what the bytes look like.
    why = "an encoded-word uses the charset \"" + cs.substr(0, 40) +
          "\", in which segel cannot check what it shows (accepted: utf-8, us-ascii, iso-8859-N, windows-125N)";
    return false;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

std::optional<std::string> decode_b(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t pad = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '=') {
            // Padding only at the end, at most two.
            if (i + 2 < text.size() || ++pad > 2) {
                return std::nullopt;
            }
            continue;
        }
        const int v = base64_value(c);
        if (v < 0 || pad > 0) {
            return std::nullopt;
        }
        acc = (acc << 6U) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU);
        }
    }
    return out;
}

std::optional<std::string> decode_q(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '_') {
            out += ' ';
        } else if (c == '=') {
            if (i + 2 >= text.size()) {
                return std::nullopt;
            }
            const int hi = base::hex_digit(text[i + 1]);
            const int lo = base::hex_digit(text[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

/** Length of the encoded-word syntax at @p i ("=?cs?e?text?="), or 0. Says nothing of its content. */
std::size_t encoded_word_at(std::string_view s, std::size_t i) {
    if (s.compare(i, 2, "=?") != 0) {
        return 0;
    }
    std::size_t p = i + 2;
    const std::size_t cs = p;
    while (p < s.size() && s[p] != '?' && !is_wsp(s[p]) && static_cast<unsigned char>(s[p]) > 0x20 && !is_8bit(s[p])) {
        ++p;
    }
    if (p == cs || p + 2 >= s.size() || s[p] != '?' || s[p + 2] != '?') {
        return 0;
    }
    const char enc = lower(s[p + 1]);
    if (enc != 'b' && enc != 'q') {
        return 0;
    }
    p += 3;
    while (p < s.size() && s[p] != '?' && !is_wsp(s[p]) && static_cast<unsigned char>(s[p]) > 0x20 && !is_8bit(s[p])) {
        ++p;
    }
    if (p + 1 >= s.size() || s[p] != '?' || s[p + 1] != '=') {
        return 0;
    }
    return p + 2 - i;
}

// ---------------------------------------------------------------------------------------------
// reasons

struct Text {
    const char* reason;
    const char* fix;
};

Text text_of(Problem p) {
    switch (p) {
        case Problem::None:
            return {"", ""};
        case Problem::Empty:
            return {"it is empty", "send with exactly one From address"};
        case Problem::TooLong:
            return {"it is longer than 4096 bytes", "shorten the display name"};
        case Problem::ControlCharacter:
            return {"it contains a control character (NUL, a bare CR or LF, or another)",
                    "send it from a standard mail program"};
        case Problem::InvalidUtf8:
            return {"it contains 8-bit bytes that are not UTF-8",
                    "let the mail program encode the name (RFC 2047), or use UTF-8"};
        case Problem::Lookalike:
            return {"", "write the name in plain ASCII double quotes, e.g. \"Siti Rahmawati\" <siti@...>"};
        case Problem::UnbalancedQuote:
            return {"a double quote is not closed", "close the quote or remove it"};
        case Problem::UnbalancedComment:
            return {"a parenthesis ( ) is not closed or not opened", "remove the parentheses"};
        case Problem::NestedComment:
            return {"it has a comment inside a comment", "remove the parentheses"};
        case Problem::EncodedWord:
            return {"", "let the mail program encode the name in UTF-8 (RFC 2047), or use a plain ASCII name"};
        case Problem::SeveralMailboxes:
            return {"it names more than one mailbox", "send with exactly one From address"};
        case Problem::Semicolon:
            return {"';' separates two addresses for some mail programs (JavaMail reads two senders)",
                    "send with exactly one From address"};
        case Problem::Group:
            return {"it uses group syntax (name: ...;)", "send with exactly one From address, without a group"};
        case Problem::UnbalancedAngle:
            return {"'<' and '>' do not pair up", "write the address once, as <local@domain>"};
        case Problem::Route:
            return {"the address has an obsolete source route (<@host:...>)", "use a plain address <local@domain>"};
        case Problem::UnquotedSpecial:
            return {"", "put the name in double quotes, e.g. \"Siti Rahmawati\" <siti@...>, or remove it"};
        case Problem::TextAroundAddress:
            return {"there is text next to the address outside <...>",
                    "write a name as \"Name\" <local@domain>, with nothing after the '>'"};
        case Problem::NoAddress:
            return {"it has no address (local@domain)", "send with exactly one From address"};
        case Problem::AddressSpace:
            return {"the address contains white space or a comment", "write the address as local@domain"};
        case Problem::QuotedLocalPart:
            return {"the address has a quoted local part (\"...\"@domain)", "use the plain official address"};
        case Problem::DomainLiteral:
            return {"the address has a domain literal (@[...])", "use the official domain name"};
        case Problem::BadLocalPart:
            return {"the part before '@' is not a valid local part", "use the official address"};
        case Problem::BadDomain:
            return {"the part after '@' is not a valid domain name", "use the official address"};
        case Problem::NonAsciiAddress:
            return {"the address contains non-ASCII characters", "use the official (ASCII) address"};
    }
    return {"", ""};
}

Reading refuse(Problem p, std::string reason = {}) {
    Reading r;
    r.problem = p;
    const Text t = text_of(p);
    r.reason = reason.empty() ? t.reason : std::move(reason);
    r.fix = t.fix;
    return r;
}

// ---------------------------------------------------------------------------------------------
// the lexer

enum class Kind { Wsp, Comment, Quoted, Atom, Encoded, Special };

struct Token {
    Kind kind;
    std::string text;  ///< decoded content (Comment, Quoted, Encoded), the atom, or the special character
};

/**
 * Decodes the encoded-words inside quoted or comment text as readers do
 * (GMime and Python's email decode them even inside quotes, against RFC 2047
 * §5): a word readers would decode must pass decode_encoded_word().
 */
std::optional<std::string> decode_words_in(std::string_view s, std::string& why) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        if (const std::size_t n = encoded_word_at(s, i); n != 0) {
            const auto decoded = decode_encoded_word(s.substr(i, n), why);
            if (!decoded) {
                return std::nullopt;
            }
            out += *decoded;
            i += n;
            continue;
        }
        out += s[i++];
    }
    return out;
}

class Lexer {
public:
    explicit Lexer(std::string_view s) : m_s(s) {}

    /** Splits the unfolded value into tokens; a problem ends it early. */
    std::optional<Reading> run(std::vector<Token>& out) {
        while (m_i < m_s.size()) {
            const char c = m_s[m_i];
            if (is_wsp(c)) {
                while (m_i < m_s.size() && is_wsp(m_s[m_i])) {
                    ++m_i;
                }
                out.push_back({Kind::Wsp, " "});
            } else if (c == '(') {
                if (auto r = delimited(out, Kind::Comment)) {
                    return r;
                }
            } else if (c == ')') {
                return refuse(Problem::UnbalancedComment);
            } else if (c == '"') {
                if (auto r = delimited(out, Kind::Quoted)) {
                    return r;
                }
            } else if (std::string_view("<>@,;:.[]\\").find(c) != std::string_view::npos) {
                out.push_back({Kind::Special, std::string(1, c)});
                ++m_i;
            } else if (auto r = atom(out)) {
                return r;
            }
        }
        return std::nullopt;
    }

private:
    /**
     * A comment "(…)" or a quoted-string "\"…\"" from its opening character:
     * quoted-pairs resolved, encoded-words decoded as readers do.
     */
    std::optional<Reading> delimited(std::vector<Token>& out, Kind kind) {
        const bool comment = kind == Kind::Comment;
        const char close = comment ? ')' : '"';
        std::string text;
        ++m_i;
        while (m_i < m_s.size()) {
            const char c = m_s[m_i];
            if (c == '\\') {
                if (m_i + 1 >= m_s.size()) {
                    break;
                }
                text += m_s[m_i + 1];
                m_i += 2;
                continue;
            }
            if (comment && c == '(') {
                return refuse(Problem::NestedComment);
            }
            if (c == close) {
                ++m_i;
                std::string why;
                auto decoded = decode_words_in(text, why);
                if (!decoded) {
                    return refuse(Problem::EncodedWord, why);
                }
                out.push_back({kind, std::move(*decoded)});
                return std::nullopt;
            }
            text += c;
            ++m_i;
        }
        return refuse(comment ? Problem::UnbalancedComment : Problem::UnbalancedQuote);
    }

    std::optional<Reading> atom(std::vector<Token>& out) {
        if (const std::size_t n = encoded_word_at(m_s, m_i); n != 0) {
            const std::size_t end = m_i + n;
            // RFC 2047 §5(3): an encoded-word in a phrase is a word of its own.
            if (end < m_s.size() && (is_atext(m_s[end]) || is_8bit(m_s[end]))) {
                return refuse(Problem::EncodedWord, "an encoded-word is not separated from the next word by a space");
            }
            std::string why;
            auto decoded = decode_encoded_word(m_s.substr(m_i, n), why);
            if (!decoded) {
                return refuse(Problem::EncodedWord, why);
            }
            out.push_back({Kind::Encoded, std::move(*decoded)});
            m_i = end;
            return std::nullopt;
        }
        const std::size_t start = m_i;
        while (m_i < m_s.size()) {
            const char c = m_s[m_i];
            if (is_atext(c)) {
                ++m_i;
                continue;
            }
            if (!is_8bit(c)) {
                break;
            }
            char32_t cp = 0;
            const std::size_t n = utf8_at(m_s, m_i, cp);  // the whole value is valid UTF-8 by now
            if (const char* what = lookalike(cp)) {
                return refuse(Problem::Lookalike, "the display name contains " + code_point_name(cp) + ", " + what);
            }
            m_i += n;
        }
        if (m_i == start) {
            // Not atext, not a special, not white space: the only bytes left are controls,
            // which were refused before lexing; keep the lexer total anyway.
            return refuse(Problem::ControlCharacter);
        }
        const std::string_view word = m_s.substr(start, m_i - start);
        if (word.find("=?") != std::string_view::npos) {
            return refuse(Problem::EncodedWord, "an encoded-word is malformed or not a word of its own");
        }
        out.push_back({Kind::Atom, std::string(word)});
        return std::nullopt;
    }

    std::string_view m_s;
    std::size_t m_i = 0;
};

// ---------------------------------------------------------------------------------------------
// the grammar

bool is_special(const Token& t, char c) {
    return t.kind == Kind::Special && t.text[0] == c;
}

bool significant(const Token& t) {
    return t.kind != Kind::Wsp && t.kind != Kind::Comment;
}

bool ascii(std::string_view s) {
    return std::none_of(s.begin(), s.end(), is_8bit);
}

/** dot-atom over [b, e): Atom ('.' Atom)*, nothing else. */
bool dot_atom(const std::vector<Token>& t, std::size_t b, std::size_t e, std::string& out) {
    if (b >= e) {
        return false;
    }
    for (std::size_t i = b; i < e; ++i) {
        const bool want_atom = (i - b) % 2 == 0;
        if (want_atom ? t[i].kind != Kind::Atom : !is_special(t[i], '.')) {
            return false;
        }
        out += t[i].text;
    }
    return (e - b) % 2 == 1;
}

bool host_name(std::string_view d) {
    if (d.empty() || d.size() > 253) {
        return false;
    }
    std::size_t start = 0;
    while (start <= d.size()) {
        const std::size_t dot = std::min(d.find('.', start), d.size());
        const std::string_view label = d.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; })) {
            return false;
        }
        start = dot + 1;
    }
    return true;
}

/** addr-spec over the significant tokens [b, e) (the caller made sure nothing else lies between). */
std::optional<Reading> addr_spec(const std::vector<Token>& t, std::size_t b, std::size_t e, bool bare,
                                 std::string& address) {
    std::vector<std::size_t> ats;
    for (std::size_t i = b; i < e; ++i) {
        if (is_special(t[i], '@')) {
            ats.push_back(i);
        }
    }
    if (ats.empty()) {
        return refuse(Problem::NoAddress);
    }
    if (ats.size() > 1) {
        return bare ? refuse(Problem::SeveralMailboxes, "it names more than one address")
                    : refuse(Problem::BadLocalPart, "the address has more than one '@'");
    }
    const std::size_t at = ats.front();
    for (std::size_t i = b; i < at; ++i) {
        if (t[i].kind == Kind::Quoted) {
            return refuse(Problem::QuotedLocalPart);
        }
        if (t[i].kind == Kind::Encoded) {
            return refuse(Problem::BadLocalPart, "the address contains an encoded-word");
        }
    }
    for (std::size_t i = at + 1; i < e; ++i) {
        if (is_special(t[i], '[')) {
            return refuse(Problem::DomainLiteral);
        }
    }
    std::string local;
    std::string domain;
    if (!dot_atom(t, b, at, local) || local.size() > 64) {
        return refuse(Problem::BadLocalPart);
    }
    if (!dot_atom(t, at + 1, e, domain)) {
        return refuse(Problem::BadDomain);
    }
    if (!ascii(local) || !ascii(domain)) {
        return refuse(Problem::NonAsciiAddress);
    }
    if (!host_name(domain)) {
        return refuse(Problem::BadDomain);
    }
    address = lower(local) + "@" + lower(domain);
    return std::nullopt;
}

/** The display name from the phrase tokens [b, e): words joined by a space, adjacent encoded-words joined. */
std::string phrase_text(const std::vector<Token>& t, std::size_t b, std::size_t e) {
    std::string out;
    const Token* prev = nullptr;
    for (std::size_t i = b; i < e; ++i) {
        if (!significant(t[i])) {
            continue;
        }
        // RFC 2047 §6.2: white space between adjacent encoded-words is not shown;
        // a '.' (obs-phrase, "Siti R.") sits on the word before it.
        const bool join = prev != nullptr && ((prev->kind == Kind::Encoded && t[i].kind == Kind::Encoded) ||
                                              is_special(t[i], '.') || is_special(*prev, '.'));
        if (!out.empty() && !join) {
            out += ' ';
        }
        out += t[i].text;
        prev = &t[i];
    }
    return out;
}

Reading parse_tokens(const std::vector<Token>& t) {
    Reading r;
    std::vector<std::size_t> sig;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (significant(t[i])) {
            sig.push_back(i);
        } else if (t[i].kind == Kind::Comment) {
            r.mailbox.comments.push_back(t[i].text);
        }
    }
    if (sig.empty()) {
        return refuse(t.empty() || r.mailbox.comments.empty() ? Problem::Empty : Problem::NoAddress);
    }
    std::size_t lt = t.size();
    std::size_t gt = t.size();
    int lts = 0;
    int gts = 0;
    bool colon = false;
    bool semicolon = false;
    bool comma = false;
    for (const std::size_t i : sig) {
        if (is_special(t[i], '<')) {
            lt = lts++ == 0 ? i : lt;
        } else if (is_special(t[i], '>')) {
            gt = gts++ == 0 ? i : gt;
        }
        colon = colon || is_special(t[i], ':');
        semicolon = semicolon || is_special(t[i], ';');
        comma = comma || is_special(t[i], ',');
    }
    // An obsolete route (RFC 5322 §4.4) puts '@' right after '<' and a ':' before the address.
    if (lts == 1 && gts == 1 && lt < gt) {
        for (const std::size_t i : sig) {
            if (i > lt) {
                if (is_special(t[i], '@')) {
                    return refuse(Problem::Route);
                }
                break;
            }
        }
    }
    if (colon) {
        return refuse(Problem::Group);
    }
    if (semicolon) {
        return refuse(Problem::Semicolon);
    }
    if (comma) {
        return refuse(Problem::SeveralMailboxes);
    }
    if (lts > 1 && gts > 1) {
        return refuse(Problem::SeveralMailboxes, "it names more than one <...> address");
    }
    if (lts != gts || lts > 1 || (lts == 1 && gt < lt)) {
        return refuse(Problem::UnbalancedAngle);
    }

    if (lts == 0) {
        // A bare addr-spec: its tokens side by side, comments only around it.
        const std::size_t b = sig.front();
        const std::size_t e = sig.back() + 1;
        for (std::size_t i = b; i < e; ++i) {
            if (t[i].kind == Kind::Comment) {
                return refuse(Problem::AddressSpace);
            }
        }
        for (std::size_t i = b; i < e; ++i) {
            if (t[i].kind == Kind::Wsp) {
                // "siti @dinas…", "siti. rahma@…": a space inside the address itself.
                if (is_special(t[i - 1], '@') || is_special(t[i - 1], '.') || is_special(t[i + 1], '@') ||
                    is_special(t[i + 1], '.')) {
                    return refuse(Problem::AddressSpace);
                }
                std::size_t ats = 0;
                for (const std::size_t k : sig) {
                    ats += is_special(t[k], '@') ? 1 : 0;
                }
                if (ats == 0) {
                    return refuse(Problem::NoAddress);
                }
                return ats > 1 ? refuse(Problem::SeveralMailboxes, "it names more than one address")
                               : refuse(Problem::TextAroundAddress);
            }
        }
        if (auto bad = addr_spec(t, b, e, true, r.mailbox.address)) {
            return *bad;
        }
        return r;
    }

    // name-addr: [phrase] "<" addr-spec ">" [CFWS].
    for (std::size_t i = lt + 1; i < gt; ++i) {
        if (!significant(t[i])) {
            return refuse(Problem::AddressSpace, "the address inside <...> contains white space or a comment");
        }
    }
    for (const std::size_t i : sig) {
        if (i > gt) {
            return refuse(Problem::TextAroundAddress, "there is text after the address <...>");
        }
    }
    std::size_t words = 0;
    std::size_t dots = 0;
    for (const std::size_t i : sig) {
        if (i >= lt) {
            break;
        }
        const Token& w = t[i];
        if (w.kind == Kind::Special && w.text[0] != '.') {
            if (w.text[0] == '@') {
                return refuse(Problem::UnquotedSpecial,
                              "the display name contains '@' outside double quotes, so mail programs disagree on "
                              "the sender (some show the name as the address)");
            }
            return refuse(Problem::UnquotedSpecial, "the display name contains '" + w.text + "' outside double quotes");
        }
        (w.kind == Kind::Special ? dots : words) += 1;
    }
    if (words == 0 && dots > 0) {
        return refuse(Problem::UnquotedSpecial, "the display name is only '.'");
    }
    if (auto bad = addr_spec(t, lt + 1, gt, false, r.mailbox.address)) {
        return *bad;
    }
    r.mailbox.display_name = phrase_text(t, 0, lt);
    return r;
}

/** Removes folding (CRLF or LF before a space or tab); refuses any other line end or control byte. */
std::optional<Reading> unfold(std::string_view v, std::string& out) {
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (c == '\r' || c == '\n') {
            const bool crlf = c == '\r' && i + 1 < v.size() && v[i + 1] == '\n';
            const std::size_t next = crlf ? i + 2 : i + 1;
            if ((c == '\n' || crlf) && next < v.size() && is_wsp(v[next])) {
                i = next - 1;
                continue;
            }
            return refuse(Problem::ControlCharacter, c == '\r' ? "it contains a CR that does not fold the line"
                                                               : "it contains a line end that does not fold the line");
        }
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7F) {
            return refuse(Problem::ControlCharacter, u == 0
                                                         ? "it contains a NUL byte"
                                                         : "it contains the control character " + code_point_name(u));
        }
        out += c;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_encoded_word(std::string_view word, std::string& why) {
    const std::size_t n = word.size() >= 2 ? encoded_word_at(word, 0) : 0;
    if (n == 0 || n != word.size()) {
        why = "an encoded-word is malformed";
        return std::nullopt;
    }
    const std::size_t q1 = word.find('?', 2);
    const std::string charset(word.substr(2, q1 - 2));
    const char enc = lower(word[q1 + 1]);
    const std::string_view text = word.substr(q1 + 3, word.size() - q1 - 5);
    if (!accepted_charset(charset, why)) {
        return std::nullopt;
    }
    auto decoded = enc == 'b' ? decode_b(text) : decode_q(text);
    if (!decoded) {
        why = std::string("an encoded-word has broken ") + (enc == 'b' ? "base64 (B)" : "quoted-printable (Q)") +
              " encoding";
        return std::nullopt;
    }
    for (const char c : *decoded) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            why = "an encoded-word decodes to a control character";
            return std::nullopt;
        }
    }
    const std::string cs = lower(charset.substr(0, charset.find('*')));
    if ((cs == "utf-8" || cs == "utf8") && !valid_utf8(*decoded)) {
        why = "an encoded-word is not valid UTF-8";
        return std::nullopt;
    }
    if (cs == "us-ascii" && !ascii(*decoded)) {
        why = "an us-ascii encoded-word holds 8-bit bytes";
        return std::nullopt;
    }
    return decoded;
}

Reading parse_mailbox(std::string_view value) {
    if (value.size() > k_max_field) {
        return refuse(Problem::TooLong);
    }
    std::string s;
    if (auto bad = unfold(value, s)) {
        return *bad;
    }
    if (!valid_utf8(s)) {
        return refuse(Problem::InvalidUtf8);
    }
    std::vector<Token> tokens;
    if (auto bad = Lexer(s).run(tokens)) {
        return *bad;
    }
    return parse_tokens(tokens);
}

std::vector<std::string> addresses_in(std::string_view text) {
    // Fold what a person reads as ASCII into ASCII: fullwidth forms (U+FF01..U+FF5E),
    // the small commercial at, ideographic and halfwidth full stops.
    std::string s;
    s.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_at(text, i, cp);
        if (n == 0) {
            s += text[i++];  // not UTF-8: the byte itself (only 0x40 is '@' in accepted charsets)
            continue;
        }
        i += n;
        if (cp >= 0xFF01 && cp <= 0xFF5E) {
            s += static_cast<char>(cp - 0xFEE0);
        } else if (cp == 0xFE6B) {
            s += '@';
        } else if (cp == 0x3002 || cp == 0xFF61 || cp == 0x2024) {
            s += '.';
        } else if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else {
            s += ' ';
        }
    }
    static constexpr std::string_view k_local = "._%+-!#$&'*/=?^`{|}~";
    auto local_char = [](char c) { return is_alnum(c) || k_local.find(c) != std::string_view::npos; };
    auto domain_char = [](char c) { return is_alnum(c) || c == '.' || c == '-'; };
    std::vector<std::string> out;
    for (std::size_t at = s.find('@'); at != std::string::npos; at = s.find('@', at + 1)) {
        std::size_t l = at;
        while (l > 0 && local_char(s[l - 1])) {
            --l;
        }
        while (l < at && s[l] == '.') {
            ++l;
        }
        std::size_t r = at + 1;
        while (r < s.size() && domain_char(s[r])) {
            ++r;
        }
        while (r > at + 1 && (s[r - 1] == '.' || s[r - 1] == '-')) {
            --r;
        }
        if (l == at || r == at + 1) {
            continue;
        }
        std::string a = lower(std::string_view(s).substr(l, r - l));
        if (std::find(out.begin(), out.end(), a) == out.end()) {
            out.push_back(std::move(a));
        }
    }
    return out;
}

}  // namespace segel::policy::address
