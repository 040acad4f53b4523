#include "audit/verify.h"

#include "audit/error.h"

#include <cstdlib>
#include <map>
#include <sstream>

namespace segel::audit {

namespace {

std::string ev(std::uint64_t i) {
    return "event " + std::to_string(i);
}

/** Counts the summary key of each event, cheaply when consecutive events share one (they mostly do). */
class CountTally {
public:
    void add(const Columns& c) {
        CountKey k = count_key(c);
        if (m_last == nullptr || m_last->first != k) {
            m_last = &*m_counts.try_emplace(std::move(k), 0).first;
        }
        ++m_last->second;
    }
    [[nodiscard]] const Counts& counts() const { return m_counts; }

private:
    Counts m_counts;
    Counts::value_type* m_last = nullptr;
};

std::string describe(const CountKey& k) {
    std::ostringstream out;
    out << "hour " << std::get<0>(k) << " unit '" << std::get<1>(k) << "' kind '" << std::get<2>(k) << "' decision '"
        << std::get<3>(k) << "' reason_code '" << std::get<4>(k) << "' verdict '" << std::get<5>(k) << "'";
    return out.str();
}

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
        m_store.scan(m_report.node, 0, UINT64_MAX, [&](const RowView& row) {
            if (!event(row)) {
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

    bool event(const RowView& row) {
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
        Event e;
        try {
            e = decode(row.data);
        } catch (const Error& err) {
            return fail(i, std::nullopt, ev(i) + ": " + err.what());
        }
        if (encode(e) != row.data) {
            return fail(i, std::nullopt, ev(i) + ": its bytes are not in canonical form");
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
            return fail(i, std::nullopt, ev(i) + ": its record is of node \"" + e.node + "\"");
        }
        const Hash leaf = merkle::leaf_hash(row.data);
        if (row.leaf != as_bytes(leaf)) {
            return fail(i, std::nullopt,
                        ev(i) + ": its stored leaf hash does not match its bytes (the event was changed)");
        }
        if (e.prev != m_last_leaf) {
            if (i == 0) {
                return fail(0, std::nullopt, ev(0) + ": the first event must have a zero 'prev' hash");
            }
            return fail(i - 1, std::nullopt,
                        ev(i) + " records a different hash for event " + std::to_string(i - 1) + " than event " +
                            std::to_string(i - 1) + " has: event " + std::to_string(i - 1) +
                            " was changed or replaced (or event " + std::to_string(i) + " was)");
        }
        const Columns cols = columns_of(e);
        if (const int col = column_mismatch(cols, row); col >= 0) {
            return fail(i, std::nullopt,
                        ev(i) + ": column " + k_column_names[col] + " says '" + column_text(row, col) +
                            "', its signed record says '" + column_of(cols, col) + "' (the column was changed)");
        }
        if (e.kind == kind::k_checkpoint) {
            const auto it = m_by_size.find(e.checkpoint_size);
            if (it == m_by_size.end()) {
                std::optional<std::uint64_t> seq;
                for (const auto& note : e.notes) {
                    if (note.rfind("sequence=", 0) == 0) {
                        seq = std::strtoull(note.c_str() + 9, nullptr, 10);
                    }
                }
                return fail(i, seq,
                            ev(i) + " records checkpoint " + (seq ? std::to_string(*seq) + " " : std::string()) +
                                "of " + std::to_string(e.checkpoint_size) +
                                " events that is not in the store (a checkpoint was removed)");
            }
            const StoredCheckpoint& s = m_cps[it->second];
            if (sha256(s.signed_checkpoint.text) != e.checkpoint_sha256) {
                return fail(i, s.sequence,
                            ev(i) + " records checkpoint " + std::to_string(s.sequence) + " with SHA-256 " +
                                to_hex(e.checkpoint_sha256) + "; the stored one hashes to " +
                                to_hex(sha256(s.signed_checkpoint.text)) + " (the checkpoint was replaced)");
            }
            m_recorded.insert(s.sequence);
        }
        m_tally.add(cols);
        m_frontier.push(leaf);
        m_last_leaf = leaf;
        return true;
    }

    static std::string column_of(const Columns& c, int col) {
        RowView v;
        v.time_us = c.time_us;
        const std::string* texts[] = {&c.kind, &c.queue_id, &c.direction,   &c.sender,  &c.login,      &c.client,
                                      &c.unit, &c.decision, &c.reason_code, &c.verdict, &c.cert_serial};
        for (int k = 0; k < 11; ++k) {
            v.text[k] = *texts[k];
        }
        return column_text(v, col);
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
        const Counts& counted = m_tally.counts();
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
