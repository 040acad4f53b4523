#include "report/report.h"

#include "audit/event.h"
#include "audit/hash.h"
#include "base/json.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace segel::report {

namespace {

constexpr std::int64_t k_hours_per_day = 24;
constexpr std::int64_t k_expiring_days = 90;  // R5: the renewal window of policy::certificate_state

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t y;
    unsigned m, d;
};

Civil civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2 ? 1 : 0), m, d};
}

/** Days since 1970 of "YYYY-MM-DD", or nullopt when it is not a real date in that form. */
std::optional<std::int64_t> parse_day(std::string_view s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') {
        return std::nullopt;
    }
    for (const std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (s[i] < '0' || s[i] > '9') {
            return std::nullopt;
        }
    }
    const int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    const auto m = static_cast<unsigned>((s[5] - '0') * 10 + (s[6] - '0'));
    const auto d = static_cast<unsigned>((s[8] - '0') * 10 + (s[9] - '0'));
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31) {
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(y, m, d);
    const Civil back = civil_from_days(days);
    if (back.m != m || back.d != d) {
        return std::nullopt;  // 2026-02-30
    }
    return days;
}

std::string month_of_hour(std::int64_t hour) {
    const Civil c = civil_from_days(hour / k_hours_per_day);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04lld-%02u", static_cast<long long>(c.y), c.m);
    return buf;
}

bool unit_selected(const std::string& wanted, const std::string& unit) {
    return wanted.empty() || wanted == unit;
}

/** The value of "key=" in a space-separated credential line, up to the next " key2=" or the end. */
std::string_view field_of(std::string_view line, std::string_view key, bool to_end = false) {
    const std::string needle = std::string(key) + "=";
    std::size_t at = line.rfind(needle, 0) == 0 ? 0 : std::string_view::npos;
    if (at == std::string_view::npos) {
        const std::size_t spaced = line.find(" " + needle);
        if (spaced == std::string_view::npos) {
            return {};
        }
        at = spaced + 1;
    }
    std::string_view rest = line.substr(at + needle.size());
    if (to_end) {
        return rest;
    }
    return rest.substr(0, rest.find(' '));
}

std::string domain_of(std::string_view address) {
    const std::size_t at = address.rfind('@');
    std::string d(at == std::string_view::npos ? std::string_view() : address.substr(at + 1));
    std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return d;
}

void add_to(std::map<std::string, std::int64_t>& m, const std::string& k, std::int64_t n) {
    if ((m[k] += n) == 0) {
        m.erase(k);
    }
}

void count_into(Measures& m, const std::string& kind, const std::string& reason, const std::string& verdict,
                std::int64_t n) {
    namespace k = audit::kind;
    if (kind == k::k_sign) {
        m.signed_only += n;
    } else if (kind == k::k_sign_encrypt) {
        m.sign_encrypt += n;
    } else if (kind == k::k_pass) {
        m.passed += n;
    } else if (kind == k::k_refuse) {
        add_to(m.refused, reason.empty() ? "refused" : reason, n);
    } else if (kind == k::k_verify || kind == k::k_decrypt) {
        add_to(m.verified, verdict.empty() ? "none" : verdict, n);
        if (kind == k::k_decrypt) {
            m.decrypted += n;
        }
    } else if (kind == k::k_incident) {
        add_to(m.incidents, reason.empty() ? "incident" : reason, n);
    } else if (kind == k::k_internal_error) {
        m.errors += n;
    }
}

bool counted_kind(const std::string& kind) {
    namespace k = audit::kind;
    return kind == k::k_sign || kind == k::k_sign_encrypt || kind == k::k_pass || kind == k::k_refuse ||
           kind == k::k_verify || kind == k::k_decrypt || kind == k::k_incident || kind == k::k_internal_error;
}

std::int64_t sum(const std::map<std::string, std::int64_t>& m) {
    std::int64_t n = 0;
    for (const auto& [k, v] : m) {
        n += v;
    }
    return n;
}

void merge(std::map<std::string, std::int64_t>& into, const std::map<std::string, std::int64_t>& from) {
    for (const auto& [k, v] : from) {
        add_to(into, k, v);
    }
}

}  // namespace

