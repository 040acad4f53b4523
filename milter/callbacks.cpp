#include "milter/callbacks.h"

#include "engine/encrypt.h"
#include "engine/inbound.h"
#include "milter/runtime.h"
#include "milter/transaction.h"
#include "smime/error.h"
#include "smime/mime/fields.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <utility>

namespace segel::milter {

namespace {

constexpr std::size_t k_chunk = 65535;  // MILTER_CHUNK_SIZE: the most one replacebody call carries

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
    return v != nullptr ? v : "";
}

Connection* connection(SMFICTX* ctx) {
    return static_cast<Connection*>(smfi_getpriv(ctx));
}

/** Gives libmilter's private pointer a Connection; it is reclaimed by detach() at close. */
Connection* attach(SMFICTX* ctx) {
    if (Connection* c = connection(ctx)) {
        return c;
    }
    auto owned = std::make_unique<Connection>();
    smfi_setpriv(ctx, owned.get());
    return owned.release();
}

void detach(SMFICTX* ctx) {
    std::unique_ptr<Connection> owned(connection(ctx));
    smfi_setpriv(ctx, nullptr);
}

std::string queue_id(SMFICTX* ctx) {
    Connection* c = connection(ctx);
    if (c != nullptr && c->transaction && !c->transaction->queue_id.empty()) {
        return c->transaction->queue_id;
    }
    const std::string id = macro(ctx, "i");
    if (c != nullptr && c->transaction && !id.empty()) {
        c->transaction->queue_id = id;
    }
    return id.empty() ? "NOQUEUE" : id;
}

/** SMTP reply text must be one line, and libmilter treats '%' specially. */
std::string reply_safe(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '\r' || ch == '\n') {
            out += ' ';
        } else if (ch == '%') {
            out += "%%";
        } else {
            out += ch;
        }
    }
    return out;
}

sfsistat set_reply(SMFICTX* ctx, const std::string& code, const std::string& xcode, const std::string& text) {
    std::string t = reply_safe(text);
    smfi_setreply(ctx, const_cast<char*>(code.c_str()), const_cast<char*>(xcode.c_str()), t.data());
    return code.front() == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

/**
 * What an internal error turns into: tempfail by default (mail is never lost).
 * Once part of a new body went to the MTA, accepting would deliver it half
 * replaced, so that case always tempfails (the MTA then discards every change).
 */
sfsistat internal_error(SMFICTX* ctx, const char* step, const std::string& what) {
    spdlog::error("{}: {}: internal error: {}", queue_id(ctx), step, what);
    Connection* c = connection(ctx);
    const bool body_sent = c != nullptr && c->transaction && c->transaction->body_sent;
    if (body_sent) {
        spdlog::warn("{}: {}: part of the new body was already sent: deferring, not accepting", queue_id(ctx), step);
    } else if (c != nullptr && c->gateway &&
               c->gateway->settings().milter.on_internal_error == config::OnError::Accept) {
        spdlog::warn("{}: {}: accepting unchanged (milter.on_internal_error: accept)", queue_id(ctx), step);
        return SMFIS_ACCEPT;
    }
    return set_reply(ctx, "451", "4.3.0",
                     "segel: temporary failure while processing the message; please try again later");
}

/** The exception firewall: nothing thrown may cross into libmilter (C). */
template <typename F>
sfsistat guard(SMFICTX* ctx, const char* step, F&& fn) noexcept {
    try {
        return fn();
    } catch (const std::exception& e) {
        try {
            return internal_error(ctx, step, e.what());
        } catch (...) {
            return SMFIS_TEMPFAIL;
        }
    } catch (...) {
        return SMFIS_TEMPFAIL;
    }
}

/**
 * The firewall for steps the MTA expects no reply to (SMFIP_NR_HDR, SMFIP_NR_BODY):
 * a reply there would be dropped by libmilter, so a failure is kept on the
 * transaction and answered at the next step that has a reply.
 */
template <typename F>
sfsistat guard_no_reply(SMFICTX* ctx, const char* step, bool no_reply, F&& fn) noexcept {
    if (!no_reply) {
        return guard(ctx, step, std::forward<F>(fn));
    }
    std::string what;
    try {
        return fn();
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what = "unknown error";
    }
    try {
        Connection* c = connection(ctx);
        if (c != nullptr && c->transaction && !c->transaction->failure) {
            c->transaction->failure.emplace(step, what);
        } else if (c == nullptr || !c->transaction) {
            spdlog::error("{}: {}: internal error outside a message: {}", queue_id(ctx), step, what);
        }
    } catch (...) {
    }
    return SMFIS_NOREPLY;
}

/** A failure guard_no_reply kept for this message, answered now that a reply is possible. */
std::optional<sfsistat> deferred_failure(SMFICTX* ctx, const Connection& c) {
    if (!c.transaction || !c.transaction->failure) {
        return std::nullopt;
    }
    const auto [step, what] = *c.transaction->failure;
    return internal_error(ctx, step.c_str(), what);
}

std::string address_text(const sockaddr* sa) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa == nullptr) {
        return "";
    }
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    }
    return buf;
}

