#pragma once
// GMime façade, internal to smime/: runtime set-up, parsing from a Blob,
// explicit CRLF writing (never the shared default options). What other modules
// may use of it (address lists, RFC 2047 text) is declared GMime-free in fields.h.
#include "smime/blob.h"
#include "smime/mime/fields.h"
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

/**
 * Appends @p object (headers and body) to @p out in canonical form: every line
 * end CRLF, including the preambles and epilogues GMime keeps with LF.
 */
void write(GMimeObject* object, Blob& out);

/** Writes only the content (decoded transfer encoding) of a leaf part. */
std::string decoded_content(GMimePart* part);

}  // namespace segel::smime::mime