const std::vector<std::string> k_incident_kinds = {
    "forged-official-sender", "invalid-signature", "revoked-signer", "sign-revoked",        "sign-expired",
    "send-as-repeated",       "volume-anomaly",    "client-anomaly", "audit-store-failure", "checkpoint-gap"};

Period period(const std::string& from, const std::string& to) {
    const auto a = parse_day(from);
    if (!a) {
        throw std::invalid_argument("--from " + from + ": expected a date YYYY-MM-DD (UTC), e.g. 2026-01-01");
    }
    const auto b = parse_day(to);
    if (!b) {
        throw std::invalid_argument("--to " + to + ": expected a date YYYY-MM-DD (UTC), e.g. 2026-06-30");
    }
    if (*b < *a) {
        throw std::invalid_argument("--to " + to + " is before --from " + from);
    }
    return Period{from, to, *a * k_hours_per_day, (*b + 1) * k_hours_per_day};
}

std::int64_t Measures::refused_total() const {
    return sum(refused);
}
std::int64_t Measures::verified_total() const {
    return sum(verified);
}
std::int64_t Measures::incidents_total() const {
    return sum(incidents);
}

void Measures::add(const Measures& o) {
    signed_only += o.signed_only;
    sign_encrypt += o.sign_encrypt;
    passed += o.passed;
    decrypted += o.decrypted;
    errors += o.errors;
    merge(refused, o.refused);
    merge(verified, o.verified);
    merge(incidents, o.incidents);
    certs_issued += o.certs_issued;
    certs_expired += o.certs_expired;
    certs_expiring += o.certs_expiring;
    certs_revoked += o.certs_revoked;
}

audit::CountKey count_key(const audit::RowView& row) {
    // RowView::text: kind, queue_id, direction, sender, login, client, unit, decision, reason_code, verdict, …
    return audit::CountKey{static_cast<std::int64_t>(row.time_us / 3600000000ULL),
                           std::string(row.text[6]),
                           std::string(row.text[0]),
                           std::string(row.text[7]),
                           std::string(row.text[8]),
                           std::string(row.text[9])};
}

void add_counts(Report& r, const Period& p, const std::string& unit, const audit::Counts& counts) {
    for (const auto& [key, n] : counts) {
        const auto& [hour, u, kind, decision, reason, verdict] = key;
        if (n == 0 || hour < p.first_hour || hour >= p.end_hour || !unit_selected(unit, u) || !counted_kind(kind)) {
            continue;
        }
        count_into(r.units[u], kind, reason, verdict, n);
        count_into(r.total, kind, reason, verdict, n);
        count_into(r.months[month_of_hour(hour)], kind, reason, verdict, n);
    }
}

std::optional<CertificateSeen> parse_credential(std::string_view line) {
    CertificateSeen c;
    c.sha256 = std::string(field_of(line, "sha256"));
    if (c.sha256.empty()) {
        return std::nullopt;
    }
    c.serial = std::string(field_of(line, "serial"));
    c.address = std::string(field_of(line, "address"));
    c.not_before = std::string(field_of(line, "not_before"));
    c.not_after = std::string(field_of(line, "not_after"));
    c.unit = domain_of(c.address.substr(0, c.address.find(',')));
    return c;
}

void add_certificates(Report& r, const Period& p, const std::string& unit,
                      const std::map<std::string, CertificateSeen>& seen) {
    const std::int64_t first = p.first_hour / k_hours_per_day;
    const std::int64_t end = p.end_hour / k_hours_per_day;  // the day after the last
    for (const auto& [fp, c] : seen) {
        if (!unit_selected(unit, c.unit)) {
            continue;
        }
        Measures m;
        const auto nb = parse_day(c.not_before);
        const auto na = parse_day(c.not_after);
        m.certs_issued = nb && *nb >= first && *nb < end ? 1 : 0;
        // not_after is the last day a certificate is valid on: it has expired in the period when that day is in it.
        m.certs_expired = na && *na >= first && *na < end ? 1 : 0;
        m.certs_expiring = na && *na >= end && *na < end + k_expiring_days ? 1 : 0;
        m.certs_revoked = c.revoked_in_period ? 1 : 0;
        if (m.certs_issued + m.certs_expired + m.certs_expiring + m.certs_revoked == 0) {
            continue;
        }
        r.units[c.unit].add(m);
        r.total.add(m);
    }
}

