#include "audit/event.h"

#include "audit/error.h"

#include <cstring>
#include <ctime>

namespace segel::audit {

namespace {

// docs/audit.md, "Event encoding": the tags, in the order they are written.
enum Tag : std::uint8_t {
    t_index = 1,
    t_prev = 2,
    t_time = 3,
    t_node = 4,
    t_kind = 5,
    t_queue_id = 6,
    t_direction = 7,
    t_sender = 8,
    t_login = 9,
    t_client = 10,
    t_recipient = 11,
    t_unit = 12,
    t_decision = 13,
    t_reason_code = 14,
    t_reason = 15,
    t_reply = 16,
    t_cert_serial = 17,
    t_cert_fingerprint = 18,
    t_verdict = 19,
    t_content_sha256 = 20,
    t_cipher = 21,
    t_encrypted_for = 22,
    t_config_sha256 = 23,
    t_credential = 24,
    t_state = 25,
    t_error = 26,
    t_duration_us = 27,
    t_checkpoint_size = 28,
    t_checkpoint_sha256 = 29,
    t_note = 30,
    t_last = t_note,
};

enum class Type { U64, Hash, Text, List };

/** The type of each tag; index 0 is unused. */
constexpr Type k_types[t_last + 1] = {
    Type::U64,   // (unused)
    Type::U64,   // index
    Type::Hash,  // prev
    Type::U64,   // time
    Type::Text,  // node
    Type::Text,  // kind
    Type::Text,  // queue_id
    Type::Text,  // direction
    Type::Text,  // sender
    Type::Text,  // login
    Type::Text,  // client
    Type::List,  // recipient
    Type::Text,  // unit
    Type::Text,  // decision
    Type::Text,  // reason_code
    Type::List,  // reason
    Type::Text,  // reply
    Type::Text,  // cert_serial
    Type::Hash,  // cert_fingerprint
    Type::List,  // verdict
    Type::Hash,  // content_sha256
    Type::Text,  // cipher
    Type::List,  // encrypted_for
    Type::Hash,  // config_sha256
    Type::List,  // credential
    Type::Text,  // state
    Type::Text,  // error
    Type::U64,   // duration_us
    Type::U64,   // checkpoint_size
    Type::Hash,  // checkpoint_sha256
    Type::List,  // note
};

/** Always written, even when zero: index, prev, time (and node, kind, which may not be empty). */
constexpr bool mandatory(std::uint8_t tag) {
    return tag <= t_kind;
}

class Writer {
public:
    void field(std::uint8_t tag, std::string_view value) {
        if (value.size() > k_max_event_bytes) {
            throw Error(Category::Usage, "audit event field " + std::to_string(tag) + " is too long");
        }
        m_out += static_cast<char>(tag);
        const auto n = static_cast<std::uint32_t>(value.size());
        for (int shift = 24; shift >= 0; shift -= 8) {
            m_out += static_cast<char>((n >> static_cast<unsigned>(shift)) & 0xFFU);
        }
        m_out.append(value);
    }
    void u64(std::uint8_t tag, std::uint64_t v) {
        if (v == 0 && !mandatory(tag)) {
            return;
        }
        char buf[8];
        for (int i = 0; i < 8; ++i) {
            buf[i] = static_cast<char>((v >> static_cast<unsigned>(56 - 8 * i)) & 0xFFU);
        }
        field(tag, std::string_view(buf, 8));
    }
    void hash(std::uint8_t tag, const Hash& h) {
        if (is_zero(h) && !mandatory(tag)) {
            return;
        }
        field(tag, as_bytes(h));
    }
    void text(std::uint8_t tag, const std::string& s) {
        if (!s.empty()) {
            field(tag, s);
        }
    }
    void list(std::uint8_t tag, const std::vector<std::string>& items) {
        for (const auto& s : items) {
            field(tag, s);
        }
    }
    std::string take() { return std::move(m_out); }
    std::string m_out;
};

[[noreturn]] void malformed(std::size_t offset, const std::string& what) {
    throw Error(Category::Malformed, "not a canonical audit event (byte " + std::to_string(offset) + "): " + what);
}

}  // namespace

std::uint64_t to_micros(TimePoint t) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    if (us < 0 || static_cast<std::uint64_t>(us) >= k_max_time_us) {
        throw Error(Category::Usage, "audit event time outside 1970 .. 2199");
    }
    return static_cast<std::uint64_t>(us);
}

TimePoint from_micros(std::uint64_t us) {
    return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us)));
}

