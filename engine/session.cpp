#include "engine/session.h"

#include "base/address.h"
#include "base/text.h"
#include "engine/encrypt.h"
#include "engine/inbound.h"
#include "policy/decide.h"
#include "policy/unsignable.h"
#include "smime/authres.h"
#include "smime/canonical.h"
#include "smime/error.h"
#include "smime/mime/fields.h"

#include <algorithm>
#include <optional>
#include <set>

namespace segel::engine {

namespace {

/**
 * What the message is, read from the head the milter's callbacks delivered: exactly one
 * Content-Type field, kept (the head within its limit), without NUL, decides as it does for
 * smime::classify; no such field: text/plain. nullopt for any other head: the spool decides.
 */
std::optional<smime::Protection> protection_from_head(const Head& head) {
    if (head.over_limit()) {
        return std::nullopt;
    }
    const int fields = head.count("Content-Type");
    if (fields == 0) {
        return smime::classify_content_type(std::nullopt);
    }
    const HeadField* ct = fields == 1 ? head.first("Content-Type") : nullptr;
    if (ct == nullptr || ct->raw.find('\0') != std::string::npos) {
        return std::nullopt;
    }
    return smime::classify_content_type(ct->raw);
}

using Steady = std::chrono::steady_clock;

double ms_since(Steady::time_point start) {
    return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

/** The address inside optional angle brackets, as given (the case is the sender's). */
std::string strip_brackets(std::string_view a) {
    a = base::trim(a);
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') {
        a = a.substr(1, a.size() - 2);
    }
    return std::string(a);
}

/**
 * Edits that replace the top-level entity's fields: every Content-* and
 * MIME-Version field goes, @p headers come. A new field whose name the
 * message already has replaces the first such field in place (one change
 * instead of a removal and an addition, and the order is kept).
 */
void replace_content_fields(const Head& head, const std::vector<smime::Header>& headers, std::vector<HeaderEdit>& out) {
    std::set<std::string> in_place;
    for (const auto& h : headers) {
        if (smime::canonical::is_content_header(h.name) && head.count(h.name) != 0) {
            in_place.insert(base::lower(h.name));
        }
    }
    // Every other top-level Content-* and MIME-Version field goes, highest index first,
    // so the indexes of those not yet removed do not shift.
    const auto& fields = head.fields();
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
        if (!smime::canonical::is_content_header(it->name) ||
            (it->index == 1 && in_place.count(base::lower(it->name)) != 0)) {
            continue;
        }
        out.push_back({HeaderEdit::Op::Delete, it->name, it->index, {}});
    }
    for (const auto& h : headers) {
        if (in_place.erase(base::lower(h.name)) != 0) {
            // A field that reads exactly as it would be written ("MIME-Version: 1.0") is left:
            // every change is a round trip that wakes the MTA.
            const HeadField* now = head.first(h.name);
            if (now == nullptr || now->raw != " " + h.value) {
                out.push_back({HeaderEdit::Op::Change, h.name, 1, h.value});
            }
        } else {
            out.push_back({HeaderEdit::Op::Add, h.name, 0, h.value});
        }
    }
}

/** Header lines gather here before they go to the spool in one piece (a spool on disk: one write). */
constexpr std::size_t k_head_piece = 64 * 1024;

/**
 * Appends @p text to @p buf with its line ends as CRLF (CRs dropped, each LF
 * written CRLF), handing @p buf to @p spool whenever it holds 64 KB: a field
 * as large as the message is never copied whole on the way.
 */
void append_crlf(std::string& buf, smime::Blob& spool, std::string_view text) {
    for (const char c : text) {
        if (c == '\r') {
            continue;
        }
        if (c == '\n') {
            buf += '\r';
        }
        buf += c;
        if (buf.size() >= k_head_piece) {
            spool.append(buf);
            buf.clear();
        }
    }
}

/** Whether every line break in a header value @p raw (LF or CRLF) is a fold: followed by SP or HTAB. */
bool folds_only(std::string_view raw) {
    for (std::size_t at = raw.find('\n'); at != std::string_view::npos; at = raw.find('\n', at + 1)) {
        if (at + 1 == raw.size() || (raw[at + 1] != ' ' && raw[at + 1] != '\t')) {
            return false;
        }
    }
    return true;
}

/** A body writer that hands out @p body (a string) in pieces of at most 64 KB. */
BodyWriter string_body(std::shared_ptr<const std::string> body) {
    return [body](const smime::BodySink& sink) {
        constexpr std::size_t k_piece = 65535;
        for (std::size_t off = 0; off < body->size(); off += k_piece) {
            sink(std::string_view(*body).substr(off, k_piece));
        }
    };
}

/**
 * The Sender field of a message signed with the organisation seal (RFC 5322
 * §3.6.2, RFC 8550 §3: recipients match the signer against From or Sender):
 * the seal's name from its certificate, quoted, and its address. A name that
 * is not plain printable ASCII is left out rather than encoded.
 */
std::string seal_sender_value(const std::string& address, const std::string& name) {
    const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f;
    });
    if (!plain) {
        return "<" + address + ">";
    }
    std::string quoted = "\"";
    for (const char c : name) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    return quoted + "\" <" + address + ">";
}

