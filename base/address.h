#pragma once
// Address and domain helpers shared by config/, policy/, engine/ (one copy
// each): which domain an address is in, and whether a domain falls under a
// configured one.
#include <string>
#include <string_view>

namespace segel::base {

/** The part after the last '@', or "" when there is none. */
std::string domain_of(std::string_view address);

/** The part before the last '@', or the whole text when there is none. */
std::string local_of(std::string_view address);

/**
 * Whether @p domain is @p rule, or (with @p subdomains) a name below it:
 * "bapenda.pekalongankab.go.id" is under "pekalongankab.go.id", "xpekalongankab.go.id"
 * is not. Both are compared as given (callers lower-case them first).
 */
bool domain_matches(std::string_view domain, std::string_view rule, bool subdomains);

/**
 * Whether an address may name a file in a certificate directory
 * (DIR/ADDRESS.pem): it has an '@', and no '/', NUL, control byte, leading dot
 * or "..", so neither a writer nor a reader can leave the directory.
 */
bool file_safe_address(std::string_view address);

}  // namespace segel::base
