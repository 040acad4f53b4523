#pragma once
// Who may sign, and with which certificate: a pure function over plain data
// (no I/O, no clock reads, no logging), so every rule is a table test.
#include "config/settings.h"
#include "policy/encrypt.h"
#include "policy/incident.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace segel::policy {

using TimePoint = std::chrono::system_clock::time_point;

/** The revocation state of one certificate, as the revocation service knows it (R6). */
struct RevocationFacts {
    enum class State {
        NotChecked,  ///< nowhere to ask, or revocation.enabled: false (problem says which)
        Good,        ///< the latest evidence (obtained at `obtained`) says not revoked
        Revoked,     ///< the latest evidence says revoked
        Unknown,     ///< checks were made and none answered usably yet (problem says why)
    };
    State state = State::NotChecked;
    std::string evidence;  ///< in a few words, made by the engine at the decision's time: "ocsp good, 2 h old"
    TimePoint obtained{};  ///< when the latest Good/Revoked evidence was obtained
    TimePoint revoked_at{};
    std::string reason;   ///< Revoked: the CRLReason, e.g. "keyCompromise"
    std::string problem;  ///< the latest check's failure (the evidence, if any, is older)
    std::string source;   ///< where the evidence came from: "ocsp", "crl", "crl file", "" (none)
    std::string url;      ///< the responder or distribution point that gave it
};

/** The revocation state a decision relied on (R6), for the record: which certificate and what was known. */
struct RevocationUsed {
    std::string serial;
    RevocationFacts facts;
    std::string note;  ///< the evidence as the decision used it: "ocsp good, 2 h old", "…; signed anyway (…)"
};

/** What a certificate may be used for: its key usage and extended key usage as written (R4). */
struct CertUsage {
    bool key_usage_present = false;
    std::vector<std::string> key_usage;  ///< names: "digitalSignature", "nonRepudiation", "keyEncipherment", …
    bool eku_present = false;
    bool eku_critical = false;
    std::vector<std::string> eku;     ///< dotted OIDs, e.g. "1.3.6.1.5.5.7.3.4", "1.2.840.113583.1.1.5"
    bool address_in_san = false;      ///< a subjectAltName rfc822Name names an address
    bool address_in_subject = false;  ///< the subject's emailAddress names one
};

/** What the engine knows about one installed certificate. */
struct CertFacts {
    std::string id;  ///< where it came from (file), for explain and logs
    std::vector<std::string> addresses;
    std::string serial;
    std::string fingerprint;  ///< SHA-256 of the certificate, hex
    std::string subject;
    std::string common_name;
    TimePoint not_before;
    TimePoint not_after;
    TimePoint chain_not_after = TimePoint::max();  ///< first expiry along the path to the anchor
    bool chain_trusted = false;
    std::string chain_error;
    bool key_usage_signs = true;
    bool eku_email = true;
    std::string key_type;
    CertUsage usage;
    RevocationFacts revocation;
};

/** The SMTP transaction as the milter saw it. */
struct Envelope {
    std::string client_ip;
    /** {auth_authen} exactly as the SASL layer reports it; empty when the client did not authenticate. */
    std::string auth_login;
    std::string mail_from;  ///< envelope sender without <>
    /** Every From header field's value as received (after the colon, folding kept): what decide() reads. */
    std::vector<std::string> from_fields;
    /**
     * GMime's lenient reading of every mailbox of every From field, for inbound
     * verification (engine/inbound.cpp); decide() does not use it.
     */
    std::vector<std::string> header_from;
};

enum class Action {
    Sign,    ///< sign with certificates[cert]
    Pass,    ///< deliver unchanged
    Reject,  ///< refuse with the SMTP reply below
};

/** Why one certificate was or was not chosen. */
struct CertVerdict {
    std::size_t index = 0;  ///< into the candidate list given to decide()
    bool usable = false;
    std::string why;            ///< "expired 2026-01-01", "chosen: newest valid", ...
    bool temporary = false;     ///< unusable only for now (revocation status unknown): answer 451, not 550
    std::string reply;          ///< the exact refusal text when it differs from "no valid certificate for X: why"
    std::string word;           ///< unusable: the reason word ("certificate-expired", …; docs/refusals.md)
    std::string revocation;     ///< usable: the revocation evidence or note ("ocsp good, 2 h old")
    std::string compatibility;  ///< usable only under a compatibility switch: which, and its consequence
};

struct Decision {
    Action action = Action::Pass;
    bool outbound = false;
    std::string direction;            ///< e.g. "outbound: SMTP AUTH as budi"
    std::string sender;               ///< the official address being signed for
    std::string matched_rule;         ///< e.g. "signing.domains: dinas.example.go.id"
    std::optional<std::size_t> cert;  ///< chosen certificate (Sign only)
    /**
     * Set when the message is signed with the organisation seal (R7): the seal's
     * address, which goes in the Sender field; @c sender stays the person (From).
     */
    std::string sealed_by;
    std::vector<CertVerdict> considered;
    std::string reply_code;   ///< "550", or "451" for a temporary refusal (Reject only)
    std::string reply_xcode;  ///< "5.7.1" / "4.7.1"
    std::string reply_text;   ///< what the sender reads
    /**
     * Reject: the stable word for why (docs/refusals.md, "Reason words"), e.g.
     * "login-not-owner": what the audit event's reason_code and the reports count.
     */
    std::string reason_code;
    std::vector<std::string> reasons;  ///< the decision trail, logged at info ("LogWhy")
    std::string summary;               ///< one line for the per-message log
    /** What rules 8-9 found on a message the client protected and what was done ("" when it was not). */
    std::string client_protection;
    std::string revocation;            ///< Sign: the chosen certificate's revocation evidence or note
    std::string compatibility;         ///< Sign: set when a compatibility switch made the certificate usable
    std::optional<Incident> incident;  ///< an attempt to sign with a revoked or expired certificate (R12)
    /** Sign, or refused/deferred because of revocation: the certificate's revocation state it relied on. */
    std::optional<RevocationUsed> revocation_used;
};

