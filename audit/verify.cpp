#include "audit/verify.h"

#include "audit/error.h"

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace segel::audit {

namespace {

std::string ev(std::uint64_t i) {
    return "event " + std::to_string(i);
}

/**
 * Counts the summary key of each event. Keys are looked up as one reused
 * buffer (fields joined by NUL, which no column holds), so counting ten
 * million events allocates only once per distinct key.
 */
class CountTally {
public:
    void add(const EventView& e) {
        constexpr std::uint64_t k_hour_us = 3600ULL * 1000000ULL;
        const auto hour = static_cast<std::int64_t>(e.time_us / k_hour_us);
        m_key.assign(reinterpret_cast<const char*>(&hour), sizeof hour);
        for (const std::string_view f : {e.unit, e.kind, e.decision, e.reason_code, e.verdict}) {
            m_key += '\0';
            m_key.append(f);
        }
        const auto it = m_counts.find(m_key);
        if (it != m_counts.end()) {
            ++it->second.second;
            return;
        }
        CountKey k{hour,
                   column_safe(e.unit),
                   column_safe(e.kind),
                   column_safe(e.decision),
                   column_safe(e.reason_code),
                   column_safe(e.verdict)};
        m_counts.emplace(m_key, std::make_pair(std::move(k), 1));
    }
    [[nodiscard]] Counts counts() const {
        Counts out;
        for (const auto& [raw, kv] : m_counts) {
            out[kv.first] += kv.second;
        }
        return out;
    }

private:
    std::string m_key;
    std::unordered_map<std::string, std::pair<CountKey, std::int64_t>> m_counts;
};

/** The first column of @p row that does not hold what the record says, or -1; its signed value in @p value. */
int column_mismatch(const EventView& e, const RowView& row, std::string& value) {
    if (e.time_us != row.time_us) {
        value = std::to_string(e.time_us);
        return 0;
    }
    const std::string_view fields[11] = {e.kind, e.queue_id, e.direction,   e.sender,  e.login,      e.client,
                                         e.unit, e.decision, e.reason_code, e.verdict, e.cert_serial};
    for (int i = 0; i < 11; ++i) {
        if (!column_equal(fields[i], row.text[i])) {
            value = column_safe(fields[i]);
            return i + 1;
        }
    }
    return -1;
}

std::string describe(const CountKey& k) {
    std::ostringstream out;
    out << "hour " << std::get<0>(k) << " unit '" << std::get<1>(k) << "' kind '" << std::get<2>(k) << "' decision '"
        << std::get<3>(k) << "' reason_code '" << std::get<4>(k) << "' verdict '" << std::get<5>(k) << "'";
    return out.str();
}

/**
 * Reads a node's rows on a second thread and hashes each event there, while
 * the caller checks them in order: reading (SQLite or PostgreSQL) and SHA-256
 * of the leaves are about half the work of a verify pass, and independent per
 * event. Rows are copied into reused batches, one buffer per row.
 */
class RowPipeline {
public:
    struct Owned {
        RowView view;  ///< views into buf
        Hash leaf{};   ///< merkle::leaf_hash(view.data), computed on the reading thread
        std::string buf;
    };

    RowPipeline(Reader& store, const std::string& node) {
        m_thread = std::thread([this, &store, node] {
            try {
                Batch batch;
                bool have = false;
                store.scan(node, 0, UINT64_MAX, [&](const RowView& row) {
                    if (!have) {
                        batch = take_free();
                        have = true;
                    }
                    // Slots are reused with their buffers: no allocation per row once warm.
                    if (batch.used == batch.rows.size()) {
                        batch.rows.emplace_back();
                    }
                    copy(row, batch.rows[batch.used++]);
                    if (batch.used == k_batch) {
                        have = false;
                        if (!push(std::move(batch))) {
                            return false;
                        }
                    }
                    return !m_stop;
                });
                if (have && batch.used != 0) {
                    push(std::move(batch));
                }
            } catch (...) {
                std::lock_guard lock(m_mutex);
                m_error = std::current_exception();
            }
            std::lock_guard lock(m_mutex);
            m_done = true;
            m_ready.notify_all();
        });
    }
    ~RowPipeline() {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
            m_space.notify_all();
        }
        m_thread.join();
    }
    RowPipeline(const RowPipeline&) = delete;
    RowPipeline& operator=(const RowPipeline&) = delete;

    /** Calls @p fn for each row in order until it returns false. @throws what the reader threw */
    void run(const std::function<bool(const Owned&)>& fn) {
        for (;;) {
            Batch batch;
            {
                std::unique_lock lock(m_mutex);
                m_ready.wait(lock, [this] { return !m_full.empty() || m_done; });
                if (m_full.empty()) {
                    if (m_error) {
                        std::rethrow_exception(m_error);
                    }
                    return;
                }
                batch = std::move(m_full.front());
                m_full.pop_front();
                m_space.notify_all();
            }
            for (std::size_t i = 0; i < batch.used; ++i) {
                if (!fn(batch.rows[i])) {
                    return;
                }
            }
            std::lock_guard lock(m_mutex);
            m_free.push_back(std::move(batch));
        }
    }

private:
    static constexpr std::size_t k_batch = 2048;
    static constexpr std::size_t k_depth = 4;

    struct Batch {
        std::vector<Owned> rows;  ///< slots; the first `used` hold rows
        std::size_t used = 0;
    };

    static void copy(const RowView& row, Owned& out) {
        std::size_t n = row.data.size() + row.leaf.size();
        for (const auto& t : row.text) {
            n += t.size();
        }
        out.buf.clear();
        out.buf.reserve(n);
        std::size_t offsets[13];
        std::size_t k = 0;
        for (const auto& t : row.text) {
            offsets[k++] = out.buf.size();
            out.buf.append(t);
        }
        offsets[k++] = out.buf.size();
        out.buf.append(row.data);
        offsets[k] = out.buf.size();
        out.buf.append(row.leaf);
        const std::string_view b = out.buf;
        out.view.index = row.index;
        out.view.time_us = row.time_us;
        for (std::size_t i = 0; i < 11; ++i) {
            out.view.text[i] = b.substr(offsets[i], row.text[i].size());
        }
        out.view.data = b.substr(offsets[11], row.data.size());
        out.view.leaf = b.substr(offsets[12], row.leaf.size());
        out.leaf = merkle::leaf_hash(out.view.data);
    }

    Batch take_free() {
        std::lock_guard lock(m_mutex);
        if (m_free.empty()) {
            Batch b;
            b.rows.reserve(k_batch);
            return b;
        }
        Batch b = std::move(m_free.back());
        m_free.pop_back();
        b.used = 0;
        return b;
    }

    bool push(Batch&& batch) {
        std::unique_lock lock(m_mutex);
        m_space.wait(lock, [this] { return m_full.size() < k_depth || m_stop; });
        if (m_stop) {
            return false;
        }
        m_full.push_back(std::move(batch));
        m_ready.notify_all();
        return true;
    }

    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::condition_variable m_space;
    std::deque<Batch> m_full;
    std::vector<Batch> m_free;
    bool m_done = false;
    bool m_stop = false;
    std::exception_ptr m_error;
    std::thread m_thread;
};

class NodeVerifier {
public:
    NodeVerifier(Reader& store, const VerifyOptions& options, std::string node) : m_store(store), m_options(options) {
        m_report.node = std::move(node);
    }

    NodeReport run() {
        m_cps = m_store.checkpoints(m_report.node);
        for (std::size_t i = 0; i < m_cps.size(); ++i) {
            m_by_size.emplace(m_cps[i].size, i);
        }
        if (!prepare_witnessed()) {
            return m_report;
        }
        const std::uint64_t total = m_store.size(m_report.node);
        if (!reach(0)) {
            return m_report;
        }
        RowPipeline rows(m_store, m_report.node);
        rows.run([&](const RowPipeline::Owned& row) {
            if (!event(row.view, row.leaf)) {
                return false;
            }
            ++m_report.events;
            if (m_options.progress && (m_report.events & 0xFFFFFU) == 0) {
                m_options.progress(m_report.events, total);
            }
            return reach(m_report.events);
        });
        if (m_report.problem) {
            return m_report;
        }
        finish();
        return m_report;
    }

private:
    bool fail(std::optional<std::uint64_t> event, std::optional<std::uint64_t> cp, std::string what) {
        m_report.problem = Problem{event, cp, std::move(what)};
        return false;
    }

    bool prepare_witnessed() {
        for (const auto& w : m_options.witnessed) {
            Checkpoint c;
            try {
                c = parse_checkpoint(w.text);
            } catch (const Error& e) {
                return fail(std::nullopt, std::nullopt, std::string("a witnessed checkpoint: ") + e.what());
            }
            if (c.node != m_report.node) {
                continue;
            }
            const SignatureCheck sig = check_signature(w.text, w.signature, m_options.seals);
            if (!sig.valid) {
                return fail(std::nullopt, c.sequence,
                            "witnessed checkpoint " + std::to_string(c.sequence) + ": " + sig.error);
            }
            m_witness_at.emplace(c.size, c);
        }
        return true;
    }

    /** The checks that fall due when the first @p size events have been read. */
    bool reach(std::uint64_t size) {
        while (m_next < m_cps.size() && m_cps[m_next].size <= size) {
            if (!checkpoint(m_cps[m_next], size)) {
                return false;
            }
            ++m_next;
        }
        for (auto [it, end] = m_witness_at.equal_range(size); it != end; ++it) {
            const Checkpoint& w = it->second;
            if (w.root != m_frontier.root()) {
                return fail(std::nullopt, w.sequence,
                            "the witnesses' checkpoint " + std::to_string(w.sequence) + " (" + std::to_string(w.size) +
                                " events) does not match events 0.." + std::to_string(size - 1) +
                                ": the log was rewritten after the witnesses received it");
            }
            ++m_report.witnessed;
        }
        return true;
    }

    bool checkpoint(const StoredCheckpoint& s, std::uint64_t size) {
        const std::uint64_t seq = s.sequence;
        const std::string name = "checkpoint " + std::to_string(seq);
        const std::uint64_t want_seq = m_prev ? m_prev->sequence + 1 : 0;
        if (seq != want_seq) {
            return fail(std::nullopt, seq,
                        name + ": expected checkpoint " + std::to_string(want_seq) +
                            " next (checkpoints were removed, inserted or reordered)");
        }
        Checkpoint c;
        try {
            c = parse_checkpoint(s.signed_checkpoint.text);
        } catch (const Error& e) {
            return fail(std::nullopt, seq, name + ": " + e.what());
        }
        if (c.sequence != seq || c.size != s.size || c.root != s.root || to_micros(c.time) != s.time_us) {
            return fail(std::nullopt, seq,
                        name + ": the stored columns (sequence, size, root, time) differ from its signed text");
        }
        if (c.node != m_report.node) {
            return fail(std::nullopt, seq, name + ": is for node \"" + c.node + "\"");
        }
        if (s.size < size) {
            return fail(std::nullopt, seq,
                        name + " covers " + std::to_string(s.size) + " events, fewer than checkpoint " +
                            std::to_string(seq - 1) + " (checkpoints were replaced or reordered)");
        }
        const Hash want_prev = m_prev ? sha256(m_prev->signed_checkpoint.text) : Hash{};
        if (c.previous != want_prev) {
            return fail(std::nullopt, seq,
                        name + ": its 'previous' hash does not name checkpoint " + std::to_string(seq - 1) +
                            " (a checkpoint was replaced)");
        }
        if (m_prev && c.time < parse_checkpoint(m_prev->signed_checkpoint.text).time) {
            return fail(std::nullopt, seq, name + ": dated before checkpoint " + std::to_string(seq - 1));
        }
        const SignatureCheck sig =
            check_signature(s.signed_checkpoint.text, s.signed_checkpoint.signature, m_options.seals);
        if (!sig.valid) {
            return fail(std::nullopt, seq, name + ": signature: " + sig.error);
        }
        if (c.root != m_frontier.root()) {
            const std::uint64_t from = m_prev ? m_prev->size : 0;
            return fail(from, seq,
                        name + " (" + std::to_string(c.size) + " events, signed " + format_time_us(c.time) +
                            ") does not match events 0.." + std::to_string(c.size - 1) + ": an event in " +
                            std::to_string(from) + ".." + std::to_string(c.size - 1) +
                            " was changed, inserted or removed, or the checkpoint was replaced (events before " +
                            std::to_string(from) + " match checkpoint " +
                            (m_prev ? std::to_string(m_prev->sequence) : std::string("-")) + ")");
        }
        for (auto [it, end] = m_witness_at.equal_range(c.size); it != end; ++it) {
            if (it->second.sequence == seq && checkpoint_text(it->second) != s.signed_checkpoint.text) {
                return fail(std::nullopt, seq, name + ": differs from the copy the witnesses hold");
            }
        }
        m_prev = s;
        ++m_report.checkpoints;
        return true;
    }

    bool event(const RowView& row, const Hash& leaf) {
        const std::uint64_t i = m_report.events;
        if (row.index != i) {
            if (row.index > i) {
                return fail(i, std::nullopt,
                            ev(i) + " is missing: the log goes from event " +
                                (i == 0 ? std::string("(start)") : std::to_string(i - 1)) + " to event " +
                                std::to_string(row.index) + " (events were removed)");
            }
            return fail(row.index, std::nullopt, ev(row.index) + " appears twice");
        }
        EventView e;
        try {
            e = decode_view(row.data);  // accepted means canonical (audit/event.h)
        } catch (const Error& err) {
            return fail(i, std::nullopt, ev(i) + ": " + err.what());
        }
        if (e.index > i) {
            return fail(i, std::nullopt,
                        ev(i) + ": its signed record says it is event " + std::to_string(e.index) +
                            " (events were removed, moved or reordered)");
        }
        if (e.index < i) {
            return fail(e.index, std::nullopt,
                        ev(i) + ": its signed record says it is event " + std::to_string(e.index) + ": " +
                            std::to_string(i - e.index) + " event(s) were inserted (or moved) at or after event " +
                            std::to_string(e.index));
        }
        if (e.node != m_report.node) {
            return fail(i, std::nullopt, ev(i) + ": its record is of node \"" + std::string(e.node) + "\"");
        }
        if (row.leaf != as_bytes(leaf)) {
            return fail(i, std::nullopt,
                        ev(i) + ": its stored leaf hash does not match its bytes (the event was changed)");
        }
        if (e.prev != as_bytes(m_last_leaf)) {
            if (i == 0) {
                return fail(0, std::nullopt, ev(0) + ": the first event must have a zero 'prev' hash");
            }
            return fail(i - 1, std::nullopt,
                        ev(i) + " records a different hash for event " + std::to_string(i - 1) + " than event " +
                            std::to_string(i - 1) + " has: event " + std::to_string(i - 1) +
                            " was changed or replaced (or event " + std::to_string(i) + " was)");
        }
        std::string signed_value;
        if (const int col = column_mismatch(e, row, signed_value); col >= 0) {
            return fail(i, std::nullopt,
                        ev(i) + ": column " + k_column_names[col] + " says '" + column_text(row, col) +
                            "', its signed record says '" + signed_value + "' (the column was changed)");
        }
        if (e.kind == kind::k_checkpoint && !checkpoint_record(i, e)) {
            return false;
        }
        m_tally.add(e);
        m_frontier.push(leaf);
        m_last_leaf = leaf;
        return true;
    }

    /** A `checkpoint` event: the stored checkpoint it records must be the one it hashed. */
    bool checkpoint_record(std::uint64_t i, const EventView& e) {
        const auto it = m_by_size.find(e.checkpoint_size);
        if (it == m_by_size.end()) {
            std::optional<std::uint64_t> seq;
            if (!e.sequence_note.empty()) {
                seq = std::strtoull(std::string(e.sequence_note).c_str(), nullptr, 10);
            }
            return fail(i, seq,
                        ev(i) + " records checkpoint " + (seq ? std::to_string(*seq) + " " : std::string()) + "of " +
                            std::to_string(e.checkpoint_size) +
                            " events that is not in the store (a checkpoint was removed)");
        }
        const StoredCheckpoint& s = m_cps[it->second];
        const Hash stored = sha256(s.signed_checkpoint.text);
        if (as_bytes(stored) != e.checkpoint_sha256) {
            return fail(i, s.sequence,
                        ev(i) + " records checkpoint " + std::to_string(s.sequence) + " with SHA-256 " +
                            to_hex(e.checkpoint_sha256) + "; the stored one hashes to " + to_hex(stored) +
                            " (the checkpoint was replaced)");
        }
        m_recorded.insert(s.sequence);
        return true;
    }

    void finish() {
        const std::uint64_t n = m_report.events;
        if (m_next < m_cps.size()) {
            const StoredCheckpoint& s = m_cps[m_next];
            fail(n, s.sequence,
                 "the log ends after " + std::to_string(n) + " events, but checkpoint " + std::to_string(s.sequence) +
                     " covers " + std::to_string(s.size) + ": events " + std::to_string(n) + ".." +
                     std::to_string(s.size - 1) + " were removed (the log was truncated)");
            return;
        }
        for (const auto& [size, w] : m_witness_at) {
            if (size > n) {
                fail(n, w.sequence,
                     "the log ends after " + std::to_string(n) + " events, but the witnesses hold checkpoint " +
                         std::to_string(w.sequence) + " covering " + std::to_string(size) +
                         ": the log and its checkpoints were truncated");
                return;
            }
        }
        for (const auto& s : m_cps) {
            if (m_recorded.count(s.sequence) == 0) {
                fail(std::nullopt, s.sequence,
                     "checkpoint " + std::to_string(s.sequence) + " has no record in the log (it was inserted)");
                return;
            }
        }
        const Counts stored = m_store.counts(m_report.node);
        const Counts counted = m_tally.counts();
        for (const auto& [k, v] : counted) {
            const auto it = stored.find(k);
            const std::int64_t got = it == stored.end() ? 0 : it->second;
            if (got != v) {
                fail(std::nullopt, std::nullopt,
                     "the summary table (counts) says " + std::to_string(got) + " for " + describe(k) +
                         "; the events say " + std::to_string(v) + " (the table was changed: reports would be wrong)");
                return;
            }
        }
        for (const auto& [k, v] : stored) {
            if (counted.count(k) == 0 && v != 0) {
                fail(std::nullopt, std::nullopt,
                     "the summary table (counts) says " + std::to_string(v) + " for " + describe(k) +
                         "; there is no such event (the table was changed: reports would be wrong)");
                return;
            }
        }
        if (m_prev) {
            m_report.last = m_prev;
            m_report.uncovered = n - m_prev->size;
        } else {
            m_report.uncovered = n;
        }
    }

    Reader& m_store;
    const VerifyOptions& m_options;
    NodeReport m_report;
    std::vector<StoredCheckpoint> m_cps;
    std::map<std::uint64_t, std::size_t> m_by_size;
    std::multimap<std::uint64_t, Checkpoint> m_witness_at;
    std::set<std::uint64_t> m_recorded;
    std::size_t m_next = 0;
    std::optional<StoredCheckpoint> m_prev;
    merkle::Frontier m_frontier;
    Hash m_last_leaf{};
    CountTally m_tally;
};

}  // namespace

bool VerifyReport::ok() const {
    for (const auto& n : nodes) {
        if (n.problem) {
            return false;
        }
    }
    return !nodes.empty();
}

VerifyReport verify(Reader& store, const VerifyOptions& options) {
    VerifyReport r;
    for (const auto& node : store.nodes()) {
        if (!options.node.empty() && node != options.node) {
            continue;
        }
        r.nodes.push_back(NodeVerifier(store, options, node).run());
    }
    return r;
}

}  // namespace segel::audit
