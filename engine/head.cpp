#include "engine/head.h"

#include "base/text.h"

namespace segel::engine {

void Head::add(std::string_view name, std::string_view raw) {
    HeadField f;
    f.name = std::string(name);
    f.raw.reserve(raw.size());
    for (const char c : raw) {
        if (c != '\r') {
            f.raw += c;
        }
    }
    f.index = ++m_count[base::lower(name)];
    m_fields.push_back(std::move(f));
}

int Head::count(std::string_view name) const {
    const auto it = m_count.find(base::lower(name));
    return it == m_count.end() ? 0 : it->second;
}

const HeadField* Head::first(std::string_view name) const {
    for (const auto& f : m_fields) {
        if (base::iequals(f.name, name)) {
            return &f;
        }
    }
    return nullptr;
}

std::vector<const HeadField*> Head::all(std::string_view name) const {
    std::vector<const HeadField*> out;
    for (const auto& f : m_fields) {
        if (base::iequals(f.name, name)) {
            out.push_back(&f);
        }
    }
    return out;
}

std::optional<std::string> Head::value(std::string_view name) const {
    const HeadField* f = first(name);
    if (f == nullptr) {
        return std::nullopt;
    }
    std::string_view v = f->raw;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
    }
    return std::string(v);
}

std::string Head::text() const {
    std::string out;
    for (const auto& f : m_fields) {
        out += f.name;
        out += ':';
        for (const char c : f.raw) {
            if (c == '\n') {
                out += '\r';
            }
            out += c;
        }
        out += "\r\n";
    }
    return out;
}

}  // namespace segel::engine
