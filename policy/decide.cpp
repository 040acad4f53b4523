#include "policy/decide.h"

#include "base/time.h"

#include "base/address.h"

#include "base/text.h"
#include "base/time.h"
#include "policy/address.h"
#include "policy/encrypt.h"
#include "policy/fitness.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <utility>

namespace segel::policy {

namespace {

using base::domain_matches;
using base::domain_of;
using base::local_of;

/**
 * A value from outside (a login, a client address, an envelope sender) as it may appear in a
 * reason or a reply: as it is when it is a plain token, else double-quoted with escapes
 * (base::kv_value, as in the log line), so a line break in it cannot start a new log line or
 * SMTP reply line.
 */
std::string shown(const std::string& v) {
    return base::kv_value(v);
}

/** An address for a reason or a reply: the null sender as "<>", anything else shown(). */
std::string quoted(const std::string& a) {
    return a.empty() ? "<>" : shown(a);
}

/** Whether the authenticated @p login owns @p address (R3). */
bool login_owns(const config::Settings& s, const std::string& login, const std::string& address, std::string& how) {
    if (login == address) {
        how = "login equals the address";
        return true;
    }
    if (const auto it = s.signing.logins.find(login); it != s.signing.logins.end()) {
        if (std::find(it->second.begin(), it->second.end(), address) != it->second.end()) {
            how = "signing.logins maps " + login + " to it";
            return true;
        }
    }
    if (login.find('@') == std::string::npos && local_of(address) == login) {
        for (const auto& rule : s.signing.domains) {
            if (rule.local_part_logins && domain_of(address) == rule.domain) {
                how = "local_part_logins of " + rule.domain;
                return true;
            }
        }
    }
    return false;
}

/** Document-signing EKUs the compatibility switch accepts (Adobe PDF, Microsoft, RFC 9336). */
bool document_signing_eku(const CertUsage& u) {
    return std::any_of(u.eku.begin(), u.eku.end(), [](const std::string& oid) {
        return oid == "1.2.840.113583.1.1.5" || oid == "1.3.6.1.4.1.311.10.3.12" || oid == "1.3.6.1.5.5.7.3.36";
    });
}

std::string hours(std::chrono::seconds s) {
    return std::to_string(std::chrono::duration_cast<std::chrono::hours>(s).count()) + " h";
}

/**
 * The revocation rule (R6): a certificate known revoked never signs; a good
 * answer counts while younger than revocation.signing.grace; beyond it, or
 * with no answer at all, revocation.signing.unknown decides (defer or sign).
 */
void judge_revocation(CertVerdict& v, const CertFacts& c, const std::string& address, TimePoint now,
                      const config::Revocation& rv) {
    const RevocationFacts& r = c.revocation;
    using State = RevocationFacts::State;
    const std::string who = "certificate " + c.serial + " of " + address;
    if (r.state == State::Revoked) {
        v.usable = false;
        v.why = who + " was revoked on " + base::format_date(r.revoked_at) + " (" + r.reason + ")";
        v.reply = v.why;
        v.word = "certificate-revoked";
        return;
    }
    if (r.state == State::NotChecked) {
        v.revocation = r.evidence.empty() ? "not checked" : r.evidence;
        return;
    }
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - r.obtained);
    if (r.state == State::Good && age <= rv.signing.grace) {
        v.revocation = r.evidence;
        return;
    }
    const std::string problem = r.problem.empty() ? std::string("no answer yet") : r.problem;
    const std::string unknown = r.state == State::Good
                                    ? "revocation status unknown: the last good answer is " + hours(age) +
                                          " old, beyond revocation.signing.grace (" + hours(rv.signing.grace) +
                                          "), and the latest check failed (" + problem + ")"
                                    : "revocation status unknown (" + problem + ")";
    if (rv.signing.unknown == config::Revocation::SigningUnknown::Sign) {
        v.revocation = unknown + "; signed anyway (revocation.signing.unknown: sign)";
        return;
    }
    v.usable = false;
    v.temporary = true;
    v.word = "revocation-unknown";
    v.why = unknown;
    v.reply = who + ": " + unknown + "; try again later";
}

/** Judges one certificate for signing as @p address at @p now (R4, R5, R6). */
CertVerdict judge(const CertFacts& c, std::size_t index, TimePoint now, const std::string& address,
                  const config::Settings* s, const config::DomainRule* rule) {
    CertVerdict v;
    v.index = index;
    if (!c.chain_trusted) {
        v.why = "does not chain to a trust anchor (" + c.chain_error + ")";
        v.word = "certificate-untrusted";
    } else if (now >= c.not_after) {
        v.why = "expired " + base::format_date(c.not_after);
        v.word = "certificate-expired";
    } else if (now < c.not_before) {
        v.why = "not valid before " + base::format_date(c.not_before);
        v.word = "certificate-not-yet-valid";
    } else if (now >= c.chain_not_after) {
        v.why = "an issuing CA certificate expired " + base::format_date(c.chain_not_after);
        v.word = "certificate-ca-expired";
    } else if (!c.key_usage_signs) {
        v.word = "certificate-key-usage";
        v.why = "key usage does not allow signing (needs digitalSignature or nonRepudiation)";
        v.reply = "no valid certificate for " + address + ": " + v.why + refusal_suffix("key-usage");
    } else if (!c.eku_email &&
               !(rule != nullptr && rule->document_signing_certificates && document_signing_eku(c.usage))) {
        v.why = "extended key usage does not include emailProtection (1.3.6.1.5.5.7.3.4)" +
                (c.usage.eku.empty() ? std::string() : "; it has only " + eku_text(c.usage));
        v.reply = "no valid certificate for " + address + ": " + v.why + refusal_suffix("eku");
        v.word = "certificate-eku";
    } else {
        v.usable = true;
        v.why = "valid until " + base::format_date(c.not_after);
        if (!c.eku_email) {
            v.compatibility = "document-signing certificate (extended key usage " + eku_text(c.usage) +
                              ", no emailProtection) accepted by " + rule->domain +
                              " document_signing_certificates: allow; recipients' mail programs may warn";
            v.why += "; " + v.compatibility;
        }
        if (s != nullptr) {
            judge_revocation(v, c, address, now, s->revocation);
        }
        if (v.usable && !v.revocation.empty()) {
            v.why += "; revocation: " + v.revocation;
        }
    }
    return v;
}

/** "usable", "usable, expires in 42 days: renew now" (R5), or why not. */
std::string state_text(const CertFacts& cert, const CertVerdict& v, TimePoint now) {
    if (!v.usable) {
        return v.why;
    }
    std::string out = "usable";
    const auto days_left = std::chrono::duration_cast<std::chrono::hours>(cert.not_after - now).count() / 24;
    if (days_left <= 90) {
        out += ", expires in " + std::to_string(days_left) + " days: renew now";
    }
    if (!v.compatibility.empty()) {
        out += "; " + v.compatibility;
    }
    if (!v.revocation.empty()) {
        out += "; revocation: " + v.revocation;
    }
    return out;
}

/** The certificates naming one address, judged, and the newest usable one. */
struct Choice {
    std::optional<std::size_t> best;
    std::vector<CertVerdict> considered;

