#include "smime/mime/structure.h"

#include "smime/error.h"
#include "smime/mime/mime.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>

namespace segel::smime::mime {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

const Field* first(const std::vector<Field>& fields, const char* name) {
    for (const auto& f : fields) {
        if (strcasecmp(f.name.c_str(), name) == 0) {
            return &f;
        }
    }
    return nullptr;
}

/** GMime separates parameters by ';' (gmime-param.c): there are at most as many as semicolons. */
void check_parameters(const char* name, const std::string& value, const Limits& limits) {
    const auto semicolons = static_cast<std::size_t>(std::count(value.begin(), value.end(), ';'));
    if (semicolons > limits.max_parameters) {
        throw Error(Category::Limit, std::string("a ") + name + " field with more than " +
                                         std::to_string(limits.max_parameters) + " parameters (limit max_parameters)");
    }
}

std::string parameter(GMimeContentType* ct, const char* name) {
    const char* v = g_mime_content_type_get_parameter(ct, name);
    return v != nullptr ? v : "";
}

/** Content-Disposition's filename= parameter; nullopt when it is absent or empty. */
std::optional<std::string> file_name(const std::string& disposition) {
    if (const auto plain = plain_disposition(disposition)) {
        const auto fn = plain->param("filename");
        return fn ? std::optional<std::string>(*fn) : std::nullopt;  // a plain value is never empty
    }
    auto disp = gobj::adopt(g_mime_content_disposition_parse(nullptr, disposition.c_str()));
    const char* fn = disp ? g_mime_content_disposition_get_parameter(disp.get(), "filename") : nullptr;
    return fn != nullptr && *fn != '\0' ? std::optional<std::string>(fn) : std::nullopt;
}

/** A line without its line end (LF, or CRLF). */
std::string_view line_at(std::string_view m, std::size_t pos, std::size_t& next) {
    const std::size_t eol = m.find('\n', pos);
    const std::size_t end = eol == std::string_view::npos ? m.size() : eol;
    next = eol == std::string_view::npos ? m.size() : eol + 1;
    std::string_view line = m.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

/**
 * The header block at @p begin of @p m, bounded by max_header_bytes, ended for
 * a part by a delimiter line of an open multipart (@p delimits); @p body is
 * where the body starts, as an offset into @p m.
 */
HeaderBlock bounded_header(std::string_view m, std::size_t begin, const Limits& limits,
                           const std::function<bool(std::string_view)>& delimits, std::size_t& body) {
    HeaderBlock block = split_fields(m.substr(begin), limits.max_header_bytes, delimits);
    if (block.too_large) {
        throw Error(Category::Limit,
                    "a header block larger than " + size_text(limits.max_header_bytes) + " (limit max_header_bytes)");
    }
    body = begin + block.body;
    return block;
}

/** A multipart whose delimiter lines are being looked for. */
struct Open {
    std::string boundary;
    std::size_t part = 0;  ///< index of the multipart in the result
    std::size_t children = 0;
    std::optional<std::size_t> current;   ///< the child part being read
    std::optional<std::size_t> shadowed;  ///< the outer multipart with the same boundary, if any
};

}  // namespace

MediaType media_type(const std::optional<std::string>& content_type, const std::optional<std::string>& disposition,
                     const Limits& limits) {
    init();
    MediaType mt;
    if (disposition) {
        check_parameters("Content-Disposition", *disposition, limits);
    }
    if (!content_type) {
        return mt;  // RFC 2045 §5.2 default
    }
    check_parameters("Content-Type", *content_type, limits);
    if (const auto plain = plain_content_type(*content_type)) {  // the usual form, read without GMime
        mt.type = lower(std::string(plain->type));
        mt.subtype = lower(std::string(plain->subtype));
        mt.boundary = plain->param("boundary").value_or("");
        mt.protocol = lower(std::string(plain->param("protocol").value_or("")));
        mt.name = plain->param("name").value_or("");
    } else {
        auto ct = gobj::adopt(g_mime_content_type_parse(nullptr, content_type->c_str()));
        if (!ct) {
            return mt;
        }
        const char* t = g_mime_content_type_get_media_type(ct.get());
        const char* s = g_mime_content_type_get_media_subtype(ct.get());
        mt.type = lower(t != nullptr ? t : "");
        mt.subtype = lower(s != nullptr ? s : "");
        mt.boundary = parameter(ct.get(), "boundary");
        mt.protocol = lower(parameter(ct.get(), "protocol"));
        mt.name = parameter(ct.get(), "name");
    }
    if (disposition) {
        mt.name = file_name(*disposition).value_or(mt.name);
    }
    return mt;
}

void one_content_type(std::size_t content_types) {
    if (content_types > 1) {
        throw Error(Category::Malformed,
                    "a header block with " + std::to_string(content_types) + " Content-Type fields");
    }
}

MediaType media_type(const std::vector<Field>& fields, const Limits& limits) {
    one_content_type(static_cast<std::size_t>(std::count_if(
        fields.begin(), fields.end(), [](const Field& f) { return strcasecmp(f.name.c_str(), "Content-Type") == 0; })));
    auto value = [&](const char* name) -> std::optional<std::string> {
        const Field* f = first(fields, name);
        return f != nullptr ? std::optional<std::string>(f->unfolded()) : std::nullopt;
    };
    return media_type(value("Content-Type"), value("Content-Disposition"), limits);
}

HeaderBlock read_header(std::string_view entity, const Limits& limits) {
    std::size_t body = 0;
    HeaderBlock block = bounded_header(entity, 0, limits, nullptr, body);
    block.body = body;
    return block;
}

std::string size_text(std::size_t bytes) {
    return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + " KB" : std::to_string(bytes) + " bytes";
}

std::vector<Part> walk(std::string_view m, const Limits& limits) {
    std::vector<Part> parts;
    std::vector<Open> open;
    std::map<std::string, std::size_t, std::less<>> innermost;  // boundary → index into open
    std::size_t shortest = 0;
    std::size_t longest = 0;
    auto bounds = [&] {
        shortest = SIZE_MAX;
        longest = 0;
        for (const auto& o : open) {
            shortest = std::min(shortest, o.boundary.size());
            longest = std::max(longest, o.boundary.size());
        }
    };

    // RFC 2046 §5.1.1: "--" boundary, "--" for the last one, then transport padding (LWSP).
    struct Match {
        std::size_t level;
        bool close;
    };
    auto match = [&](std::string_view line) -> std::optional<Match> {
        if (open.empty() || line.size() < 3 || line[0] != '-' || line[1] != '-') {
            return std::nullopt;
        }
        std::string_view t = line.substr(2);
        while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) {
            t.remove_suffix(1);
        }
        if (t.size() < shortest || t.size() > longest + 2) {
            return std::nullopt;
        }
        std::optional<Match> found;
        if (const auto it = innermost.find(t); it != innermost.end()) {
            found = Match{it->second, false};
        }
        if (t.size() >= 2 && t.substr(t.size() - 2) == "--") {
            if (const auto it = innermost.find(t.substr(0, t.size() - 2));
                it != innermost.end() && (!found || it->second >= found->level)) {
                found = Match{it->second, true};
            }
        }
        return found;
    };
    auto push = [&](std::size_t index) {
        Open o{parts[index].type.boundary, index, 0, std::nullopt, std::nullopt};
        if (const auto it = innermost.find(o.boundary); it != innermost.end()) {
            o.shadowed = it->second;
        }
        innermost[o.boundary] = open.size();
        open.push_back(std::move(o));
        bounds();
    };
    auto pop = [&](std::size_t end) {
        Open& o = open.back();
        if (o.current) {
            parts[*o.current].end = end;
        }
        parts[o.part].end = end;
        if (o.shadowed) {
            innermost[o.boundary] = *o.shadowed;
        } else {
            innermost.erase(o.boundary);
        }
        open.pop_back();
        bounds();
    };
    auto enters = [](const MediaType& t) {
        return t.type == "multipart" && t.subtype != "signed" && !t.boundary.empty();
    };
    const std::function<bool(std::string_view)> delimits = [&](std::string_view line) {
        return match(line).has_value();
    };