std::string encode(const Event& e) {
    if (e.node.empty() || e.kind.empty()) {
        throw Error(Category::Usage, "an audit event needs a node and a kind");
    }
    Writer w;
    w.m_out.reserve(512);
    w.m_out += static_cast<char>(k_event_version);
    w.u64(t_index, e.index);
    w.hash(t_prev, e.prev);
    w.u64(t_time, to_micros(e.time));
    w.text(t_node, e.node);
    w.text(t_kind, e.kind);
    w.text(t_queue_id, e.queue_id);
    w.text(t_direction, e.direction);
    w.text(t_sender, e.sender);
    w.text(t_login, e.login);
    w.text(t_client, e.client);
    w.list(t_recipient, e.recipients);
    w.text(t_unit, e.unit);
    w.text(t_decision, e.decision);
    w.text(t_reason_code, e.reason_code);
    w.list(t_reason, e.reasons);
    w.text(t_reply, e.reply);
    w.text(t_cert_serial, e.cert_serial);
    w.hash(t_cert_fingerprint, e.cert_fingerprint);
    w.list(t_verdict, e.verdicts);
    w.hash(t_content_sha256, e.content_sha256);
    w.text(t_cipher, e.cipher);
    w.list(t_encrypted_for, e.encrypted_for);
    w.hash(t_config_sha256, e.config_sha256);
    w.list(t_credential, e.credentials);
    w.text(t_state, e.state);
    w.text(t_error, e.error);
    w.u64(t_duration_us, e.duration_us);
    w.u64(t_checkpoint_size, e.checkpoint_size);
    w.hash(t_checkpoint_sha256, e.checkpoint_sha256);
    w.list(t_note, e.notes);
    std::string out = w.take();
    if (out.size() > k_max_event_bytes) {
        throw Error(Category::Usage, "audit event is larger than " + std::to_string(k_max_event_bytes) + " bytes");
    }
    return out;
}

namespace {

/**
 * Walks the fields of canonical bytes, refusing anything encode() would not
 * have written, and hands each (tag, value) to @p on_field. Accepting means
 * canonical: encode(decode(b)) == b for every b this accepts.
 */
template <typename F>
void parse_fields(std::string_view b, F&& on_field) {
    if (b.size() > k_max_event_bytes) {
        malformed(0, "larger than " + std::to_string(k_max_event_bytes) + " bytes");
    }
    if (b.empty()) {
        malformed(0, "empty");
    }
    if (static_cast<std::uint8_t>(b[0]) != k_event_version) {
        malformed(0, "version " + std::to_string(static_cast<std::uint8_t>(b[0])) + " (this reader knows version 1)");
    }
    std::size_t pos = 1;
    unsigned last = 0;
    while (pos < b.size()) {
        const std::size_t at = pos;
        if (b.size() - pos < 5) {
            malformed(at, "a field header is cut short");
        }
        const auto tag = static_cast<std::uint8_t>(b[pos]);
        std::uint32_t len = 0;
        for (std::size_t i = 1; i <= 4; ++i) {
            len = (len << 8U) | static_cast<std::uint8_t>(b[pos + i]);
        }
        pos += 5;
        if (tag == 0 || tag > t_last) {
            malformed(at, "unknown tag " + std::to_string(tag));
        }
        const Type type = k_types[tag];
        if (tag < last || (tag == last && type != Type::List)) {
            malformed(at, "tag " + std::to_string(tag) + " after tag " + std::to_string(last) +
                              " (fields must be in ascending order, each once)");
        }
        if (last < t_kind && tag > last + 1) {  // a mandatory field may not be skipped
            malformed(at, "mandatory tag " + std::to_string(last + 1) + " is missing");
        }
        last = tag;
        if (len > b.size() - pos) {
            malformed(at, "tag " + std::to_string(tag) + " claims " + std::to_string(len) + " bytes, " +
                              std::to_string(b.size() - pos) + " remain");
        }
        const std::string_view v = b.substr(pos, len);
        pos += len;
        switch (type) {
            case Type::U64: {
                if (len != 8) {
                    malformed(at, "tag " + std::to_string(tag) + " must be 8 bytes");
                }
                std::uint64_t x = 0;
                for (const char c : v) {
                    x = (x << 8U) | static_cast<std::uint8_t>(c);
                }
                if (x == 0 && !mandatory(tag)) {
                    malformed(at, "tag " + std::to_string(tag) + " is zero (absent values are not written)");
                }
                if (tag == t_time && x >= k_max_time_us) {
                    malformed(at, "time is after 2199");
                }
                on_field(tag, v, x);
                break;
            }
            case Type::Hash: {
                if (len != 32) {
                    malformed(at, "tag " + std::to_string(tag) + " must be 32 bytes");
                }
                if (!mandatory(tag) && v.find_first_not_of('\0') == std::string_view::npos) {
                    malformed(at, "tag " + std::to_string(tag) + " is all zero (absent values are not written)");
                }
                on_field(tag, v, 0);
                break;
            }
            case Type::Text:
                if (len == 0) {
                    malformed(at, "tag " + std::to_string(tag) + " is empty (absent values are not written)");
                }
                on_field(tag, v, 0);
                break;
            case Type::List:
                on_field(tag, v, 0);
                break;
        }
    }
    if (last < t_kind) {
        malformed(b.size(), "mandatory tag " + std::to_string(last + 1) + " is missing");
    }
}

Hash to_hash(std::string_view v) {
    Hash h{};
    std::memcpy(h.data(), v.data(), 32);
    return h;
}

}  // namespace

