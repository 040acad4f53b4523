#pragma once
// Small text helpers every module shares (one copy each): ASCII case folding
// and comparison. Header and address syntax is ASCII; nothing here is locale
// dependent.
#include <string>
#include <string_view>

namespace segel::base {

/** ASCII lower case; other bytes (UTF-8 included) are left as they are. */
std::string lower(std::string_view s);

/** ASCII case-insensitive equality. */
bool iequals(std::string_view a, std::string_view b);

/** True when @p s starts with @p prefix, ignoring ASCII case. */
bool istarts_with(std::string_view s, std::string_view prefix);

/** The value of a hexadecimal digit (either case), or -1 for any other byte. */
int hex_digit(char c);

/** @p s without leading and trailing space, tab, CR and LF. */
std::string_view trim(std::string_view s);

/** @p s with every CR removed: a header value as the pipeline keeps it (folds as "\n" + WSP). */
std::string without_cr(std::string_view s);

/**
 * A value for a key=value log field: as it is when it is a plain token
 * (letters, digits, and @ . _ - + / : < > [ ] , =), else double-quoted with
 * backslash escapes for ", \ and \xNN for control bytes, DEL, C1 controls,
 * U+2028/U+2029 and bytes that are not UTF-8 (other UTF-8 is kept), so every
 * log line parses as key=value whatever an address or a reason contains, and
 * reads back unchanged. Empty → "-".
 */
std::string kv_value(std::string_view value);
/** kv_value(@p value) appended to @p out (a log line built without a temporary per field). */
void append_kv_value(std::string& out, std::string_view value);

}  // namespace segel::base