    /**
     * The verdict to answer with when none can sign: one unusable only for now (revocation
     * unknown) first, as it makes the answer temporary; otherwise the newest candidate's, the
     * one its owner will recognise. nullptr when no certificate names the address.
     */
    [[nodiscard]] const CertVerdict* reported(const std::vector<CertFacts>& certs) const {
        if (considered.empty()) {
            return nullptr;
        }
        const CertVerdict* newest = &considered.front();
        const CertVerdict* temporary = nullptr;
        for (const auto& v : considered) {
            if (certs[v.index].not_before > certs[newest->index].not_before) {
                newest = &v;
            }
            if (v.temporary &&
                (temporary == nullptr || certs[v.index].not_before > certs[temporary->index].not_before)) {
                temporary = &v;
            }
        }
        return temporary != nullptr ? temporary : newest;
    }

    /** The reason word of problem(): "no-certificate" when none names the address. */
    [[nodiscard]] std::string word(const std::vector<CertFacts>& certs) const {
        const CertVerdict* r = reported(certs);
        return r == nullptr ? "no-certificate" : r->word;
    }

    /** Why none can sign, in the words of reported(). */
    [[nodiscard]] std::string problem(const std::vector<CertFacts>& certs, const std::string& address) const {
        const CertVerdict* r = reported(certs);
        if (r == nullptr) {
            return "no certificate for " + address + " is installed on this gateway";
        }
        return r->reply.empty() ? "no valid certificate for " + address + ": " + r->why : r->reply;
    }
};

/** Judges every certificate naming @p address at @p now; the newest usable wins (R4, R5, R6). */
Choice choose(const std::vector<CertFacts>& certs, const std::string& address, TimePoint now, const config::Settings& s,
              const config::DomainRule* rule) {
    Choice out;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        const auto& c = certs[i];
        if (std::find(c.addresses.begin(), c.addresses.end(), address) == c.addresses.end()) {
            continue;
        }
        CertVerdict v = judge(c, i, now, address, &s, rule);
        if (v.usable && (!out.best || c.not_before > certs[*out.best].not_before ||
                         (c.not_before == certs[*out.best].not_before && c.not_after > certs[*out.best].not_after))) {
            out.best = i;
        }
        out.considered.push_back(v);
    }
    for (auto& v : out.considered) {
        if (out.best && v.index == *out.best) {
            v.why = "chosen: newest valid certificate, " + v.why;
        } else if (out.best && v.usable) {
            v.usable = false;
            v.why = "not chosen: a newer valid certificate exists (" + v.why + ")";
        }
    }
    return out;
}

