#pragma once
// One message through the gateway: the one orchestration the milter and
// every segelctl command share. Fed the connection facts, the envelope, the
// header fields and the body as they arrive; answers at end of headers (go
// on, or refuse) and at end of message returns the Edits to apply. What was
// done and why is the Outcome (engine/outcome.h), complete when done().
//
//   Postfix ─ milter shims ─ guard() ─► Session ─ policy::decide …
//                                         ├─ smime sign / verify / encrypt / decrypt
//                                         └─► Edits (applied by the caller) + Outcome
//
// Knows nothing of libmilter and does not log.
#include "engine/edits.h"
#include "engine/gateway.h"
#include "engine/head.h"
#include "engine/outcome.h"

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::engine {

/** Where the message comes from (the SMTP client as the MTA saw it). */
struct ConnectionFacts {
    std::string client_ip;    ///< "192.0.2.7", "IPv6:…", or what the MTA reported
    std::string client_name;  ///< the client's host name, when known
};

/** The clock a session judges validity at (tests and `segelctl --at` pin it). */
using Clock = std::function<TimePoint()>;

class Session {
public:
    /** @param clock empty: the system clock */
    Session(std::shared_ptr<const Gateway> gateway, ConnectionFacts connection, Clock clock = {});

    /** The MTA's queue id, whenever it becomes known (it names the log lines and the record). */
    void set_queue_id(std::string id);
    [[nodiscard]] const std::string& queue_id() const { return m_outcome.queue_id; }

    /** MAIL FROM: the envelope sender (with or without <>) and the SMTP AUTH login ("" when none). */
    void mail_from(std::string_view sender, std::string auth_login);
    /** RCPT TO (with or without <>). */
    void recipient(std::string_view address);
    /**
     * One header field: @p raw is everything after the colon exactly as
     * received, leading white space included, folds as CRLF or LF + WSP.
     */
    void header(std::string_view name, std::string_view raw);
    /** End of headers: the policy decision. Continue, Accept (nothing to do), or a refusal. */
    Reply end_of_headers();
    /** A piece of the body; a refusal when outbound mail passes milter.max_message_size. */
    Reply body(std::string_view chunk);
    /**
     * End of message: what to change and how to answer. The body writer of the
     * edits runs when they are applied (engine::apply); the Outcome is complete
     * once they are.
     */
    Edits end_of_message();

    /**
     * A failure while processing this message (an exception at @p step, or
     * while its edits were applied). Answers: 451 by default; accepted
     * unchanged only when milter.on_internal_error says so and nothing of the
     * message was changed yet (@p changed: some edit already reached the MTA).
     */
    Reply fault(const std::string& step, const std::exception& error, bool changed);

    /** True once the message has its final decision (refused, accepted, edited, or failed). */
    [[nodiscard]] bool done() const { return m_done; }
    [[nodiscard]] const Outcome& outcome() const { return m_outcome; }
    /** The Outcome moved out, for a caller that ends the session next (one copy less per message). */
    [[nodiscard]] Outcome take_outcome() { return std::move(m_outcome); }
    [[nodiscard]] const Head& head() const { return m_head; }
    [[nodiscard]] const Gateway& gateway() const { return *m_gateway; }
    /** Bytes received so far (head and body). */
    [[nodiscard]] std::size_t size() const { return m_size; }
    /** The message is larger than the in-memory spool limit (its memory is worth handing back). */
    [[nodiscard]] bool large() const;

private:
    Reply refuse(const policy::Decision& d);
    Edits inbound_edits(TimePoint now);
    Edits outbound_edits(TimePoint now);
    void finish(Decision decision);
    void record_decision(const policy::Decision& d);

    std::shared_ptr<const Gateway> m_gateway;
    Clock m_clock;
    policy::Envelope m_env;
    std::vector<std::string> m_recipients;
    Head m_head;
    /**
     * Inbound: fields only this gateway may write that came beyond the head's
     * limit (name as written, per-name index), removed like the others; more
     * than k_late_fields of them and the message is refused.
     */
    static constexpr std::size_t k_late_fields = 100;
    std::vector<std::pair<std::string, int>> m_late_results;     ///< Authentication-Results with our authserv-id
    std::vector<std::pair<std::string, int>> m_late_decryption;  ///< X-Segel-Decryption
    bool m_late_flood = false;
    std::string m_bad_field;  ///< the first header field whose name is not RFC 5322 ftext or whose value breaks a line
                              ///< without a fold, and why (unsignable)
    smime::Blob m_spool;
    std::string m_head_lines;  ///< header lines not yet in m_spool (end_of_headers adds the rest)
    std::size_t m_size = 0;
    bool m_over_limit = false;
    bool m_headers_done = false;
    std::optional<policy::Decision> m_decision;
    std::optional<smime::canonical::Scanner> m_body_scan;  ///< outbound: scanned while it arrives
    std::shared_ptr<bool> m_body_started;                  ///< a body writer handed out its first piece
    bool m_done = false;
    Outcome m_outcome;
};

/** A whole message fed to a session at once (segelctl, tests): head fields and body split from @p message. */
struct Transcript {
    ConnectionFacts connection;
    std::string mail_from;
    std::string login;
    std::vector<std::string> recipients;
    std::string queue_id = "NOQUEUE";
};

/** What running a message through a session gave. */
struct Processed {
    Reply reply;  ///< the final answer (end of headers, body or end of message)
    Outcome outcome;
    RecordingActions actions;  ///< the edits as applied, and the message they make
};

/**
 * Runs @p message through a Session exactly as the milter does (header by
 * header, the body in 64 KB pieces, the edits applied to a recording), for
 * segelctl and tests. Faults are answered as the milter answers them.
 */
Processed process(std::shared_ptr<const Gateway> gateway, const Transcript& transcript, std::string_view message,
                  Clock clock = {});

}  // namespace segel::engine
