#pragma once
// Making a MIME entity transport-safe before it is signed (RFC 8551 §3.1.1,
// RFC 2045): after this, no relay has a reason to touch a byte of it.
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace segel::smime::canonical {

/** The longest line (without CRLF) a signed entity may contain: RFC 2045 QP limit. */
constexpr std::size_t k_max_line = 76;

/** What a relay could change in encoded bytes. */
struct Hazards {
    bool eight_bit = false;       ///< bytes >= 0x80: 8BITMIME downgrade re-encodes them
    bool nul = false;             ///< NUL bytes
    bool bare_cr = false;         ///< CR not followed by LF
    bool long_line = false;       ///< a line longer than k_max_line
    bool trailing_space = false;  ///< space or tab before a line end: stripped by some relays
    bool from_line = false;       ///< a line starting "From ": mbox-quoted as ">From "
    [[nodiscard]] bool any() const { return eight_bit || nul || bare_cr || long_line || trailing_space || from_line; }
    [[nodiscard]] std::string describe() const;
};

/**
 * What decides whether an entity can be signed exactly as received, beyond
 * Hazards: line structure a relay or GMime would change (not hazards in
 * decoded content, where LF line ends are normal).
 */
struct LineFacts {
    bool bare_lf = false;       ///< a line ending in LF without CR
    bool tab_start = false;     ///< a line starting with a tab (a fold relays re-fold)
    bool binary_label = false;  ///< a "Content-Transfer-Encoding:" line naming 8bit or binary
    [[nodiscard]] bool any() const { return bare_lf || tab_start || binary_label; }
};

/** Incremental scanner, so large parts are checked without copying them. */
class Scanner {
public:
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

    Hazards m_h;
    LineFacts m_lines;
    std::size_t m_size = 0;
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

Hazards scan(std::string_view bytes);

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
};

/**
 * Bare LF → CRLF (RFC 5322 / RFC 8551 §3.1.1 canonical line ends); CRLF pairs and
 * every other byte stay as they are. Also writes "\n"-folded header values.
 */
std::string to_crlf(std::string_view text);

/** True for header names that describe the MIME entity (Content-*, MIME-Version). */
bool is_content_header(std::string_view name);

}  // namespace segel::smime::canonical
