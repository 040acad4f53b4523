#pragma once
#include <libmilter/mfapi.h>

namespace segel::milter {

/** The libmilter descriptor: every callback is a thin shim into guard(). */
smfiDesc descriptor();

}  // namespace segel::milter
