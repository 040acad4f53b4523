#pragma once
// The Merkle tree of Certificate Transparency, RFC 9162 §2.1, over the
// canonical event bytes: leaf hash SHA-256(0x00 || leaf), interior node
// SHA-256(0x01 || left || right); inclusion and consistency proofs.
#include "audit/hash.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segel::audit::merkle {

/** RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)). */
Hash leaf_hash(std::string_view leaf);
/** SHA-256(0x01 || left || right). */
Hash node_hash(const Hash& left, const Hash& right);
/** MTH({}) = SHA-256() of nothing. */
Hash empty_root();

/**
 * An append-only tree kept as the roots of its perfect subtrees, largest
 * first (one per 1 bit of the size): O(log n) memory, amortised one node
 * hash per leaf, and the root at any moment.
 */
class Frontier {
public:
    void push(const Hash& leaf);
    [[nodiscard]] Hash root() const;
    [[nodiscard]] std::uint64_t size() const { return m_size; }
    [[nodiscard]] const std::vector<Hash>& nodes() const { return m_nodes; }

    /** The perfect-subtree roots concatenated (32 bytes each), for storing. */
    [[nodiscard]] std::string serialize() const;
    /** Rebuilds from serialize() and the size. @throws Error{Malformed} when they disagree */
    static Frontier parse(std::string_view bytes, std::uint64_t size);

private:
    std::uint64_t m_size = 0;
    std::vector<Hash> m_nodes;
};

/** A half-open range of leaf indexes [first, second). */
using Range = std::pair<std::uint64_t, std::uint64_t>;

/**
 * The subtree ranges whose roots form PATH(m, D[n]) (RFC 9162 §2.1.3.1), in
 * proof order. The proof is the MTH of each range; every leaf but m is in
 * exactly one range, so the caller reads each leaf once.
 */
std::vector<Range> inclusion_ranges(std::uint64_t m, std::uint64_t n);

/** The ranges whose roots form PROOF(m, D[n]) (RFC 9162 §2.1.4.1), 0 < m < n. */
std::vector<Range> consistency_ranges(std::uint64_t m, std::uint64_t n);

/** Leaf hashes of [first, second), in order, handed to the callback (from a store). */
using LeafReader = std::function<void(Range, const std::function<void(const Hash&)>&)>;

/** The MTH of each range, read through @p leaves. */
std::vector<Hash> range_roots(const std::vector<Range>& ranges, const LeafReader& leaves);

/** RFC 9162 §2.1.3.2: does @p path prove leaf @p m (hash @p leaf) in the tree of size @p n with @p root? */
bool verify_inclusion(std::uint64_t m, std::uint64_t n, const Hash& leaf, const std::vector<Hash>& path,
                      const Hash& root);

/**
 * RFC 9162 §2.1.4.2: does @p path prove that the tree of size @p m (root
 * @p first) is a prefix of the tree of size @p n (root @p second)? m == n
 * needs an empty path and equal roots; m == 0 is always consistent.
 */
bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& first, const Hash& second,
                        const std::vector<Hash>& path);

}  // namespace segel::audit::merkle