/** Edits for a sealed message: every Sender field it has goes (highest index first), the seal's comes. */
void seal_sender_edits(const Head& head, const policy::Decision& d, const policy::CertFacts& seal,
                       std::vector<HeaderEdit>& out) {
    if (d.sealed_by.empty()) {
        return;
    }
    const auto existing = head.all("Sender");
    for (auto it = existing.rbegin(); it != existing.rend(); ++it) {
        out.push_back({HeaderEdit::Op::Delete, (*it)->name, (*it)->index, {}});
    }
    out.push_back({HeaderEdit::Op::Add, "Sender", 0, seal_sender_value(d.sealed_by, seal.common_name)});
}

/** Warning lines for a time-stamp that an authority did not give (the signature went out without one). */
void note_time_stamp(Outcome& o) {
    if (!o.time_stamp) {
        return;
    }
    for (const auto& f : o.time_stamp->failures) {
        o.notes.push_back("time-stamp: " + f);
    }
    if (!o.time_stamp->stamped) {
        o.notes.emplace_back(
            "signed without a time-stamp: no authority gave a valid one (timestamping.on_failure: sign)");
    }
}

CertificateUsed certificate_used(const policy::CertFacts& c, const smime::Credential& credential) {
    const bool token = credential.key && credential.key->in_token();
    return {c.serial, c.fingerprint, c.subject, c.id, token ? "pkcs11" : "file", c.not_after, {}};
}

const char* revocation_word(policy::RevocationFacts::State s) {
    using State = policy::RevocationFacts::State;
    switch (s) {
        case State::Good:
            return "good";
        case State::Revoked:
            return "revoked";
        case State::Unknown:
            return "unknown";
        case State::NotChecked:
            break;
    }
    return "not-checked";
}

/** What the outbound decision relied on (R6), for the Outcome. */
RevocationEvidence revocation_evidence(const policy::RevocationUsed& u) {
    const policy::RevocationFacts& f = u.facts;
    RevocationEvidence e{u.serial, revocation_word(f.state), f.reason, std::nullopt, f.source, f.url, u.note};
    if (f.state == policy::RevocationFacts::State::Revoked) {
        e.revoked_at = f.revoked_at;
    }
    return e;
}

/** The inbound signer's revocation evidence at @p now, for the Outcome. */
RevocationEvidence revocation_evidence(const std::string& serial, const smime::RevocationStatus& st, TimePoint now) {
    using State = smime::RevocationState;
    RevocationEvidence e;
    e.serial = serial;
    e.status = st.state == State::NotChecked ? "not-checked" : smime::to_string(st.state);
    if (st.state == State::Revoked) {
        e.reason = st.reason;
        e.revoked_at = st.revoked_at;
    }
    e.source = smime::to_string(st.source);
    e.url = st.url;
    e.evidence = smime::evidence(st, now);
    return e;
}

VerificationFacts verification_facts(const smime::VerifyResult& r, TimePoint now) {
    VerificationFacts v;
    v.result = r.result;
    v.problem = r.problem;
    v.reason = r.reason;
    v.identifier = r.identifier;
    v.signer_name = r.signer_name;
    v.serial = r.serial;
    v.fingerprint = r.signer_fingerprint;
    v.issuer = r.issuer;
    v.digest = r.digest;
    v.signing_time = r.signing_time;
    v.partially_signed = r.partially_signed;
    v.part = r.part;
    v.weaknesses = r.weaknesses;
    v.sealed_for = r.sealed_for;
    v.time_stamp = r.time_stamp;
    v.time_stamp_tsa = r.time_stamp_tsa;
    v.time_stamp_error = r.time_stamp_error;
    if (r.signature_valid && r.signer_cert) {
        v.revocation = revocation_evidence(r.serial, r.revocation, now);
    }
    return v;
}

