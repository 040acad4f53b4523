// RFC 9162 §2.1 hashing and proofs, against the RFC 6962 reference vectors and
// a direct transcription of the RFC's recursive definitions.
#include "audit/error.h"
#include "audit/merkle.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace segel::audit;
using namespace segel::audit::merkle;

namespace {

// The definitions of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, word for word.
Hash mth(const std::vector<Hash>& leaves, std::size_t lo, std::size_t hi) {
    if (hi == lo) {
        return empty_root();
    }
    if (hi - lo == 1) {
        return leaves[lo];
    }
    std::size_t k = 1;
    while (k * 2 < hi - lo) {
        k *= 2;
    }
    return node_hash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

std::vector<Hash> make_leaves(std::size_t n) {
    std::vector<Hash> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(leaf_hash("leaf " + std::to_string(i)));
    }
    return out;
}

LeafReader reader(const std::vector<Hash>& leaves) {
    return [&leaves](Range r, const std::function<void(const Hash&)>& fn) {
        for (auto i = r.first; i < r.second; ++i) {
            fn(leaves[i]);
        }
    };
}

}  // namespace

TEST_CASE("merkle: the RFC 6962 test vectors", "[audit]") {
    const std::vector<std::string> data = {"",
                                           std::string(1, '\x00'),
                                           "\x10",
                                           "\x20\x21",
                                           "\x30\x31",
                                           "\x40\x41\x42\x43",
                                           "\x50\x51\x52\x53\x54\x55\x56\x57",
                                           "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
    const std::vector<std::string> roots = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                                            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                                            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                                            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                                            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                                            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                                            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                                            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    Frontier f;
    CHECK(to_hex(f.root()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (std::size_t i = 0; i < data.size(); ++i) {
        f.push(leaf_hash(data[i]));
        CHECK(to_hex(f.root()) == roots[i]);
    }
}

TEST_CASE("merkle: the frontier agrees with the definition, and survives storage", "[audit]") {
    const auto leaves = make_leaves(70);
    Frontier f;
    for (std::size_t n = 1; n <= leaves.size(); ++n) {
        f.push(leaves[n - 1]);
        REQUIRE(f.root() == mth(leaves, 0, n));
        const Frontier g = Frontier::parse(f.serialize(), f.size());
        REQUIRE(g.root() == f.root());
    }
    CHECK_THROWS_AS(Frontier::parse(f.serialize(), f.size() + 1), Error);
    CHECK_THROWS_AS(Frontier::parse(f.serialize() + "x", f.size()), Error);
}

TEST_CASE("merkle: every inclusion proof verifies, and no altered one does", "[audit]") {
    const auto leaves = make_leaves(33);
    for (std::uint64_t n = 1; n <= leaves.size(); ++n) {
        const Hash root = mth(leaves, 0, n);
        for (std::uint64_t m = 0; m < n; ++m) {
            const auto path = range_roots(inclusion_ranges(m, n), reader(leaves));
            REQUIRE(verify_inclusion(m, n, leaves[m], path, root));
            CHECK_FALSE(verify_inclusion(m, n, leaf_hash("other"), path, root));
            if (n > 1) {
                CHECK_FALSE(verify_inclusion((m + 1) % n, n, leaves[m], path, root));
            }
            if (!path.empty()) {
                auto bad = path;
                bad.back()[0] ^= 1U;
                CHECK_FALSE(verify_inclusion(m, n, leaves[m], bad, root));
                bad = path;
                bad.pop_back();
                CHECK_FALSE(verify_inclusion(m, n, leaves[m], bad, root));
            }
            auto longer = path;
            longer.push_back(root);
            CHECK_FALSE(verify_inclusion(m, n, leaves[m], longer, root));
        }
    }
    CHECK_FALSE(verify_inclusion(3, 3, leaves[0], {}, leaves[0]));
    CHECK_THROWS_AS(inclusion_ranges(3, 3), Error);
}

TEST_CASE("merkle: every consistency proof verifies, and no altered one does", "[audit]") {
    const auto leaves = make_leaves(33);
    for (std::uint64_t n = 1; n <= leaves.size(); ++n) {
        const Hash second = mth(leaves, 0, n);
        for (std::uint64_t m = 1; m < n; ++m) {
            const Hash first = mth(leaves, 0, m);
            const auto path = range_roots(consistency_ranges(m, n), reader(leaves));
            REQUIRE(verify_consistency(m, n, first, second, path));
            CHECK_FALSE(verify_consistency(m, n, leaf_hash("x"), second, path));
            CHECK_FALSE(verify_consistency(m, n, first, leaf_hash("x"), path));
            auto bad = path;
            bad.front()[31] ^= 0x80U;
            CHECK_FALSE(verify_consistency(m, n, first, second, bad));
            CHECK_FALSE(verify_consistency(m, n, first, second, {}));
        }
        CHECK(verify_consistency(n, n, second, second, {}));
        CHECK_FALSE(verify_consistency(n, n, second, leaf_hash("x"), {}));
        CHECK(verify_consistency(0, n, empty_root(), second, {}));
    }
    // A prefix that was rewritten is not consistent: same sizes, one leaf changed.
    auto other = leaves;
    other[2] = leaf_hash("rewritten");
    const auto path = range_roots(consistency_ranges(5, 20), reader(other));
    CHECK_FALSE(verify_consistency(5, 20, mth(leaves, 0, 5), mth(other, 0, 20), path));
}