std::string lower(std::string s) {
    for (auto& ch : s) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    return s;
}

/**
 * Ends the current message. glibc keeps freed memory in its arenas, so after a
 * message larger than the in-memory spool limit it is handed back to the system.
 */
void end_transaction(Connection& c) {
    const bool large =
        c.transaction && c.gateway && c.transaction->size > c.gateway->settings().milter.spool_memory_limit;
    c.transaction.reset();
    if (large) {
        malloc_trim(0);
    }
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    const unsigned long need = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
    if ((f0 & need) != need) {
        spdlog::error("the MTA does not offer header and body changes (milter_protocol >= 6 needed)");
        return SMFIS_REJECT;
    }
    *pf0 = need | (f0 & SMFIF_QUARANTINE);  // quarantine: inbound sender protection (engine/inbound.h)
    // Preserve the space after the colon so headers are rebuilt byte-exact (OpenDKIM);
    // no reply per header or body chunk (an error there is answered at the next step
    // that has a reply: end of headers, end of message); skip what we do not use.
    *pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA |
                 SMFIP_SKIP);
    *pf2 = 0;
    *pf3 = 0;
    Connection* c = attach(ctx);
    c->leading_space = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    c->no_reply_header = (*pf1 & SMFIP_NR_HDR) != 0;
    c->no_reply_body = (*pf1 & SMFIP_NR_BODY) != 0;
    return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
    Connection* c = attach(ctx);
    c->gateway = runtime().snapshot();
    c->client_name = host != nullptr ? host : "";
    c->client_ip = address_text(addr);
    if (c->client_ip.empty()) {
        c->client_ip = macro(ctx, "{client_addr}");
    }
    return SMFIS_CONTINUE;
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    Connection* c = connection(ctx);
    c->transaction = std::make_unique<Transaction>(c->gateway->settings());
    Transaction& t = *c->transaction;
    t.envelope.client_ip = c->client_ip;
    t.envelope.auth_login = macro(ctx, "{auth_authen}");
    std::string from = argv != nullptr && argv[0] != nullptr ? argv[0] : "";
    if (from.size() >= 2 && from.front() == '<' && from.back() == '>') {
        from = from.substr(1, from.size() - 2);
    }
    t.envelope.mail_from = from;
    t.queue_id = macro(ctx, "i");
    return SMFIS_CONTINUE;
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    Connection* c = connection(ctx);
    if (c->transaction && argv != nullptr && argv[0] != nullptr) {
        c->transaction->recipients.emplace_back(argv[0]);
    }
    return SMFIS_CONTINUE;
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    Connection* c = connection(ctx);
    Transaction& t = *c->transaction;
    const std::string n = name;
    std::string v = value != nullptr ? value : "";
    // Rebuild the field as it was written: leading space kept, LF → CRLF.
    std::string line = n + ":" + (c->leading_space ? "" : " ");
    for (const char ch : v) {
        if (ch == '\n') {
            line += "\r\n";
        } else if (ch != '\r') {
            line += ch;
        }
    }
    if (!t.subject && strcasecmp(name, "Subject") == 0) {
        // The raw value as a reader of the spooled head would see it (mime::Field::raw).
        std::string raw = line.substr(n.size() + 1);
        raw.erase(std::remove(raw.begin(), raw.end(), '\r'), raw.end());
        t.subject = std::move(raw);
    }
    line += "\r\n";
    t.spool.append(line);
    t.size += line.size();
    const int index = ++t.header_count[lower(n)];
    t.headers.emplace_back(n, index);
    if (strcasecmp(name, "From") == 0) {
        engine::add_from_header(t.envelope, v);
    }
    return c->no_reply_header ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/** Inbound mail is kept to the end of the message when the gateway may decrypt some of it. */
