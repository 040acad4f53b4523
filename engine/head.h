#pragma once
// The message head as it arrived, kept once per message: every field in
// order with its index among fields of the same name (what an MTA's header
// change takes), and quick access to the fields the pipeline reads.
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
    /** Adds the next field (the raw value may use CRLF or LF folds). */
    void add(std::string_view name, std::string_view raw);

    [[nodiscard]] const std::vector<HeadField>& fields() const { return m_fields; }
    /** How many fields called @p name (any case). */
    [[nodiscard]] int count(std::string_view name) const;
    /** The first field called @p name, or nullptr. */
    [[nodiscard]] const HeadField* first(std::string_view name) const;
    /** Every field called @p name, in order. */
    [[nodiscard]] std::vector<const HeadField*> all(std::string_view name) const;
    /** The first field's value without leading white space (folds kept), or nullopt. */
    [[nodiscard]] std::optional<std::string> value(std::string_view name) const;

    /** The head as the MTA received it: "Name:raw CRLF" per field (no blank line). */
    [[nodiscard]] std::string text() const;

private:
    std::vector<HeadField> m_fields;
    std::map<std::string, int> m_count;  ///< lower-case name → fields so far
};

}  // namespace segel::engine
