#pragma once
// Inbound mail: verify the S/MIME signature, and say what to change on the
// message — remove forged Authentication-Results, add ours, tag the subject,
// deliver / quarantine / reject official-domain mail that arrives unsigned
// from outside (R12, R13), and keep trusted signers' certificates.
// Knows nothing of libmilter and does not log: the milter applies and logs.
#include "engine/gateway.h"
#include "smime/verify.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace segel::engine {

/** What to do with one inbound message. */
struct InboundEdits {
    enum class Disposition { Deliver, Quarantine, Reject };

    /** Header fields to delete: name as written and its 1-based index among fields of that name (smfi_chgheader). */
    std::vector<std::pair<std::string, int>> remove;
    /** Fields to insert at the top of the header (index 0), in this order; values fold with "\n\t". */
    std::vector<smime::Header> add;
    /** The new Subject value (without leading space) when it changes. */
    std::optional<std::string> new_subject;
    Disposition disposition = Disposition::Deliver;
    std::string reply_code;   ///< Reject: "550"
    std::string reply_xcode;  ///< Reject: "5.7.1"
    std::string reply_text;   ///< Reject: what the sender reads; Quarantine: the hold reason
    /** One line for the log: result, signer, serial, reason, action (never message content). */
    std::string summary;
    /** Set when this is an incident for the report (R12): official From, from outside, no valid signature. */
    std::string incident;
    smime::VerifyResult result;
    std::string harvested;     ///< the certificate file written, or ""
    std::string harvest_note;  ///< why nothing was written when a write was attempted
};

/**
 * The verification options of the gateway's "inbound:" settings at @p now
 * (CRL files are cached and re-read when they change on disk).
 * @throws smime::Error{Credential} when a configured CRL file cannot be read
 */
smime::VerifyOptions verify_options(const config::Settings& settings, TimePoint now);

/**
 * Decides everything for one inbound message.
 * @param env     the envelope (client address, From addresses)
 * @param message headers and body exactly as received (CRLF)
 * @param now     the verification moment
 * @param not_verified when set, the message is not verified (e.g. larger than
 *        milter.max_message_size: only its head was kept) and the result is
 *        temperror with this reason; forged results are still removed
 * Never throws for bad message bytes (they give permerror); harvesting
 * problems end up in harvest_note.
 */
InboundEdits inbound(const Gateway& gateway, const policy::Envelope& env, const smime::Blob& message, TimePoint now,
                     const std::string& not_verified = {});

/**
 * The Authentication-Results fields of @p message that claim @p authserv_id
 * (RFC 8601 §5): name as written and per-name index, in header order.
 */
std::vector<std::pair<std::string, int>> forged_results(std::string_view message, const std::string& authserv_id);

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