/** The organisational unit (OPD) a message belongs to: the official domain of its first official address. */
/**
 * The Outcome's one line of why for verified inbound mail: what was done and the verdict, e.g.
 * "deliver: smime=pass (good signature) signer siti@dinas.example.go.id" (the policy's summary
 * at the end of headers only said that inbound mail is not signed here).
 */
std::string verdict_summary(const VerificationFacts& v) {
    std::string out = v.action + ": smime=" + smime::to_string(v.result);
    if (!v.reason.empty()) {
        out += " (" + v.reason + ")";
    }
    if (!v.identifier.empty()) {
        out += " signer " + v.identifier;
    }
    return out;
}

std::string unit_of(const config::Settings& s, const std::vector<std::string>& addresses) {
    for (const auto& a : addresses) {
        const std::string n = policy::normalize_address(a);
        if (policy::official_rule(s, n) != nullptr) {
            return base::domain_of(n);
        }
    }
    return "";
}

}  // namespace

Reply Reply::refuse(std::string code, std::string xcode, std::string text) {
    Reply r;
    r.kind = !code.empty() && code.front() == '4' ? Kind::Tempfail : Kind::Reject;
    r.code = std::move(code);
    r.xcode = std::move(xcode);
    r.text = std::move(text);
    return r;
}

Session::Session(std::shared_ptr<const Gateway> gateway, ConnectionFacts connection, Clock clock)
    : m_gateway(std::move(gateway)),
      m_clock(clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); })),
      m_spool(m_gateway->settings().milter.spool_memory_limit, m_gateway->settings().milter.spool_directory),
      m_body_started(std::make_shared<bool>(false)) {
    m_env.client_ip = connection.client_ip;
    m_outcome.client_ip = std::move(connection.client_ip);
    m_outcome.client_name = std::move(connection.client_name);
}

void Session::set_queue_id(std::string id) {
    m_outcome.queue_id = std::move(id);
}

void Session::mail_from(std::string_view sender, std::string auth_login) {
    m_env.mail_from = strip_brackets(sender);
    m_env.auth_login = std::move(auth_login);
    m_outcome.mail_from = m_env.mail_from;
    m_outcome.login = m_env.auth_login;
    // Mail from anyone costs bounded memory (issue 10 §3): its head is kept up to
    // inbound.limits.max_header_bytes, beyond which verification says permerror anyway.
    if (!policy::direction_of(m_gateway->settings(), m_env).outbound) {
        m_head.limit(m_gateway->settings().inbound.limits.max_header_bytes);
    }
}

void Session::recipient(std::string_view address) {
    m_recipients.push_back(strip_brackets(address));
    m_outcome.recipients.push_back(m_recipients.back());
}

void Session::header(std::string_view name, std::string_view raw) {
    if (m_bad_field.empty()) {
        // Postfix sends only RFC 5322 names and folds (a line break, then white space); signed,
        // another name would leave in a header no reader parses, and another line break would
        // end the header block as delivered, before the Content-Type this gateway writes.
        if (const std::string problem = smime::mime::name_problem(name); !problem.empty()) {
            m_bad_field = "header field name \"" + smime::mime::printable(name) + "\" " + problem;
        } else if (!folds_only(raw)) {
            m_bad_field =
                "header field \"" + std::string(name) +
                "\" has a line break that is not a fold (RFC 5322 2.2.3: a continued line starts with white space)";
        }
    }
    const bool kept = m_head.add(name, raw);
    // Spooled as it was written: "Name:" + the raw value, folds and line ends CRLF. Fields
    // gather in m_head_lines and reach the spool 64 KB at a time (a million small fields
    // from outside are not a million writes to a spool file), or as soon as they would
    // not fit in the spool's memory (a spool that cannot be written fails at this field).
    const std::size_t before = m_spool.size() + m_head_lines.size();
    m_head_lines.append(name);
    m_head_lines += ':';
    append_crlf(m_head_lines, m_spool, raw);
    m_head_lines += "\r\n";
    m_size += m_spool.size() + m_head_lines.size() - before;
    if (m_head_lines.size() >= std::min(k_head_piece, m_gateway->settings().milter.spool_memory_limit)) {
        m_spool.append(m_head_lines);
        m_head_lines.clear();
    }
    if (base::iequals(name, "From") && (!m_head.over_limit() || m_env.from_fields.empty())) {
        // Beyond the head's limit only a first From still counts (the one readers show).
        add_from_header(m_env, base::without_cr(raw));
    }
    if (!kept && m_head.over_limit()) {
        // A field only this gateway may write, beyond what the head keeps: its index is kept
        // so it is removed all the same, up to k_late_fields of them (more: refused).
        const bool decryption = base::iequals(name, k_decryption_header);
        const bool results = !decryption && base::iequals(name, "Authentication-Results") &&
                             smime::authres::claims(base::without_cr(raw), m_gateway->settings().inbound.authserv_id);
        if ((decryption || results) && !m_late_flood) {
            auto& late = decryption ? m_late_decryption : m_late_results;
            late.emplace_back(std::string(name), m_head.count(name));
            m_late_flood = m_late_decryption.size() + m_late_results.size() > k_late_fields;
        }
    }
}