bool wants_decryption(const engine::Gateway& gw) {
    return gw.settings().encryption.decrypt_inbound && !gw.credentials().empty();
}

/**
 * Outbound mail the gateway will not sign (policy Pass) cannot be encrypted
 * either (the sender's certificate is always a recipient): when encryption is
 * required for it (rule or subject trigger), refuse rather than send it clear.
 */
std::optional<sfsistat> refuse_unsignable(SMFICTX* ctx, Connection& c, const policy::Decision& d) {
    Transaction& t = *c.transaction;
    const auto plan = engine::plan_outbound(*c.gateway, t.recipients, t.subject, std::chrono::system_clock::now());
    if (!plan.decision.required) {
        return std::nullopt;
    }
    const std::string text =
        plan.decision.action == policy::EncryptAction::Reject
            ? plan.decision.reply_text
            : "encryption is required but the gateway cannot sign for this sender (" + d.summary + ")";
    const std::string code = plan.decision.action == policy::EncryptAction::Reject ? plan.decision.reply_code : "550";
    const std::string xcode =
        plan.decision.action == policy::EncryptAction::Reject ? plan.decision.reply_xcode : "5.7.1";
    spdlog::info("{}: reject from=<{}> reason=\"{}\"", queue_id(ctx), t.envelope.mail_from, text);
    return set_reply(ctx, code, xcode, text);
}

sfsistat on_eoh(SMFICTX* ctx) {
    Connection* c = connection(ctx);
    Transaction& t = *c->transaction;
    if (const auto r = deferred_failure(ctx, *c)) {  // a header callback failed (no reply was possible there)
        return *r;
    }
    t.spool.append("\r\n");
    t.size += 2;
    const std::string qid = queue_id(ctx);
    policy::Decision d = c->gateway->decide(t.envelope, std::chrono::system_clock::now());
    for (const auto& r : d.reasons) {
        spdlog::debug("{}: {}", qid, r);
    }
    if (d.action == policy::Action::Reject) {
        spdlog::info("{}: reject from=<{}> login={} client={} reason=\"{}\"", qid, t.envelope.mail_from,
                     t.envelope.auth_login.empty() ? "-" : t.envelope.auth_login, c->client_ip, d.reply_text);
        return set_reply(ctx, d.reply_code, d.reply_xcode, d.reply_text);
    }
    if (d.action == policy::Action::Pass && d.outbound) {
        if (const auto refused = refuse_unsignable(ctx, *c, d)) {
            end_transaction(*c);
            return *refused;
        }
    }
    if (d.action == policy::Action::Pass && !d.outbound &&
        (c->gateway->settings().inbound.enabled || wants_decryption(*c->gateway))) {
        t.decision = std::move(d);  // inbound: verified at end of message (apply_inbound)
        return SMFIS_CONTINUE;
    }
    if (d.action == policy::Action::Pass) {
        spdlog::info("{}: pass from=<{}> login={} client={} reason=\"{}\"", qid, t.envelope.mail_from,
                     t.envelope.auth_login.empty() ? "-" : t.envelope.auth_login, c->client_ip, d.summary);
        end_transaction(*c);
        return SMFIS_ACCEPT;
    }
    t.decision = std::move(d);
    t.body_scan.emplace();  // to be signed: scanned while it arrives, not read back for it
    return SMFIS_CONTINUE;
}