/** One reason per certificate considered ("certificate 1E (file): expired 2026-01-01"). */
void note_choice(Decision& d, const Choice& c, const std::vector<CertFacts>& certs, const std::string& prefix) {
    for (const auto& v : c.considered) {
        d.reasons.push_back(prefix + "certificate " + certs[v.index].serial + " (" + certs[v.index].id + "): " + v.why);
    }
}

/** Signs with the choice's best certificate; @p summary is what is done, the switches are added to it. */
Decision sign_with(Decision d, const Choice& c, const std::vector<CertFacts>& certs, std::string summary) {
    d.action = Action::Sign;
    d.reason_code.clear();
    d.cert = c.best;
    for (const auto& v : c.considered) {
        if (v.index == *c.best) {
            d.revocation = v.revocation;
            d.compatibility = v.compatibility;
        }
    }
    d.summary = std::move(summary);
    if (!d.compatibility.empty()) {
        d.summary += " (compatibility: " + d.compatibility + ")";
    }
    d.revocation_used = RevocationUsed{certs[*c.best].serial, certs[*c.best].revocation, d.revocation};
    return d;
}

}  // namespace

Decision because(Decision d, std::string word) {
    d.reason_code = std::move(word);
    return d;
}

Decision reject(Decision d, const std::string& text, const std::string& code, const std::string& xcode) {
    d.action = Action::Reject;
    if (d.reason_code.empty()) {
        d.reason_code = code.front() == '4' ? "deferred" : "refused";
    }
    d.reply_code = code;
    d.reply_xcode = xcode;
    d.reply_text = text;
    d.summary = (code.front() == '4' ? "defer: " : "reject: ") + text;
    d.reasons.push_back(d.summary);
    return d;
}

Decision defer(Decision d, const std::string& text, const std::string& xcode) {
    return reject(std::move(d), text, "451", xcode);
}

Decision pass(Decision d, const std::string& why) {
    d.action = Action::Pass;
    d.reason_code.clear();
    d.summary = "pass: " + why;
    d.reasons.push_back("pass: " + why);
    return d;
}

std::optional<Decision> refuse_unsignable(const Decision& d, const EncryptDecision& enc) {
    if (d.action != Action::Pass || !d.outbound || !enc.required) {
        return std::nullopt;
    }
    if (enc.action == EncryptAction::Reject) {  // the encryption rules already refuse, in their words
        return reject(because(d, enc.reason_code), enc.reply_text, enc.reply_code, enc.reply_xcode);
    }
    return reject(because(d, "encryption-unsignable"),
                  "encryption is required but the gateway cannot sign for this sender (" + d.summary +
                      "); the sender's own certificate is needed to encrypt");
}