bool Session::large() const {
    return m_size > m_gateway->settings().milter.spool_memory_limit;
}

void Session::record_decision(const policy::Decision& d) {
    m_outcome.direction = d.outbound ? Direction::Outbound : Direction::Inbound;
    m_outcome.reasons = d.reasons;
    m_outcome.summary = d.summary;
    m_outcome.signer = d.sender;
    m_outcome.matched_rule = d.matched_rule;
    m_outcome.header_from = m_env.header_from;
    if (d.outbound) {
        m_outcome.unit =
            d.sender.empty() ? unit_of(m_gateway->settings(), {m_env.mail_from}) : base::domain_of(d.sender);
    } else {
        m_outcome.unit = unit_of(m_gateway->settings(), m_recipients);
    }
}

void Session::finish(Decision decision) {
    m_outcome.decision = decision;
    m_done = true;
}

Reply Session::refuse(const policy::Decision& d) {
    m_outcome.reply_code = d.reply_code;
    m_outcome.reply_xcode = d.reply_xcode;
    m_outcome.reply_text = d.reply_text;
    m_outcome.reason_code = d.reason_code;
    m_outcome.summary = d.summary;
    if (m_outcome.reasons.empty() || m_outcome.reasons.back() != d.summary) {
        m_outcome.reasons.push_back(d.summary);
    }
    finish(!d.reply_code.empty() && d.reply_code.front() == '4' ? Decision::Defer : Decision::Refuse);
    return Reply::refuse(d.reply_code, d.reply_xcode, d.reply_text);
}

Reply Session::end_of_headers() {
    const auto started = Steady::now();
    m_headers_done = true;
    m_head_lines += "\r\n";
    m_spool.append(m_head_lines);
    m_head_lines = std::string();
    m_size += 2;
    const config::Settings& s = m_gateway->settings();
    const TimePoint now = m_clock();
    policy::Decision d = m_gateway->decide(m_env, now);
    record_decision(d);
    if (d.incident) {  // R12: an attempt to sign with a revoked or expired certificate
        m_outcome.incidents.push_back(*d.incident);
    }
    if (d.revocation_used) {
        m_outcome.revocation = revocation_evidence(*d.revocation_used);
    }
    if (d.action == policy::Action::Reject) {
        m_outcome.timings.decide_ms = ms_since(started);
        return refuse(d);
    }
    if (d.action == policy::Action::Pass && d.outbound) {
        // Not signed, so it cannot be encrypted either: refused when encryption is required.
        const OutboundPlan plan = plan_outbound(*m_gateway, m_recipients, m_head.value("Subject"), now);
        m_outcome.timings.decide_ms = ms_since(started);
        if (const auto refused = policy::refuse_unsignable(d, plan.decision)) {
            return refuse(*refused);
        }
        finish(Decision::Pass);
        return Reply::accept();
    }
    m_outcome.timings.decide_ms = ms_since(started);
    if (d.action == policy::Action::Pass) {
        const bool decrypts = s.encryption.decrypt_inbound && !m_gateway->credentials().empty();
        if (!s.inbound.enabled && !decrypts) {
            finish(Decision::Deliver);  // nothing inbound to do here
            return Reply::accept();
        }
        if (m_late_flood) {
            // Fields claiming this gateway's results are removed (RFC 8601 §5), one header change
            // each; beyond the head's limit only k_late_fields of them are, so the message is
            // not delivered with more.
            return refuse(policy::reject(
                policy::because(d, "header-too-large"),
                "message header too large: more than " + std::to_string(s.inbound.limits.max_header_bytes / 1024) +
                    " KB, followed by more than " + std::to_string(k_late_fields) + " Authentication-Results or " +
                    k_decryption_header + " fields naming this gateway (inbound.limits.max_header_bytes)",
                "552", "5.3.4"));
        }
        m_decision = std::move(d);  // verified (and decrypted) at end of message
        return Reply::go_on();
    }
    m_decision = std::move(d);
    // To be signed: scanned while it arrives, not read back for it; a message body, so its part
    // header lines may be up to 998 octets and it still is signed as received (smime/canonical.h).
    m_body_scan.emplace(smime::canonical::Layout::EntityBody);
    return Reply::go_on();
}

