#pragma once
// Reading DER (and BER) by hand where OpenSSL's decoders cost too much or hide
// what is needed: one element (tag, length, content) at a time.
#include <cstddef>
#include <optional>
#include <string_view>

namespace segel::smime::ossl {

/** One element: where it starts (its tag), where its content starts and ends, where it ends. */
struct Tlv {
    int tag = 0;
    int cls = 0;
    bool constructed = false;
    const unsigned char* start = nullptr;
    const unsigned char* content = nullptr;
    const unsigned char* end = nullptr;    ///< end of the content (children are read up to here)
    const unsigned char* after = nullptr;  ///< end of the element (after a BER end-of-contents marker)

    /** The whole element as written. */
    [[nodiscard]] std::string_view bytes() const {
        return {reinterpret_cast<const char*>(start), static_cast<std::size_t>(after - start)};
    }
};

/**
 * Reads the element at @p p (not beyond @p end) into @p t and moves @p p past
 * it; false (and @p p unchanged) on an encoding error. A BER indefinite length
 * (as NSS writes CMS) is followed to its end-of-contents marker, at most 32
 * levels deep.
 */
bool read_tlv(const unsigned char*& p, const unsigned char* end, Tlv& t);

/**
 * Counts the elements of the first element of @p der (itself included) in one
 * pass, BER indefinite lengths included, without entering OCTET STRINGs and BIT
 * STRINGs (their content is bytes to a decoder, not objects; the chunks of a
 * constructed one are walked, not counted). Stops at @p cap + 1. Cheap and
 * bounded whatever the input: no recursion, at most 64 levels.
 * @return the count, or nullopt when @p der is not a readable encoding
 */
std::optional<std::size_t> count_elements(std::string_view der, std::size_t cap);

}  // namespace segel::smime::ossl
