#pragma once
// The MIME structure of an inbound message read straight from its bytes, at a
// bounded cost (smime/limits.h): one pass over its lines, each delimiter line
// matched against the multiparts that are open (RFC 2046 §5.1.1), each header
// block bounded before it is split, each parameter list counted before GMime
// parses it. No GMime tree is built: a part costs a few hundred bytes of
// bookkeeping however it is written, and the walk stops at the first part over
// a limit (GMime 3.2 built every object of a 39 MB part bomb: 7.8 GB).
#include "smime/limits.h"
#include "smime/mime/fields.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime::mime {

/** A Content-Type, and the file name of Content-Type name= or Content-Disposition filename=. */
struct MediaType {
    std::string type = "text";  ///< lower case; RFC 2045 §5.2: text/plain when absent or unreadable
    std::string subtype = "plain";
    std::string boundary;
    std::string protocol;  ///< lower case
    std::string name;
    [[nodiscard]] bool is(std::string_view t, std::string_view s) const { return type == t && subtype == s; }
};

/**
 * Refuses a header block of @p content_types > 1 Content-Type fields (RFC 2045
 * allows one): readers disagree which one counts — GMime, and so every other
 * reading of the gateway, the last; Python's email the first — so none is
 * taken, and a verdict or a decryption never rests on one reader's choice.
 * @throws Error{Malformed} "a header block with 2 Content-Type fields"
 */
void one_content_type(std::size_t content_types);

/**
 * The media type of a header block: its Content-Type field (one_content_type)
 * and Content-Disposition for the file name, parsed by GMime once the field is
 * known to hold at most max_parameters parameters.
 * @throws Error{Limit} "a Content-Type field with more than 100 parameters (limit max_parameters)"
 */
MediaType media_type(const std::vector<Field>& fields, const Limits& limits);
/** The same from the unfolded values of the two fields (nullopt: absent). */
MediaType media_type(const std::optional<std::string>& content_type, const std::optional<std::string>& disposition,
                     const Limits& limits);

/**
 * The header block at the start of @p entity, split (split_fields) once it is
 * known to end within max_header_bytes.
 * @throws Error{Limit} "a header block larger than 256 KB (limit max_header_bytes)"
 */
HeaderBlock read_header(std::string_view entity, const Limits& limits);

/** One entity of a message. Offsets are into the message. */
struct Part {
    std::string number;     ///< IMAP part number (RFC 3501 §6.4.5): "" for the message itself, "1", "2.1", ...
    std::size_t depth = 0;  ///< 0 for the message itself
    std::size_t begin = 0;  ///< its first header line
    std::size_t body = 0;   ///< where its body starts
    std::size_t end = 0;    ///< where it ends: before the line break in front of the next delimiter line
    MediaType type;
};

/**
 * The entities of @p message (CRLF or LF), the message itself first, in
 * document order. Multiparts are entered, except multipart/signed (a signed
 * entity is judged whole); message/rfc822 parts are other messages and are
 * leaves, like every other type. A multipart's delimiter lines end its open
 * descendants too, as GMime reads them.
 * @throws Error{Limit} at the first part over max_parts (the message itself
 *         not counted), deeper than max_depth, or a header block or parameter
 *         list over its limit
 */
std::vector<Part> walk(std::string_view message, const Limits& limits);

/** "N KB" when @p bytes is a whole number of KB, else "N bytes" (for reasons naming a limit). */
std::string size_text(std::size_t bytes);

}  // namespace segel::smime::mime
