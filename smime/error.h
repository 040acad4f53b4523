#pragma once
// One error type with a category (Botan's lesson: no class tree). A bad
// signature or an unusable certificate is a *result*, not an Error; Error
// means "could not evaluate at all".
#include <stdexcept>
#include <string>

namespace segel::smime {

enum class Category {
    Malformed,    ///< the input is not what it claims to be
    Credential,   ///< a key or certificate file cannot be used
    Crypto,       ///< OpenSSL failed for a reason other than bad input
    Io,           ///< reading or writing a file or stream failed
    Unavailable,  ///< a key token or network service cannot be used right now: try again later (4xx)
    Internal,     ///< a bug or an impossible state
    Limit,        ///< the input exceeds a bound on what reading it may cost (smime/limits.h): not read further
};

class Error : public std::runtime_error {
public:
    Error(Category category, const std::string& what) : std::runtime_error(what), m_category(category) {}
    [[nodiscard]] Category category() const noexcept { return m_category; }

private:
    Category m_category;
};

}  // namespace segel::smime
