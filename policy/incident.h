#pragma once
// Security incidents (R12, docs/incidents.md): which facts are one, and of
// which kind. Pure rules over plain data (no I/O, no clock reads, no
// logging): the time and the counts of the windows are passed in by their
// owner (engine/incidents.h), so every rule is a table test.
#include "config/settings.h"
#include "policy/inbound.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::policy {

/** The kinds of incident: the audit event's reason_code holds exactly one of these words. */
namespace incident {
inline constexpr const char* k_forged_official_sender = "forged-official-sender";
inline constexpr const char* k_invalid_signature = "invalid-signature";
inline constexpr const char* k_revoked_signer = "revoked-signer";
inline constexpr const char* k_sign_revoked = "sign-revoked";
inline constexpr const char* k_sign_expired = "sign-expired";
inline constexpr const char* k_send_as_repeated = "send-as-repeated";
inline constexpr const char* k_volume_anomaly = "volume-anomaly";
inline constexpr const char* k_client_anomaly = "client-anomaly";
inline constexpr const char* k_audit_store_failure = "audit-store-failure";
inline constexpr const char* k_checkpoint_gap = "checkpoint-gap";
}  // namespace incident

/** Every kind word, in the order of docs/incidents.md. */
const std::vector<std::string>& incident_kinds();
/** Whether @p word is one of incident_kinds(). */
bool is_incident_kind(std::string_view word);

/**
 * Whether a refusal with reason word @p reason_code (policy/decide.cpp, docs/refusals.md) was an
 * attempt to send as someone else: login-not-owner, envelope-mismatch, from-shows-other-address.
 * Rule 4 counts these per login.
 */
bool is_send_as_refusal(std::string_view reason_code);

/** One incident: its kind and the facts a person needs (never message content). */
struct Incident {
    std::string kind;     ///< one of policy::incident
    std::string login;    ///< SMTP AUTH login it concerns ("" when none)
    std::string address;  ///< the sender or signer it concerns
    std::string client;   ///< client IP address
    std::string serial;   ///< certificate concerned (hex)
    std::string detail;   ///< what happened, in words

    bool operator==(const Incident&) const = default;
};

/** A rule's answer: the incident, if any, and why (one reason per rule consulted). */
struct Finding {
    std::optional<Incident> incident;
    std::vector<std::string> reasons;
};

/** What the inbound verification found, as the incident rules read it. */
struct InboundIncidentFacts {
    Verdict verdict = Verdict::None;
    std::string reason;           ///< the verdict's reason
    std::string signer;           ///< the signer certificate's address (body.smime-identifier), or ""
    std::string serial;           ///< the signer certificate's serial
    bool signer_revoked = false;  ///< the signer's certificate was found revoked
    std::string official_sender;  ///< the official From it claims (decide_inbound), or ""
    std::string forged;           ///< decide_inbound's description when sender protection applied, or ""
    std::string client;
};

/** Whether @p address is a government (go.id) address or in an official domain of @p settings. */
bool government_address(const config::Settings& settings, const std::string& address);

/**
 * Inbound rules 1-3 (the first that applies):
 * 1. a revoked signer certificate of a government address → revoked-signer;
 * 2. an invalid signature (fail, permerror) of a government signer → invalid-signature;
 * 3. an official From from outside without a valid signature → forged-official-sender.
 */
Finding inbound_incident(const config::Settings& settings, const InboundIncidentFacts& facts);

/**
 * Rule 4: send-as refusals of one login. @p refusals is the number within the
 * last incidents.send_as.within, this one included; an incident when it reaches
 * incidents.send_as.refusals exactly (once per burst: the window owner resets it).
 */
Finding send_as_rule(const config::Incidents& t, std::size_t refusals, const std::string& login,
                     const std::string& address, const std::string& client);

/**
 * Rule 5a: signed messages of one login in the current hour against its own
 * trailing baseline (messages per hour): an incident when @p count exceeds
 * max(incidents.volume.factor × baseline, incidents.volume.floor).
 */
Finding volume_rule(const config::Incidents& t, std::uint64_t count, double baseline, const std::string& login,
                    const std::string& client);

/** True when volume_rule() would report an incident for @p count (once per hour: the first count over the limit). */
bool volume_fires(const config::Incidents& t, std::uint64_t count, double baseline);

/**
 * Rule 5b: distinct client networks of one login in the current window against
 * its baseline (networks per window): an incident when @p networks exceeds
 * max(incidents.clients.factor × baseline, incidents.clients.floor).
 */
Finding client_rule(const config::Incidents& t, std::size_t networks, double baseline, const std::string& login,
                    const std::string& client);

/**
 * The network a client address counts in for rule 5b: IPv4 to
 * incidents.clients.ipv4_prefix bits ("192.0.2.0/24"), IPv6 to ipv6_prefix;
 * anything else as given.
 */
std::string client_network(const config::Incidents& t, const std::string& ip);

/**
 * Rule 6: a write to the audit store failed (@p what: the store's error).
 */
Finding audit_store_rule(const std::string& what, const std::string& queue_id);

/**
 * Rule 7: checkpoint gaps. Events recorded after the last checkpoint for longer
 * than audit.checkpoint_minutes × incidents.checkpoint_gap.factor (@p last_checkpoint
 * empty: none yet, counted from @p first_uncovered), or checkpoint sequence
 * numbers that do not follow each other (@p sequences, ascending as stored).
 * @param first_uncovered the time of the oldest event no checkpoint covers (nullopt: all covered)
 */
Finding checkpoint_rule(const config::Incidents& t, int checkpoint_minutes,
                        std::optional<std::chrono::system_clock::time_point> last_checkpoint,
                        std::optional<std::chrono::system_clock::time_point> first_uncovered,
                        const std::vector<std::uint64_t>& sequences, std::chrono::system_clock::time_point now);

}  // namespace segel::policy