/** 552 for outbound mail over milter.max_message_size (it is not signed, so it may not leave). */
sfsistat refuse_too_large(SMFICTX* ctx, Connection& c) {
    const std::size_t limit = c.gateway->settings().milter.max_message_size;
    const std::string text = "message too large for signing: more than " + std::to_string(limit / (1024 * 1024)) +
                             " MB (the gateway's milter.max_message_size)";
    spdlog::info("{}: reject from=<{}> reason=\"{}\"", queue_id(ctx), c.transaction->envelope.mail_from, text);
    end_transaction(c);
    return set_reply(ctx, "552", "5.3.4", text);
}

sfsistat on_body(SMFICTX* ctx, unsigned char* data, size_t len) {
    Connection* c = connection(ctx);
    Transaction& t = *c->transaction;
    // With SMFIP_NR_BODY the MTA streams the body without waiting for a reply per
    // 64 KB chunk; a refusal is then answered at the end of the message.
    const sfsistat next = c->no_reply_body ? SMFIS_NOREPLY : SMFIS_CONTINUE;
    const std::size_t limit = c->gateway->settings().milter.max_message_size;
    t.size += len;
    if (t.over_limit) {
        return next;
    }
    if (t.size > limit) {
        t.over_limit = true;
        if (t.inbound()) {
            return next;  // inbound mail is never refused for size: delivered with smime=temperror
        }
        t.spool = smime::Blob();  // nothing more is kept
        t.body_scan.reset();
        return c->no_reply_body ? SMFIS_NOREPLY : refuse_too_large(ctx, *c);
    }
    t.spool.append(data, len);
    if (t.body_scan) {
        t.body_scan->feed(std::string_view(reinterpret_cast<const char*>(data), len));
    }
    return next;
}

/** Sends (part of) a new body to the MTA, in chunks of at most MILTER_CHUNK_SIZE. */
void replace_body(SMFICTX* ctx, std::string_view body) {
    for (std::size_t off = 0; off < body.size(); off += k_chunk) {
        const std::size_t n = std::min(k_chunk, body.size() - off);
        if (smfi_replacebody(ctx, reinterpret_cast<unsigned char*>(const_cast<char*>(body.data() + off)),
                             static_cast<int>(n)) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_replacebody failed");
        }
    }
}

/** Replaces the top-level fields: every Content-* and MIME-Version field goes, @p headers come. */
void replace_headers(SMFICTX* ctx, const Transaction& t, const std::vector<smime::Header>& headers) {
    // A new field whose name the message already has replaces the first such field in
    // place (one change instead of a removal and an addition, and the order is kept).
    std::set<std::string> in_place;
    for (const auto& h : headers) {
        if (smime::canonical::is_content_header(h.name) && t.header_count.count(lower(h.name)) != 0) {
            in_place.insert(lower(h.name));
        }
    }
    // Remove every other top-level Content-* and MIME-Version field, highest index first,
    // so the indexes of those not yet removed do not shift under us.
    for (auto it = t.headers.rbegin(); it != t.headers.rend(); ++it) {
        if (!smime::canonical::is_content_header(it->first) ||
            (it->second == 1 && in_place.count(lower(it->first)) != 0)) {
            continue;
        }
        if (smfi_chgheader(ctx, const_cast<char*>(it->first.c_str()), it->second, nullptr) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_chgheader failed for " + it->first);
        }
    }
    for (const auto& h : headers) {
        // Leading space: with SMFIP_HDR_LEADSPC the MTA writes the value exactly as given.
        std::string value = " " + h.value;
        char* name = const_cast<char*>(h.name.c_str());
        if (in_place.erase(lower(h.name)) != 0) {
            if (smfi_chgheader(ctx, name, 1, value.data()) != MI_SUCCESS) {
                throw smime::Error(smime::Category::Io, "smfi_chgheader failed for " + h.name);
            }
        } else if (smfi_addheader(ctx, name, value.data()) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_addheader failed for " + h.name);
        }
    }
}

/** Replaces the top-level entity: every Content-* and MIME-Version field, then the body. */
void apply_entity(SMFICTX* ctx, const Transaction& t, const std::vector<smime::Header>& headers,
                  std::string_view body) {
    replace_headers(ctx, t, headers);
    replace_body(ctx, body);
}

