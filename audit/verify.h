#pragma once
// `audit verify`: the whole log of each node against its signed checkpoints
// (docs/audit.md, "What verify checks"). A log that does not verify is a
// result naming the first event or checkpoint that does not match, and why.
#include "audit/store.h"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace segel::audit {

struct VerifyOptions {
    /** SHA-256 fingerprints (hex) of the seal certificates whose signatures are accepted. */
    std::set<std::string> seals;
    /** Checkpoints the witnesses hold (from their mail): each must match the log. */
    std::vector<SignedCheckpoint> witnessed;
    /** Only this node (empty: every node in the store). */
    std::string node;
    /** Called now and then with (events checked, events in the node's log). */
    std::function<void(std::uint64_t, std::uint64_t)> progress;
};

/** The first thing that does not match. */
struct Problem {
    std::optional<std::uint64_t> event;       ///< the first bad event, when one is known
    std::optional<std::uint64_t> checkpoint;  ///< the checkpoint sequence, when it is about one
    std::string what;                         ///< for people: what does not match, and what it means
};

struct NodeReport {
    std::string node;
    std::uint64_t events = 0;              ///< events checked
    std::uint64_t checkpoints = 0;         ///< checkpoints checked
    std::uint64_t uncovered = 0;           ///< events after the last checkpoint (not yet signed)
    std::uint64_t witnessed = 0;           ///< witnessed checkpoints that matched
    std::optional<StoredCheckpoint> last;  ///< the last checkpoint
    std::optional<Problem> problem;
};

struct VerifyReport {
    std::vector<NodeReport> nodes;
    [[nodiscard]] bool ok() const;
};

/**
 * Verifies every node of @p store (or options.node).
 * @throws Error{Unavailable} when the store cannot be read (that is not a verdict)
 */
VerifyReport verify(Reader& store, const VerifyOptions& options);

}  // namespace segel::audit
