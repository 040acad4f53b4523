#include "audit/pg_store.h"

#include "audit/error.h"
#include "audit/sqlite_store.h"

#include <cstdlib>
#include <cstring>
#include <map>

namespace segel::audit {

namespace {

constexpr const char* k_schema = R"SQL(
CREATE TABLE IF NOT EXISTS audit_nodes(
  node TEXT PRIMARY KEY, shipped BIGINT NOT NULL DEFAULT 0, last_leaf BYTEA NOT NULL DEFAULT ''::bytea,
  checkpoints BIGINT NOT NULL DEFAULT 0, updated TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS audit_events(
  node TEXT NOT NULL, idx BIGINT NOT NULL, time BIGINT NOT NULL,
  kind TEXT NOT NULL, queue_id TEXT NOT NULL, direction TEXT NOT NULL, sender TEXT NOT NULL,
  login TEXT NOT NULL, client TEXT NOT NULL, unit TEXT NOT NULL, decision TEXT NOT NULL,
  reason_code TEXT NOT NULL, verdict TEXT NOT NULL, cert_serial TEXT NOT NULL,
  data BYTEA NOT NULL, leaf BYTEA NOT NULL,
  PRIMARY KEY (node, idx));
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events(time);
CREATE INDEX IF NOT EXISTS audit_events_kind_time ON audit_events(kind, time);
CREATE INDEX IF NOT EXISTS audit_events_sender ON audit_events(sender, time);
CREATE INDEX IF NOT EXISTS audit_events_queue_id ON audit_events(queue_id);
CREATE TABLE IF NOT EXISTS audit_checkpoints(
  node TEXT NOT NULL, seq BIGINT NOT NULL, size BIGINT NOT NULL, root BYTEA NOT NULL, time BIGINT NOT NULL,
  body BYTEA NOT NULL, signature BYTEA NOT NULL, timestamp BYTEA NOT NULL,
  PRIMARY KEY (node, seq));
CREATE TABLE IF NOT EXISTS audit_counts(
  node TEXT NOT NULL, hour BIGINT NOT NULL, unit TEXT NOT NULL, kind TEXT NOT NULL, decision TEXT NOT NULL,
  reason_code TEXT NOT NULL, verdict TEXT NOT NULL, n BIGINT NOT NULL,
  PRIMARY KEY (node, hour, unit, kind, decision, reason_code, verdict));
CREATE INDEX IF NOT EXISTS audit_counts_hour ON audit_counts(hour);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END$$;
CREATE OR REPLACE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
)SQL";

constexpr const char* k_event_columns =
    "idx, time, kind, queue_id, direction, sender, login, client, unit, decision, reason_code, verdict, "
    "cert_serial, data, leaf";

std::uint64_t be64(std::string_view b) {
    std::uint64_t v = 0;
    for (const char c : b.substr(0, 8)) {
        v = (v << 8U) | static_cast<std::uint8_t>(c);
    }
    return v;
}

std::uint32_t be32(const char* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        v = (v << 8U) | static_cast<std::uint8_t>(p[i]);
    }
    return v;
}

Hash hash_of(std::string_view b) {
    Hash h{};
    if (b.size() == h.size()) {
        std::memcpy(h.data(), b.data(), h.size());
    }
    return h;
}

/** Binary COPY (PostgreSQL docs, "COPY", "Binary Format"): the 11-byte signature, flags, no extension. */
constexpr char k_copy_header[19] = {'P',  'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n',
                                    '\0', 0,   0,   0,   0,   0,   0,    0,      0};

void put_be(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
        out += static_cast<char>((v >> (8U * static_cast<unsigned>(i))) & 0xFFU);
    }
}

/** One field of a binary COPY row: its length (int32) and its bytes (text, bytea: as they are). */
void copy_field(std::string& out, std::string_view bytes) {
    put_be(out, bytes.size(), 4);
    out.append(bytes);
}

/** A BIGINT field of a binary COPY row. */
void copy_int8(std::string& out, std::uint64_t v) {
    put_be(out, 8, 4);
    put_be(out, v, 8);
}

std::string bytea_param(std::string_view b) {
    return "\\x" + to_hex(b);
}