Reply Session::body(std::string_view chunk) {
    m_size += chunk.size();
    if (m_over_limit || !m_decision) {
        return Reply::go_on();
    }
    if (m_size > m_gateway->settings().milter.max_message_size) {
        m_over_limit = true;
        const auto refused = policy::refuse_too_large(m_gateway->settings(), *m_decision, m_size);
        if (!refused) {
            return Reply::go_on();  // inbound: delivered unverified (smime=temperror), never refused for size
        }
        m_spool = smime::Blob();  // nothing more is kept
        m_body_scan.reset();
        return refuse(*refused);
    }
    m_spool.append(chunk);
    if (m_body_scan) {
        m_body_scan->feed(chunk);
    }
    return Reply::go_on();
}

Edits Session::end_of_message() {
    Edits e;
    m_outcome.size = m_size;
    if (m_done) {  // refused for its size while the body arrived (answered now: SMFIP_NR_BODY)
        if (m_outcome.decision == Decision::Refuse || m_outcome.decision == Decision::Defer) {
            e.reply = Reply::refuse(m_outcome.reply_code, m_outcome.reply_xcode, m_outcome.reply_text);
        }
        return e;
    }
    if (!m_decision) {
        finish(Decision::None);
        return e;
    }
    const TimePoint now = m_clock();
    return m_decision->outbound ? outbound_edits(now) : inbound_edits(now);
}

Edits Session::inbound_edits(TimePoint now) {
    const auto started = Steady::now();
    const config::Settings& s = m_gateway->settings();
    Edits e;
    const bool decrypts = s.encryption.decrypt_inbound && !m_gateway->credentials().empty();
    // 1. Decryption (docs/encryption.md): forged status fields go; when the message opens,
    //    its entity replaces the top-level one and the spool holds the decrypted message,
    //    so that the verification that follows checks the inner signature.
    if (decrypts) {
        for (auto it = m_late_decryption.rbegin(); it != m_late_decryption.rend(); ++it) {
            e.headers.push_back({HeaderEdit::Op::Delete, it->first, it->second, {}});  // beyond the head's limit
        }
        const auto forged = m_head.all(k_decryption_header);
        for (auto it = forged.rbegin(); it != forged.rend(); ++it) {
            e.headers.push_back({HeaderEdit::Op::Delete, (*it)->name, (*it)->index, {}});
        }
        if (!m_over_limit) {
            InboundDecryption r = decrypt_inbound(*m_gateway, m_recipients, m_spool);
            if (r.outcome != InboundDecryption::Outcome::NotEncrypted) {
                DecryptionFacts f;
                f.result = r.outcome == InboundDecryption::Outcome::Decrypted ? DecryptionFacts::Result::Decrypted
                           : r.outcome == InboundDecryption::Outcome::Failed  ? DecryptionFacts::Result::Failed
                                                                              : DecryptionFacts::Result::NotOurs;
                f.detail = r.detail;
                f.key_owner = r.key_owner;
                f.serial = r.serial;
                f.smime_type = r.smime_type;
                f.cipher = r.cipher;
                m_outcome.decryption = f;
                if (!r.ignored.empty()) {
                    m_outcome.notes.push_back("decrypt: " + r.ignored);  // the sender's words, dropped: worth a line
                }
                e.headers.push_back({HeaderEdit::Op::Insert, k_decryption_header, 0, r.header});
            }
            if (r.outcome == InboundDecryption::Outcome::Decrypted) {
                std::vector<smime::Header> fields{{"MIME-Version", "1.0"}};
                for (const auto& h : r.entity.headers) {
                    if (!base::iequals(h.name, "MIME-Version")) {
                        fields.push_back(h);
                    }
                }
                replace_content_fields(m_head, fields, e.headers);
                smime::Blob plain(s.milter.spool_memory_limit, s.milter.spool_directory);
                plain.append(replace_entity(m_spool.view(), r.entity.headers, {}));  // the head; the body not copied
                plain.append(r.entity.body);
                m_spool = std::move(plain);
                e.body = string_body(std::make_shared<const std::string>(std::move(r.entity.body)));
            }
        }
    }
    if (!s.inbound.enabled) {
        m_outcome.timings.process_ms = ms_since(started);
        finish(Decision::Deliver);
        return e;
    }
    // 2. Verification (docs/verification.md): forged Authentication-Results removed (RFC 8601 §5),
    //    ours inserted at the top, the Subject tagged, the sender-protection disposition.
    const InboundCheck c = inbound(*m_gateway, m_env, m_head, m_spool, now,
                                   m_over_limit ? "larger than milter.max_message_size: not verified" : "");
    m_outcome.timings.process_ms = ms_since(started);
    VerificationFacts v = verification_facts(c.result, now);
    v.action = c.decision.action;
    v.forged_results_removed = c.forged.size() + m_late_results.size();
    v.harvested = c.harvested;
    v.harvest_note = c.harvest_note;
    m_outcome.summary = verdict_summary(v);
    m_outcome.verification = std::move(v);
    m_outcome.content_sha256 = c.result.content_sha256;
    policy::InboundIncidentFacts facts;
    facts.verdict = c.verdict;
    facts.reason = c.result.reason;
    facts.signer = m_outcome.verification->identifier;
    facts.serial = m_outcome.verification->serial;
    facts.signer_revoked = c.result.problem == smime::VerifyResult::Problem::Revoked;
    facts.official_sender = c.decision.official_sender;
    facts.forged = c.decision.incident;
    facts.client = m_env.client_ip;
    if (auto found = policy::inbound_incident(s, facts).incident) {  // R12
        m_outcome.incidents.push_back(std::move(*found));
    }
    if (c.decision.disposition == policy::InboundDecision::Disposition::Reject) {
        m_outcome.reply_code = c.decision.reply_code;
        m_outcome.reply_xcode = c.decision.reply_xcode;
        m_outcome.reply_text = c.decision.reply_text;
        m_outcome.reason_code = c.decision.reason_code;
        finish(Decision::Refuse);
        Edits refused;
        refused.reply = Reply::refuse(c.decision.reply_code, c.decision.reply_xcode, c.decision.reply_text);
        return refused;
    }
    auto removals = c.forged;  // highest index first, so the others do not shift
    removals.insert(removals.end(), m_late_results.begin(), m_late_results.end());
    std::sort(removals.begin(), removals.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [name, index] : removals) {
        e.headers.push_back({HeaderEdit::Op::Delete, name, index, {}});
    }
    e.headers.push_back({HeaderEdit::Op::Insert, "Authentication-Results", 0, c.authentication_results});
    if (c.new_subject) {
        e.headers.push_back(m_head.count("Subject") != 0
                                ? HeaderEdit{HeaderEdit::Op::Change, "Subject", 1, *c.new_subject}
                                : HeaderEdit{HeaderEdit::Op::Add, "Subject", 0, *c.new_subject});
    }
    if (c.decision.disposition == policy::InboundDecision::Disposition::Quarantine) {
        e.quarantine = c.decision.reply_text;
        finish(Decision::Quarantine);
    } else {
        finish(Decision::Deliver);
    }
    return e;
}

