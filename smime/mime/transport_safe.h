#pragma once
// Internal to smime/: rewriting a parsed (GMime) entity so that it is
// transport-safe before it is signed (RFC 8551 §3.1.1, RFC 2045). The GMime
// types stay out of the public canonical.h.
#include "smime/blob.h"
#include "smime/canonical.h"

#include <gmime/gmime.h>

namespace segel::smime::canonical {

/**
 * Rewrites @p entity in place so that its CRLF serialisation (mime::write) is
 * what SMTP delivers unchanged (wire_problems() finds nothing) and every
 * encoded body line is at most k_max_line long: unsafe text parts become
 * quoted-printable, other unsafe parts base64, 8bit/binary labels become 7bit
 * where the bytes allow, raw 8-bit header values are RFC 2047/2231-encoded,
 * continuation lines start with a space, header lines over k_max_wire_line
 * are folded at white space, and multipart preambles and epilogues that are
 * unsafe are dropped. A signed or encrypted entity inside (a forwarded signed
 * message) is left byte for byte when it can travel as it is, so its own
 * signature still verifies.
 * @param source the bytes @p entity was parsed from, when known: a header cut
 *               short by a NUL byte is then recognised (GMime keeps only what
 *               precedes it, which would change the part)
 * @throws Error{Malformed} naming the cause, for what the message itself makes
 *         impossible to carry: nesting beyond @p max_depth, a header line over
 *         k_max_wire_line with no white space to fold at, a bare CR or NUL in
 *         a header field.
 */
Rewrite make_transport_safe(GMimeObject* entity, const Blob* source = nullptr, int max_depth = 64);

}  // namespace segel::smime::canonical
