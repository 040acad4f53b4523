#pragma once
// The node's audit trail as the milter uses it: append() returns only when
// the event is committed (durable before the answer), with group commit —
// every event that arrives while one commit is on its way to the disk goes
// into the next one, so N concurrent messages cost one transaction and one
// fsync, not N. A checkpoint is signed every N events or T minutes.
#include "audit/sqlite_store.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace segel::audit {

/** The credential that signs checkpoints (a gateway / organisation seal, R7), with its chain to embed. */
struct Seal {
    smime::Credential credential;
    std::vector<smime::ossl::Ptr<X509>> chain;
};

struct TrailOptions {
    std::string path;  ///< the SQLite file
    std::string node;  ///< this gateway's name in the log
    Sync sync = Sync::Full;
    std::shared_ptr<const Seal> seal;  ///< none: no checkpoints are made (tests of the store alone)
    std::uint64_t checkpoint_events = 1000;
    std::chrono::seconds checkpoint_interval{600};
    /**
     * Optional RFC 3161 time-stamp of each checkpoint's text: returns the DER
     * TimeStampToken (services/tsa when it exists). Called off the commit
     * path; a failure leaves the checkpoint without a token and is reported.
     */
    std::function<std::string(std::string_view text)> timestamp;
    /** The clock checkpoints are dated by (tests pin it). */
    std::function<TimePoint()> clock = [] { return Clock::now(); };
    /** Problems off the commit path (a checkpoint that could not be made), for the caller to log. */
    std::function<void(const std::string&)> report;
    std::size_t max_batch = 1024;  ///< events per transaction at most
    int busy_timeout_ms = 10000;   ///< how long a commit waits for another process's lock, then fails
};

/**
 * The next checkpoint over @p tip (the stored head of @p node's log), signed
 * with @p seal and time-stamped through @p timestamp when given; dated @p now,
 * or the last checkpoint's time if the clock went back. nullopt when nothing
 * new came since the last checkpoint (no event, or only its own record).
 */
std::optional<SignedCheckpoint> next_checkpoint(const Tip& tip, const std::string& node, const Seal& seal,
                                                TimePoint now,
                                                const std::function<std::string(std::string_view)>& timestamp = {},
                                                const std::function<void(const std::string&)>& report = {});

class Trail {
public:
    /** Opens (creating) the store and starts the writer and checkpointer. @throws Error{Unavailable} */
    explicit Trail(TrailOptions options);
    /** close(), swallowing errors (they were reported). */
    ~Trail();
    Trail(const Trail&) = delete;
    Trail& operator=(const Trail&) = delete;

    /**
     * Appends @p e and returns its index once it is committed (per Sync).
     * Safe from any number of threads at once; concurrent callers share commits.
     * @throws Error{Unavailable} when the store cannot be written: the caller
     *         applies the failure policy (audit.on_failure: defer the mail by default)
     */
    std::uint64_t append(Event e);

    /** Appends @p events together (one commit, consecutive indexes); returns the first index. */
    std::uint64_t append_all(std::vector<Event> events);

    /**
     * Makes and stores a signed checkpoint now, when events came since the
     * last one (besides that checkpoint's own record). @return it, or nullopt
     * @throws Error when it cannot be made or stored
     */
    std::optional<SignedCheckpoint> checkpoint();

    /** Drains the queue, writes a last checkpoint over everything, stops the threads. */
    void close();

    struct Stats {
        std::uint64_t commits = 0;
        std::uint64_t events = 0;
        std::uint64_t checkpoints = 0;
    };
    [[nodiscard]] Stats stats() const;
    /** Events waiting for a commit or being committed right now. */
    [[nodiscard]] std::size_t pending() const;
    [[nodiscard]] const std::string& node() const { return m_options.node; }

private:
    struct Pending {
        Event event;
        std::promise<std::uint64_t> done;
    };
    void write_loop();
    void checkpoint_loop();
    std::optional<SignedCheckpoint> make_checkpoint();

    TrailOptions m_options;
    std::unique_ptr<SqliteStore> m_writer;        ///< used by the writer thread only
    std::unique_ptr<SqliteStore> m_checkpointer;  ///< used under m_cp_mutex only

    mutable std::mutex m_mutex;
    std::condition_variable m_work;
    std::condition_variable m_cp_wake;
    std::deque<Pending*> m_queue;
    std::size_t m_in_flight = 0;  ///< events in the transaction being committed
    bool m_stopping = false;
    bool m_closed = false;
    std::uint64_t m_size = 0;          ///< events committed (as the writer last saw)
    std::uint64_t m_last_cp_size = 0;  ///< size covered by the last checkpoint
    TimePoint m_last_cp_time;
    Stats m_stats;
    std::mutex m_cp_mutex;

    std::thread m_write_thread;
    std::thread m_cp_thread;
};

}  // namespace segel::audit
