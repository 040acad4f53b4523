#pragma once
// Internal to smime/: rewriting a parsed (GMime) entity so that it is
// transport-safe before it is signed (RFC 8551 §3.1.1, RFC 2045). The GMime
// types stay out of the public canonical.h.
#include "smime/canonical.h"

#include <gmime/gmime.h>

namespace segel::smime::canonical {

/**
 * Rewrites @p entity in place so that its CRLF serialisation is 7-bit, has no
 * line over 76 characters, no trailing white space and no "From " line start:
 * unsafe text parts become quoted-printable, other unsafe parts base64,
 * 8bit/binary labels become 7bit where the bytes allow, raw 8-bit header
 * values are RFC 2047/2231-encoded, continuation lines start with a space,
 * and multipart preambles and epilogues that are unsafe are dropped.
 * @throws Error{Malformed} beyond @p max_depth levels of nesting.
 */
Rewrite make_transport_safe(GMimeObject* entity, int max_depth = 64);

}  // namespace segel::smime::canonical