Report compute(audit::Reader& store, const Options& o, const std::string& generated) {
    Report r;
    r.period = o.period;
    r.store = store.name();
    r.generated = generated;
    std::vector<std::string> nodes = store.nodes();
    if (!o.node.empty()) {
        if (std::find(nodes.begin(), nodes.end(), o.node) == nodes.end()) {
            throw std::runtime_error("node " + o.node + " has no events in " + store.name());
        }
        nodes = {o.node};
    }
    if (o.sequence && nodes.size() != 1) {
        throw std::runtime_error("--checkpoint names one node's checkpoint: give --node (the store holds " +
                                 std::to_string(nodes.size()) + " nodes)");
    }
    const std::uint64_t since_us =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, o.period.first_hour)) * 3600000000ULL;
    const std::uint64_t until_us = static_cast<std::uint64_t>(o.period.end_hour) * 3600000000ULL;
    for (const auto& node : nodes) {
        const auto cps = store.checkpoints(node, o.sequence.value_or(0));
        if (cps.empty() || (o.sequence && cps.front().sequence != *o.sequence)) {
            throw std::runtime_error(
                o.sequence ? "node " + node + " has no checkpoint " + std::to_string(*o.sequence)
                           : "node " + node +
                                 " has no signed checkpoint yet: run `segelctl audit checkpoint --config FILE` first "
                                 "(a report counts only events a checkpoint covers)");
        }
        const audit::StoredCheckpoint& cp = o.sequence ? cps.front() : cps.back();
        // The summary table and the log's size from one moment: appends add their counts in the
        // same transaction as their events, so an unchanged size means the counts are of events
        // 0 … size-1 exactly.
        audit::Counts counts;
        std::uint64_t size = 0;
        for (int attempt = 0;; ++attempt) {
            size = store.size(node);
            counts = store.counts(node, o.period.first_hour, o.period.end_hour);
            if (store.size(node) == size) {
                break;
            }
            if (attempt == 20) {
                throw std::runtime_error("node " + node + " is being written too fast to read a consistent summary");
            }
        }
        // Take away what came after the checkpoint: those events are not yet signed.
        store.scan(node, cp.size, size, [&](const audit::RowView& row) {
            counts[count_key(row)] -= 1;
            return true;
        });
        add_counts(r, o.period, o.unit, counts);

        // Certificates: the credential lists of start/reload and the state changes, covered ones only.
        std::map<std::string, CertificateSeen> seen;
        for (const char* kind : {audit::kind::k_start, audit::kind::k_reload}) {
            audit::Query q;
            q.kind = kind;
            q.node = node;
            store.find(q, [&](const std::string&, const audit::RowView& row) {
                if (row.index >= cp.size) {
                    return false;
                }
                const audit::Event e = audit::decode(row.data);
                for (const auto& line : e.credentials) {
                    if (auto c = parse_credential(line)) {
                        const bool revoked = seen.count(c->sha256) != 0 && seen[c->sha256].revoked_in_period;
                        seen[c->sha256] = *c;
                        seen[c->sha256].revoked_in_period = revoked;
                    }
                }
                return true;
            });
        }
        audit::Query q;
        q.kind = audit::kind::k_certificate_state;
        q.node = node;
        q.since_us = since_us;
        q.until_us = until_us;
        store.find(q, [&](const std::string&, const audit::RowView& row) {
            if (row.index >= cp.size) {
                return false;
            }
            const audit::Event e = audit::decode(row.data);
            if (e.state.find("revoked") != std::string::npos) {
                const std::string fp = audit::to_hex(e.cert_fingerprint);
                auto& c = seen[fp];
                if (c.sha256.empty()) {  // a state change of a certificate no credential list names
                    c.sha256 = fp;
                    c.serial = e.cert_serial;
                    for (const auto& n : e.notes) {
                        if (n.rfind("address=", 0) == 0 && c.address.empty()) {
                            c.address = n.substr(8);
                            c.unit = domain_of(c.address);
                        }
                    }
                }
                c.revoked_in_period = true;
            }
            return true;
        });
        add_certificates(r, o.period, o.unit, seen);

        NodeCheckpoint nc;
        nc.node = node;
        nc.sequence = cp.sequence;
        nc.size = cp.size;
        nc.root = audit::to_hex(cp.root);
        nc.time = audit::format_time_us(audit::from_micros(cp.time_us));
        nc.text_sha256 = audit::to_hex(audit::sha256(cp.signed_checkpoint.text));
        nc.events_after = size - cp.size;
        r.checkpoints.push_back(std::move(nc));
    }
    // Units with nothing left (e.g. a unit seen only after the checkpoint) are not listed.
    for (auto it = r.units.begin(); it != r.units.end();) {
        it = it->second == Measures{} ? r.units.erase(it) : std::next(it);
    }
    for (auto it = r.months.begin(); it != r.months.end();) {
        it = it->second == Measures{} ? r.months.erase(it) : std::next(it);
    }
    return r;
}

