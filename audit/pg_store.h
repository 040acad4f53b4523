#pragma once
// The shared audit database for several nodes (PostgreSQL, libpq): every
// node's events, checkpoints and summary counts, written only by the shipper
// (audit/shipper.h) and read by verify, show, prove, export and the reports.
#include "audit/store.h"

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

namespace segel::audit {

class SqliteStore;

class PgStore final : public Reader {
public:
    /**
     * Connects to @p url (libpq; a password belongs in ~/.pgpass or PGPASSFILE,
     * not in the URL). With @p create (the shipper), creates the tables when
     * they are missing; readers need only SELECT on them.
     * @throws Error{Unavailable} naming the server (never the password)
     */
    static std::unique_ptr<PgStore> open(const std::string& url, bool create = false);
    ~PgStore() override;

    /** How far the shared database has @p node's log. */
    struct Shipped {
        std::uint64_t events = 0;       ///< events 0 .. events-1 are here
        std::uint64_t checkpoints = 0;  ///< checkpoints 0 .. checkpoints-1 are here
    };

    /**
     * One shipping step for @p local's node, in one transaction: up to
     * @p max_events events after those already here, the checkpoints they
     * complete, and their counts. Idempotent: the high-water mark is read
     * under a row lock in the same transaction that moves it, so a step that
     * fails (server gone, connection cut before COMMIT) moved nothing, and a
     * repeated step moves nothing twice.
     * @return where the shared database stands afterwards
     * @throws Error{Unavailable} when the server cannot be reached (retry later);
     *         Error{Malformed} when the local log and the shared one disagree (never retried blindly)
     */
    Shipped ship(SqliteStore& local, std::size_t max_events);

    /** Where the shared database stands for @p node (0, 0 when it has nothing). */
    Shipped shipped(const std::string& node);

    // Reader
    [[nodiscard]] std::string name() const override { return m_name; }
    std::vector<std::string> nodes() override;
    void scan(const std::string& node, std::uint64_t from, std::uint64_t to,
              const std::function<bool(const RowView&)>& fn) override;
    void leaves(const std::string& node, merkle::Range range, const std::function<void(const Hash&)>& fn) override;
    std::vector<StoredCheckpoint> checkpoints(const std::string& node, std::uint64_t from_sequence = 0) override;
    std::uint64_t size(const std::string& node) override;
    Counts counts(const std::string& node) override;
    Counts counts(const std::string& node, std::int64_t first_hour, std::int64_t end_hour) override;
    void find(const Query& q, const std::function<bool(const std::string& node, const RowView&)>& fn) override;

private:
    PgStore(PGconn* conn, std::string name);
    struct Result;
    Result exec(const std::string& sql, const std::vector<std::string>& params = {}, bool binary = true);
    void command(const std::string& sql, const std::vector<std::string>& params = {});
    /** COPY (@p select) TO STDOUT in binary, a row at a time to @p fn until it returns false; false if it did. */
    bool copy_out(const std::string& select, const std::function<bool(const std::vector<std::string_view>&)>& fn);
    /** @p select (columns, idx first) FROM audit_events for @p node, idx in [@p from, @p to), in idx order. */
    void copy_events(const std::string& select, const std::string& node, std::uint64_t from, std::uint64_t to,
                     const std::function<bool(const std::vector<std::string_view>&)>& fn);
    void copy_in(const std::string& copy, const std::string& data);
    std::string literal(const std::string& s);
    [[noreturn]] void fail(const std::string& what);

    struct Closer {
        void operator()(PGconn* c) const noexcept { PQfinish(c); }
    };
    std::unique_ptr<PGconn, Closer> m_conn;
    std::string m_name;
};

}  // namespace segel::audit