/** Rule 1 alone: whether mail with this envelope is outbound, and why. */
struct Direction {
    bool outbound = false;
    std::string why;  ///< "outbound: SMTP AUTH as budi", "inbound: client … is not internal"
    const config::SystemSender* system = nullptr;  ///< the system sender whose client sent it, if any
};

/**
 * Outbound when the client authenticated (SMTP AUTH), is a listed system
 * sender's or is in an internal network; inbound otherwise. Known from the
 * envelope alone, before the header (the Session bounds inbound mail's head).
 */
Direction direction_of(const config::Settings& settings, const Envelope& env);

/**
 * Decides what to do with one message.
 * @param certs every installed certificate (the engine filters nothing)
 * @param now   the moment validity is judged at (injected)
 */
Decision decide(const config::Settings& settings, const Envelope& env, const std::vector<CertFacts>& certs,
                TimePoint now);

/**
 * A refusal: permanent by default; a 4xx @p code makes it temporary (e.g. a responder that is down).
 * The reason word is @p d.reason_code when the caller set one, else "refused" ("deferred" for 4xx).
 */
Decision reject(Decision d, const std::string& text, const std::string& code = "550",
                const std::string& xcode = "5.7.1");

/** A temporary refusal (451): for causes that may go away, never for the message itself. */
Decision defer(Decision d, const std::string& text, const std::string& xcode = "4.7.0");

/** @p d with its reason word set (for reject()/defer(): `reject(because(d, "too-large"), …)`). */
Decision because(Decision d, std::string word);

/** Sends the message on unchanged, saying why. */
Decision pass(Decision d, const std::string& why);

/**
 * Outbound mail the gateway does not sign (Pass) cannot be encrypted either
 * (the sender's certificate is always a recipient): when encryption is
 * required for it (a rule or the subject trigger), it is refused rather than
 * sent in clear. nullopt: nothing to refuse.
 */
std::optional<Decision> refuse_unsignable(const Decision& decision, const EncryptDecision& encryption);

/**
 * Outbound mail over milter.max_message_size is refused with 552 (it cannot be
 * signed, so it may not leave). Inbound mail is never refused for its size
 * (delivered with smime=temperror): nullopt.
 */
std::optional<Decision> refuse_too_large(const config::Settings& settings, const Decision& decision, std::size_t size);

/**
 * What the gateway found on a message whose client already protected it
 * (rule 9): plain facts of the verification (engine: smime::verify with the
 * gateway's trust store at the moment of sending).
 */
struct ClientProtection {
    enum class Kind {
        None,       ///< not protected: nothing to decide
        Signed,     ///< multipart/signed or pkcs7-mime signed-data
        Encrypted,  ///< pkcs7-mime enveloped-data or multipart/encrypted: cannot be checked
    } kind = Kind::None;
    bool smime = true;                 ///< an S/MIME signature (false: OpenPGP or another kind segel cannot check)
    bool content_intact = false;       ///< the signature matches the content
    bool certificate_trusted = false;  ///< chains to trust.anchors, valid now, not revoked, fit for e-mail signing
    std::vector<std::string> signer_addresses;  ///< the signer certificate's addresses (lower case)
    std::string serial;                         ///< the signer certificate's serial (hex)
    std::string detail;                         ///< the verifier's words, e.g. "content changed after signing"
};

/**
 * Rule 9: mail that decide() would sign, but that the client already signed or
 * encrypted. It passes unchanged only when it carries a valid, trusted
 * signature of the decision's sender; otherwise the sender's domain decides
 * (signing.domains[].client_signatures, client_encrypted): refuse (default),
 * sign over it with the sender's certificate (wrap), or pass it unchanged —
 * never silently: the reasons say what was found and which setting applied.
 * @param d a Sign decision from decide(); returned unchanged for Kind::None
 */
Decision decide_protected(const config::Settings& settings, Decision d, const ClientProtection& found);

/** Lower-cases and strips <> and white space; "" stays "" (the null sender). */
std::string normalize_address(std::string address);

/** The official-domain rule covering @p address, or nullptr. */
const config::DomainRule* official_rule(const config::Settings& settings, const std::string& address);

/** True when @p ip (text) lies in @p net. */
bool in_network(const std::string& ip, const config::Network& net);

/**
 * A certificate's state for people, judged for signing at @p now: "usable",
 * "usable, expires in 42 days: renew now" (within 90 days, R5), or the
 * reason it cannot sign ("expired 2026-01-01", "does not chain to …", …).
 */
std::string certificate_state(const CertFacts& cert, TimePoint now);
/** The same, judged with the revocation policy and compatibility switches of @p settings. */
std::string certificate_state(const CertFacts& cert, TimePoint now, const config::Settings& settings);

}  // namespace segel::policy
