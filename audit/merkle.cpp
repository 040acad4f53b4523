#include "audit/merkle.h"

#include "audit/error.h"

#include <cstring>

namespace segel::audit::merkle {

namespace {

/** The largest power of two smaller than @p n (n > 1). */
std::uint64_t split(std::uint64_t n) {
    std::uint64_t k = 1;
    while (k < n - k) {  // k * 2 < n, without overflow
        k <<= 1U;
    }
    return k;
}

void inclusion(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, std::vector<Range>& out) {
    if (hi - lo <= 1) {
        return;
    }
    const std::uint64_t k = split(hi - lo);
    if (m - lo < k) {
        inclusion(m, lo, lo + k, out);
        out.emplace_back(lo + k, hi);
    } else {
        inclusion(m, lo + k, hi, out);
        out.emplace_back(lo, lo + k);
    }
}

void subproof(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, bool whole, std::vector<Range>& out) {
    const std::uint64_t n = hi - lo;
    if (m == n) {
        if (!whole) {
            out.emplace_back(lo, hi);
        }
        return;
    }
    const std::uint64_t k = split(n);
    if (m <= k) {
        subproof(m, lo, lo + k, whole, out);
        out.emplace_back(lo + k, hi);
    } else {
        subproof(m - k, lo + k, hi, false, out);
        out.emplace_back(lo, lo + k);
    }
}

}  // namespace

Hash leaf_hash(std::string_view leaf) {
    static constexpr char k_leaf_prefix[1] = {0x00};
    return sha256(std::string_view(k_leaf_prefix, 1), leaf);
}

Hash node_hash(const Hash& left, const Hash& right) {
    unsigned char buf[65];
    buf[0] = 0x01;
    std::memcpy(buf + 1, left.data(), 32);
    std::memcpy(buf + 33, right.data(), 32);
    return sha256(std::string_view(reinterpret_cast<const char*>(buf), sizeof buf));
}

Hash empty_root() {
    return sha256({});
}

void Frontier::push(const Hash& leaf) {
    Hash h = leaf;
    for (std::uint64_t s = m_size; (s & 1U) != 0; s >>= 1U) {
        h = node_hash(m_nodes.back(), h);
        m_nodes.pop_back();
    }
    m_nodes.push_back(h);
    ++m_size;
}

Hash Frontier::root() const {
    if (m_nodes.empty()) {
        return empty_root();
    }
    Hash r = m_nodes.back();
    for (std::size_t i = m_nodes.size() - 1; i-- > 0;) {
        r = node_hash(m_nodes[i], r);
    }
    return r;
}

std::string Frontier::serialize() const {
    std::string out;
    out.reserve(m_nodes.size() * 32);
    for (const auto& h : m_nodes) {
        out.append(as_bytes(h));
    }
    return out;
}

Frontier Frontier::parse(std::string_view bytes, std::uint64_t size) {
    Frontier f;
    std::size_t bits = 0;
    for (std::uint64_t s = size; s != 0; s >>= 1U) {
        bits += s & 1U;
    }
    if (bytes.size() != bits * 32) {
        throw Error(Category::Malformed, "the stored Merkle frontier does not fit a tree of " + std::to_string(size) +
                                             " events (" + std::to_string(bytes.size()) + " bytes)");
    }
    for (std::size_t i = 0; i < bits; ++i) {
        Hash h{};
        std::memcpy(h.data(), bytes.data() + 32 * i, 32);
        f.m_nodes.push_back(h);
    }
    f.m_size = size;
    return f;
}

std::vector<Range> inclusion_ranges(std::uint64_t m, std::uint64_t n) {
    if (m >= n) {
        throw Error(Category::Usage, "event " + std::to_string(m) + " is not in a tree of " + std::to_string(n));
    }
    std::vector<Range> out;
    inclusion(m, 0, n, out);
    return out;
}

std::vector<Range> consistency_ranges(std::uint64_t m, std::uint64_t n) {
    if (m == 0 || m >= n) {
        return {};
    }
    std::vector<Range> out;
    subproof(m, 0, n, true, out);
    return out;
}

std::vector<Hash> range_roots(const std::vector<Range>& ranges, const LeafReader& leaves) {
    std::vector<Hash> out;
    out.reserve(ranges.size());
    for (const auto& r : ranges) {
        Frontier f;
        leaves(r, [&f](const Hash& h) { f.push(h); });
        if (f.size() != r.second - r.first) {
            throw Error(Category::Malformed, "the store returned " + std::to_string(f.size()) + " leaves for events " +
                                                 std::to_string(r.first) + ".." + std::to_string(r.second - 1));
        }
        out.push_back(f.root());
    }
    return out;
}

bool verify_inclusion(std::uint64_t m, std::uint64_t n, const Hash& leaf, const std::vector<Hash>& path,
                      const Hash& root) {
    if (m >= n) {
        return false;
    }
    std::uint64_t fn = m;
    std::uint64_t sn = n - 1;
    Hash r = leaf;
    for (const auto& p : path) {
        if (sn == 0) {
            return false;
        }
        if ((fn & 1U) != 0 || fn == sn) {
            r = node_hash(p, r);
            if ((fn & 1U) == 0) {
                while ((fn & 1U) == 0 && fn != 0) {
                    fn >>= 1U;
                    sn >>= 1U;
                }
            }
        } else {
            r = node_hash(r, p);
        }
        fn >>= 1U;
        sn >>= 1U;
    }
    return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& first, const Hash& second,
                        const std::vector<Hash>& path) {
    if (m > n) {
        return false;
    }
    if (m == 0) {
        return path.empty();
    }
    if (m == n) {
        return path.empty() && first == second;
    }
    if (path.empty()) {
        return false;
    }
    std::vector<Hash> p;
    if ((m & (m - 1)) == 0) {  // first is an exact power of 2
        p.push_back(first);
    }
    p.insert(p.end(), path.begin(), path.end());
    std::uint64_t fn = m - 1;
    std::uint64_t sn = n - 1;
    while ((fn & 1U) != 0) {
        fn >>= 1U;
        sn >>= 1U;
    }
    Hash fr = p.front();
    Hash sr = p.front();
    for (std::size_t i = 1; i < p.size(); ++i) {
        const Hash& c = p[i];
        if (sn == 0) {
            return false;
        }
        if ((fn & 1U) != 0 || fn == sn) {
            fr = node_hash(c, fr);
            sr = node_hash(c, sr);
            while ((fn & 1U) == 0 && fn != 0) {
                fn >>= 1U;
                sn >>= 1U;
            }
        } else {
            sr = node_hash(sr, c);
        }
        fn >>= 1U;
        sn >>= 1U;
    }
    return fr == first && sr == second && sn == 0;
}

}  // namespace segel::audit::merkle