std::optional<Decision> refuse_too_large(const config::Settings& s, const Decision& d, std::size_t size) {
    if (!d.outbound || size <= s.milter.max_message_size) {
        return std::nullopt;
    }
    return reject(because(d, "too-large"),
                  "message too large for signing: more than " +
                      std::to_string(s.milter.max_message_size / (1024 * 1024)) +
                      " MB (the gateway's milter.max_message_size)",
                  "552", "5.3.4");
}

std::string certificate_state(const CertFacts& cert, TimePoint now) {
    const CertVerdict v =
        judge(cert, 0, now, cert.addresses.empty() ? "(no address)" : cert.addresses.front(), nullptr, nullptr);
    return state_text(cert, v, now);
}

std::string certificate_state(const CertFacts& cert, TimePoint now, const config::Settings& settings) {
    const std::string address = cert.addresses.empty() ? "(no address)" : cert.addresses.front();
    const CertVerdict v = judge(cert, 0, now, address, &settings, official_rule(settings, address));
    return state_text(cert, v, now);
}

std::string normalize_address(std::string a) {
    auto ws = [](unsigned char c) { return std::isspace(c) != 0; };
    a.erase(a.begin(), std::find_if_not(a.begin(), a.end(), ws));
    a.erase(std::find_if_not(a.rbegin(), a.rend(), ws).base(), a.end());
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') {
        a = a.substr(1, a.size() - 2);
    }
    std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return a;
}

const config::DomainRule* official_rule(const config::Settings& s, const std::string& address) {
    const std::string domain = domain_of(address);
    if (domain.empty()) {
        return nullptr;
    }
    const config::DomainRule* best = nullptr;
    for (const auto& rule : s.signing.domains) {
        // The most specific rule wins (an exact domain beats a parent with subdomains).
        if (domain_matches(domain, rule.domain, rule.subdomains) &&
            (best == nullptr || rule.domain.size() > best->domain.size())) {
            best = &rule;
        }
    }
    return best;
}

bool in_network(const std::string& ip, const config::Network& net) {
    std::array<std::uint8_t, 16> bytes{};
    std::string text = ip;
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    if (text.rfind("IPv6:", 0) == 0) {
        text = text.substr(5);
    }
    bool v6 = false;
    if (inet_pton(AF_INET, text.c_str(), bytes.data()) != 1) {
        if (inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) {
            return false;
        }
        v6 = true;
        // An IPv4-mapped IPv6 address matches IPv4 networks.
        static constexpr std::array<std::uint8_t, 12> k_mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!net.v6 && std::equal(k_mapped.begin(), k_mapped.end(), bytes.begin())) {
            std::copy(bytes.begin() + 12, bytes.end(), bytes.begin());
            v6 = false;
        }
    }
    if (v6 != net.v6) {
        return false;
    }
    int bits = net.prefix;
    for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
        const auto mask = static_cast<std::uint8_t>(bits >= 8 ? 0xFF : (0xFF << (8 - bits)) & 0xFF);
        if ((bytes[i] & mask) != (net.bytes[i] & mask)) {
            return false;
        }
    }
    return true;
}

Direction direction_of(const config::Settings& s, const Envelope& env) {
    Direction out;
    for (const auto& sys : s.signing.systems) {
        for (const auto& net : sys.clients) {
            if (out.system == nullptr && in_network(env.client_ip, net)) {
                out.system = &sys;
            }
        }
    }
    const config::Network* internal = nullptr;
    for (const auto& net : s.milter.internal_networks) {
        if (internal == nullptr && in_network(env.client_ip, net)) {
            internal = &net;
        }
    }
    out.outbound = true;
    if (!env.auth_login.empty()) {
        out.why = "outbound: SMTP AUTH as " + shown(env.auth_login);
    } else if (out.system != nullptr) {
        out.why = "outbound: client " + shown(env.client_ip) + " is system sender '" + out.system->name + "'";
    } else if (internal != nullptr) {
        out.why = "outbound: client " + shown(env.client_ip) + " is in internal network " + internal->text;
    } else {
        out.outbound = false;
        out.why = "inbound: client " + shown(env.client_ip) + " did not authenticate and is not internal";
    }
    return out;
}