Edits Session::outbound_edits(TimePoint now) {
    const auto started = Steady::now();
    Edits e;
    if (m_over_limit) {  // refused at the body step already when the MTA waited for a reply
        return e;
    }
    // Mail the client already signed or encrypted is verified, then passed, refused or
    // signed over (policy rules 8-9), never waved through. What it is comes from the fields the
    // milter delivered, without a second reading of the spooled head (14.6 K instructions per
    // message, docs/performance.md, fix 23); an unusual head is classified from the spool.
    *m_decision = m_gateway->check_client_protection(*m_decision, m_spool, protection_from_head(m_head), now);
    const policy::Decision& d = *m_decision;
    if (!d.client_protection.empty()) {
        m_outcome.reasons = d.reasons;
        m_outcome.summary = d.summary;
    }
    if (d.action == policy::Action::Reject) {
        m_outcome.timings.process_ms = ms_since(started);
        Edits refused;
        refused.reply = refuse(d);
        return refused;
    }
    if (d.action == policy::Action::Pass) {
        // Passed unchanged, it cannot be encrypted either: refused when encryption is required.
        const OutboundPlan plan = plan_outbound(*m_gateway, m_recipients, m_head.value("Subject"), now);
        m_outcome.timings.process_ms = ms_since(started);
        if (const auto refused = policy::refuse_unsignable(d, plan.decision)) {
            Edits r;
            r.reply = refuse(*refused);
            return r;
        }
        finish(Decision::Pass);
        return e;
    }
    if (!d.client_protection.empty()) {
        m_outcome.notes.push_back("client protection: " + d.client_protection);  // wrapped: worth its own line
    }
    const policy::CertFacts& cert = m_gateway->certificates().at(*d.cert);
    m_outcome.certificate = certificate_used(cert, m_gateway->credentials().at(*d.cert));
    m_outcome.sealed_by = d.sealed_by;
    seal_sender_edits(m_head, d, cert, e.headers);
    m_outcome.certificate->compatibility = d.compatibility;
    m_outcome.format = m_gateway->settings().signing.format == config::SignFormat::Opaque ? "opaque" : "detached";
    const OutboundPlan plan = plan_outbound(*m_gateway, m_recipients, m_head.value("Subject"), now);
    for (const auto& r : plan.decision.reasons) {
        m_outcome.reasons.push_back("encryption: " + r);
    }
    EncryptionFacts enc;
    enc.considered = !plan.lookups.empty() || plan.decision.required;
    enc.required = plan.decision.required;
    enc.triggered = plan.decision.triggered;
    enc.lacking = plan.decision.lacking;
    enc.summary = plan.decision.summary;
    if (plan.decision.action == policy::EncryptAction::Reject) {
        m_outcome.encryption = enc;
        m_outcome.timings.process_ms = ms_since(started);
        Edits refused;
        refused.reply = refuse(policy::reject(policy::because(d, plan.decision.reason_code), plan.decision.reply_text,
                                              plan.decision.reply_code, plan.decision.reply_xcode));
        return refused;
    }
    // What the message itself makes unsignable is found here, before any edit exists, and is
    // answered permanently: 554 5.6.0 with the reason, or sent unsigned where the sender's domain
    // says so (policy::unsignable). Only the gateway's own faults go on to fault(): 451.
    std::shared_ptr<const smime::PreparedEntity> entity;
    try {
        if (!m_bad_field.empty()) {
            throw smime::Error(smime::Category::Malformed, m_bad_field);
        }
        entity = std::make_shared<const smime::PreparedEntity>(
            m_gateway->prepare(m_spool, now, m_body_scan ? &*m_body_scan : nullptr));
    } catch (const smime::Error& error) {
        if (error.category() != smime::Category::Malformed) {
            throw;
        }
        const policy::Decision u = policy::unsignable(m_gateway->settings(), d, error.what(), plan.decision.required);
        m_outcome.timings.process_ms = ms_since(started);
        m_outcome.certificate.reset();
        m_outcome.format.clear();
        Edits unsigned_edits;
        if (u.action == policy::Action::Pass) {
            m_outcome.summary = u.summary;
            m_outcome.reasons.push_back(u.summary);
            finish(Decision::Pass);
            unsigned_edits.reply = Reply::accept();
        } else {
            unsigned_edits.reply = refuse(u);
        }
        return unsigned_edits;
    }
    if (plan.decision.action == policy::EncryptAction::Encrypt) {
        // Signed into the spool, then encrypted: the new body is the ciphertext.
        const smime::SignedMessage sm = m_gateway->sign(d, *entity, now, {}, {}, &m_outcome.time_stamp);
        note_time_stamp(m_outcome);
        smime::EncryptedMessage out = encrypt_outbound(*m_gateway, d, plan, sm);
        enc.encrypted = true;
        enc.cipher = smime::cipher_name(out.cipher);
        enc.certificates = out.recipient_count;
        m_outcome.encryption = enc;
        m_outcome.content_sha256 = sm.content_sha256;
        m_outcome.reencoded = sm.rewrite.parts_reencoded + sm.rewrite.headers_reencoded;
        replace_content_fields(m_head, out.headers, e.headers);
        if (plan.new_subject) {
            e.headers.push_back({HeaderEdit::Op::Change, "Subject", 1, *plan.new_subject});
        }
        auto body = std::make_shared<const smime::Blob>(std::move(out.body));
        e.body = [body](const smime::BodySink& sink) { body->read(0, body->size(), sink); };
        m_outcome.timings.process_ms = ms_since(started);
        finish(Decision::SignEncrypt);
        return e;
    }
    if (enc.considered) {
        m_outcome.encryption = enc;
    }
    // Signed only: the new body streams to whoever applies the edits as it is made, so
    // a 20 MB message is never held in memory (smime::sign hashes it in the same pass).
    // The boundary is drawn now, so the new top-level fields are known before the body.
    smime::SignOptions options = m_gateway->sign_options(now);
    options.boundary = smime::new_boundary();
    replace_content_fields(m_head, smime::signed_headers(options), e.headers);
    const double before = ms_since(started);
    e.body = [this, now, entity, boundary = options.boundary, before](const smime::BodySink& sink) {
        const auto writing = Steady::now();
        std::shared_ptr<bool> started_flag = m_body_started;
        const smime::SignedMessage sm = m_gateway->sign(
            *m_decision, *entity, now,
            [&sink, started_flag](std::string_view piece) {
                *started_flag = true;
                sink(piece);
            },
            boundary, &m_outcome.time_stamp);
        note_time_stamp(m_outcome);
        m_outcome.content_sha256 = sm.content_sha256;
        m_outcome.reencoded = sm.rewrite.parts_reencoded + sm.rewrite.headers_reencoded;
        m_outcome.timings.process_ms = before + ms_since(writing);
        finish(Decision::Sign);
    };
    return e;
}

