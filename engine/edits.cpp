#include "engine/edits.h"

#include "base/text.h"
#include "smime/canonical.h"

namespace segel::engine {

void apply(const Edits& edits, Actions& actions) {
    // The body first: a writer that fails before its first piece leaves the
    // message untouched (so an internal error may still accept it unchanged);
    // the header edits do not depend on the body (the signing boundary is drawn
    // before it is written).
    if (edits.body) {
        edits.body([&actions](std::string_view piece) {
            if (!piece.empty()) {
                actions.replace_body(piece);
            }
        });
    }
    for (const auto& h : edits.headers) {
        switch (h.op) {
            case HeaderEdit::Op::Delete:
                actions.delete_header(h.name, h.index);
                break;
            case HeaderEdit::Op::Change:
                actions.change_header(h.name, h.index, h.value);
                break;
            case HeaderEdit::Op::Insert:
                actions.insert_header(h.index, h.name, h.value);
                break;
            case HeaderEdit::Op::Add:
                actions.add_header(h.name, h.value);
                break;
        }
    }
    if (edits.quarantine) {
        actions.quarantine(*edits.quarantine);
    }
}

RecordingActions::RecordingActions(std::vector<Field> head, std::string body)
    : m_head(std::move(head)), m_body(std::move(body)) {}

std::vector<RecordingActions::Field>::iterator RecordingActions::nth(const std::string& name, int index) {
    int seen = 0;
    for (auto it = m_head.begin(); it != m_head.end(); ++it) {
        if (base::iequals(it->name, name) && ++seen == index) {
            return it;
        }
    }
    return m_head.end();
}

void RecordingActions::delete_header(const std::string& name, int index) {
    m_recorded.push_back({"delete", name, index, {}});
    if (const auto it = nth(name, index); it != m_head.end()) {
        m_head.erase(it);
    }
}

void RecordingActions::change_header(const std::string& name, int index, const std::string& value) {
    m_recorded.push_back({"change", name, index, value});
    if (const auto it = nth(name, index); it != m_head.end()) {
        it->value = " " + value;
    } else {
        m_head.push_back({name, " " + value});  // as the MTA does: a missing field is added
    }
}

void RecordingActions::insert_header(int index, const std::string& name, const std::string& value) {
    m_recorded.push_back({"insert", name, index, value});
    const auto at = static_cast<std::size_t>(std::max(0, index));
    m_head.insert(m_head.begin() + static_cast<std::ptrdiff_t>(std::min(at, m_head.size())), {name, " " + value});
}

void RecordingActions::add_header(const std::string& name, const std::string& value) {
    m_recorded.push_back({"add", name, 0, value});
    m_head.push_back({name, " " + value});
}

void RecordingActions::replace_body(std::string_view piece) {
    if (!m_body_replaced || m_recorded.empty() || m_recorded.back().op != "body") {
        m_recorded.push_back({"body", {}, 0, {}});
    }
    m_body_replaced = true;
    m_new_body.append(piece);
    m_recorded.back().index += 1;  // pieces
}

void RecordingActions::quarantine(const std::string& reason) {
    m_recorded.push_back({"quarantine", {}, 0, reason});
    m_quarantine = reason;
}

std::string RecordingActions::message() const {
    std::string out;
    for (const auto& f : m_head) {
        out += f.name;
        out += ':';
        out += smime::canonical::to_crlf(f.value);
        out += "\r\n";
    }
    out += "\r\n";
    out += m_body_replaced ? m_new_body : m_body;
    return out;
}

}  // namespace segel::engine