/**
 * Inbound decryption (engine::decrypt_inbound, docs/encryption.md): forged
 * X-Segel-Decryption fields are removed and ours added; when decrypted, the
 * body and Content-* fields become the decrypted entity and the spool holds
 * the decrypted message, so the verification that follows (apply_inbound)
 * checks the inner signature. A failure leaves the message as it arrived.
 */
void apply_decryption(SMFICTX* ctx, Transaction& t, const engine::Gateway& gw) {
    const std::string qid = queue_id(ctx);
    for (auto it = t.headers.rbegin(); it != t.headers.rend(); ++it) {
        if (strcasecmp(it->first.c_str(), engine::k_decryption_header) == 0 &&
            smfi_chgheader(ctx, const_cast<char*>(it->first.c_str()), it->second, nullptr) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_chgheader failed removing " + it->first);
        }
    }
    if (t.over_limit) {
        return;
    }
    const engine::InboundDecryption r = engine::decrypt_inbound(gw, t.recipients, t.spool);
    using Outcome = engine::InboundDecryption::Outcome;
    if (r.outcome == Outcome::NotEncrypted) {
        return;
    }
    if (r.outcome == Outcome::Failed) {
        spdlog::warn("{}: decrypt failed from=<{}> reason=\"{}\" (delivered as it arrived)", qid, t.envelope.mail_from,
                     r.detail);
    } else {
        spdlog::info("{}: {} from=<{}> {}", qid, r.outcome == Outcome::Decrypted ? "decrypt" : "not-decrypted",
                     t.envelope.mail_from, r.detail);
    }
    std::string value = " " + r.header;
    char name[64];
    std::snprintf(name, sizeof name, "%s", engine::k_decryption_header);
    if (smfi_insheader(ctx, 0, name, value.data()) != MI_SUCCESS) {
        throw smime::Error(smime::Category::Io, std::string("smfi_insheader failed for ") + name);
    }
    if (r.outcome != Outcome::Decrypted) {
        return;
    }
    std::vector<smime::Header> headers{{"MIME-Version", "1.0"}};
    for (const auto& h : r.entity.headers) {
        if (strcasecmp(h.name.c_str(), "MIME-Version") != 0) {
            headers.push_back(h);
        }
    }
    apply_entity(ctx, t, headers, r.entity.body);
    smime::Blob plain(gw.settings().milter.spool_memory_limit, gw.settings().milter.spool_directory);
    plain.append(engine::replace_entity(t.spool.view(), r.entity.headers, r.entity.body));
    t.spool = std::move(plain);
}

/**
 * Applies the inbound verdict (engine::inbound): forged Authentication-Results
 * removed (RFC 8601 §5), ours inserted at the top, the Subject tagged, and the
 * sender-protection disposition. The body is never touched, so the
 * recipient's own client can verify the signature too.
 */
