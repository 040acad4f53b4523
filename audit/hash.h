#pragma once
// SHA-256 values and their hex form, as the audit trail writes them.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace segel::audit {

/** A SHA-256 value. All-zero is "none" where a field is optional. */
using Hash = std::array<std::uint8_t, 32>;

/** SHA-256 of @p data (OpenSSL). */
Hash sha256(std::string_view data);
/** SHA-256 of @p a followed by @p b, without joining them. */
Hash sha256(std::string_view a, std::string_view b);

/** Lower-case hex, 64 characters. */
std::string to_hex(const Hash& h);
/** Lower-case hex of any bytes. */
std::string to_hex(std::string_view bytes);

/** Parses 64 hex digits (either case). @return false when @p text is not exactly that */
bool from_hex(std::string_view text, Hash& out);

/** True when every byte is zero. */
bool is_zero(const Hash& h);

/** The bytes of @p h as a string (for BLOB columns). */
inline std::string_view as_bytes(const Hash& h) {
    return {reinterpret_cast<const char*>(h.data()), h.size()};
}

}  // namespace segel::audit
