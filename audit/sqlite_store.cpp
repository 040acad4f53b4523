#include "audit/sqlite_store.h"

#include <cstring>
#include <map>

namespace segel::audit {

namespace {

constexpr const char* k_schema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(
  idx INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL, queue_id TEXT NOT NULL, direction TEXT NOT NULL, sender TEXT NOT NULL,
  login TEXT NOT NULL, client TEXT NOT NULL, unit TEXT NOT NULL, decision TEXT NOT NULL,
  reason_code TEXT NOT NULL, verdict TEXT NOT NULL, cert_serial TEXT NOT NULL,
  data BLOB NOT NULL,
  leaf BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_kind_time ON events(kind, time);
CREATE TABLE IF NOT EXISTS checkpoints(
  seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, time INTEGER NOT NULL,
  body BLOB NOT NULL, signature BLOB NOT NULL, timestamp BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state(
  id INTEGER PRIMARY KEY CHECK (id = 0), size INTEGER NOT NULL, last_leaf BLOB NOT NULL, frontier BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counts(
  hour INTEGER NOT NULL, unit TEXT NOT NULL, kind TEXT NOT NULL, decision TEXT NOT NULL,
  reason_code TEXT NOT NULL, verdict TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (hour, unit, kind, decision, reason_code, verdict)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
)SQL";

constexpr const char* k_row_columns =
    "idx, time, kind, queue_id, direction, sender, login, client, unit, decision, reason_code, verdict, "
    "cert_serial, data, leaf";

Hash hash_of(std::string_view b) {
    Hash h{};
    if (b.size() == h.size()) {
        std::memcpy(h.data(), b.data(), h.size());
    }
    return h;
}

/** Rolls back unless committed (an exception between BEGIN and COMMIT); the statements are prepared once. */
class Transaction {
public:
    Transaction(sql::Db& db, sql::Stmt& begin, sql::Stmt& commit) : m_db(db), m_commit(commit) { begin.run(); }
    ~Transaction() {
        if (!m_done) {
            sqlite3_exec(m_db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
        m_commit.run();
        m_done = true;
    }

private:
    sql::Db& m_db;
    sql::Stmt& m_commit;
    bool m_done = false;
};

StoredCheckpoint read_checkpoint(const sql::Stmt& s) {
    StoredCheckpoint c;
    c.sequence = s.u64(0);
    c.size = s.u64(1);
    c.root = hash_of(s.blob(2));
    c.time_us = s.u64(3);
    c.signed_checkpoint.text = std::string(s.blob(4));
    c.signed_checkpoint.signature = std::string(s.blob(5));
    c.signed_checkpoint.timestamp = std::string(s.blob(6));
    return c;
}

}  // namespace

/** The row the statement is on (k_row_columns), as views into SQLite's buffers. */
static RowView row_view(const sql::Stmt& s) {
    RowView r;
    r.index = s.u64(0);
    r.time_us = s.u64(1);
    for (int i = 0; i < 11; ++i) {
        r.text[i] = s.text(2 + i);
    }
    r.data = s.blob(13);
    r.leaf = s.blob(14);
    return r;
}

SqliteStore::SqliteStore(sql::Db db, std::string node) : m_db(std::move(db)), m_node(std::move(node)) {}

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& path, const std::string& node, bool create, Sync sync,
                                               bool read_only) {
    sql::Db db = sql::Db::open(path, create, read_only);
    // Readers map the file instead of copying every page through read(): a verify pass reads all of it.
    db.exec("PRAGMA mmap_size=68719476736");
    if (!read_only) {
        db.exec("PRAGMA journal_mode=WAL");
        db.exec(sync == Sync::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        db.exec("PRAGMA wal_autocheckpoint=4000");  // copy the WAL back every 16 MB, not every 4 MB
    }
    std::string stored;
    {
        // A file that has no meta table yet is new (or not ours): only a writer may create the schema.
        auto has = db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'");
        has.step();
        if (has.i64(0) != 0) {
            auto q = db.prepare("SELECT value FROM meta WHERE key='node'");
            if (q.step()) {
                stored = std::string(q.text(0));
            }
            auto v = db.prepare("SELECT value FROM meta WHERE key='schema'");
            if (v.step() && v.text(0) != "1") {
                throw Error(Category::Unavailable, path + ": audit schema version " + std::string(v.text(0)) +
                                                       " is newer than this segel understands (1)");
            }
        }
    }
    if (stored.empty()) {
        if (!create || read_only) {
            throw Error(Category::Unavailable, path + ": not a segel audit trail (no node recorded in it)");
        }
        if (node.empty()) {
            throw Error(Category::Usage, path + ": a new audit trail needs a node name");
        }
        db.exec("BEGIN IMMEDIATE");
        db.exec(k_schema);
        auto ins = db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)");
        ins.bind(1, "schema").bind(2, "1").run();
        ins.bind(1, "node").bind(2, node).run();
        auto st = db.prepare("INSERT OR IGNORE INTO state(id, size, last_leaf, frontier) VALUES (0, 0, ?, ?)");
        const Hash zero{};
        st.bind_blob(1, as_bytes(zero)).bind_blob(2, "").run();
        db.exec("COMMIT");
        auto q = db.prepare("SELECT value FROM meta WHERE key='node'");
        q.step();
        stored = std::string(q.text(0));
    }
    if (!node.empty() && stored != node) {
        throw Error(Category::Unavailable, path + " is the audit trail of node \"" + stored + "\", not \"" + node +
                                               "\": each node keeps its own file (audit.store, audit.node)");
    }
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), stored));
    if (!read_only) {
        store->prepare_writes();
    }
    return store;
}

void SqliteStore::prepare_writes() {
    m_insert.emplace(
        m_db.prepare("INSERT INTO events(idx, time, kind, queue_id, direction, sender, login, client, unit, decision, "
                     "reason_code, verdict, cert_serial, data, leaf) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    m_count.emplace(
        m_db.prepare("INSERT INTO counts(hour, unit, kind, decision, reason_code, verdict, n) VALUES (?,?,?,?,?,?,?) "
                     "ON CONFLICT(hour, unit, kind, decision, reason_code, verdict) DO UPDATE SET n = n + excluded.n"));
    m_state.emplace(m_db.prepare("UPDATE state SET size = ?, last_leaf = ?, frontier = ? WHERE id = 0"));
    m_read_state.emplace(m_db.prepare("SELECT size, last_leaf, frontier FROM state WHERE id = 0"));
    m_begin.emplace(m_db.prepare("BEGIN IMMEDIATE"));
    m_commit.emplace(m_db.prepare("COMMIT"));
}

void SqliteStore::begin_bulk(int cache_kib) {
    const std::string pragma = "PRAGMA cache_size=-" + std::to_string(cache_kib);
    m_db.exec(pragma.c_str());
    m_db.exec("PRAGMA synchronous=OFF");
    m_db.exec("BEGIN IMMEDIATE");
    m_bulk = true;
}

void SqliteStore::commit_bulk(bool more) {
    m_db.exec("COMMIT");
    m_bulk = more;
    if (more) {
        m_db.exec("BEGIN IMMEDIATE");
    }
}

Tip SqliteStore::read_tip(bool with_checkpoint) {
    Tip t;
    if (!m_read_state) {
        m_read_state.emplace(m_db.prepare("SELECT size, last_leaf, frontier FROM state WHERE id = 0"));
    }
    auto& s = *m_read_state;
    if (!s.step()) {
        s.reset();
        throw Error(Category::Unavailable, m_db.path() + ": the state row is missing (the file was changed)");
    }
    t.size = s.u64(0);
    t.last_leaf = hash_of(s.blob(1));
    t.frontier = merkle::Frontier::parse(s.blob(2), t.size);
    s.reset();
    m_state_size = t.size;
    // The state row is rewritten every k_state_every events, not at every commit (one page
    // less per commit): the events after it are folded in from their stored leaf hashes.
    if (!m_read_tail) {
        m_read_tail.emplace(m_db.prepare("SELECT idx, leaf FROM events WHERE idx >= ? ORDER BY idx"));
    }
    auto& tail = *m_read_tail;
    tail.bind(1, t.size);
    while (tail.step()) {
        if (tail.u64(0) != t.size) {
            const std::uint64_t missing = t.size;
            tail.reset();
            throw Error(Category::Unavailable, m_db.path() + ": event " + std::to_string(missing) +
                                                   " is missing after the stored state (the file was changed)");
        }
        t.last_leaf = hash_of(tail.blob(1));
        t.frontier.push(t.last_leaf);
        ++t.size;
    }
    tail.reset();
    if (!with_checkpoint) {
        return t;  // an append of events only: the head of the tree is all it needs
    }
    auto q = m_db.prepare(
        "SELECT seq, size, root, time, body, signature, timestamp FROM checkpoints "
        "ORDER BY seq DESC LIMIT 1");
    if (q.step()) {
        t.last_checkpoint = read_checkpoint(q);
    }
    return t;
}

Tip SqliteStore::tip() {
    if (m_bulk) {
        return read_tip();
    }
    m_db.exec("BEGIN");
    try {
        Tip t = read_tip();
        m_db.exec("COMMIT");
        return t;
    } catch (...) {
        sqlite3_exec(m_db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void SqliteStore::append(std::vector<Event>& events, const SignedCheckpoint* checkpoint) {
    std::optional<Transaction> tx;
    if (!m_bulk) {
        tx.emplace(m_db, *m_begin, *m_commit);
    }
    // Nobody else committed since our last append (PRAGMA data_version is unchanged, and we
    // hold the write lock now): the head we left is the head, without reading it back.
    const std::int64_t version = data_version();
    Tip tip = checkpoint == nullptr && m_head && version == m_head_version ? std::move(*m_head)
                                                                           : read_tip(checkpoint != nullptr);
    m_head.reset();  // until this transaction commits
    Event cp_event;
    if (checkpoint != nullptr) {
        const Checkpoint c = parse_checkpoint(checkpoint->text);
        const std::uint64_t want_seq = tip.last_checkpoint ? tip.last_checkpoint->sequence + 1 : 0;
        const Hash want_prev = tip.last_checkpoint ? sha256(tip.last_checkpoint->signed_checkpoint.text) : Hash{};
        if (c.sequence != want_seq || c.previous != want_prev || c.size > tip.size || c.node != m_node) {
            throw Error(Category::Internal, "checkpoint " + std::to_string(c.sequence) +
                                                " does not follow the stored last checkpoint (made concurrently?)");
        }
        auto ins = m_db.prepare(
            "INSERT INTO checkpoints(seq, size, root, time, body, signature, timestamp) VALUES (?,?,?,?,?,?,?)");
        ins.bind(1, c.sequence)
            .bind(2, c.size)
            .bind_blob(3, as_bytes(c.root))
            .bind(4, to_micros(c.time))
            .bind_blob(5, checkpoint->text)
            .bind_blob(6, checkpoint->signature)
            .bind_blob(7, checkpoint->timestamp)
            .run();
        cp_event.time = c.time;
        cp_event.kind = kind::k_checkpoint;
        cp_event.checkpoint_size = c.size;
        cp_event.checkpoint_sha256 = sha256(checkpoint->text);
        cp_event.notes.push_back("sequence=" + std::to_string(c.sequence));
        cp_event.notes.push_back("root=" + to_hex(c.root));
    }
    std::map<CountKey, std::int64_t> delta;
    auto put = [&](Event& e) {
        e.index = tip.size;
        e.prev = tip.last_leaf;
        e.node = m_node;
        const std::string data = encode(e);
        const Hash leaf = merkle::leaf_hash(data);
        const Columns c = columns_of(e);
        auto& s = *m_insert;
        s.bind(1, e.index).bind(2, c.time_us);
        const std::string* texts[] = {&c.kind, &c.queue_id, &c.direction,   &c.sender,  &c.login,      &c.client,
                                      &c.unit, &c.decision, &c.reason_code, &c.verdict, &c.cert_serial};
        for (int i = 0; i < 11; ++i) {
            s.bind(3 + i, *texts[i]);
        }
        s.bind_blob(14, data).bind_blob(15, as_bytes(leaf));
        s.run();
        ++delta[count_key(c)];
        tip.frontier.push(leaf);
        tip.last_leaf = leaf;
        ++tip.size;
    };
    if (checkpoint != nullptr) {
        put(cp_event);
    }
    for (auto& e : events) {
        put(e);
    }
    for (const auto& [k, n] : delta) {
        auto& s = *m_count;
        s.bind(1, std::get<0>(k))
            .bind(2, std::get<1>(k))
            .bind(3, std::get<2>(k))
            .bind(4, std::get<3>(k))
            .bind(5, std::get<4>(k))
            .bind(6, std::get<5>(k))
            .bind(7, n)
            .run();
    }
    const bool write_state = checkpoint != nullptr || tip.size - m_state_size >= k_state_every;
    if (write_state) {
        const std::string frontier = tip.frontier.serialize();
        m_state->bind(1, tip.size).bind_blob(2, as_bytes(tip.last_leaf)).bind_blob(3, frontier).run();
    }
    if (tx) {
        tx->commit();
    }
    if (write_state) {
        m_state_size = tip.size;
    }
    tip.last_checkpoint.reset();  // the cached head serves event appends only
    m_head = std::move(tip);
    m_head_version = version;
}

std::int64_t SqliteStore::data_version() {
    if (!m_data_version) {
        m_data_version.emplace(m_db.prepare("PRAGMA data_version"));
    }
    auto& q = *m_data_version;
    q.step();
    const std::int64_t v = q.i64(0);
    q.reset();
    return v;
}

void SqliteStore::scan(const std::string& node, std::uint64_t from, std::uint64_t to,
                       const std::function<bool(const RowView&)>& fn) {
    if (node != m_node) {
        return;
    }
    auto q = m_db.prepare(
        (std::string("SELECT ") + k_row_columns + " FROM events WHERE idx >= ? AND idx < ? ORDER BY idx").c_str());
    q.bind(1, static_cast<std::int64_t>(from))
        .bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(to, INT64_MAX)));
    while (q.step()) {
        if (!fn(row_view(q))) {
            break;
        }
    }
}

void SqliteStore::leaves(const std::string& node, merkle::Range range, const std::function<void(const Hash&)>& fn) {
    if (node != m_node) {
        return;
    }
    auto q = m_db.prepare("SELECT leaf FROM events WHERE idx >= ? AND idx < ? ORDER BY idx");
    q.bind(1, range.first).bind(2, range.second);
    while (q.step()) {
        fn(hash_of(q.blob(0)));
    }
}

std::vector<StoredCheckpoint> SqliteStore::checkpoints(const std::string& node, std::uint64_t from_sequence) {
    std::vector<StoredCheckpoint> out;
    if (node != m_node) {
        return out;
    }
    auto q = m_db.prepare(
        "SELECT seq, size, root, time, body, signature, timestamp FROM checkpoints WHERE seq >= ? ORDER BY seq");
    q.bind(1, from_sequence);
    while (q.step()) {
        out.push_back(read_checkpoint(q));
    }
    return out;
}

std::uint64_t SqliteStore::size(const std::string& node) {
    if (node != m_node) {
        return 0;
    }
    auto q = m_db.prepare("SELECT max(idx) FROM events");
    q.step();
    return q.null(0) ? 0 : q.u64(0) + 1;
}

Counts SqliteStore::counts(const std::string& node) {
    Counts out;
    if (node != m_node) {
        return out;
    }
    auto q = m_db.prepare("SELECT hour, unit, kind, decision, reason_code, verdict, n FROM counts");
    while (q.step()) {
        out[CountKey{q.i64(0), std::string(q.text(1)), std::string(q.text(2)), std::string(q.text(3)),
                     std::string(q.text(4)), std::string(q.text(5))}] += q.i64(6);
    }
    return out;
}

Counts SqliteStore::counts(const std::string& node, std::int64_t first_hour, std::int64_t end_hour) {
    Counts out;
    if (node != m_node) {
        return out;
    }
    auto q = m_db.prepare(
        "SELECT hour, unit, kind, decision, reason_code, verdict, n FROM counts WHERE hour >= ? AND hour < ?");
    q.bind(1, first_hour).bind(2, end_hour);
    while (q.step()) {
        out[CountKey{q.i64(0), std::string(q.text(1)), std::string(q.text(2)), std::string(q.text(3)),
                     std::string(q.text(4)), std::string(q.text(5))}] += q.i64(6);
    }
    return out;
}

void SqliteStore::find(const Query& qr, const std::function<bool(const std::string& node, const RowView&)>& fn) {
    if (!qr.node.empty() && qr.node != m_node) {
        return;
    }
    std::string sql = std::string("SELECT ") + k_row_columns + " FROM events WHERE 1=1";
    if (qr.since_us) {
        sql += " AND time >= ?1";
    }
    if (qr.until_us) {
        sql += " AND time < ?2";
    }
    if (!qr.sender.empty()) {
        sql += " AND sender = ?3";
    }
    if (!qr.queue_id.empty()) {
        sql += " AND queue_id = ?4";
    }
    if (!qr.kind.empty()) {
        sql += " AND kind = ?5";
    }
    sql += " ORDER BY idx";
    if (qr.limit != 0) {
        sql += " LIMIT " + std::to_string(qr.limit);
    }
    auto q = m_db.prepare(sql.c_str());
    if (qr.since_us) {
        q.bind(1, *qr.since_us);
    }
    if (qr.until_us) {
        q.bind(2, *qr.until_us);
    }
    if (!qr.sender.empty()) {
        q.bind(3, qr.sender);
    }
    if (!qr.queue_id.empty()) {
        q.bind(4, qr.queue_id);
    }
    if (!qr.kind.empty()) {
        q.bind(5, qr.kind);
    }
    while (q.step()) {
        if (!fn(m_node, row_view(q))) {
            break;
        }
    }
}

}  // namespace segel::audit