Decision decide(const config::Settings& s, const Envelope& env, const std::vector<CertFacts>& certs, TimePoint now) {
    Decision d;
    // A login is an identity as the SASL layer reports it: "SITI" is another account than
    // "siti" (issue 10 §2). Only signing.login_case: insensitive folds it.
    const bool fold_login = s.signing.login_case == config::LoginCase::Insensitive;
    const std::string login = fold_login ? base::lower(env.auth_login) : env.auth_login;
    const std::string mail_from = normalize_address(env.mail_from);

    // 1. Outbound or not: SMTP AUTH, an internal network, or a listed system sender.
    const Direction direction = direction_of(s, env);
    const config::SystemSender* system = direction.system;
    d.direction = direction.why;
    if (!direction.outbound) {
        d.reasons.push_back(d.direction);
        return pass(d, "inbound mail is not signed");
    }
    d.outbound = true;
    d.reasons.push_back(d.direction);

    // 2. Official or not (R2): the envelope sender or any address a From field shows, however
    //    it is written (a From that cannot be read strictly but names an official address is
    //    official mail, and must pass rule 3).
    std::vector<address::Reading> from;
    for (const auto& field : env.from_fields) {
        from.push_back(address::parse_mailbox(field));
    }
    const auto official = [&](const std::string& a) { return official_rule(s, a) != nullptr; };
    bool any_official = official(mail_from);
    for (std::size_t i = 0; i < from.size() && !any_official; ++i) {
        const auto shown = address::addresses_in(env.from_fields[i]);
        any_official =
            (from[i].ok() && official(from[i].mailbox.address)) || std::any_of(shown.begin(), shown.end(), official);
    }
    if (!any_official) {
        const std::string who = from.size() == 1 && from.front().ok() ? from.front().mailbox.address : mail_from;
        const std::string domain = domain_of(who);
        config::Action action = s.signing.other_senders;
        d.matched_rule = "signing.other_senders";
        for (const auto& rule : s.signing.other_domains) {
            if (domain_matches(domain, rule.domain, rule.subdomains)) {
                action = rule.action;
                d.matched_rule = "signing.other_domains: " + rule.domain;
                break;
            }
        }
        d.reasons.push_back(quoted(who) + " is not in an official domain (" + d.matched_rule + ")");
        if (action == config::Action::Pass) {
            return pass(d, quoted(who) + " is not an official address; sent unsigned (" + d.matched_rule + ": pass)");
        }
        return reject(because(d, "not-official"),
                      quoted(who) +
                          " is not an official address of this gateway; only official mail may be sent here (" +
                          d.matched_rule + ": reject)");
    }

    // 3. The signer is exactly one person: one From field holding one mailbox in a form that
    //    every common reader parses to the same address (R3; policy/address.h).
    if (from.size() != 1) {
        return reject(because(d, "from-not-one-address"),
                      "header From must name exactly one address to be signed (found " + std::to_string(from.size()) +
                          " From fields)");
    }
    const address::Reading& reading = from.front();
    if (!reading.ok()) {
        return reject(because(d, "from-unreadable"),
                      "header From cannot be signed: " + reading.reason + "; " + reading.fix);
    }
    const std::string sender = reading.mailbox.address;

    // 4. Nothing in the From shows someone else: its display name and comments (RFC 2047
    //    decoded, look-alike '＠' read as '@') name no other address than the sender's (R3).
    for (const auto& a : address::addresses_in(reading.mailbox.display_name)) {
        if (a != sender) {
            return reject(because(d, "from-shows-other-address"),
                          "header From cannot be signed: the display name shows another address (" + a +
                              ") than the sender's (" + sender + "); remove it from the name");
        }
    }
    for (const auto& comment : reading.mailbox.comments) {
        for (const auto& a : address::addresses_in(comment)) {
            if (a != sender) {
                return reject(because(d, "from-shows-other-address"),
                              "header From cannot be signed: a comment shows another address (" + a +
                                  ") than the sender's (" + sender + "); remove the comment");
            }
        }
    }
    d.reasons.push_back("header From is one mailbox, " + sender + ", and shows no other address");

    // 5. The envelope sender is the same address (R3).
    if (sender != mail_from) {
        return reject(because(d, "envelope-mismatch"),
                      "envelope sender " + quoted(mail_from) + " differs from header From " + sender +
                          "; official mail is signed only when both name the same address");
    }
    const config::DomainRule* rule = official_rule(s, sender);
    if (rule == nullptr) {
        return reject(because(d, "not-official"), sender + " is not an official address of this gateway");
    }
    d.sender = sender;
    d.matched_rule = "signing.domains: " + rule->domain + (rule->subdomains ? " (with subdomains)" : "");
    d.reasons.push_back(sender + " is official (" + d.matched_rule + ")");

    // 6. The submitter owns the address: no "send as" with someone else's signature (R3, R7).
    if (!login.empty()) {
        std::string how;
        if (!login_owns(s, login, sender, how)) {
            return reject(because(d, "login-not-owner"),
                          "login " + shown(env.auth_login) + " may not send as " + sender);
        }
        d.reasons.push_back("login " + shown(env.auth_login) + " owns " + sender + " (" + how +
                            (fold_login ? "; signing.login_case: insensitive" : "") + ")");
    } else {
        const bool allowed = system != nullptr && std::find(system->may_send_as.begin(), system->may_send_as.end(),
                                                            sender) != system->may_send_as.end();
        if (!allowed) {
            return reject(because(d, "client-not-allowed"),
                          "unauthenticated client " + shown(env.client_ip) + " may not send as " + sender +
                              "; use SMTP AUTH, or list the client in signing.systems");
        }
        d.reasons.push_back("system sender '" + system->name + "' may send as " + sender);
    }

    // 7. The certificate: names the address, trusted, valid now, may sign, not revoked; newest
    //    wins (R4, R5, R6).
    const Choice own = choose(certs, sender, now, s, rule);
    d.considered = own.considered;
    note_choice(d, own, certs, "");
    if (own.best) {
        return sign_with(std::move(d), own, certs,
                         "sign as " + sender + " with certificate " + certs[*own.best].serial);
    }
    std::string problem = own.problem(certs, sender);
    d.reason_code = own.word(certs);
    if (const CertVerdict* reported = own.reported(certs)) {
        const CertFacts& c = certs[reported->index];
        if (reported->temporary || c.revocation.state == RevocationFacts::State::Revoked) {
            d.revocation_used = RevocationUsed{c.serial, c.revocation, c.revocation.evidence};
        }
        if (reported->temporary) {
            return defer(d, problem);  // never "pass unsigned" or sealed for a state that may clear within minutes
        }
        const auto incident_of = [&](const char* kind, const std::string& what) {
            return Incident{kind, env.auth_login, sender, env.client_ip, c.serial, what + sender + ": " + problem};
        };
        if (c.revocation.state == RevocationFacts::State::Revoked) {
            d.incident = incident_of(incident::k_sign_revoked, "refused to sign as ");
            return reject(d,
                          problem);  // R6: a revoked certificate is never used, nor sealed or passed unsigned instead
        }
        if (c.not_after <= now) {  // R12: the sender's newest certificate has expired
            d.incident = incident_of(incident::k_sign_expired, "no valid certificate to sign as ");
        }
    }

    // 8. The organisation seal (R7, docs/keys.md): off unless the domain names one. An
    //    authenticated sender without a usable certificate of their own is signed for with the
    //    seal's certificate; From stays the person, Sender becomes the seal (RFC 8550 §3), and
    //    step 6 already proved that the login owns From.
    if (!rule->seal.empty()) {
        if (login.empty()) {
            d.reasons.push_back("seal " + rule->seal + " not used: it signs for authenticated staff only (" + sender +
                                " is a system sender: give it a certificate of its own)");
        } else {
            const Choice seal = choose(certs, rule->seal, now, s, official_rule(s, rule->seal));
            note_choice(d, seal, certs, "seal ");
            if (seal.best) {
                d.sealed_by = rule->seal;
                d.reasons.push_back("sealed by " + rule->seal + " for " + sender + ": " + problem + " (" +
                                    rule->domain + " seal: " + rule->seal + ")");
                return sign_with(
                    std::move(d), seal, certs,
                    "sealed by " + rule->seal + " for " + sender + " with certificate " + certs[*seal.best].serial);
            }
            problem += "; the seal " + rule->seal + " cannot sign either: " + seal.problem(certs, rule->seal);
            if (const CertVerdict* reported = seal.reported(certs); reported != nullptr && reported->temporary) {
                return defer(because(d, "revocation-unknown"), problem);
            }
        }
    }
    if (rule->without_certificate == config::Action::Pass) {
        return pass(d, problem + "; sent unsigned (" + rule->domain + " without_certificate: pass)");
    }
    return reject(d, problem);
}

