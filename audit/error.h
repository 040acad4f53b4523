#pragma once
// One error type with a category (smime/error.h's rule). A log that does not
// verify is a *result* (audit/verify.h), not an Error; Error means the trail
// could not be read or written at all.
#include <stdexcept>
#include <string>

namespace segel::audit {

enum class Category {
    Unavailable,  ///< the store cannot be written or read now (disk full, locked, server down): mail defers
    Malformed,    ///< bytes that are not what they claim to be (an event, a checkpoint, a proof)
    Credential,   ///< the seal credential cannot be used
    Usage,        ///< the caller asked for something that does not exist (no such event, bad URL)
    Internal,     ///< a bug or an impossible state
};

class Error : public std::runtime_error {
public:
    Error(Category category, const std::string& what) : std::runtime_error(what), m_category(category) {}
    [[nodiscard]] Category category() const noexcept { return m_category; }

private:
    Category m_category;
};

}  // namespace segel::audit
