#pragma once
// The witness mail (docs/audit.md, "Witnesses"): once a day the latest
// checkpoint goes, S/MIME-signed with the seal, to outside addresses (the
// Inspektorat, an archive), with a consistency proof from the checkpoint they
// received last. An insider who rewrites the database cannot also rewrite
// what the witnesses hold.
#include "audit/proof.h"
#include "audit/trail.h"

#include <optional>
#include <string>
#include <vector>

namespace segel::audit {

struct WitnessMail {
    std::string from;
    std::vector<std::string> to;
    std::string message;  ///< the whole message, CRLF line ends, signed (multipart/signed)
};

/**
 * Composes the mail for @p latest of @p node: a readable explanation, the
 * checkpoint text and its signature as attachments (byte-exact, base64), and
 * @p since (when given) as consistency.json; all signed with @p seal.
 * @param from the sender; empty: the seal certificate's first address
 * @throws Error{Credential} when signing fails, Error{Usage} without a sender address
 */
WitnessMail compose_witness(const Seal& seal, const std::string& node, const std::string& from,
                            const std::vector<std::string>& to, const StoredCheckpoint& latest,
                            const std::optional<ConsistencyProof>& since, TimePoint now);

/**
 * Submits @p mail over SMTP to @p host_port (the local Postfix, e.g.
 * "127.0.0.1:25"): EHLO, MAIL, one RCPT per witness, DATA.
 * @return the server's reply to the end of DATA ("250 2.0.0 Ok: queued as 4XyZ…")
 * @throws Error{Unavailable} naming the step and the reply when the server refuses or cannot be reached
 */
std::string submit(const std::string& host_port, const WitnessMail& mail);

}  // namespace segel::audit
