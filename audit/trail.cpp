#include "audit/trail.h"

#include "audit/error.h"

#include <pthread.h>

#include <csignal>

namespace segel::audit {

namespace {

/**
 * The trail's threads take no process signals: a daemon that blocks SIGUSR1
 * for its reload thread after the trail opened must not be killed by a
 * SIGUSR1 the kernel hands to a thread of ours.
 */
void block_signals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

}  // namespace

Trail::Trail(TrailOptions options) : m_options(std::move(options)) {
    if (m_options.node.empty()) {
        throw Error(Category::Usage, "the audit trail needs a node name");
    }
    m_writer = SqliteStore::open(m_options.path, m_options.node, true, m_options.sync);
    m_checkpointer = SqliteStore::open(m_options.path, m_options.node, false, m_options.sync);
    m_writer->set_busy_timeout(m_options.busy_timeout_ms);
    m_checkpointer->set_busy_timeout(m_options.busy_timeout_ms);
    const Tip tip = m_checkpointer->tip();
    m_size = tip.size;
    m_last_cp_size = tip.last_checkpoint ? tip.last_checkpoint->size : 0;
    m_write_thread = std::thread([this] {
        block_signals();
        write_loop();
    });
    m_cp_thread = std::thread([this] {
        block_signals();
        checkpoint_loop();
    });
}

Trail::~Trail() {
    try {
        close();
    } catch (const std::exception& e) {
        if (m_options.report) {
            m_options.report(std::string("closing the audit trail: ") + e.what());
        }
    } catch (...) {
    }
}

std::uint64_t Trail::append(Event e) {
    Pending p{std::move(e), {}};
    std::future<std::uint64_t> done = p.done.get_future();
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) {
            throw Error(Category::Unavailable, m_options.path + ": the audit trail is closed");
        }
        m_queue.push_back(&p);
    }
    m_work.notify_one();
    return done.get();
}

std::uint64_t Trail::append_all(std::vector<Event> events) {
    if (events.empty()) {
        throw Error(Category::Usage, "nothing to append");
    }
    std::vector<Pending> pending(events.size());
    std::vector<std::future<std::uint64_t>> done;
    for (std::size_t i = 0; i < events.size(); ++i) {
        pending[i].event = std::move(events[i]);
        done.push_back(pending[i].done.get_future());
    }
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) {
            throw Error(Category::Unavailable, m_options.path + ": the audit trail is closed");
        }
        for (auto& p : pending) {
            m_queue.push_back(&p);
        }
    }
    m_work.notify_one();
    std::uint64_t first = 0;
    std::exception_ptr error;
    for (std::size_t i = 0; i < done.size(); ++i) {
        try {
            const std::uint64_t index = done[i].get();
            first = i == 0 ? index : first;
        } catch (...) {
            error = error ? error : std::current_exception();
        }
    }
    if (error) {
        std::rethrow_exception(error);
    }
    return first;
}

void Trail::write_loop() {
    std::unique_lock lock(m_mutex);
    std::vector<Pending*> batch;
    std::vector<Event> events;
    for (;;) {
        m_work.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
        if (m_queue.empty()) {
            break;  // stopping, and everything queued was written
        }
        batch.clear();
        while (!m_queue.empty() && batch.size() < m_options.max_batch) {
            batch.push_back(m_queue.front());
            m_queue.pop_front();
        }
        m_in_flight = batch.size();
        lock.unlock();
        events.clear();
        for (Pending* p : batch) {
            events.push_back(std::move(p->event));
        }
        bool due = false;
        try {
            m_writer->append(events);
            lock.lock();
            m_size = events.back().index + 1;
            ++m_stats.commits;
            m_stats.events += events.size();
            due = m_size - m_last_cp_size >= m_options.checkpoint_events;
            lock.unlock();
            // After this, a waiter may return and its Pending is gone: nothing touches it again.
            for (std::size_t i = 0; i < batch.size(); ++i) {
                batch[i]->done.set_value(events[i].index);
            }
        } catch (...) {
            const std::exception_ptr error = std::current_exception();
            for (Pending* p : batch) {
                p->done.set_exception(error);
            }
        }
        if (due) {
            m_cp_wake.notify_one();
        }
        lock.lock();
        m_in_flight = 0;
    }
}