RowView row_view(const std::vector<std::string_view>& f) {
    RowView r;
    r.index = be64(f[0]);
    r.time_us = be64(f[1]);
    for (int i = 0; i < 11; ++i) {
        r.text[i] = f[2 + static_cast<std::size_t>(i)];
    }
    r.data = f[13];
    r.leaf = f[14];
    return r;
}

}  // namespace

struct PgStore::Result {
    struct Clear {
        void operator()(PGresult* r) const noexcept { PQclear(r); }
    };
    std::unique_ptr<PGresult, Clear> res;
    [[nodiscard]] int rows() const { return PQntuples(res.get()); }
    [[nodiscard]] std::string_view value(int row, int col) const {
        return {PQgetvalue(res.get(), row, col), static_cast<std::size_t>(PQgetlength(res.get(), row, col))};
    }
    [[nodiscard]] std::uint64_t u64(int row, int col) const { return be64(value(row, col)); }
};

PgStore::PgStore(PGconn* conn, std::string name) : m_conn(conn), m_name(std::move(name)) {}
PgStore::~PgStore() = default;

void PgStore::fail(const std::string& what) {
    std::string msg = PQerrorMessage(m_conn.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
        msg.pop_back();
    }
    throw Error(Category::Unavailable, m_name + ": " + what + ": " + msg);
}

std::unique_ptr<PgStore> PgStore::open(const std::string& url, bool create) {
    PGconn* conn = PQconnectdb(url.c_str());
    auto store = std::unique_ptr<PgStore>(new PgStore(conn, redact(url)));
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        store->fail("cannot connect to the shared audit database");
    }
    store->command("SET client_min_messages = warning");
    // segel's queries stream rows in key order or read small tables: compiling them (JIT, on
    // when the planner's estimate is large, as for ten million events) costs more than it saves.
    store->command("SET jit = off");
    auto has = store->exec("SELECT to_regclass('audit_events') IS NOT NULL", {}, false);
    if (has.value(0, 0) != "t") {
        if (!create) {
            throw Error(Category::Unavailable, store->m_name +
                                                   ": has no audit tables (they are made by the first "
                                                   "`segelctl audit ship`)");
        }
        store->command("BEGIN");
        store->command("SELECT pg_advisory_xact_lock(7392011)");  // two shippers starting at once
        store->command(k_schema);
        store->command("COMMIT");
    }
    return store;
}

PgStore::Result PgStore::exec(const std::string& sql, const std::vector<std::string>& params, bool binary) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.c_str());
    }
    Result r{std::unique_ptr<PGresult, Result::Clear>(PQexecParams(m_conn.get(), sql.c_str(),
                                                                   static_cast<int>(values.size()), nullptr,
                                                                   values.data(), nullptr, nullptr, binary ? 1 : 0))};
    const ExecStatusType st = PQresultStatus(r.res.get());
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fail(sql.substr(0, sql.find_first_of("\n(")));
    }
    return r;
}

void PgStore::command(const std::string& sql, const std::vector<std::string>& params) {
    if (params.empty()) {
        Result r{std::unique_ptr<PGresult, Result::Clear>(PQexec(m_conn.get(), sql.c_str()))};
        const ExecStatusType st = PQresultStatus(r.res.get());
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            fail(sql.substr(0, sql.find_first_of("\n(")));
        }
        return;
    }
    exec(sql, params, false);
}

std::string PgStore::literal(const std::string& s) {
    char* q = PQescapeLiteral(m_conn.get(), s.c_str(), s.size());
    if (q == nullptr) {
        fail("cannot quote a value");
    }
    std::string out = q;
    PQfreemem(q);
    return out;
}