Reply Session::fault(const std::string& step, const std::exception& error, bool changed) {
    if (const auto* e = dynamic_cast<const smime::Error*>(&error);
        e != nullptr && e->category() == smime::Category::Unavailable) {
        // A key token or a signing service that cannot be used right now (docs/keys.md):
        // always 451, whatever on_internal_error says (accepting would send official mail
        // unsigned); it recovers by itself, so this is a deferral, not an internal error.
        const Reply r = Reply::refuse(
            "451", "4.3.0",
            "segel: the signing key or a signing service is unavailable right now; please try again later");
        m_outcome.reply_code = r.code;
        m_outcome.reply_xcode = r.xcode;
        m_outcome.reply_text = r.text;
        m_outcome.reason_code = "token-unavailable";
        m_outcome.notes.push_back(step + ": unavailable: " + e->what());
        finish(Decision::Defer);
        return r;
    }
    InternalError ie;
    ie.step = step;
    ie.what = error.what();
    const bool started = changed || *m_body_started;
    Reply r;
    // Once part of the message was changed, accepting would deliver it half
    // modified: that case always defers (the MTA then discards every change).
    if (!started && m_gateway->settings().milter.on_internal_error == config::OnError::Accept) {
        ie.accepted_unchanged = true;
        r = Reply::accept();
        m_outcome.notes.emplace_back("accepting unchanged (milter.on_internal_error: accept)");
    } else {
        if (started) {
            m_outcome.notes.emplace_back("part of the new message was already sent: deferring, not accepting");
        }
        r = Reply::refuse("451", "4.3.0",
                          "segel: temporary failure while processing the message; please try again later");
        m_outcome.reply_code = r.code;
        m_outcome.reply_xcode = r.xcode;
        m_outcome.reply_text = r.text;
    }
    m_outcome.error = std::move(ie);
    m_outcome.reason_code = "internal-error";
    finish(Decision::Error);
    return r;
}

