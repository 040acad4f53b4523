#pragma once
// Per-connection and per-message state (OpenDKIM's pattern): a Connection
// pins the config snapshot; a Transaction lives from MAIL FROM to end of
// message or abort.
#include "engine/gateway.h"
#include "smime/blob.h"
#include "smime/canonical.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace segel::milter {

struct Transaction {
    explicit Transaction(const config::Settings& s) : spool(s.milter.spool_memory_limit, s.milter.spool_directory) {}

    std::string queue_id;
    policy::Envelope envelope;
    std::vector<std::string> recipients;
    /** Header fields in arrival order; the index per name is what smfi_chgheader takes. */
    std::vector<std::pair<std::string, int>> headers;
    std::map<std::string, int> header_count;  ///< lower-cased name → occurrences so far
    smime::Blob spool;
    std::size_t size = 0;
    /** Over milter.max_message_size: inbound mail is delivered unverified, outbound refused at end of message. */
    bool over_limit = false;
    /** A failure in a step without a reply (header, body): step and error, answered at the next reply. */
    std::optional<std::pair<std::string, std::string>> failure;
    bool body_sent = false;  ///< part of a replacement body went to the MTA: an error must tempfail
    /** Mail to be signed: its body scanned as it arrives (smime::SignOptions::body_scan). */
    std::optional<smime::canonical::Scanner> body_scan;
    /** The first Subject field's raw value (after the colon, as spooled, no CRs), for encryption triggers. */
    std::optional<std::string> subject;
    std::optional<policy::Decision> decision;

    /** Mail from outside to be verified (or decrypted), as decided at end of headers. */
    [[nodiscard]] bool inbound() const { return decision && !decision->outbound; }
};

struct Connection {
    std::shared_ptr<const engine::Gateway> gateway;  ///< pinned at connect
    std::string client_ip;
    std::string client_name;
    bool leading_space = false;    ///< SMFIP_HDR_LEADSPC negotiated
    bool no_reply_header = false;  ///< SMFIP_NR_HDR negotiated: header callbacks answer SMFIS_NOREPLY
    bool no_reply_body = false;    ///< SMFIP_NR_BODY negotiated: body callbacks answer SMFIS_NOREPLY
    std::unique_ptr<Transaction> transaction;
};

}  // namespace segel::milter
