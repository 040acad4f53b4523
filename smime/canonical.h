#pragma once
// Making a MIME entity transport-safe before it is signed (RFC 8551 §3.1.1,
// RFC 2045): after this, no relay has a reason to touch a byte of it.
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace segel::smime::canonical {

/**
 * The longest encoded body line (without CRLF): RFC 2045 §6.7 and §6.8 (quoted-printable,
 * base64). Body lines longer than this are re-encoded; header lines may be longer.
 */
constexpr std::size_t k_max_line = 76;

/**
 * The longest line (without CRLF) that SMTP carries unchanged: RFC 5322 §2.1.1 and
 * RFC 5321 §4.5.3.1.6. Postfix's SMTP client breaks longer lines with CRLF SPACE
 * (smtp_line_length_limit), which would change signed bytes.
 */
constexpr std::size_t k_max_wire_line = 998;

/** What a relay could change in encoded bytes. */
struct Hazards {
    bool eight_bit = false;       ///< bytes >= 0x80: 8BITMIME downgrade re-encodes them
    bool nul = false;             ///< NUL bytes
    bool bare_cr = false;         ///< CR not followed by LF
    bool long_line = false;       ///< a body line longer than k_max_line (header lines: see overlong_line)
    bool overlong_line = false;   ///< any line longer than k_max_wire_line
    bool trailing_space = false;  ///< space or tab before a line end: stripped by some relays
    bool from_line = false;       ///< a line starting "From ": mbox-quoted as ">From "
    [[nodiscard]] bool any() const {
        return eight_bit || nul || bare_cr || long_line || overlong_line || trailing_space || from_line;
    }
    [[nodiscard]] std::string describe() const;
};

/**
 * What decides whether an entity can be signed exactly as received, beyond
 * Hazards: line structure a relay or GMime would change (not hazards in
 * decoded content, where LF line ends are normal).
 */
struct LineFacts {
    bool bare_lf = false;           ///< a line ending in LF without CR
    bool tab_start = false;         ///< a line starting with a tab (a fold relays re-fold)
    bool binary_label = false;      ///< a "Content-Transfer-Encoding:" line naming 8bit or binary
    bool long_header_line = false;  ///< a header line of k_max_line + 1 .. k_max_wire_line octets (allowed)
    [[nodiscard]] bool any() const { return bare_lf || tab_start || binary_label; }
};

/**
 * Why @p hazards and @p lines describe bytes that SMTP would not deliver
 * unchanged ("bare LF line ends, lines over 998 octets"), or "" when it
 * would: 7-bit, no NUL, every line end CRLF, no line over k_max_wire_line,
 * no trailing white space, no "From " line. A body line over k_max_line is
 * no wire problem (RFC 5321 carries it); it is the encoder's limit.
 */
std::string wire_problems(const Hazards& hazards, const LineFacts& lines);

/** What the bytes given to a Scanner are, which decides where header blocks are. */
enum class Layout {
    Content,     ///< a part's content: every line is a body line
    Entity,      ///< a MIME entity: its header block, then its body
    EntityBody,  ///< the body of a MIME entity (what follows the blank line after its header)
};

/**
 * Incremental scanner, so large parts are checked without copying them.
 *
 * For an Entity or EntityBody, header lines may be up to k_max_wire_line
 * long. A header block is the entity's own (Entity), and every block after a
 * line starting with "--" (a possible boundary delimiter, RFC 2046 §5.1.1)
 * up to the next empty line. That is a judgement from the line structure
 * alone: a body line taken for a header line is at most 998 octets, which
 * SMTP carries unchanged; a header line taken for a body line only sends the
 * entity through the rewrite. Either way the verdict stays safe.
 */
class Scanner {
public:
    explicit Scanner(Layout layout = Layout::Content)
        : m_structured(layout != Layout::Content), m_in_header(layout == Layout::Entity) {}
    void feed(std::string_view bytes);
    [[nodiscard]] Hazards finish();
    /** Line facts of everything fed so far (complete after finish()). */
    [[nodiscard]] const LineFacts& lines() const { return m_lines; }
    /** How many bytes were fed. */
    [[nodiscard]] std::size_t size() const { return m_size; }

private:
    void feed_byte(unsigned char c);
    void line_begins(unsigned char first);
    void line_ends();
    void whole_line(std::string_view line);
    /** A line of @p length octets (without its line end) is known: judges its length. */
    void judge_length(std::size_t length);
    /** A whole line ended: header block transitions (empty line, "--" line). */
    void next_line(std::size_t length, bool dashes);

    Hazards m_h;
    LineFacts m_lines;
    std::size_t m_size = 0;
    bool m_structured = false;  ///< Entity or EntityBody: header blocks are recognised
    bool m_in_header = false;   ///< the current line belongs to a header block
    bool m_line_start = true;
    bool m_capture = false;  ///< this line may be a Content-Transfer-Encoding field: kept in m_line
    std::string m_line;
    std::size_t m_col = 0;
    void check_from() {
        if (m_head_len == sizeof m_head && std::memcmp(m_head, "From ", sizeof m_head) == 0) {
            m_h.from_line = true;
        }
    }

    char m_head[5] = {};  ///< first bytes of the current line (for "From ")
    std::size_t m_head_len = 0;
    char m_last = '\n';
    bool m_pending_cr = false;
};

/** Scans @p bytes whole (see Scanner). */
Hazards scan(std::string_view bytes, Layout layout = Layout::Content);

/**
 * Quoted-printable (RFC 2045 §6.7) that also protects what relays mangle:
 * trailing white space, a leading "From " and lines over 76 characters.
 * Line breaks (LF or CRLF) in @p text become CRLF hard breaks.
 */
std::string qp_encode(std::string_view text);

/** Statistics of one make_transport_safe() run, for logs and tests. */
struct Rewrite {
    int parts_reencoded = 0;
    int headers_reencoded = 0;
    int relabelled_7bit = 0;
    int protected_kept = 0;       ///< signed or encrypted entities inside, left byte for byte
    int protected_rewritten = 0;  ///< ... that could not travel as they were: their own signature breaks
};

/**
 * Bare LF → CRLF (RFC 5322 / RFC 8551 §3.1.1 canonical line ends); CRLF pairs and
 * every other byte stay as they are. Also writes "\n"-folded header values.
 */
std::string to_crlf(std::string_view text);

/** True for header names that describe the MIME entity (Content-*, MIME-Version). */
bool is_content_header(std::string_view name);

}  // namespace segel::smime::canonical