bool PgStore::copy_out(const std::string& select, const std::function<bool(const std::vector<std::string_view>&)>& fn) {
    const std::string sql = "COPY (" + select + ") TO STDOUT (FORMAT binary)";
    {
        Result r{std::unique_ptr<PGresult, Result::Clear>(PQexec(m_conn.get(), sql.c_str()))};
        if (PQresultStatus(r.res.get()) != PGRES_COPY_OUT) {
            fail("COPY out");
        }
    }
    // Binary COPY (PostgreSQL docs, "Binary Format"): an 11-byte signature, flags, a header
    // extension, then per row an int16 field count and per field an int32 length and the bytes.
    static constexpr char k_signature[] = "PGCOPY\n\377\r\n";
    bool header = true;
    bool stop = false;
    std::vector<std::string_view> fields;
    for (;;) {
        char* buf = nullptr;
        const int n = PQgetCopyData(m_conn.get(), &buf, 0);
        if (n == -1) {
            break;  // done
        }
        if (n < 0) {
            fail("COPY out");
        }
        std::unique_ptr<char, decltype(&PQfreemem)> owned(buf, &PQfreemem);
        const char* p = buf;
        const char* end = buf + n;
        auto need = [&](std::size_t k) {
            if (static_cast<std::size_t>(end - p) < k) {
                throw Error(Category::Malformed, m_name + ": a COPY row is cut short");
            }
        };
        if (header) {
            need(19);
            if (std::memcmp(p, k_signature, 11) != 0) {
                throw Error(Category::Malformed, m_name + ": not a binary COPY stream");
            }
            p += 15;
            const std::uint32_t ext = be32(p);
            p += 4;
            need(ext);
            p += ext;
            header = false;
        }
        while (p < end && !stop) {
            need(2);
            const auto count =
                static_cast<std::int16_t>((static_cast<std::uint8_t>(p[0]) << 8U) | static_cast<std::uint8_t>(p[1]));
            p += 2;
            if (count == -1) {
                p = end;
                break;
            }
            fields.clear();
            for (int i = 0; i < count; ++i) {
                need(4);
                const auto len = static_cast<std::int32_t>(be32(p));
                p += 4;
                if (len < 0) {
                    fields.emplace_back();
                    continue;
                }
                need(static_cast<std::size_t>(len));
                fields.emplace_back(p, static_cast<std::size_t>(len));
                p += len;
            }
            if (!stop && !fn(fields)) {
                stop = true;  // keep draining: libpq wants the whole stream read
            }
        }
    }
    Result r{std::unique_ptr<PGresult, Result::Clear>(PQgetResult(m_conn.get()))};
    if (PQresultStatus(r.res.get()) != PGRES_COMMAND_OK) {
        fail("COPY out");
    }
    while (PGresult* extra = PQgetResult(m_conn.get())) {
        PQclear(extra);
    }
    return !stop;
}

void PgStore::copy_in(const std::string& copy, const std::string& data) {
    {
        Result r{std::unique_ptr<PGresult, Result::Clear>(PQexec(m_conn.get(), copy.c_str()))};
        if (PQresultStatus(r.res.get()) != PGRES_COPY_IN) {
            fail("COPY in");
        }
    }
    constexpr std::size_t k_piece = 1 << 20;
    for (std::size_t off = 0; off < data.size(); off += k_piece) {
        const std::size_t n = std::min(k_piece, data.size() - off);
        if (PQputCopyData(m_conn.get(), data.data() + off, static_cast<int>(n)) != 1) {
            fail("COPY in");
        }
    }
    if (PQputCopyEnd(m_conn.get(), nullptr) != 1) {
        fail("COPY in");
    }
    Result r{std::unique_ptr<PGresult, Result::Clear>(PQgetResult(m_conn.get()))};
    if (PQresultStatus(r.res.get()) != PGRES_COMMAND_OK) {
        fail("COPY in");
    }
    while (PGresult* extra = PQgetResult(m_conn.get())) {
        PQclear(extra);
    }
}

PgStore::Shipped PgStore::shipped(const std::string& node) {
    auto r = exec("SELECT shipped, checkpoints FROM audit_nodes WHERE node = $1", {node});
    if (r.rows() == 0) {
        return {};
    }
    return {r.u64(0, 0), r.u64(0, 1)};
}

