#pragma once
// Encryption on the gateway's one code path (milter and segelctl): decide
// and encrypt outbound mail after it was signed; decrypt inbound mail for the
// staff whose keys the gateway holds. Knows nothing of libmilter; no logging.
#include "engine/gateway.h"
#include "engine/recipients.h"
#include "policy/encrypt.h"
#include "smime/decrypt.h"
#include "smime/encrypt.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::engine {

/**
 * Builds the recipient store of @p settings (trust, sources, cache).
 * @throws config::ConfigError pointing at the encryption section when a file it names cannot be used
 */
std::shared_ptr<const RecipientStore> make_recipient_store(
    const config::Settings& settings, std::shared_ptr<services::RevocationService> revocation = nullptr);

/** The outbound encryption plan for one message (before anything is changed). */
struct OutboundPlan {
    policy::EncryptDecision decision;
    std::vector<RecipientLookup> lookups;    ///< one per recipient when certificates were looked up
    std::optional<std::string> new_subject;  ///< the Subject value without the trigger (when it was there)
};

/**
 * Decides whether the message is encrypted: the recipients' policies, the
 * subject trigger, and (only when wanted) the certificate lookups.
 * @param recipients envelope recipients (with or without <>)
 * @param subject    the raw Subject value, nullopt when there is none
 */
OutboundPlan plan_outbound(const Gateway& gateway, const std::vector<std::string>& recipients,
                           const std::optional<std::string>& subject, TimePoint now);

/**
 * Encrypts the signed entity of @p signed_message to every recipient of
 * @p plan and to the sender's own certificate (chosen by @p sign_decision),
 * then proves, before it may leave, that the result names every one of them
 * and that its content opens with the key they were all given to exactly that
 * entity (smime::check_encrypted: no private-key operation).
 * @throws smime::Error when encryption or that self-check fails
 */
smime::EncryptedMessage encrypt_outbound(const Gateway& gateway, const policy::Decision& sign_decision,
                                         const OutboundPlan& plan, const smime::SignedMessage& signed_message);

/** What happened to one inbound message. */
struct InboundDecryption {
    enum class Outcome {
        NotEncrypted,  ///< nothing to do
        NotOurs,       ///< encrypted, but not for keys the gateway holds for every recipient: passes unchanged
        Decrypted,     ///< entity holds the new top-level entity
        Failed,        ///< should have opened and did not: delivered as it arrived, header says why
    };
    Outcome outcome = Outcome::NotEncrypted;
    std::string detail;      ///< for the log and the header (never content)
    std::string key_owner;   ///< the recipient whose key opened it
    std::string serial;      ///< that certificate's serial
    std::string smime_type;  ///< "enveloped-data" / "authEnveloped-data"
    std::string cipher;
    smime::Entity entity;  ///< Decrypted: the new Content-* fields and body
    /** Decrypted: "ignored 2 header fields of the decrypted entity that are not Content-*: From, Subject", or "". */
    std::string ignored;
    /** The value of the k_decryption_header field to add (empty for NotEncrypted). */
    std::string header;
};

/** The header field that reports decryption to the recipient; inbound copies are removed (they are forged). */
inline constexpr const char* k_decryption_header = "X-Segel-Decryption";

/**
 * Decrypts an inbound message when it is enveloped-data or
 * authEnveloped-data and, for every envelope recipient, the gateway holds the
 * key of a certificate that names that recipient and is a recipient of the
 * message. Strictly one of those keys is used (never a key for another
 * address), so a captured message re-sent to another mailbox stays closed.
 */
InboundDecryption decrypt_inbound(const Gateway& gateway, const std::vector<std::string>& recipients,
                                  const smime::Blob& message);

/**
 * For segelctl decrypt without --to: the first address of every held key the
 * message is encrypted to (empty when it is not encrypted or for none of them).
 */
std::vector<std::string> addressed_recipients(const Gateway& gateway, const smime::Blob& message);

}  // namespace segel::engine