void Trail::checkpoint_loop() {
    using Steady = std::chrono::steady_clock;
    std::unique_lock lock(m_mutex);
    Steady::time_point last = Steady::now();
    while (!m_stopping) {
        m_cp_wake.wait_until(lock, last + m_options.checkpoint_interval,
                             [this] { return m_stopping || m_size - m_last_cp_size >= m_options.checkpoint_events; });
        if (m_stopping) {
            break;
        }
        lock.unlock();
        try {
            make_checkpoint();
        } catch (const std::exception& e) {
            if (m_options.report) {
                m_options.report(std::string("cannot make an audit checkpoint: ") + e.what());
            }
            // Try again after a pause, not in a loop: the size condition stays true until one is made.
            lock.lock();
            m_cp_wake.wait_for(lock, std::chrono::seconds(10), [this] { return m_stopping; });
            lock.unlock();
        }
        last = Steady::now();
        lock.lock();
    }
}

std::optional<SignedCheckpoint> next_checkpoint(const Tip& tip, const std::string& node, const Seal& seal,
                                                TimePoint now,
                                                const std::function<std::string(std::string_view)>& timestamp,
                                                const std::function<void(const std::string&)>& report) {
    const std::uint64_t covered = tip.last_checkpoint ? tip.last_checkpoint->size : 0;
    const std::uint64_t fresh = tip.size - covered;
    // Nothing new: no event at all, or only the last checkpoint's own record.
    if (fresh == 0 || (tip.last_checkpoint && fresh == 1)) {
        return std::nullopt;
    }
    Checkpoint c;
    c.node = node;
    c.sequence = tip.last_checkpoint ? tip.last_checkpoint->sequence + 1 : 0;
    c.size = tip.size;
    c.root = tip.frontier.root();
    c.time = now;
    if (tip.last_checkpoint) {
        const Checkpoint last = parse_checkpoint(tip.last_checkpoint->signed_checkpoint.text);
        c.previous = sha256(tip.last_checkpoint->signed_checkpoint.text);
        c.time = std::max(c.time, last.time);  // time runs forward in the log, even when the clock was set back
    }
    SignedCheckpoint s;
    s.text = checkpoint_text(c);
    s.signature = sign_checkpoint(s.text, seal.credential, seal.chain);
    if (timestamp) {
        try {
            s.timestamp = timestamp(s.text);
        } catch (const std::exception& e) {
            if (report) {
                report("checkpoint " + std::to_string(c.sequence) + " was not time-stamped: " + e.what());
            }
        }
    }
    return s;
}

std::optional<SignedCheckpoint> Trail::checkpoint() {
    return make_checkpoint();
}

std::optional<SignedCheckpoint> Trail::make_checkpoint() {
    std::lock_guard cp_lock(m_cp_mutex);
    if (!m_options.seal) {
        return std::nullopt;
    }
    for (int attempt = 0;; ++attempt) {
        const Tip tip = m_checkpointer->tip();
        std::optional<SignedCheckpoint> made = next_checkpoint(tip, m_options.node, *m_options.seal, m_options.clock(),
                                                               m_options.timestamp, m_options.report);
        if (!made) {
            std::lock_guard lock(m_mutex);
            m_last_cp_size = std::max(m_last_cp_size, tip.last_checkpoint ? tip.last_checkpoint->size : 0);
            return std::nullopt;
        }
        const SignedCheckpoint& s = *made;
        try {
            std::vector<Event> none;
            m_checkpointer->append(none, &s);
        } catch (const Error& e) {
            if (e.category() == Category::Internal && attempt < 3) {
                continue;  // another process made a checkpoint meanwhile: build on it
            }
            throw;
        }
        std::lock_guard lock(m_mutex);
        m_last_cp_size = tip.size;
        ++m_stats.checkpoints;
        return s;
    }
}

void Trail::close() {
    {
        std::lock_guard lock(m_mutex);
        if (m_closed) {
            return;
        }
        m_stopping = true;
        m_closed = true;
    }
    m_work.notify_all();
    m_cp_wake.notify_all();
    if (m_write_thread.joinable()) {
        m_write_thread.join();
    }
    if (m_cp_thread.joinable()) {
        m_cp_thread.join();
    }
    make_checkpoint();
}

std::size_t Trail::pending() const {
    std::lock_guard lock(m_mutex);
    return m_queue.size() + m_in_flight;
}

Trail::Stats Trail::stats() const {
    std::lock_guard lock(m_mutex);
    return m_stats;
}

}  // namespace segel::audit