    // The message itself.
    {
        Part root;
        std::size_t body = 0;
        const HeaderBlock head = bounded_header(m, 0, limits, nullptr, body);
        root.body = body;
        root.end = m.size();
        root.type = media_type(head.fields, limits);
        parts.push_back(std::move(root));
        if (enters(parts.back().type)) {
            push(0);
        }
    }
    std::size_t pos = parts.front().body;
    while (!open.empty() && pos < m.size()) {
        std::size_t next = 0;
        const std::string_view line = line_at(m, pos, next);
        const auto hit = match(line);
        if (!hit) {
            pos = next;
            continue;
        }
        // The line break before a delimiter belongs to the delimiter.
        std::size_t before = pos;
        if (before > 0 && m[before - 1] == '\n') {
            --before;
            if (before > 0 && m[before - 1] == '\r') {
                --before;
            }
        }
        while (open.size() > hit->level + 1) {
            pop(before);  // a delimiter of an outer multipart ends the inner ones
        }
        Open& level = open.back();
        if (level.current) {
            parts[*level.current].end = before;
            level.current.reset();
        }
        if (hit->close) {
            pop(next);  // what follows is the epilogue, part of the enclosing part
            pos = next;
            continue;
        }
        if (parts.size() > limits.max_parts) {  // parts.size() - 1 body parts so far, the message not counted
            throw Error(Category::Limit,
                        "more than " + std::to_string(limits.max_parts) + " MIME parts (limit max_parts)");
        }
        const Part& parent = parts[level.part];
        Part child;
        child.depth = parent.depth + 1;
        if (child.depth > limits.max_depth) {
            throw Error(Category::Limit,
                        "MIME nesting deeper than " + std::to_string(limits.max_depth) + " levels (limit max_depth)");
        }
        child.number = (parent.number.empty() ? "" : parent.number + ".") + std::to_string(++level.children);
        child.begin = next;
        std::size_t body = 0;
        const HeaderBlock head = bounded_header(m, next, limits, delimits, body);
        child.body = body;
        child.end = m.size();
        child.type = media_type(head.fields, limits);
        level.current = parts.size();
        parts.push_back(std::move(child));
        if (enters(parts.back().type)) {
            push(parts.size() - 1);
        }
        pos = parts.back().body;
    }
    while (!open.empty()) {
        pop(m.size());
    }
    return parts;
}

}  // namespace segel::smime::mime
