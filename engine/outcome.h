#pragma once
// What was done with one message and why: one plain record per transaction,
// made by the Session (engine/session.h). The log line, the audit event and
// the metrics are consumers of it; nothing here formats or logs
// (engine/outcome_format.h has the formatters).
#include "policy/incident.h"
#include "smime/verify.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace segel::engine {

enum class Direction {
    Unknown,   ///< not decided yet (the message ended before its headers did)
    Outbound,  ///< from staff: SMTP AUTH, an internal network or a system sender
    Inbound,   ///< from outside: verified (and decrypted when for us)
};

/** The one word for what became of the message. */
enum class Decision {
    None,         ///< nothing decided (no message, or aborted)
    Sign,         ///< signed and sent on
    SignEncrypt,  ///< signed, then encrypted
    Pass,         ///< outbound, sent on unchanged (not official, already signed, policy pass)
    Refuse,       ///< a permanent refusal (5xx)
    Defer,        ///< a temporary refusal the rules asked for (4xx), e.g. a lookup that failed
    Deliver,      ///< inbound, delivered (with our verdict and tag)
    Quarantine,   ///< inbound, held by the MTA
    Error,        ///< an internal error: deferred (or accepted unchanged when configured)
};

/**
 * A certificate's revocation state as a decision relied on it (R6): the
 * signing certificate outbound (whether it signed, was refused or deferred),
 * the signer's certificate inbound. For the log line and the audit event.
 */
struct RevocationEvidence {
    std::string serial;  ///< the certificate checked (hex, upper case)
    std::string status;  ///< "good", "revoked", "unknown", "not-checked"
    std::string reason;  ///< revoked: the RFC 5280 CRLReason, e.g. "keyCompromise"
    std::optional<std::chrono::system_clock::time_point> revoked_at;
    std::string source;    ///< "ocsp", "crl", "crl file", "" (no evidence)
    std::string url;       ///< the responder, distribution point or CRL file that gave it
    std::string evidence;  ///< in words, as the decision used it: "ocsp good, 2 h old", "…; signed anyway (…)"
};

/** The certificate a message was signed with (outbound), for records an auditor can match. */
struct CertificateUsed {
    std::string serial;       ///< hex, upper case
    std::string fingerprint;  ///< SHA-256 of the DER, hex, lower case
    std::string subject;
    std::string source;     ///< the credential's file or token reference
    std::string key_store;  ///< where its private key is: "file" (read into memory at load) or "pkcs11" (in a token)
    std::chrono::system_clock::time_point not_after;
    std::string compatibility;  ///< set when a compatibility switch made it usable (docs/configuration.md)
};

/** Outbound encryption, when it was considered. */
struct EncryptionFacts {
    bool considered = false;  ///< some recipient's policy or the subject trigger asked for it
    bool encrypted = false;
    bool required = false;
    bool triggered = false;            ///< the subject keyword was present (and removed)
    std::string cipher;                ///< e.g. "aes-256-cbc"
    std::size_t certificates = 0;      ///< RecipientInfos (the sender's own included)
    std::vector<std::string> lacking;  ///< recipients without a usable certificate
    std::string summary;
};

/** Inbound decryption, when the message was encrypted. */
struct DecryptionFacts {
    enum class Result { NotOurs, Decrypted, Failed };
    Result result = Result::NotOurs;
    std::string detail;
    std::string key_owner;  ///< the recipient whose key opened it
    std::string serial;     ///< that certificate's serial
    std::string smime_type;
    std::string cipher;
};

