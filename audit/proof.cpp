#include "audit/proof.h"

#include "audit/error.h"
#include "audit/json.h"
#include "smime/base64.h"

namespace segel::audit {

namespace {

StoredCheckpoint find_checkpoint(Reader& store, const std::string& node, std::uint64_t seq) {
    const auto cps = store.checkpoints(node, seq);
    if (cps.empty() || cps.front().sequence != seq) {
        throw Error(Category::Usage, "node " + node + " has no checkpoint " + std::to_string(seq));
    }
    return cps.front();
}

std::string path_json(const std::vector<Hash>& path) {
    std::string out = "[";
    for (std::size_t i = 0; i < path.size(); ++i) {
        out += (i == 0 ? "\"" : ",\"") + to_hex(path[i]) + "\"";
    }
    return out + "]";
}

merkle::LeafReader leaf_reader(Reader& store, const std::string& node) {
    return [&store, node](merkle::Range r, const std::function<void(const Hash&)>& fn) { store.leaves(node, r, fn); };
}

}  // namespace

std::string base64(std::string_view bytes) {
    std::string s = smime::base64::encode_lines(bytes);
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (c != '\r' && c != '\n') {
            out += c;
        }
    }
    return out;
}

InclusionProof prove_inclusion(Reader& store, const std::string& node, std::uint64_t index,
                               std::optional<std::uint64_t> checkpoint) {
    InclusionProof p;
    p.node = node;
    p.index = index;
    bool found = false;
    store.scan(node, index, index + 1, [&](const RowView& row) {
        p.event = std::string(row.data);
        found = true;
        return false;
    });
    if (!found) {
        throw Error(Category::Usage, "node " + node + " has no event " + std::to_string(index));
    }
    if (checkpoint) {
        p.checkpoint = find_checkpoint(store, node, *checkpoint);
    } else {
        const auto cps = store.checkpoints(node);
        if (cps.empty() || cps.back().size <= index) {
            throw Error(Category::Usage, "event " + std::to_string(index) + " of node " + node +
                                             " is not covered by a checkpoint yet (make one: segelctl audit "
                                             "checkpoint)");
        }
        p.checkpoint = cps.back();
    }
    if (p.checkpoint.size <= index) {
        throw Error(Category::Usage, "checkpoint " + std::to_string(p.checkpoint.sequence) + " covers " +
                                         std::to_string(p.checkpoint.size) + " events, not event " +
                                         std::to_string(index));
    }
    p.path = merkle::range_roots(merkle::inclusion_ranges(index, p.checkpoint.size), leaf_reader(store, node));
    return p;
}

ConsistencyProof prove_consistency(Reader& store, const std::string& node, std::uint64_t first,
                                   std::optional<std::uint64_t> second) {
    ConsistencyProof p;
    p.node = node;
    p.first = find_checkpoint(store, node, first);
    if (second) {
        p.second = find_checkpoint(store, node, *second);
    } else {
        const auto cps = store.checkpoints(node);
        p.second = cps.back();
    }
    if (p.first.size > p.second.size) {
        throw Error(Category::Usage, "checkpoint " + std::to_string(p.first.sequence) + " is later than checkpoint " +
                                         std::to_string(p.second.sequence));
    }
    p.path = merkle::range_roots(merkle::consistency_ranges(p.first.size, p.second.size), leaf_reader(store, node));
    return p;
}

std::string checkpoint_json(const StoredCheckpoint& c) {
    return "{\"sequence\":" + std::to_string(c.sequence) + ",\"size\":" + std::to_string(c.size) + ",\"text\":\"" +
           base64(c.signed_checkpoint.text) + "\",\"signature\":\"" + base64(c.signed_checkpoint.signature) +
           "\",\"timestamp\":\"" + base64(c.signed_checkpoint.timestamp) + "\"}";
}

std::string to_json(const InclusionProof& p) {
    return "{\"type\":\"inclusion\",\"node\":" + json::str(p.node) + ",\"index\":" + std::to_string(p.index) +
           ",\"event\":\"" + base64(p.event) + "\",\"leaf_hash\":\"" + to_hex(merkle::leaf_hash(p.event)) +
           "\",\"tree_size\":" + std::to_string(p.checkpoint.size) +
           ",\"checkpoint\":" + checkpoint_json(p.checkpoint) + ",\"path\":" + path_json(p.path) + "}";
}

std::string to_json(const ConsistencyProof& p) {
    return "{\"type\":\"consistency\",\"node\":" + json::str(p.node) + ",\"first\":" + checkpoint_json(p.first) +
           ",\"second\":" + checkpoint_json(p.second) + ",\"path\":" + path_json(p.path) + "}";
}

}  // namespace segel::audit
