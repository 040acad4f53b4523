#pragma once
// A small JSON writer (RFC 8259) for machine-readable output: segelctl
// --json, the Outcome record. Writes valid UTF-8-preserving JSON; bytes that
// are not valid UTF-8 are escaped as \u00XX so the output always parses.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segel::base {

/** A JSON string literal of @p s, quotes included. */
std::string json_string(std::string_view s);

class JsonWriter {
public:
    /** @param indent spaces per level; 0 writes one line */
    explicit JsonWriter(int indent = 2) : m_indent(indent) {}

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    /** The key of the next value (inside an object). */
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(std::int64_t n);
    JsonWriter& value(std::uint64_t n);
    JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
    JsonWriter& value(double d);
    JsonWriter& null();
    /** A value that is already JSON (e.g. another writer's str()). */
    JsonWriter& raw(std::string_view json);
    /** key + value in one call. */
    template <typename T>
    JsonWriter& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }
    /** A key with an array of strings. */
    JsonWriter& field(std::string_view k, const std::vector<std::string>& items);

    [[nodiscard]] const std::string& str() const { return m_out; }

private:
    void before_value();
    void newline();

    int m_indent;
    std::string m_out;
    struct Level {
        bool object;
        bool empty = true;
    };
    std::vector<Level> m_levels;
    bool m_after_key = false;
};

}  // namespace segel::base