PgStore::Shipped PgStore::ship(SqliteStore& local, std::size_t max_events) {
    if (PQstatus(m_conn.get()) != CONNECTION_OK) {
        PQreset(m_conn.get());
        if (PQstatus(m_conn.get()) != CONNECTION_OK) {
            fail("cannot reach the shared audit database");
        }
    }
    const std::string& node = local.node();
    const Tip tip = local.tip();
    struct Rollback {
        PgStore* store;
        bool done = false;
        ~Rollback() {
            if (!done && PQstatus(store->m_conn.get()) == CONNECTION_OK &&
                PQtransactionStatus(store->m_conn.get()) != PQTRANS_IDLE) {
                PQclear(PQexec(store->m_conn.get(), "ROLLBACK"));
            }
        }
    } guard{this};
    command("BEGIN");
    command("INSERT INTO audit_nodes(node) VALUES ($1) ON CONFLICT (node) DO NOTHING", {node});
    auto head = exec("SELECT shipped, last_leaf, checkpoints FROM audit_nodes WHERE node = $1 FOR UPDATE", {node});
    const std::uint64_t from = head.u64(0, 0);
    const Hash shared_last = hash_of(head.value(0, 1));
    const std::uint64_t cps_from = head.u64(0, 2);
    if (from > tip.size) {
        throw Error(Category::Malformed, m_name + " has " + std::to_string(from) + " events of node " + node +
                                             ", the local trail " + local.name() + " only " + std::to_string(tip.size) +
                                             ": the local file was replaced or truncated (not shipping)");
    }
    if (from > 0) {
        Hash local_leaf{};
        local.leaves(node, {from - 1, from}, [&](const Hash& h) { local_leaf = h; });
        if (local_leaf != shared_last) {
            throw Error(Category::Malformed, m_name + " and the local trail " + local.name() +
                                                 " disagree about event " + std::to_string(from - 1) + " of node " +
                                                 node + " (not shipping)");
        }
    }
    // The events go in one binary COPY: no escaping, no hex, half the bytes of the text format.
    std::string data(k_copy_header, sizeof k_copy_header);
    std::map<CountKey, std::int64_t> delta;
    std::uint64_t next = from;
    Hash last = shared_last;
    local.scan(node, from, from + max_events, [&](const RowView& row) {
        if (row.index != next) {
            throw Error(Category::Malformed, "the local trail " + local.name() + " has no event " +
                                                 std::to_string(next) + " (not shipping past the gap)");
        }
        put_be(data, 16, 2);  // fields: node and the 15 of k_event_columns
        copy_field(data, node);
        copy_int8(data, row.index);
        copy_int8(data, row.time_us);
        for (const auto& text : row.text) {
            copy_field(data, text);
        }
        copy_field(data, row.data);
        copy_field(data, row.leaf);
        ++delta[CountKey{static_cast<std::int64_t>(row.time_us / (3600ULL * 1000000ULL)), std::string(row.text[6]),
                         std::string(row.text[0]), std::string(row.text[7]), std::string(row.text[8]),
                         std::string(row.text[9])}];
        last = hash_of(row.leaf);
        ++next;
        return true;
    });
    if (next == from) {
        // Nothing new; checkpoints may still be due (none can be: they never lead their events).
        return {from, cps_from};
    }
    put_be(data, 0xFFFF, 2);  // the trailer: a field count of -1
    copy_in(std::string("COPY audit_events(node, ") + k_event_columns + ") FROM STDIN (FORMAT binary)", data);
    std::uint64_t cps = cps_from;
    for (const auto& c : local.checkpoints(node, cps_from)) {
        if (c.sequence != cps || c.size > next) {
            break;  // a checkpoint is shipped with (or after) the events it covers
        }
        command(
            "INSERT INTO audit_checkpoints(node, seq, size, root, time, body, signature, timestamp) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            {node, std::to_string(c.sequence), std::to_string(c.size), bytea_param(as_bytes(c.root)),
             std::to_string(c.time_us), bytea_param(c.signed_checkpoint.text),
             bytea_param(c.signed_checkpoint.signature), bytea_param(c.signed_checkpoint.timestamp)});
        ++cps;
    }
    // The counts in statements of up to 1,000 rows each (a batch spans many hours and units),
    // not one round trip per key; keys are distinct, as one upsert statement requires.
    constexpr std::size_t k_counts_per_statement = 1000;
    auto it = delta.begin();
    while (it != delta.end()) {
        std::string sql = "INSERT INTO audit_counts(node, hour, unit, kind, decision, reason_code, verdict, n) VALUES ";
        std::vector<std::string> params{node};
        for (std::size_t row = 0; row < k_counts_per_statement && it != delta.end(); ++row, ++it) {
            const auto& [k, n] = *it;
            const std::size_t p = params.size();
            sql += row == 0 ? "($1" : ",($1";
            for (std::size_t i = 1; i <= 7; ++i) {
                sql += ",$" + std::to_string(p + i);
            }
            sql += ")";
            params.insert(params.end(), {std::to_string(std::get<0>(k)), std::get<1>(k), std::get<2>(k), std::get<3>(k),
                                         std::get<4>(k), std::get<5>(k), std::to_string(n)});
        }
        sql +=
            " ON CONFLICT (node, hour, unit, kind, decision, reason_code, verdict) "
            "DO UPDATE SET n = audit_counts.n + EXCLUDED.n";
        command(sql, params);
    }
    command("UPDATE audit_nodes SET shipped = $2, last_leaf = $3, checkpoints = $4, updated = now() WHERE node = $1",
            {node, std::to_string(next), bytea_param(as_bytes(last)), std::to_string(cps)});
    command("COMMIT");
    guard.done = true;
    return {next, cps};
}

