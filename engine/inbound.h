#pragma once
// Inbound mail: verify the S/MIME signature and gather what the Session turns
// into edits — forged Authentication-Results to remove, ours, the subject tag,
// and the sender-protection disposition (policy/inbound.h: R12, R13) — and keep
// trusted signers' certificates. Knows nothing of libmilter; does not log.
#include "engine/crl_files.h"
#include "engine/gateway.h"
#include "engine/head.h"
#include "policy/inbound.h"
#include "smime/verify.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace segel::engine {

/** Everything decided for one inbound message, before it becomes Edits (engine/session.cpp). */
struct InboundCheck {
    smime::VerifyResult result;
    policy::InboundDecision decision;
    policy::Verdict verdict = policy::Verdict::None;  ///< the result as policy reads it
    /** Authentication-Results fields claiming our authserv-id (RFC 8601 §5): name as written, per-name index. */
    std::vector<std::pair<std::string, int>> forged;
    std::string authentication_results;      ///< the value of ours
    std::optional<std::string> new_subject;  ///< the new raw Subject, when it changes
    std::string harvested;                   ///< the certificate files written, or ""
    std::string harvest_note;                ///< why nothing was written when a write was attempted
};

/** Verification options, with the CRLs they point to held alive for as long as they are used. */
struct InboundOptions {
    smime::VerifyOptions options;
    std::vector<std::shared_ptr<const CrlFiles::Set>> crls;
};

/** The bounds of inbound.limits, for verification and decryption alike (smime/limits.h). */
smime::Limits inbound_limits(const config::Settings& settings);

/**
 * The verification options of the gateway's "inbound:" settings at @p now
 * (the configured CRL files, re-read when they change on disk).
 * @throws smime::Error{Credential} when a configured CRL file cannot be read
 */
InboundOptions verify_options(const Gateway& gateway, TimePoint now);

/**
 * Adds the revocation service's check (CRLs from the distribution points,
 * OCSP where there is none; services/revocation.h) to @p options, with the
 * revocation.verify.unknown policy. Nothing when revocation.enabled is false.
 */
void add_revocation(smime::VerifyOptions& options, const Gateway& gateway);

/**
 * Decides everything for one inbound message.
 * @param env     the envelope (client address, From addresses)
 * @param head    the message's header fields as received
 * @param message headers and body exactly as received (CRLF), or as decrypted
 * @param now     the verification moment
 * @param not_verified when set, the message is not verified (e.g. larger than
 *        milter.max_message_size: only its head was kept) and the result is
 *        temperror with this reason; forged results are still removed
 * Never throws for bad message bytes (they give permerror); harvesting
 * problems end up in harvest_note.
 */
InboundCheck inbound(const Gateway& gateway, const policy::Envelope& env, const Head& head, const smime::Blob& message,
                     TimePoint now, const std::string& not_verified = {});

/** The Authentication-Results fields of @p head that claim @p authserv_id, in header order. */
std::vector<std::pair<std::string, int>> forged_results(const Head& head, const std::string& authserv_id);

/**
 * The Subject with our tag: earlier copies of any of our tags (forged from
 * outside, or from an earlier pass) are removed first, so a tag is always ours.
 * @param subject the raw Subject value (RFC 2047 words allowed), nullopt when absent
 * @param tag     the tag text to put in front ("" = none, only clean)
 * @return the new raw value, or nullopt when nothing changes
 */
std::optional<std::string> tag_subject(const std::optional<std::string>& subject, const std::string& tag,
                                       const config::Inbound::SubjectTag& tags);

/**
 * Stores a trusted signer's certificate as DIR/ADDRESS.pem for each of its
 * addresses, atomically; an existing certificate with a later or equal
 * notBefore is kept ("newest wins"). Returns the files written.
 * @throws smime::Error{Io} when the directory cannot be written
 */
std::vector<std::string> harvest(const std::string& directory, X509* cert, TimePoint now);

}  // namespace segel::engine