namespace {

void measures_json(base::JsonWriter& w, const Measures& m) {
    w.begin_object();
    w.field("signed", m.signed_only).field("signed_encrypted", m.sign_encrypt).field("sent_unsigned", m.passed);
    const auto by_word = [&](const char* name, const std::map<std::string, std::int64_t>& words) {
        w.key(name).begin_object();
        for (const auto& [k, v] : words) {
            w.field(k, v);
        }
        w.end_object();
        w.field(std::string(name) + "_total", sum(words));
    };
    by_word("refused", m.refused);
    by_word("verified", m.verified);
    w.field("decrypted", m.decrypted);
    by_word("incidents", m.incidents);
    w.field("internal_errors", m.errors);
    w.key("certificates").begin_object();
    w.field("issued", m.certs_issued)
        .field("expired", m.certs_expired)
        .field("expiring", m.certs_expiring)
        .field("revoked", m.certs_revoked);
    w.end_object();
    w.end_object();
}

}  // namespace

std::string to_json(const Report& r) {
    base::JsonWriter w;
    w.begin_object();
    w.field("type", "segel-report").field("version", 1);
    w.key("period").begin_object().field("from", r.period.from).field("to", r.period.to).end_object();
    w.field("store", r.store).field("generated", r.generated);
    w.key("checkpoints").begin_array();
    for (const auto& c : r.checkpoints) {
        w.begin_object()
            .field("node", c.node)
            .field("sequence", c.sequence)
            .field("size", c.size)
            .field("root", c.root)
            .field("time", c.time)
            .field("text_sha256", c.text_sha256)
            .field("events_after", c.events_after)
            .end_object();
    }
    w.end_array();
    w.key("total");
    measures_json(w, r.total);
    w.key("units").begin_object();
    for (const auto& [u, m] : r.units) {
        w.key(u);
        measures_json(w, m);
    }
    w.end_object();
    w.key("months").begin_object();
    for (const auto& [mo, m] : r.months) {
        w.key(mo);
        measures_json(w, m);
    }
    w.end_object();
    w.end_object();
    return w.str() + "\n";
}

std::string csv_field(std::string_view s) {
    const std::string safe = audit::column_safe(s);
    std::string out = "\"";
    for (const char c : safe) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

namespace {

void csv_rows(std::string& out, const std::string& unit, const Measures& m) {
    const auto row = [&](const char* measure, const std::string& detail, std::int64_t n) {
        out += csv_field(unit) + "," + csv_field(measure) + "," + csv_field(detail) + "," + std::to_string(n) + "\r\n";
    };
    row("signed", "", m.signed_only);
    row("signed_encrypted", "", m.sign_encrypt);
    row("sent_unsigned", "", m.passed);
    for (const auto& [k, v] : m.refused) {
        row("refused", k, v);
    }
    for (const auto& [k, v] : m.verified) {
        row("verified", k, v);
    }
    row("decrypted", "", m.decrypted);
    for (const auto& [k, v] : m.incidents) {
        row("incident", k, v);
    }
    row("internal_errors", "", m.errors);
    row("certificates_issued", "", m.certs_issued);
    row("certificates_expired", "", m.certs_expired);
    row("certificates_expiring", "", m.certs_expiring);
    row("certificates_revoked", "", m.certs_revoked);
}

}  // namespace

std::string to_csv(const Report& r) {
    std::string out = "unit,measure,detail,count\r\n";
    for (const auto& [u, m] : r.units) {
        csv_rows(out, u, m);
    }
    csv_rows(out, "(total)", r.total);
    return out;
}

}  // namespace segel::report