sfsistat apply_inbound(SMFICTX* ctx, Connection& c) {
    Transaction& t = *c.transaction;
    const std::string qid = queue_id(ctx);
    const auto started = std::chrono::steady_clock::now();
    const engine::InboundEdits e =
        engine::inbound(*c.gateway, t.envelope, t.spool, std::chrono::system_clock::now(),
                        t.over_limit ? "larger than milter.max_message_size: not verified" : "");
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("{}: {} ms={:.1f}", qid, e.summary, ms);
    if (!e.incident.empty()) {
        spdlog::warn("{}: incident: {}", qid, e.incident);
    }
    if (!e.harvest_note.empty()) {
        spdlog::warn("{}: certificate not stored: {}", qid, e.harvest_note);
    }
    if (e.disposition == engine::InboundEdits::Disposition::Reject) {
        end_transaction(c);
        return set_reply(ctx, e.reply_code, e.reply_xcode, e.reply_text);
    }
    auto removals = e.remove;  // highest index first per name, so the others do not shift
    std::sort(removals.begin(), removals.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [name, index] : removals) {
        if (smfi_chgheader(ctx, const_cast<char*>(name.c_str()), index, nullptr) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_chgheader failed removing " + name);
        }
    }
    for (auto it = e.add.rbegin(); it != e.add.rend(); ++it) {  // each at index 0: reversed keeps the order
        std::string value = " " + it->value;
        if (smfi_insheader(ctx, 0, const_cast<char*>(it->name.c_str()), value.data()) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_insheader failed for " + it->name);
        }
    }
    if (e.new_subject) {
        std::string value = " " + *e.new_subject;
        char subject[] = "Subject";
        const int rc = t.header_count.count("subject") != 0 ? smfi_chgheader(ctx, subject, 1, value.data())
                                                            : smfi_addheader(ctx, subject, value.data());
        if (rc != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_chgheader failed for Subject");
        }
    }
    if (e.disposition == engine::InboundEdits::Disposition::Quarantine) {
        std::string reason = e.reply_text;
        if (smfi_quarantine(ctx, reason.data()) != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, "smfi_quarantine failed (does the MTA offer quarantine?)");
        }
    }
    end_transaction(c);
    return SMFIS_CONTINUE;
}

sfsistat on_eom(SMFICTX* ctx) {
    Connection* c = connection(ctx);
    if (const auto r = deferred_failure(ctx, *c)) {
        return *r;
    }
    if (c->transaction && c->transaction->over_limit && !c->transaction->inbound()) {
        return refuse_too_large(ctx, *c);
    }
    if (!c->transaction || !c->transaction->decision) {
        return SMFIS_CONTINUE;
    }
    if (c->transaction->inbound() && c->transaction->decision->action == policy::Action::Pass) {
        if (wants_decryption(*c->gateway)) {
            apply_decryption(ctx, *c->transaction, *c->gateway);
        }
        if (!c->gateway->settings().inbound.enabled) {
            end_transaction(*c);
            return SMFIS_CONTINUE;
        }
        return apply_inbound(ctx, *c);
    }
    Transaction& t = *c->transaction;
    const std::string qid = queue_id(ctx);
    const auto started = std::chrono::steady_clock::now();
    const policy::Decision& d = *t.decision;
    const smime::Protection p = smime::classify(t.spool);
    if (p != smime::Protection::None) {
        spdlog::info("{}: pass from=<{}> login={} reason=\"already {}: left unchanged\"", qid, t.envelope.mail_from,
                     t.envelope.auth_login.empty() ? "-" : t.envelope.auth_login,
                     p == smime::Protection::Signed ? "signed" : "encrypted");
        return SMFIS_CONTINUE;
    }
    const auto& cert = c->gateway->certificates().at(*d.cert);
    const auto now = std::chrono::system_clock::now();
    const engine::OutboundPlan plan = engine::plan_outbound(*c->gateway, t.recipients, t.subject, now);
    for (const auto& r : plan.decision.reasons) {
        spdlog::debug("{}: {}", qid, r);
    }
    if (plan.decision.action == policy::EncryptAction::Reject) {
        spdlog::info("{}: reject from=<{}> login={} reason=\"{}\"", qid, t.envelope.mail_from,
                     t.envelope.auth_login.empty() ? "-" : t.envelope.auth_login, plan.decision.reply_text);
        const auto& pd = plan.decision;
        end_transaction(*c);
        return set_reply(ctx, pd.reply_code, pd.reply_xcode, pd.reply_text);
    }
    const bool encrypt = plan.decision.action == policy::EncryptAction::Encrypt;
    // Signed only: the new body streams to the MTA as it is made, so a 20 MB message
    // is never held in memory (smime::sign hashes it in the same pass).
    smime::BodySink sink;
    if (!encrypt) {
        sink = [ctx, &t](std::string_view piece) {
            t.body_sent = true;
            replace_body(ctx, piece);
        };
    }
    smime::SignedMessage sm = c->gateway->sign(d, t.spool, now, sink, t.body_scan ? &*t.body_scan : nullptr);
    if (encrypt) {
        const smime::EncryptedMessage enc = engine::encrypt_outbound(*c->gateway, d, plan, sm);
        apply_entity(ctx, t, enc.headers, enc.body.view());
        if (plan.new_subject) {
            std::string value = " " + *plan.new_subject;
            char subject[] = "Subject";
            if (smfi_chgheader(ctx, subject, 1, value.data()) != MI_SUCCESS) {
                throw smime::Error(smime::Category::Io, "smfi_chgheader failed for Subject");
            }
        }
        spdlog::info("{}: encrypt from=<{}> cipher={} certificates={} reason=\"{}\"", qid, t.envelope.mail_from,
                     smime::cipher_name(enc.cipher), enc.recipient_count, plan.decision.summary);
    } else {
        replace_headers(ctx, t, sm.headers);
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("{}: sign from=<{}> login={} client={} cert={} format={} size={} reencoded={} ms={:.1f}", qid,
                 t.envelope.mail_from, t.envelope.auth_login.empty() ? "-" : t.envelope.auth_login, c->client_ip,
                 cert.serial,
                 c->gateway->settings().signing.format == config::SignFormat::Opaque ? "opaque" : "detached", t.size,
                 sm.rewrite.parts_reencoded + sm.rewrite.headers_reencoded, ms);
    end_transaction(*c);
    return SMFIS_CONTINUE;
}

sfsistat on_abort(SMFICTX* ctx) {
    Connection* c = connection(ctx);
    if (c != nullptr) {
        end_transaction(*c);
    }
    return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) {
    detach(ctx);
    return SMFIS_CONTINUE;
}

}  // namespace