/** The inbound verdict (RFC 7281 word and what stands behind it). */
struct VerificationFacts {
    smime::AuthResult result = smime::AuthResult::None;
    smime::VerifyResult::Problem problem = smime::VerifyResult::Problem::None;
    std::string reason;
    std::string identifier;  ///< body.smime-identifier
    std::string signer_name;
    std::string serial;
    std::string fingerprint;  ///< SHA-256 of the signer certificate, when found
    std::string issuer;
    std::string digest;  ///< micalg name, e.g. "sha-256"
    std::optional<std::chrono::system_clock::time_point> signing_time;
    bool partially_signed = false;
    std::string part;
    std::vector<std::string> weaknesses;
    std::string action;  ///< deliver / tag / quarantine / reject (sender protection)
    std::size_t forged_results_removed = 0;
    std::string harvested;     ///< certificate files written
    std::string harvest_note;  ///< why a certificate was not stored
    std::string sealed_for;    ///< the From address an organisation seal signed for (it matched Sender), or ""
    /** A valid RFC 3161 time-stamp on the signature: its time (the signer's certificate was judged then). */
    std::optional<std::chrono::system_clock::time_point> time_stamp;
    std::string time_stamp_tsa;    ///< that TSA certificate's name
    std::string time_stamp_error;  ///< why a time-stamp present was not accepted ("" when valid or absent)
    std::optional<RevocationEvidence> revocation;  ///< the signer's, when a valid signature had a signer (R6)
};

/** An RFC 3161 time-stamp on the outbound signature (docs/keys.md), when the domain asks for one. */
struct TimeStampFacts {
    bool stamped = false;                        ///< a checked token is in the signature
    std::string authority;                       ///< timestamping.authorities[].name that gave it
    std::string tsa;                             ///< the TSA certificate's name
    std::chrono::system_clock::time_point time;  ///< its genTime
    std::string serial;                          ///< TSTInfo serial number (hex)
    std::vector<std::string> failures;           ///< authorities that failed first (or all), and why
};

/** A failure of the gateway itself while processing. */
struct InternalError {
    std::string step;  ///< "eoh", "eom", "body", ...
    std::string what;
    bool accepted_unchanged = false;  ///< milter.on_internal_error: accept (never once a body went out)
};

struct Timings {
    double decide_ms = 0;   ///< end of headers: the policy decision
    double process_ms = 0;  ///< end of message: sign / encrypt / decrypt / verify
};

/** One message: who, what was decided, with which certificate, and the evidence. */
struct Outcome {
    std::string queue_id;
    Direction direction = Direction::Unknown;
    Decision decision = Decision::None;
    std::string reply_code;   ///< "550", "451", ... when refused or deferred
    std::string reply_xcode;  ///< "5.7.1"
    std::string reply_text;
    /**
     * Refused or deferred (or an internal error): the stable reason word the audit
     * event's reason_code carries and the reports count, e.g. "login-not-owner"
     * (docs/refusals.md, "Reason words").
     */
    std::string reason_code;
    std::vector<std::string> reasons;  ///< the decision trail, as policy/ wrote it
    std::string summary;               ///< one line of why

    std::string client_ip;
    std::string client_name;
    std::string login;                     ///< SMTP AUTH identity, as the SASL layer gave it ("" when none)
    std::string mail_from;                 ///< envelope sender
    std::vector<std::string> recipients;   ///< envelope recipients
    std::vector<std::string> header_from;  ///< the From mailboxes
    std::string signer;                    ///< the official address signed for (outbound)
    std::string sealed_by;     ///< outbound: the organisation seal that signed for signer (docs/keys.md), or ""
    std::string matched_rule;  ///< e.g. "signing.domains: dinas.example.go.id"
    std::string unit;          ///< the official domain (OPD) the message belongs to, for reports

    std::optional<CertificateUsed> certificate;  ///< outbound: what signed it
    /** Outbound: the signing certificate's revocation state the decision relied on (signed, refused, deferred). */
    std::optional<RevocationEvidence> revocation;
    std::string format;                        ///< "detached" / "opaque"
    int reencoded = 0;                         ///< parts and headers made transport-safe
    std::optional<TimeStampFacts> time_stamp;  ///< outbound: asked for by the domain's timestamp:
    std::optional<EncryptionFacts> encryption;
    std::optional<DecryptionFacts> decryption;
    std::optional<VerificationFacts> verification;
    /** SHA-256 (hex) of the content that was signed (outbound) or whose signature was checked (inbound). */
    std::string content_sha256;
    std::size_t size = 0;                     ///< bytes received (head + body)
    std::vector<policy::Incident> incidents;  ///< R12: the security incidents this message is (docs/incidents.md)
    std::vector<std::string> notes;           ///< things worth a log line that are not the decision
    std::optional<InternalError> error;
    Timings timings;
};

const char* to_string(Direction d);
const char* to_string(Decision d);

}  // namespace segel::engine
