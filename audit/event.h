#pragma once
// One audit event: what the gateway did and why, as metadata only (never
// content, passphrases or keys), and its canonical byte encoding — the bytes
// the Merkle tree commits to (docs/audit.md, "Event encoding").
#include "audit/hash.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segel::audit {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

/** The kinds of event (the `kind` field holds these words). */
namespace kind {
inline constexpr const char* k_sign = "sign";                  ///< signed and sent on
inline constexpr const char* k_sign_encrypt = "sign+encrypt";  ///< signed, then encrypted
inline constexpr const char* k_refuse = "refuse";              ///< answered 5xx (or 4xx by policy)
inline constexpr const char* k_pass = "pass";                  ///< sent on unchanged
inline constexpr const char* k_verify = "verify";              ///< inbound signature checked; `verdict` says how
inline constexpr const char* k_decrypt = "decrypt";            ///< inbound message decrypted
inline constexpr const char* k_internal_error = "internal-error";
inline constexpr const char* k_start = "start";
inline constexpr const char* k_stop = "stop";
inline constexpr const char* k_reload = "reload";                        ///< config_sha256 + credential list
inline constexpr const char* k_certificate_state = "certificate-state";  ///< cert_* + state
inline constexpr const char* k_incident = "incident";                    ///< reason_code names the kind (R12)
inline constexpr const char* k_checkpoint = "checkpoint";                ///< checkpoint_size + checkpoint_sha256
inline constexpr const char* k_witness = "witness";                      ///< a checkpoint mailed to the witnesses
}  // namespace kind

/**
 * An event. The trail sets index, prev and node; the caller sets the rest.
 * Strings are stored as given (bytes, not validated as UTF-8); an empty
 * string or list, a zero number or an all-zero hash means "absent".
 */
struct Event {
    std::uint64_t index = 0;  ///< position in this node's log, from 0 (set by the trail)
    Hash prev{};              ///< leaf hash of event index-1; zero for event 0 (set by the trail)
    TimePoint time;           ///< when it happened (microsecond resolution, UTC)
    std::string node;         ///< the gateway node that wrote it (set by the trail)
    std::string kind;         ///< one of audit::kind

    std::string queue_id;   ///< Postfix queue id
    std::string direction;  ///< "outbound" | "inbound" | ""
    std::string sender;     ///< envelope sender (MAIL FROM), without <>
    std::string login;      ///< SMTP AUTH login
    std::string client;     ///< client IP address
    std::vector<std::string> recipients;
    std::string unit;  ///< the OPD (official domain or subdomain) the event counts for in reports (R11)

    std::string decision;               ///< what was done: "sign", "reject", "tempfail", "accept", "quarantine", …
    std::string reason_code;            ///< a stable word for reports, e.g. "login-not-owner", "revoked"
    std::vector<std::string> reasons;   ///< the decision trail, for people
    std::string reply;                  ///< the SMTP reply given, e.g. "550 5.7.1 …"
    std::string cert_serial;            ///< certificate used or checked (hex, upper case)
    Hash cert_fingerprint{};            ///< SHA-256 of that certificate's DER
    std::vector<std::string> verdicts;  ///< e.g. "pass signer=siti@dinas.example.go.id" (first word: result)
    Hash content_sha256{};              ///< SHA-256 of the content signed or verified
    std::string cipher;                 ///< content cipher when encrypted, e.g. "aes-256-cbc"
    std::vector<std::string> encrypted_for;  ///< recipients whose certificates the message was encrypted to
    Hash config_sha256{};                    ///< start / reload: SHA-256 of the configuration file
    std::vector<std::string> credentials;    ///< start / reload: "serial=… sha256=… address=…" per key loaded
    std::string state;                       ///< certificate-state: the new state ("expired", "revoked: keyCompromise")
    std::string error;                       ///< internal-error: what failed (never content)
    std::uint64_t duration_us = 0;           ///< how long the decision took
    std::uint64_t checkpoint_size = 0;       ///< checkpoint / witness: the tree size it commits to
    Hash checkpoint_sha256{};                ///< checkpoint / witness: SHA-256 of the checkpoint's text
    std::vector<std::string> notes;          ///< anything else, "key=value"

    bool operator==(const Event&) const = default;
};

/** The encoding version written by this code (the first byte of every event). */
inline constexpr std::uint8_t k_event_version = 1;
/** Events larger than this are refused when encoding and when decoding. */
inline constexpr std::size_t k_max_event_bytes = 16 * 1024 * 1024;

/** Times are from 1970-01-01T00:00:00Z to before 2200-01-01T00:00:00Z (microseconds). */
inline constexpr std::uint64_t k_max_time_us = 7258118400ULL * 1000000ULL;

/** Microseconds since 1970-01-01T00:00:00Z. @throws Error{Usage} for a time outside [1970, 2200) */
std::uint64_t to_micros(TimePoint t);
TimePoint from_micros(std::uint64_t us);

/**
 * The canonical bytes of @p e (docs/audit.md): version byte 0x01, then the
 * present fields in ascending tag order, each as tag (1 byte), length
 * (4 bytes, big-endian) and value. Deterministic: equal events give equal bytes.
 * @throws Error{Usage} when a field is too long or the event is over k_max_event_bytes
 */
std::string encode(const Event& e);

/**
 * Parses canonical bytes. Anything that encode() would not have produced —
 * unknown version or tag, tags out of order, a repeated single field, a
 * wrong fixed length, an absent value written out, trailing bytes — is refused.
 * @throws Error{Malformed} naming the offset and what is wrong
 */
Event decode(std::string_view bytes);

/**
 * The fields verify reads, as views into the bytes (no copies): what
 * decode() checks, decode_view() checks the same way.
 */
struct EventView {
    std::uint64_t index = 0;
    std::string_view prev;  ///< 32 bytes
    std::uint64_t time_us = 0;
    std::string_view node, kind, queue_id, direction, sender, login, client, unit, decision, reason_code, cert_serial;
    std::string_view verdict;  ///< the first word of the first verdict
    bool has_verdict = false;
    std::uint64_t checkpoint_size = 0;
    std::string_view checkpoint_sha256;  ///< 32 bytes, or empty
    std::string_view sequence_note;      ///< N of the first "sequence=N" note, or empty
};
/** @throws Error{Malformed} exactly when decode() would */
EventView decode_view(std::string_view bytes);

/** The first word of the first verdict ("pass", "fail", …), or "" (the report key). */
std::string verdict_word(const Event& e);

/** RFC 3339 UTC with microseconds, e.g. 2026-06-01T09:00:00.123456Z. */
std::string format_time_us(TimePoint t);

}  // namespace segel::audit
