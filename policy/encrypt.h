#pragma once
// Whether an outbound message is encrypted: a pure function over the
// "encryption:" settings, the envelope recipients, the subject trigger and
// what the certificate lookup found (no I/O, no clock, no logging).
#include "config/settings.h"

#include <string>
#include <vector>

namespace segel::policy {

enum class EncryptAction {
    Encrypt,   ///< sign, then encrypt to every recipient and the sender
    SignOnly,  ///< sign as usual; no encryption
    Reject,    ///< refuse with the SMTP reply in the decision
};

/** What the lookup found for one recipient. */
struct RecipientCertificate {
    std::string address;
    bool usable = false;         ///< a usable certificate was found
    bool lookup_failed = false;  ///< a source could not be asked (LDAP down): temporary
    std::string why;             ///< e.g. "directory: expired 2026-01-01"
};

/** The effective policy and cipher for one recipient (recipient rule > domain rule > default). */
struct RecipientPolicy {
    config::Encryption::Policy policy = config::Encryption::Policy::Never;
    config::Encryption::Cipher cipher = config::Encryption::Cipher::Aes256Cbc;
    std::string rule;  ///< "encryption.recipients: a@b", "encryption.domains: b", "encryption.policy"
};
RecipientPolicy policy_for(const config::Encryption& enc, const std::string& address);

/** True when the subject contains the trigger keyword (ASCII case-insensitive); never for an empty keyword. */
bool has_trigger(const std::string& subject, const std::string& keyword);

/** The subject without the first occurrence of the keyword and the white space it leaves. */
std::string remove_trigger(const std::string& subject, const std::string& keyword);

/**
 * True when certificates have to be looked up at all: some recipient's policy
 * is not "never", or the trigger is present.
 */
bool wants_encryption(const config::Encryption& enc, const std::vector<std::string>& recipients, bool triggered);

struct EncryptDecision {
    EncryptAction action = EncryptAction::SignOnly;
    config::Encryption::Cipher cipher = config::Encryption::Cipher::Aes256Cbc;
    bool required = false;             ///< by a rule or by the trigger
    bool triggered = false;            ///< the subject keyword was present
    std::vector<std::string> lacking;  ///< recipients without a usable certificate
    std::string reply_code;            ///< "550" / "451" (Reject only)
    std::string reply_xcode;           ///< "5.7.1" / "4.7.1"
    std::string reply_text;
    std::string reason_code;           ///< Reject: the reason word (docs/refusals.md)
    std::vector<std::string> reasons;  ///< the decision trail (LogWhy)
    std::string summary;
};

/**
 * Decides for one message. One encryption serves all recipients, so:
 * - any recipient whose policy is "required" (or the trigger) makes the whole
 *   message required: every recipient needs a usable certificate, else Reject
 *   550 5.7.1 naming those without (451 4.7.1 when only a lookup failed);
 *   a recipient whose rule says "never" conflicts with a rule's "required"
 *   (refused), but not with the trigger (the sender's explicit demand wins);
 * - else, when some recipient is "opportunistic": Encrypt when every recipient
 *   has a usable certificate and none is "never", else SignOnly;
 * - else SignOnly.
 * The cipher is AES-GCM only when every recipient opted in to GCM (the widest
 * key size among them), else AES-256-CBC.
 * @param certs one entry per recipient, same order (only consulted when wanted)
 */
EncryptDecision decide_encryption(const config::Encryption& enc, const std::vector<std::string>& recipients,
                                  bool triggered, const std::vector<RecipientCertificate>& certs);

}  // namespace segel::policy
