#include "engine/head.h"

#include "base/text.h"
#include "engine/encrypt.h"
#include "smime/canonical.h"

namespace segel::engine {

namespace {
/** Kept besides Content-* and MIME-Version; counted even beyond the limit. */
constexpr const char* k_counted[] = {"Subject", "Sender", "Authentication-Results", k_decryption_header};
}  // namespace

bool Head::keeps(std::string_view name) {
    if (smime::canonical::is_content_header(name)) {
        return true;
    }
    for (const char* n : k_counted) {
        if (base::iequals(name, n)) {
            return true;
        }
    }
    return false;
}

bool Head::add(std::string_view name, std::string_view raw) {
    std::size_t line = name.size() + 3;  // "Name:" … CRLF
    for (const char c : raw) {
        line += c == '\n' ? 2 : c == '\r' ? 0 : 1;
    }
    m_bytes += line;
    if (!keeps(name)) {
        return false;
    }
    // Beyond the limit nothing more is kept but a first Subject (the one readers show, and the
    // one a tag goes on); the few names whose indexes matter still count (a bounded map).
    if (over_limit() && !(base::iequals(name, "Subject") && count("Subject") == 0)) {
        if (!smime::canonical::is_content_header(name)) {
            ++m_count[base::lower(name)];
        }
        return false;
    }
    HeadField f;
    f.name = std::string(name);
    f.raw = base::without_cr(raw);
    f.index = ++m_count[base::lower(name)];
    m_fields.push_back(std::move(f));
    return true;
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

}  // namespace segel::engine
