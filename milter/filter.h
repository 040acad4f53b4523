#pragma once
// One milter connection, in plain C++: what each libmilter callback does,
// given the MTA's side (macros, and the Actions that change the message).
// The extern "C" shims in callbacks.cpp only translate SMFICTX to this; the
// unit tests drive it directly with recording actions. Every method is safe
// in any order a client may send (MAIL without CONNECT, a header without
// MAIL, reuse after an abort): a step with no message to act on does nothing.
#include "engine/edits.h"
#include "engine/gateway.h"
#include "engine/session.h"
#include "milter/runtime.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segel::milter {

/** The MTA's side of one connection. */
class Mta {
public:
    virtual ~Mta() = default;
    /** A macro value ("i", "{auth_authen}", "{client_addr}"); "" when the MTA did not send it. */
    virtual std::string macro(const char* name) = 0;
    /** Where the edits of a message go. */
    virtual engine::Actions& actions() = 0;
    /** Whether an action already reached the MTA for the current message. */
    [[nodiscard]] virtual bool changed() const = 0;
    /** A new message begins: forget changed(). */
    virtual void reset() = 0;
};

/** What a callback answers: a reply, or none where the MTA expects none (SMFIP_NR_*). */
struct Answer {
    engine::Reply reply;
    bool no_reply = false;
};

/** Receives every finished message's Outcome (the log, and later the audit trail and metrics). */
using Reporter = std::function<void(const engine::Outcome&)>;

/**
 * Records a finished message's Outcome in the audit trail before @p reply goes
 * to the MTA (milter/audit_record.h); returns the reply to give instead when
 * the record could not be written and the mail must wait.
 */
using Recording = std::function<std::optional<engine::Reply>(const engine::Outcome&, const engine::Reply& reply)>;

/** Where a connection gets its configuration snapshot (pinned at connect) and its clock. */
struct FilterContext {
    std::function<std::shared_ptr<const engine::Gateway>()> snapshot;
    Reporter report;
    Recording record;  ///< empty: no audit trail
    /** Adds the incidents of the per-login windows to a finished message (milter/incidents.h); empty: none. */
    std::function<void(engine::Outcome&)> detect;
    engine::Clock clock;  ///< empty: the system clock
};

class Filter {
public:
    explicit Filter(FilterContext context) : m_context(std::move(context)) {}

    /** The protocol options the MTA agreed to (SMFIP_HDR_LEADSPC, SMFIP_NR_HDR, SMFIP_NR_BODY). */
    void negotiated(bool leading_space, bool no_reply_header, bool no_reply_body);
    Answer connect(std::string host, std::string ip);
    Answer mail_from(Mta& mta, std::string_view sender);
    Answer recipient(Mta& mta, std::string_view address);
    Answer header(Mta& mta, std::string_view name, std::string_view value);
    Answer end_of_headers(Mta& mta);
    Answer body(Mta& mta, std::string_view chunk);
    Answer end_of_message(Mta& mta);
    /** SMFIC_ABORT: the message is gone; the connection stays. */
    void abort();

    /**
     * An exception at @p step (the exception firewall in callbacks.cpp calls this):
     * answered now, or kept for the next step with a reply when the MTA expects
     * none here (header and body under SMFIP_NR_*).
     */
    Answer fault(Mta& mta, const char* step, const std::exception& error);

    /** The queue id of the current message, or "NOQUEUE". */
    [[nodiscard]] std::string queue_id() const;
    [[nodiscard]] bool leading_space() const { return m_leading_space; }

private:
    std::shared_ptr<const engine::Gateway> gateway();
    void note_queue_id(Mta& mta);
    /** Reports the Outcome when the message is decided, and ends it. */
    Answer answer(engine::Reply reply, bool no_reply = false);
    void end_message();
    std::optional<Answer> answer_deferred_fault(Mta& mta);

    FilterContext m_context;
    std::shared_ptr<const engine::Gateway> m_gateway;  ///< pinned at connect
    engine::ConnectionFacts m_connection;
    bool m_leading_space = false;
    bool m_no_reply_header = false;
    bool m_no_reply_body = false;
    std::unique_ptr<engine::Session> m_session;
    std::unique_ptr<InFlight> m_in_flight;  ///< counted while a message is open, so that a stop waits for it
    /** A refusal or fault from a step without a reply, answered at the next step that has one. */
    std::optional<engine::Reply> m_pending;
    std::optional<std::pair<std::string, std::string>> m_pending_fault;  ///< step, what
};

}  // namespace segel::milter