namespace {

/**
 * Text from a message (a certificate's name or address, the verifier's words
 * about them) as it may appear in an SMTP reply and a log line: printable
 * ASCII, other bytes as '?', at most @p max bytes.
 */
std::string printable(std::string_view text, std::size_t max = 200) {
    std::string out;
    for (const char c : text.substr(0, max)) {
        out += c >= 0x20 && c < 0x7F ? c : '?';
    }
    return text.size() > max ? out + "..." : out;
}

}  // namespace

Decision decide_protected(const config::Settings& s, Decision d, const ClientProtection& found) {
    using Kind = ClientProtection::Kind;
    if (found.kind == Kind::None || d.action != Action::Sign) {
        return d;
    }
    const config::DomainRule* rule = official_rule(s, d.sender);
    const std::string domain = rule != nullptr ? rule->domain : d.sender;

    // 9. The client's own signature is left as it is when it is the sender's: valid over the
    //    content, trusted and fit for e-mail now, and naming the decision's sender (R3, R4).
    std::string problem;  // what the reply says after "the message is already …"
    std::string setting;  // the key that decides what happens then
    config::ClientProtected choice = config::ClientProtected::Reject;
    if (found.kind == Kind::Signed) {
        const bool own = std::any_of(found.signer_addresses.begin(), found.signer_addresses.end(),
                                     [&](const std::string& a) { return normalize_address(a) == d.sender; });
        if (found.smime && found.content_intact && found.certificate_trusted && own) {
            d.action = Action::Pass;
            d.cert.reset();
            d.client_protection = "already signed by the sender " + d.sender + " (certificate " +
                                  printable(found.serial) + "): verified, left unchanged";
            d.summary = "pass: " + d.client_protection;
            d.reasons.push_back(d.summary);
            return d;
        }
        if (!found.smime) {
            problem = "signed, but not with S/MIME, so segel cannot check the signature";
        } else if (!found.content_intact) {
            problem = "signed, but the signature does not match the content (" + printable(found.detail) + ")";
        } else if (!found.certificate_trusted) {
            problem = "signed, but the signature cannot be trusted (" + printable(found.detail) + ")";
        } else if (found.signer_addresses.empty()) {
            problem = "signed by a certificate without an e-mail address, not by the sender " + d.sender;
        } else {
            problem = "signed by " + printable(found.signer_addresses.front()) + ", not by the sender " + d.sender;
        }
        setting = domain + " client_signatures";
        choice = rule != nullptr ? rule->client_signatures : choice;
    } else {
        // 10. Client-encrypted mail cannot be checked: whatever it holds (even a signature of
        //    someone else) would leave under the sender's name unseen.
        problem = "encrypted by the mail program, so segel cannot check that it is the sender's";
        setting = domain + " client_encrypted";
        choice = rule != nullptr ? rule->client_encrypted : choice;
    }
    const std::string found_text = "the message is already " + problem;
    switch (choice) {
        case config::ClientProtected::Wrap:
            d.client_protection = found_text + ": signed over it as " + d.sender + " (" + setting + ": wrap)";
            d.summary += "; " + d.client_protection;
            d.reasons.push_back(d.client_protection);
            return d;
        case config::ClientProtected::Pass:
            d.cert.reset();
            d.client_protection = found_text + ": left unchanged (" + setting + ": pass)";
            return pass(d, d.client_protection);
        case config::ClientProtected::Reject:
            break;
    }
    const std::string fix = found.kind == Kind::Signed
                                ? "; send it unsigned: segel signs it with your certificate"
                                : "; send it unencrypted: segel signs it, and encrypts it when encryption applies";
    d.cert.reset();
    d.client_protection = found_text + " (" + setting + ": reject)";
    d.reasons.push_back(d.client_protection);
    return reject(because(d, found.kind == Kind::Signed ? "client-signed" : "client-encrypted"), found_text + fix);
}

}  // namespace segel::policy
