#pragma once
// GMime façade: runtime set-up, parsing from a Blob, explicit CRLF writing
// (never the shared default options), and address parsing.
#include "smime/blob.h"
#include "smime/mime/gobj.h"

#include <gmime/gmime.h>

#include <string>
#include <vector>

namespace segel::smime::mime {

/** Initialises GMime once per process; safe to call from any thread. */
void init();

/** Format options that write CRLF line ends (RFC 5322 / RFC 8551 canonical form). */
GMimeFormatOptions* crlf();

/** Parses a whole RFC 5322 message; throws Error{Malformed} when GMime cannot. */
gobj::Ptr<GMimeMessage> parse_message(const Blob& bytes);

/** Writes @p object (headers and body) with CRLF line ends into @p out. */
void write(GMimeObject* object, Blob& out);

/** Writes only the content (decoded transfer encoding) of a leaf part. */
std::string decoded_content(GMimePart* part);

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
 */
std::vector<Mailbox> parse_mailboxes(const std::string& value, bool* had_group = nullptr);

}  // namespace segel::smime::mime
