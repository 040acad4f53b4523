#pragma once
// A checkpoint: the size and root hash of a node's tree at a moment, chained
// to the previous checkpoint, in a small canonical text (docs/audit.md,
// "Checkpoints"), signed with the gateway's seal credential as a detached CMS
// SignedData over exactly those bytes.
#include "audit/event.h"
#include "smime/certificate.h"

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace segel::audit {

struct Checkpoint {
    std::string node;
    std::uint64_t sequence = 0;  ///< 0 for a node's first checkpoint, then +1
    std::uint64_t size = 0;      ///< the tree covers events 0 .. size-1
    Hash root{};                 ///< MTH of those events (RFC 9162)
    TimePoint time;
    Hash previous{};  ///< SHA-256 of the previous checkpoint's text; zero for sequence 0

    bool operator==(const Checkpoint&) const = default;
};

/** A checkpoint as stored and mailed: its text, the CMS signature, and an optional RFC 3161 token. */
struct SignedCheckpoint {
    std::string text;       ///< checkpoint_text(): the signed bytes
    std::string signature;  ///< DER CMS SignedData, detached, over @c text
    std::string timestamp;  ///< DER RFC 3161 TimeStampToken over @c text, or empty
};

/** The canonical text: seven LF-terminated lines, "segel-audit-checkpoint 1" first. */
std::string checkpoint_text(const Checkpoint& c);

/** Parses checkpoint_text() output; anything else (extra spaces, CRLF, upper-case hex) is refused. @throws
 * Error{Malformed} */
Checkpoint parse_checkpoint(std::string_view text);

/**
 * Signs @p text with @p seal: CMS SignedData, SHA-256, detached, binary, the
 * seal's certificate and @p chain included, signingTime set.
 * @throws Error{Credential} when OpenSSL refuses the key
 */
std::string sign_checkpoint(std::string_view text, const smime::Credential& seal,
                            const std::vector<smime::ossl::Ptr<X509>>& chain);

/** What checking a checkpoint signature found. */
struct SignatureCheck {
    bool valid = false;       ///< the signature is over exactly the text and made by a pinned seal
    std::string error;        ///< why not, for people
    std::string signer;       ///< the signer's subject, when found
    std::string fingerprint;  ///< SHA-256 of the signer certificate (hex), when found
};

/**
 * Checks @p signature over @p text. The signer certificate must be one of
 * @p pinned (SHA-256 fingerprints, hex): chains are not consulted, so an
 * expired seal still proves what it signed while it was in use, and no other
 * certificate — however well it chains — can sign a checkpoint.
 */
SignatureCheck check_signature(std::string_view text, std::string_view signature, const std::set<std::string>& pinned);

}  // namespace segel::audit
