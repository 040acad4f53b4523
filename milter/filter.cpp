#include "milter/filter.h"

#include <malloc.h>

#include <stdexcept>

namespace segel::milter {

void Filter::negotiated(bool leading_space, bool no_reply_header, bool no_reply_body) {
    m_leading_space = leading_space;
    m_no_reply_header = no_reply_header;
    m_no_reply_body = no_reply_body;
}

std::shared_ptr<const engine::Gateway> Filter::gateway() {
    if (!m_gateway) {
        m_gateway = m_context.snapshot();  // a client that sent MAIL without CONNECT
    }
    return m_gateway;
}

Answer Filter::connect(std::string host, std::string ip) {
    m_gateway = m_context.snapshot();
    m_connection.client_name = std::move(host);
    m_connection.client_ip = std::move(ip);
    end_message();  // a connection reused after QUIT_NC starts clean
    return {};
}

std::string Filter::queue_id() const {
    if (m_session && !m_session->queue_id().empty()) {
        return m_session->queue_id();
    }
    return "NOQUEUE";
}

void Filter::note_queue_id(Mta& mta) {
    // Postfix names the queue file only once it exists (after the first valid
    // RCPT by default), so the id is asked for again until it is known.
    if (m_session && m_session->queue_id().empty()) {
        m_session->set_queue_id(mta.macro("i"));
    }
}

void Filter::end_message() {
    const bool large = m_session && m_session->large();
    m_session.reset();
    m_in_flight.reset();
    m_pending.reset();
    m_pending_fault.reset();
    if (large) {
        malloc_trim(0);  // glibc keeps freed memory in its arenas: hand a large message's back
    }
}

Answer Filter::answer(engine::Reply reply, bool no_reply) {
    if (m_session && m_session->done()) {
        engine::Outcome outcome = m_session->take_outcome();  // the session ends below
        if (outcome.queue_id.empty()) {
            outcome.queue_id = "NOQUEUE";
        }
        end_message();
        if (m_context.detect) {
            m_context.detect(outcome);
        }
        if (m_context.record) {
            if (auto instead = m_context.record(outcome, reply)) {  // committed before the answer, or deferred
                reply = std::move(*instead);
                outcome.notes.emplace_back("deferred: the audit trail could not be written");
            }
        }
        if (m_context.report) {
            m_context.report(outcome);
        }
    }
    return {std::move(reply), no_reply};
}

Answer Filter::mail_from(Mta& mta, std::string_view sender) {
    end_message();
    mta.reset();
    m_session = std::make_unique<engine::Session>(gateway(), m_connection, m_context.clock);
    m_in_flight = std::make_unique<InFlight>();
    m_session->mail_from(sender, mta.macro("{auth_authen}"));
    note_queue_id(mta);
    return {};
}

Answer Filter::recipient(Mta& mta, std::string_view address) {
    if (m_session && !m_session->done()) {
        m_session->recipient(address);
        note_queue_id(mta);
    }
    return {};
}

Answer Filter::header(Mta& /*mta*/, std::string_view name, std::string_view value) {
    if (m_session && !m_session->done()) {
        // The field as it was written: with SMFIP_HDR_LEADSPC the MTA gives the value
        // exactly as after the colon (passed on as it is: a field as large as the message is
        // not copied here); without it, it dropped one leading space.
        if (m_leading_space) {
            m_session->header(name, value);
        } else {
            m_session->header(name, " " + std::string(value));
        }
    }
    return {{}, m_no_reply_header};
}

std::optional<Answer> Filter::answer_deferred_fault(Mta& mta) {
    if (!m_pending_fault || !m_session) {
        return std::nullopt;
    }
    const auto [step, what] = *m_pending_fault;
    m_pending_fault.reset();
    const std::runtime_error error(what);
    return answer(m_session->fault(step, error, mta.changed()));
}

Answer Filter::end_of_headers(Mta& mta) {
    if (!m_session || m_session->done()) {
        return {};
    }
    note_queue_id(mta);
    if (auto a = answer_deferred_fault(mta)) {  // a header callback failed (no reply was possible there)
        return *a;
    }
    return answer(m_session->end_of_headers());
}

Answer Filter::body(Mta& mta, std::string_view chunk) {
    if (!m_session || m_session->done() || m_pending || m_pending_fault) {
        return {{}, m_no_reply_body};
    }
    engine::Reply r = m_session->body(chunk);
    if (r.kind == engine::Reply::Kind::Continue) {
        return {{}, m_no_reply_body};
    }
    if (m_no_reply_body) {
        // With SMFIP_NR_BODY the MTA streams the body without waiting for a reply
        // per chunk: the refusal is answered at the end of the message.
        m_pending = std::move(r);
        return {{}, true};
    }
    note_queue_id(mta);
    return answer(std::move(r));
}

Answer Filter::end_of_message(Mta& mta) {
    if (!m_session) {
        return {};
    }
    note_queue_id(mta);
    if (auto a = answer_deferred_fault(mta)) {
        return *a;
    }
    if (m_pending) {
        engine::Reply r = std::move(*m_pending);
        m_pending.reset();
        return answer(std::move(r));
    }
    if (m_session->done()) {
        return answer({});
    }
    const engine::Edits edits = m_session->end_of_message();
    engine::apply(edits, mta.actions());
    return answer(edits.reply);
}

void Filter::abort() {
    end_message();
}

Answer Filter::fault(Mta& mta, const char* step, const std::exception& error) {
    const std::string s = step;
    const bool no_reply = (s == "header" && m_no_reply_header) || (s == "body" && m_no_reply_body);
    if (!m_session || m_session->done()) {
        // Outside a message (connect, negotiate, a step after the decision): reported, then deferred.
        engine::Outcome o;
        o.queue_id = queue_id();
        o.client_ip = m_connection.client_ip;
        o.decision = engine::Decision::Error;
        o.error = engine::InternalError{s, error.what(), false};
        end_message();
        const engine::Reply reply =
            engine::Reply::refuse("451", "4.3.0", "segel: temporary failure; please try again later");
        if (m_context.record) {
            m_context.record(o, reply);
        }
        if (m_context.report) {
            m_context.report(o);
        }
        return {reply, no_reply};
    }
    if (no_reply) {
        // A reply here would be dropped by libmilter: kept, answered at the next step with a reply.
        if (!m_pending_fault) {
            m_pending_fault.emplace(s, error.what());
        }
        return {{}, true};
    }
    return answer(m_session->fault(s, error, mta.changed()));
}

}  // namespace segel::milter