Event decode(std::string_view b) {
    Event e;
    parse_fields(b, [&e](std::uint8_t tag, std::string_view v, std::uint64_t x) {
        switch (tag) {
            case t_index:
                e.index = x;
                break;
            case t_prev:
                e.prev = to_hash(v);
                break;
            case t_time:
                e.time = from_micros(x);
                break;
            case t_node:
                e.node = std::string(v);
                break;
            case t_kind:
                e.kind = std::string(v);
                break;
            case t_queue_id:
                e.queue_id = std::string(v);
                break;
            case t_direction:
                e.direction = std::string(v);
                break;
            case t_sender:
                e.sender = std::string(v);
                break;
            case t_login:
                e.login = std::string(v);
                break;
            case t_client:
                e.client = std::string(v);
                break;
            case t_recipient:
                e.recipients.emplace_back(v);
                break;
            case t_unit:
                e.unit = std::string(v);
                break;
            case t_decision:
                e.decision = std::string(v);
                break;
            case t_reason_code:
                e.reason_code = std::string(v);
                break;
            case t_reason:
                e.reasons.emplace_back(v);
                break;
            case t_reply:
                e.reply = std::string(v);
                break;
            case t_cert_serial:
                e.cert_serial = std::string(v);
                break;
            case t_cert_fingerprint:
                e.cert_fingerprint = to_hash(v);
                break;
            case t_verdict:
                e.verdicts.emplace_back(v);
                break;
            case t_content_sha256:
                e.content_sha256 = to_hash(v);
                break;
            case t_cipher:
                e.cipher = std::string(v);
                break;
            case t_encrypted_for:
                e.encrypted_for.emplace_back(v);
                break;
            case t_config_sha256:
                e.config_sha256 = to_hash(v);
                break;
            case t_credential:
                e.credentials.emplace_back(v);
                break;
            case t_state:
                e.state = std::string(v);
                break;
            case t_error:
                e.error = std::string(v);
                break;
            case t_duration_us:
                e.duration_us = x;
                break;
            case t_checkpoint_size:
                e.checkpoint_size = x;
                break;
            case t_checkpoint_sha256:
                e.checkpoint_sha256 = to_hash(v);
                break;
            case t_note:
                e.notes.emplace_back(v);
                break;
            default:
                break;
        }
    });
    return e;
}

EventView decode_view(std::string_view b) {
    EventView e;
    parse_fields(b, [&e](std::uint8_t tag, std::string_view v, std::uint64_t x) {
        switch (tag) {
            case t_index:
                e.index = x;
                break;
            case t_prev:
                e.prev = v;
                break;
            case t_time:
                e.time_us = x;
                break;
            case t_node:
                e.node = v;
                break;
            case t_kind:
                e.kind = v;
                break;
            case t_queue_id:
                e.queue_id = v;
                break;
            case t_direction:
                e.direction = v;
                break;
            case t_sender:
                e.sender = v;
                break;
            case t_login:
                e.login = v;
                break;
            case t_client:
                e.client = v;
                break;
            case t_unit:
                e.unit = v;
                break;
            case t_decision:
                e.decision = v;
                break;
            case t_reason_code:
                e.reason_code = v;
                break;
            case t_cert_serial:
                e.cert_serial = v;
                break;
            case t_verdict:
                if (!e.has_verdict) {
                    e.verdict = v.substr(0, v.find_first_of(" ;"));
                    e.has_verdict = true;
                }
                break;
            case t_checkpoint_size:
                e.checkpoint_size = x;
                break;
            case t_checkpoint_sha256:
                e.checkpoint_sha256 = v;
                break;
            case t_note:
                if (v.substr(0, 9) == "sequence=") {
                    e.sequence_note = v.substr(9);
                }
                break;
            default:
                break;
        }
    });
    return e;
}

std::string verdict_word(const Event& e) {
    if (e.verdicts.empty()) {
        return "";
    }
    const std::string& v = e.verdicts.front();
    return v.substr(0, v.find_first_of(" ;"));
}

std::string format_time_us(TimePoint t) {
    const std::uint64_t us = to_micros(t);
    const auto secs = static_cast<std::time_t>(us / 1000000);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[48];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06uZ", static_cast<unsigned>(us % 1000000));
    return std::string(buf) + frac;
}

}  // namespace segel::audit
