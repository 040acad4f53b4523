#include "audit/store.h"

#include "audit/error.h"
#include "audit/pg_store.h"
#include "audit/sqlite_store.h"

namespace segel::audit {

const char* const k_column_names[12] = {"time",   "kind", "queue_id", "direction",   "sender",  "login",
                                        "client", "unit", "decision", "reason_code", "verdict", "cert_serial"};

std::string column_safe(std::string_view s) {
    // Fast path: printable ASCII and well-formed UTF-8 pass unchanged.
    std::string out;
    std::size_t i = 0;
    auto cont = [&](std::size_t k) { return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0U) == 0x80U; };
    bool changed = false;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        if (c >= 0x01 && c < 0x80) {
            len = 1;
        } else if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            const bool ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F);  // overlong, surrogates
            len = ok ? 3 : 0;
        } else if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            const bool ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 > 0x8F);
            len = ok ? 4 : 0;
        }
        if (len == 0) {
            if (!changed) {
                out.assign(s.substr(0, i));
                changed = true;
            }
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        if (changed) {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    return changed ? out : std::string(s);
}

bool column_equal(std::string_view value, std::string_view column) {
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (u == 0 || u >= 0x80) {
            return column_safe(value) == column;
        }
    }
    return value == column;
}

Columns columns_of(const Event& e) {
    Columns c;
    c.time_us = to_micros(e.time);
    c.kind = column_safe(e.kind);
    c.queue_id = column_safe(e.queue_id);
    c.direction = column_safe(e.direction);
    c.sender = column_safe(e.sender);
    c.login = column_safe(e.login);
    c.client = column_safe(e.client);
    c.unit = column_safe(e.unit);
    c.decision = column_safe(e.decision);
    c.reason_code = column_safe(e.reason_code);
    c.verdict = column_safe(verdict_word(e));
    c.cert_serial = column_safe(e.cert_serial);
    return c;
}

namespace {
const std::string Columns::*const k_text_members[11] = {&Columns::kind,    &Columns::queue_id,   &Columns::direction,
                                                        &Columns::sender,  &Columns::login,      &Columns::client,
                                                        &Columns::unit,    &Columns::decision,   &Columns::reason_code,
                                                        &Columns::verdict, &Columns::cert_serial};
}  // namespace

int column_mismatch(const Columns& c, const RowView& row) {
    if (c.time_us != row.time_us) {
        return 0;
    }
    for (int i = 0; i < 11; ++i) {
        if (c.*k_text_members[i] != row.text[i]) {
            return i + 1;
        }
    }
    return -1;
}

std::string column_text(const RowView& row, int i) {
    return i == 0 ? std::to_string(row.time_us) : std::string(row.text[i - 1]);
}

CountKey count_key(const Columns& c) {
    constexpr std::uint64_t k_hour_us = 3600ULL * 1000000ULL;
    return {static_cast<std::int64_t>(c.time_us / k_hour_us), c.unit, c.kind, c.decision, c.reason_code, c.verdict};
}

bool is_postgresql(const std::string& url) {
    return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string redact(const std::string& url) {
    if (!is_postgresql(url)) {
        return url;
    }
    const std::size_t start = url.find("://") + 3;
    const std::size_t at = url.find('@', start);
    if (at == std::string::npos) {
        return url;
    }
    const std::size_t colon = url.find(':', start);
    if (colon == std::string::npos || colon > at) {
        return url;
    }
    return url.substr(0, colon) + ":***" + url.substr(at);
}

std::unique_ptr<Reader> open_reader(const std::string& url) {
    if (is_postgresql(url)) {
        return PgStore::open(url);
    }
    std::string path = url;
    if (path.rfind("sqlite:", 0) == 0) {
        path = path.substr(7);
    } else if (path.find("://") != std::string::npos) {
        throw Error(Category::Usage, "\"" + redact(url) + "\" is not an audit store (sqlite:/path or postgresql://…)");
    }
    return SqliteStore::open(path, "", false, Sync::Full, true);
}

}  // namespace segel::audit
