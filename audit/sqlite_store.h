#pragma once
// The node's own audit store: one SQLite file (WAL), no setup. Appends are
// serialised by SQLite's write lock (BEGIN IMMEDIATE), so the milter and a
// segelctl command may both append; each append reads the tree state inside
// its transaction, so neither can fork the log.
#include "audit/sqlite.h"
#include "audit/store.h"

#include <optional>
#include <string>
#include <vector>

namespace segel::audit {

/** How a commit reaches the disk (audit.sync). */
enum class Sync {
    Full,    ///< fsync at every commit: the record survives a power cut (default)
    Normal,  ///< WAL without fsync at commit: survives a crash of segel (kill -9), not of the machine
};

/** The head of a node's log as stored. */
struct Tip {
    std::uint64_t size = 0;
    Hash last_leaf{};
    merkle::Frontier frontier;
    std::optional<StoredCheckpoint> last_checkpoint;
};

class SqliteStore final : public Reader {
public:
    /**
     * Opens (and with @p create, creates) the file at @p path for @p node. A
     * file written by another node is refused: each node has its own file.
     * @param node expected node name; empty: whichever node the file belongs to (readers)
     * @throws Error{Unavailable}
     */
    static std::unique_ptr<SqliteStore> open(const std::string& path, const std::string& node, bool create,
                                             Sync sync = Sync::Full, bool read_only = false);

    [[nodiscard]] const std::string& node() const { return m_node; }

    /**
     * Appends @p events (their index, prev and node are set here) and, when
     * given, records @p checkpoint first — its row and a `checkpoint` event —
     * in one transaction, durable (per Sync) when this returns.
     * @throws Error{Unavailable} when the file cannot be written (nothing was appended);
     *         Error{Internal} when @p checkpoint does not follow the stored last one (another process made one)
     */
    void append(std::vector<Event>& events, const SignedCheckpoint* checkpoint = nullptr);

    /** The stored head: size, last leaf, frontier, last checkpoint (a snapshot). */
    Tip tip();

    /**
     * For bulk loads (benchmarks, imports): @p cache_kib of page cache, no
     * fsync, and every append() until end_bulk() in one transaction.
     */
    void begin_bulk(int cache_kib);
    /** Commits what was appended since begin_bulk() (and starts a new transaction when @p more). */
    void commit_bulk(bool more);

    /** How long a write waits for another process's transaction before failing (default 10 s). */
    void set_busy_timeout(int ms) { sqlite3_busy_timeout(m_db.get(), ms); }

    // Reader
    [[nodiscard]] std::string name() const override { return m_db.path(); }
    std::vector<std::string> nodes() override { return {m_node}; }
    void scan(const std::string& node, std::uint64_t from, std::uint64_t to,
              const std::function<bool(const RowView&)>& fn) override;
    void leaves(const std::string& node, merkle::Range range, const std::function<void(const Hash&)>& fn) override;
    std::vector<StoredCheckpoint> checkpoints(const std::string& node, std::uint64_t from_sequence = 0) override;
    std::uint64_t size(const std::string& node) override;
    Counts counts(const std::string& node) override;
    Counts counts(const std::string& node, std::int64_t first_hour, std::int64_t end_hour) override;
    void find(const Query& q, const std::function<bool(const std::string& node, const RowView&)>& fn) override;

private:
    SqliteStore(sql::Db db, std::string node);
    void prepare_writes();
    Tip read_tip(bool with_checkpoint = true);
    std::int64_t data_version();

    /** The state row is rewritten after this many events (and with every checkpoint). */
    static constexpr std::uint64_t k_state_every = 1024;

    sql::Db m_db;
    std::string m_node;
    std::optional<sql::Stmt> m_insert;
    std::optional<sql::Stmt> m_count;
    std::optional<sql::Stmt> m_state;
    std::optional<sql::Stmt> m_read_state;
    std::optional<sql::Stmt> m_begin;
    std::optional<sql::Stmt> m_commit;
    std::optional<sql::Stmt> m_read_tail;
    std::optional<sql::Stmt> m_data_version;
    bool m_bulk = false;
    std::uint64_t m_state_size = UINT64_MAX;  ///< the size the state row holds (as last read or written)
    std::optional<Tip> m_head;                ///< the head this connection's last append left
    std::int64_t m_head_version = 0;          ///< PRAGMA data_version when m_head was valid
};

}  // namespace segel::audit
