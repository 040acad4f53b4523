#pragma once
// Inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4) out of a store,
// against its signed checkpoints, in the JSON form docs/audit.md describes
// and scripts/segel-audit-verify checks.
#include "audit/store.h"

#include <optional>
#include <string>
#include <vector>

namespace segel::audit {

struct InclusionProof {
    std::string node;
    std::uint64_t index = 0;
    std::string event;  ///< the event's canonical bytes
    StoredCheckpoint checkpoint;
    std::vector<Hash> path;
};

/**
 * Proves that event @p index of @p node is in the tree of @p checkpoint
 * (default: the latest checkpoint that covers it).
 * @throws Error{Usage} when there is no such event or no checkpoint covers it yet
 */
InclusionProof prove_inclusion(Reader& store, const std::string& node, std::uint64_t index,
                               std::optional<std::uint64_t> checkpoint = std::nullopt);

struct ConsistencyProof {
    std::string node;
    StoredCheckpoint first;
    StoredCheckpoint second;
    std::vector<Hash> path;
};

/**
 * Proves that checkpoint @p second's tree extends checkpoint @p first's
 * (default: the latest). @throws Error{Usage} when either does not exist or first > second
 */
ConsistencyProof prove_consistency(Reader& store, const std::string& node, std::uint64_t first,
                                   std::optional<std::uint64_t> second = std::nullopt);

/** The proof as one JSON object (docs/audit.md, "Proofs"). */
std::string to_json(const InclusionProof& p);
std::string to_json(const ConsistencyProof& p);

/** A checkpoint as a JSON object: its text, signature and time-stamp token in base64. */
std::string checkpoint_json(const StoredCheckpoint& c);

/** Standard base64 on one line (smime::base64 without its line breaks). */
std::string base64(std::string_view bytes);

}  // namespace segel::audit