extern "C" {
static sfsistat xxfi_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
                               unsigned long* p0, unsigned long* p1, unsigned long* p2, unsigned long* p3) {
    return guard(ctx, "negotiate", [&] { return on_negotiate(ctx, f0, f1, f2, f3, p0, p1, p2, p3); });
}
static sfsistat xxfi_connect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
    return guard(ctx, "connect", [&] { return on_connect(ctx, host, addr); });
}
static sfsistat xxfi_envfrom(SMFICTX* ctx, char** argv) {
    return guard(ctx, "envfrom", [&] { return on_envfrom(ctx, argv); });
}
static sfsistat xxfi_envrcpt(SMFICTX* ctx, char** argv) {
    return guard(ctx, "envrcpt", [&] { return on_envrcpt(ctx, argv); });
}
static sfsistat xxfi_header(SMFICTX* ctx, char* name, char* value) {
    Connection* c = connection(ctx);
    return guard_no_reply(ctx, "header", c != nullptr && c->no_reply_header,
                          [&] { return on_header(ctx, name, value); });
}
static sfsistat xxfi_eoh(SMFICTX* ctx) {
    return guard(ctx, "eoh", [&] { return on_eoh(ctx); });
}
static sfsistat xxfi_body(SMFICTX* ctx, unsigned char* data, size_t len) {
    Connection* c = connection(ctx);
    return guard_no_reply(ctx, "body", c != nullptr && c->no_reply_body, [&] { return on_body(ctx, data, len); });
}
static sfsistat xxfi_eom(SMFICTX* ctx) {
    return guard(ctx, "eom", [&] { return on_eom(ctx); });
}
static sfsistat xxfi_abort(SMFICTX* ctx) {
    return guard(ctx, "abort", [&] { return on_abort(ctx); });
}
static sfsistat xxfi_close(SMFICTX* ctx) {
    return guard(ctx, "close", [&] { return on_close(ctx); });
}
}

smfiDesc descriptor() {
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("segel");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE;
    d.xxfi_connect = xxfi_connect;
    d.xxfi_envfrom = xxfi_envfrom;
    d.xxfi_envrcpt = xxfi_envrcpt;
    d.xxfi_header = xxfi_header;
    d.xxfi_eoh = xxfi_eoh;
    d.xxfi_body = xxfi_body;
    d.xxfi_eom = xxfi_eom;
    d.xxfi_abort = xxfi_abort;
    d.xxfi_close = xxfi_close;
    d.xxfi_negotiate = xxfi_negotiate;
    return d;
}

}  // namespace segel::milter
