#pragma once
// Splitting a header block into fields (RFC 5322 §2.2), once for everyone:
// the signer reassembles messages from the raw values, the verifier parses
// unfolded values, the decryptor rebuilds the decrypted entity.
#include "smime/blob.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime::mime {

/**
 * A field's raw value (after the colon, "\n"+WSP folds, no CRs) unfolded (RFC 5322 §2.2.3) to one
 * line, each fold's white space collapsed to one space, trimmed: Field::unfolded().
 */
std::string unfold(std::string_view raw);

/** One header field as written. */
struct Field {
    std::string name;  ///< trailing white space before the colon removed
    std::string raw;   ///< everything after the colon: leading white space and "\n"+WSP folds kept, no CRs

    /** Without leading white space, folds kept as "\n"+WSP (the smime::Header convention). */
    [[nodiscard]] std::string value() const;
    /** Unfolded (RFC 5322 §2.2.3) to one line, each fold's white space collapsed to one space, trimmed. */
    [[nodiscard]] std::string unfolded() const;
};

struct HeaderBlock {
    std::vector<Field> fields;
    std::size_t body = 0;     ///< offset where the body starts (size of the input when there is none)
    bool blank_line = false;  ///< the header ended with an empty line (RFC 5322 §3.5)
    bool stray_line = false;  ///< the header ended at a line that is no field (no blank line before the body)
    bool too_large = false;   ///< the walk stopped at max_bytes: fields holds what came before
};

/**
 * Splits @p entity's header block; LF or CRLF line ends. Never throws. It
 * stops, with too_large, at the first line that would take the block past
 * @p max_bytes, and ends the block at a line @p stop accepts (a delimiter of
 * an enclosing multipart, which may look like a field: "--a:b").
 */
HeaderBlock split_fields(std::string_view entity, std::size_t max_bytes = SIZE_MAX,
                         const std::function<bool(std::string_view)>& stop = {});

/**
 * Why @p f cannot be written into a message header as it stands (RFC 5322
 * §2.2, §2.1.1, §3.6.8): a name that is not ftext (printable US-ASCII without
 * a colon), a value holding a bare CR, NUL or another control character (TAB
 * aside), a folded line of only white space (which readers take for the end
 * of the header), or a line longer than 998 octets. Empty when it is well formed.
 * Folds are as Field::raw keeps them ("\n" + WSP); 8-bit bytes are allowed.
 */
std::string field_problem(const Field& f);

/** Why @p name is not a field name (RFC 5322 ftext: printable US-ASCII without a colon); empty when it is one. */
std::string name_problem(std::string_view name);

/** @p text with every CRLF made LF (a lone CR stays): the Field::raw convention, and the form NSS signs. */
std::string crlf_to_lf(std::string_view text);

/** @p text with control characters, 8-bit bytes, quotes and backslashes as '?': safe to quote in a header or log. */
std::string printable(std::string_view text);

/**
 * The header block of @p message, up to and including its blank line, read in
 * small pieces without mapping or copying the body (a spooled 20 MB message
 * costs 16 KB); nullopt when no blank line comes within @p limit bytes.
 */
std::optional<std::string> read_head(const Blob& message, std::size_t limit = 256 * 1024);

/** Whether @p value contains @p word, case-insensitively. */
bool mentions(std::string_view value, std::string_view word);

/** The top-level Content-Type of a message, from its head alone. */
struct TopContentType {
    bool known = false;          ///< false: an unusual head (no end within 256 KB, a stray line, several
                                 ///< Content-Type fields, a NUL byte): only a full parse can tell
    std::optional<Field> field;  ///< the Content-Type field; none: text/plain (RFC 2045 §5.2)
    /** The Content-Transfer-Encoding, lower case, trimmed; none when absent or given more than once. */
    std::optional<std::string> transfer_encoding;
    std::size_t body = 0;  ///< where the body starts

    /** Whether the field's value (case-insensitively) mentions @p word; false without a field. */
    [[nodiscard]] bool mentions(std::string_view word) const;
    /**
     * "type/subtype", lower case, when the value starts with a plain one (no comment,
     * no quotes); "text/plain" without a field; nullopt otherwise.
     */
    [[nodiscard]] std::optional<std::string> media_type() const;
};
TopContentType top_content_type(const Blob& message);

/**
 * A Content-Type or Content-Disposition value in its plainest form, read
 * without GMime: "type/subtype" (a disposition: "type" alone), then
 * "; name=value" parameters, each value an RFC 2045 token or a quoted string
 * of printable ASCII without backslashes; white space only around the
 * semicolons and at the ends. That is how nearly every client writes these
 * fields, and GMime reads such a value exactly so (the fuzz harness
 * fuzz_mime_fields checks it against GMime on every input). Anything else —
 * comments, escapes, RFC 2231 or RFC 2047 parameters, 8-bit or control bytes,
 * a name given twice, more than k_max parameters — is nullopt: GMime decides.
 * The views point into the value parsed.
 */
struct PlainValue {
    static constexpr std::size_t k_max = 12;
    struct Param {
        std::string_view name;
        std::string_view value;
    };
    std::string_view type;
    std::string_view subtype;  ///< empty for a disposition
    Param params[k_max];       // NOLINT(modernize-avoid-c-arrays): a fixed few, no allocation
    std::size_t count = 0;

    /** The value of parameter @p name (ASCII case-insensitive); nullopt when it is absent. */
    [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
    /** Whether the type is @p t and the subtype @p s, ASCII case-insensitively ("*": any subtype). */
    [[nodiscard]] bool is(std::string_view t, std::string_view s) const;
};
/** @p value as a PlainValue with a subtype (a Content-Type), or nullopt. */
std::optional<PlainValue> plain_content_type(std::string_view value);
/** @p value as a PlainValue without a subtype (a Content-Disposition), or nullopt. */
std::optional<PlainValue> plain_disposition(std::string_view value);

/** True for bytes that are not 7-bit ASCII. */
bool has_8bit(std::string_view s);

/** One mailbox from an address header. */
struct Mailbox {
    std::string name;
    std::string address;
};

/**
 * Parses an address-list header value (RFC 5322 §3.4, RFC 2047 words decoded).
 * Groups are flattened; @p had_group tells whether any group syntax was seen.
 * A value that mailbox_list_unreadable() names gives no mailbox at all.
 */
std::vector<Mailbox> parse_mailboxes(const std::string& value, bool* had_group = nullptr);

/**
 * Whether @p value holds a domain literal ("[") and a comment that never closes
 * ("a@[192.0.2.1](", "c@d, a@[b] (x"). GMime 3.2 reads such a list up to the
 * broken mailbox but leaks 128 bytes on each (fuzz_mime_fields found it), so a
 * sender could grow the milter by a message at a time: parse_mailboxes gives
 * no mailbox for it instead, without GMime. The field is malformed either way;
 * reading none of it can only refuse (an outbound From) or fail a match
 * (an inbound one), never pass one.
 */
bool mailbox_list_unreadable(std::string_view value);

/** RFC 2047-encodes header text when it is not plain ASCII (UTF-8 in, ASCII out). */
std::string encode_header_text(const std::string& utf8);

/** Decodes RFC 2047 encoded-words of a raw header value to UTF-8. */
std::string decode_header_text(const std::string& raw);

}  // namespace segel::smime::mime