Processed process(std::shared_ptr<const Gateway> gateway, const Transcript& t, std::string_view message, Clock clock) {
    const smime::mime::HeaderBlock block = smime::mime::split_fields(message);
    std::vector<RecordingActions::Field> fields;
    fields.reserve(block.fields.size());
    for (const auto& f : block.fields) {
        fields.push_back({f.name, f.raw});
    }
    // Canonical line ends on the wire: a stored message with LF line ends is sent as CRLF.
    const std::string body = smime::canonical::to_crlf(message.substr(std::min(block.body, message.size())));
    Processed out{{}, {}, RecordingActions(fields, body)};
    Session s(std::move(gateway), t.connection, std::move(clock));
    s.set_queue_id(t.queue_id);
    const char* step = "envfrom";
    auto finish = [&](Reply r) {
        out.reply = std::move(r);
        out.outcome = s.outcome();
        return std::move(out);
    };
    try {
        s.mail_from(t.mail_from, t.login);
        step = "envrcpt";
        for (const auto& r : t.recipients) {
            s.recipient(r);
        }
        step = "header";
        for (const auto& f : block.fields) {
            s.header(f.name, f.raw);
        }
        step = "eoh";
        if (Reply r = s.end_of_headers(); r.kind != Reply::Kind::Continue) {
            return finish(r);
        }
        step = "body";
        constexpr std::size_t k_chunk = 65535;  // what an MTA sends per body callback
        for (std::size_t off = 0; off < body.size(); off += k_chunk) {
            if (Reply r = s.body(std::string_view(body).substr(off, k_chunk)); r.kind != Reply::Kind::Continue) {
                return finish(r);
            }
        }
        step = "eom";
        Edits e = s.end_of_message();
        apply(e, out.actions);
        return finish(e.reply);
    } catch (const std::exception& e) {
        return finish(s.fault(step, e, !out.actions.recorded().empty()));
    }
}

}  // namespace segel::engine