std::vector<std::string> PgStore::nodes() {
    std::vector<std::string> out;
    auto r = exec("SELECT node FROM audit_nodes ORDER BY node");
    for (int i = 0; i < r.rows(); ++i) {
        out.emplace_back(r.value(i, 0));
    }
    return out;
}

void PgStore::scan(const std::string& node, std::uint64_t from, std::uint64_t to,
                   const std::function<bool(const RowView&)>& fn) {
    copy_events(std::string("SELECT ") + k_event_columns, node, from, to,
                [&](const std::vector<std::string_view>& f) { return fn(row_view(f)); });
}

void PgStore::leaves(const std::string& node, merkle::Range range, const std::function<void(const Hash&)>& fn) {
    copy_events("SELECT idx, leaf", node, range.first, range.second, [&](const std::vector<std::string_view>& f) {
        fn(hash_of(f[1]));
        return true;
    });
}

void PgStore::copy_events(const std::string& select, const std::string& node, std::uint64_t from, std::uint64_t to,
                          const std::function<bool(const std::vector<std::string_view>&)>& fn) {
    // A page at a time in key order (LIMIT, then from the last idx read), not in one statement:
    // for a whole node of ten million events the planner prefers a sequential scan and a sort
    // to the key's order, and the sort of 7 GB spills to disk (docs/audit.md, "Cost and
    // scale"); a page is read by the primary key. One snapshot for all pages, as one statement
    // had. @p select's first column is idx.
    static const std::uint64_t k_page = [] {
        // SEGEL_AUDIT_PG_PAGE: a smaller page, so that the tests read a node across many pages.
        const char* v = std::getenv("SEGEL_AUDIT_PG_PAGE");
        const unsigned long long n = v != nullptr ? std::strtoull(v, nullptr, 10) : 0;
        return n > 0 ? static_cast<std::uint64_t>(n) : std::uint64_t{1'000'000};
    }();
    const std::uint64_t hi = std::min<std::uint64_t>(to, static_cast<std::uint64_t>(INT64_MAX));
    const bool own = PQtransactionStatus(m_conn.get()) == PQTRANS_IDLE;
    if (own) {
        command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }
    try {
        std::uint64_t lo = from;
        bool more = lo < hi;
        while (more) {
            std::uint64_t rows = 0;
            const bool go_on = copy_out(select + " FROM audit_events WHERE node = " + literal(node) +
                                            " AND idx >= " + std::to_string(lo) + " AND idx < " + std::to_string(hi) +
                                            " ORDER BY idx LIMIT " + std::to_string(k_page),
                                        [&](const std::vector<std::string_view>& f) {
                                            ++rows;
                                            lo = be64(f.at(0)) + 1;
                                            return fn(f);
                                        });
            more = go_on && rows == k_page && lo < hi;
        }
    } catch (...) {
        if (own) {
            PQclear(PQexec(m_conn.get(), "ROLLBACK"));
        }
        throw;
    }
    if (own) {
        command("COMMIT");
    }
}

