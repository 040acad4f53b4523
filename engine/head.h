#pragma once
// The message head as it arrived, kept once per message: the fields the
// pipeline reads or changes (Subject, Sender, Content-*, MIME-Version,
// Authentication-Results, X-Segel-Decryption) in order, each with its index
// among fields of the same name (what an MTA's header change takes). Other
// fields cost nothing here, so a header of a million fields from outside
// costs no memory; and once a head passes its limit (inbound mail:
// inbound.limits.max_header_bytes) no more fields are kept but a first Subject.
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::engine {

/** One header field as received. */
struct HeadField {
    std::string name;  ///< as written
    /** Everything after the colon: leading white space kept, folds as "\n"+WSP, no CR. */
    std::string raw;
    int index = 0;  ///< 1-based among the fields called name (case-insensitively)
};

class Head {
public:
    /** Whether a Head keeps fields called @p name (the ones segel reads or changes). */
    [[nodiscard]] static bool keeps(std::string_view name);

    /**
     * Keeps fields only while the head, every field counted as received
     * ("Name:raw" CRLF), is at most @p bytes; beyond, only a first Subject is
     * kept, the others counted (Subject, Sender, Authentication-Results and
     * X-Segel-Decryption, for their indexes) but not kept, and over_limit() is
     * true.
     */
    void limit(std::size_t bytes) { m_limit = bytes; }

    /** Adds the next field (the raw value may use CRLF or LF folds); true when it was kept. */
    bool add(std::string_view name, std::string_view raw);

    /** The fields kept, in order. */
    [[nodiscard]] const std::vector<HeadField>& fields() const { return m_fields; }
    /** How many fields called @p name (any case) arrived, kept or not (Content-* beyond the limit not counted). */
    [[nodiscard]] int count(std::string_view name) const;
    /** The first kept field called @p name, or nullptr. */
    [[nodiscard]] const HeadField* first(std::string_view name) const;
    /** Every kept field called @p name, in order. */
    [[nodiscard]] std::vector<const HeadField*> all(std::string_view name) const;
    /** The first field's value without leading white space (folds kept), or nullopt. */
    [[nodiscard]] std::optional<std::string> value(std::string_view name) const;

    /** Bytes of the head so far, as received (every field, kept or not). */
    [[nodiscard]] std::size_t bytes() const { return m_bytes; }
    /** The head passed its limit: fields after that point were not kept. */
    [[nodiscard]] bool over_limit() const { return m_bytes > m_limit; }

private:
    std::vector<HeadField> m_fields;
    std::map<std::string, int> m_count;  ///< lower-case name → fields so far
    std::size_t m_limit = std::numeric_limits<std::size_t>::max();
    std::size_t m_bytes = 0;
};

}  // namespace segel::engine