std::vector<StoredCheckpoint> PgStore::checkpoints(const std::string& node, std::uint64_t from_sequence) {
    std::vector<StoredCheckpoint> out;
    auto r = exec(
        "SELECT seq, size, root, time, body, signature, timestamp FROM audit_checkpoints "
        "WHERE node = $1 AND seq >= $2 ORDER BY seq",
        {node, std::to_string(from_sequence)});
    for (int i = 0; i < r.rows(); ++i) {
        StoredCheckpoint c;
        c.sequence = r.u64(i, 0);
        c.size = r.u64(i, 1);
        c.root = hash_of(r.value(i, 2));
        c.time_us = r.u64(i, 3);
        c.signed_checkpoint.text = std::string(r.value(i, 4));
        c.signed_checkpoint.signature = std::string(r.value(i, 5));
        c.signed_checkpoint.timestamp = std::string(r.value(i, 6));
        out.push_back(std::move(c));
    }
    return out;
}

std::uint64_t PgStore::size(const std::string& node) {
    auto r = exec("SELECT max(idx) FROM audit_events WHERE node = $1", {node});
    if (r.rows() == 0 || PQgetisnull(r.res.get(), 0, 0) != 0) {
        return 0;
    }
    return r.u64(0, 0) + 1;
}

Counts PgStore::counts(const std::string& node) {
    Counts out;
    auto r =
        exec("SELECT hour, unit, kind, decision, reason_code, verdict, n FROM audit_counts WHERE node = $1", {node});
    for (int i = 0; i < r.rows(); ++i) {
        out[CountKey{static_cast<std::int64_t>(r.u64(i, 0)), std::string(r.value(i, 1)), std::string(r.value(i, 2)),
                     std::string(r.value(i, 3)), std::string(r.value(i, 4)), std::string(r.value(i, 5))}] +=
            static_cast<std::int64_t>(r.u64(i, 6));
    }
    return out;
}

Counts PgStore::counts(const std::string& node, std::int64_t first_hour, std::int64_t end_hour) {
    Counts out;
    auto r = exec(
        "SELECT hour, unit, kind, decision, reason_code, verdict, n FROM audit_counts "
        "WHERE node = $1 AND hour >= $2 AND hour < $3",
        {node, std::to_string(first_hour), std::to_string(end_hour)});
    for (int i = 0; i < r.rows(); ++i) {
        out[CountKey{static_cast<std::int64_t>(r.u64(i, 0)), std::string(r.value(i, 1)), std::string(r.value(i, 2)),
                     std::string(r.value(i, 3)), std::string(r.value(i, 4)), std::string(r.value(i, 5))}] +=
            static_cast<std::int64_t>(r.u64(i, 6));
    }
    return out;
}

void PgStore::find(const Query& q, const std::function<bool(const std::string& node, const RowView&)>& fn) {
    std::string sql = std::string("SELECT node, ") + k_event_columns + " FROM audit_events WHERE true";
    if (q.since_us) {
        sql += " AND time >= " + std::to_string(*q.since_us);
    }
    if (q.until_us) {
        sql += " AND time < " + std::to_string(*q.until_us);
    }
    if (!q.sender.empty()) {
        sql += " AND sender = " + literal(q.sender);
    }
    if (!q.queue_id.empty()) {
        sql += " AND queue_id = " + literal(q.queue_id);
    }
    if (!q.kind.empty()) {
        sql += " AND kind = " + literal(q.kind);
    }
    if (!q.node.empty()) {
        sql += " AND node = " + literal(q.node);
    }
    sql += " ORDER BY node, idx";
    if (q.limit != 0) {
        sql += " LIMIT " + std::to_string(q.limit);
    }
    copy_out(sql, [&](const std::vector<std::string_view>& f) {
        const std::vector<std::string_view> rest(f.begin() + 1, f.end());
        return fn(std::string(f[0]), row_view(rest));
    });
}

}  // namespace segel::audit
