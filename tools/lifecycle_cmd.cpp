// segelctl commands of the certificate lifecycle (R4, R5, R6):
//   certs            every certificate the gateway depends on: validity, revocation (state, source,
//                    age), fitness for mail; --warn-days N for monitoring, --json for machines
//   revocation refresh   check every signing certificate now (the milter picks the answers up)
//   notify-expiry    the daily expiry notices (packaging/systemd/segel-notify-expiry.timer)
#include "base/json.h"
#include "base/time.h"
#include "engine/gateway.h"
#include "policy/expiry.h"
#include "policy/fitness.h"
#include "services/smtp.h"
#include "smime/error.h"
#include "smime/usage.h"
#include "tools/cli.h"
#include "tools/lifecycle.h"
#include "tools/notices.h"

#include <sysexits.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <optional>
#include <set>

namespace segel::tools {

namespace {

using TimePoint = std::chrono::system_clock::time_point;

std::shared_ptr<const engine::Gateway> load(const Args& a) {
    if (a.config.empty()) {
        throw std::invalid_argument(a.command + " needs --config FILE");
    }
    return engine::Gateway::load(a.config);
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

std::string host_name() {
    char buf[256] = {};
    return gethostname(buf, sizeof buf - 1) == 0 && buf[0] != '\0' ? buf : "localhost";
}

/** One line about a certificate's revocation: the evidence, where from, and the latest failure. */
std::string revocation_line(const services::CertificateStatus& st, TimePoint now) {
    std::string out = smime::evidence(st.evidence, now);
    if (!st.evidence.url.empty()) {
        out += " (" + st.evidence.url + ")";
    }
    if (!st.problem.empty() &&
        (st.evidence.state == smime::RevocationState::Good || st.evidence.state == smime::RevocationState::Revoked)) {
        out += "; the latest check failed: " + st.problem;
    }
    return out;
}

policy::Expiring expiring(X509* cert, const std::string& kind) {
    const smime::CertInfo info = smime::inspect(cert);
    policy::Expiring e;
    e.key = smime::ossl::fingerprint_sha256(cert);
    e.kind = kind;
    e.serial = info.serial;
    e.subject = info.subject;
    e.common_name = info.common_name.empty() ? info.subject : info.common_name;
    e.addresses = info.addresses;
    e.not_before = info.not_before;
    e.not_after = info.not_after;
    return e;
}

/** The CA and responder certificates the gateway depends on (signing certificates come from facts()). */
std::vector<std::pair<smime::ossl::Ptr<X509>, std::string>> ca_certificates(const engine::Gateway& gw) {
    std::vector<std::pair<smime::ossl::Ptr<X509>, std::string>> out;
    std::set<std::string> seen;
    auto add = [&](X509* c, const char* kind) {
        const std::string fp = smime::ossl::fingerprint_sha256(c);
        if (seen.insert(fp).second) {
            out.emplace_back(smime::ossl::retain(c), kind);
        }
    };
    for (const auto& c : smime::anchor_certificates(gw.trust())) {
        add(c.get(), "anchor");
    }
    for (const auto& c : gw.trust().intermediates()) {
        add(c.get(), "intermediate");
    }
    for (const auto& c : gw.revocation().responder_certificates()) {
        add(c.get(), "ocsp-responder");
    }
    return out;
}

}  // namespace

std::vector<std::string> certificate_warnings(const engine::Gateway& gw, TimePoint now) {
    std::vector<std::string> out;
    const auto facts = gw.facts(now);
    for (std::size_t i = 0; i < facts.size(); ++i) {
        const auto& c = facts[i];
        const std::string st = policy::certificate_state(c, now, gw.settings());
        const bool fine =
            st == "usable" || (st.rfind("usable; revocation: ", 0) == 0 && st.find(" good") != std::string::npos);
        const policy::Fitness f = policy::fitness(c, gw.settings());
        const bool usage_only = !f.signing.empty() && (st.rfind("extended key usage", 0) == 0 ||
                                                       st.rfind("key usage", 0) == 0);  // said below, better
        if (!fine && !usage_only) {
            out.push_back(c.id + ": certificate " + c.serial + ": " + st);
        }
        for (const auto& u : f.signing) {
            out.push_back(c.id + ": certificate " + c.serial + " cannot sign mail: " + u.en + "; ask the RA for " +
                          u.ask_en + " / tidak dapat menandatangani e-mail: " + u.id);
        }
        for (const auto& u : f.notes) {
            if (u.code == "compatibility") {
                out.push_back(c.id + ": certificate " + c.serial + ": " + u.en);
            }
        }
    }
    for (const auto& [cert, kind] : ca_certificates(gw)) {
        const smime::CertInfo info = smime::inspect(cert.get());
        const long left = policy::days_left(info.not_after, now);
        if (now >= info.not_after) {
            out.push_back(kind + " certificate " + info.serial + " (" + info.common_name + ") expired " +
                          base::format_date(info.not_after));
        } else if (left <= 90) {
            out.push_back(kind + " certificate " + info.serial + " (" + info.common_name + ") expires in " +
                          std::to_string(left) + " days (" + base::format_date(info.not_after) +
                          "): install its successor");
        }
    }
    if (gw.settings().notices.present && !gw.settings().notices.sign_as.empty()) {
        policy::Envelope env;
        env.auth_login = env.mail_from = gw.settings().notices.sign_as;
        engine::add_from_header(env, " " + env.mail_from);
        env.client_ip = "127.0.0.1";
        const policy::Decision d = gw.decide(env, now);
        if (d.action != policy::Action::Sign) {
            out.push_back("notices.sign_as " + env.mail_from +
                          " cannot sign the expiry notices: " + (d.reply_text.empty() ? d.summary : d.reply_text));
        }
    }
    return out;
}

int cmd_certs(const Args& o) {
    const auto gw = load(o);
    const TimePoint now = o.at.value_or(std::chrono::system_clock::now());
    gw->revocation().refresh(false, std::chrono::system_clock::now());
    const auto facts = gw->facts(now);
    std::vector<std::string> warnings;
    auto check_warn = [&](const std::string& what, TimePoint not_after, bool revoked) {
        if (revoked) {
            warnings.push_back(what + ": revoked");
        } else if (now >= not_after) {
            warnings.push_back(what + ": expired " + base::format_date(not_after));
        } else if (o.warn_days && policy::days_left(not_after, now) <= *o.warn_days) {
            warnings.push_back(what + ": expires in " + std::to_string(policy::days_left(not_after, now)) + " days (" +
                               base::format_date(not_after) + ")");
        }
    };
    std::string json = "{\"time\": " + base::json_string(base::format_time(now)) + ", \"certificates\": [";
    bool first = true;
    for (std::size_t i = 0; i < facts.size(); ++i) {
        const auto& c = facts[i];
        const services::CertificateStatus rst = gw->revocation().status(gw->credentials()[i].cert.get());
        const std::string state = policy::certificate_state(c, now, gw->settings());
        const policy::Fitness f = policy::fitness(c, gw->settings());
        const bool revoked = c.revocation.state == policy::RevocationFacts::State::Revoked;
        check_warn("certificate " + c.serial + " (" + (c.addresses.empty() ? c.id : join(c.addresses)) + ")",
                   c.not_after, revoked);
        if (o.json) {
            std::string problems;
            for (const auto* list : {&f.signing, &f.encryption, &f.notes}) {
                const char* kind = list == &f.signing ? "signing" : list == &f.encryption ? "encryption" : "note";
                for (const auto& u : *list) {
                    problems += std::string(problems.empty() ? "" : ", ") + "{\"for\": " + base::json_string(kind) +
                                ", \"code\": " + base::json_string(u.code) + ", \"en\": " + base::json_string(u.en) +
                                ", \"id\": " + base::json_string(u.id) +
                                ", \"ask_en\": " + base::json_string(u.ask_en) +
                                ", \"ask_id\": " + base::json_string(u.ask_id) + "}";
                }
            }
            std::string addrs;
            for (const auto& a : c.addresses) {
                addrs += std::string(addrs.empty() ? "" : ", ") + base::json_string(a);
            }
            const auto& ev = rst.evidence;
            const bool settled =
                ev.state == smime::RevocationState::Good || ev.state == smime::RevocationState::Revoked;
            json +=
                std::string(first ? "" : ",") +
                "\n  {\"kind\": \"signing\", \"serial\": " + base::json_string(c.serial) +
                ", \"subject\": " + base::json_string(c.subject) + ", \"addresses\": [" + addrs +
                "], \"key\": " + base::json_string(c.key_type) +
                ", \"not_before\": " + base::json_string(base::format_time(c.not_before)) +
                ", \"not_after\": " + base::json_string(base::format_time(c.not_after)) +
                ", \"days_left\": " + std::to_string(policy::days_left(c.not_after, now)) +
                ", \"state\": " + base::json_string(state) +
                ", \"usable\": " + (state.rfind("usable", 0) == 0 ? "true" : "false") +
                ", \"file\": " + base::json_string(c.id) +
                ", \"revocation\": {\"state\": " + base::json_string(smime::to_string(ev.state)) +
                ", \"source\": " + base::json_string(smime::to_string(ev.source)) +
                ", \"url\": " + base::json_string(ev.url) +
                ", \"obtained\": " + (settled ? base::json_string(base::format_time(ev.obtained)) : "null") +
                ", \"age_seconds\": " +
                (settled ? std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - ev.obtained).count())
                         : "null") +
                ", \"revoked_at\": " +
                (ev.state == smime::RevocationState::Revoked ? base::json_string(base::format_time(ev.revoked_at))
                                                             : "null") +
                ", \"reason\": " + base::json_string(ev.reason) + ", \"problem\": " + base::json_string(rst.problem) +
                ", \"evidence\": " + base::json_string(c.revocation.evidence) +
                "}, \"can_sign\": " + (f.can_sign() ? "true" : "false") +
                ", \"can_receive_encrypted\": " + (f.can_receive() ? "true" : "false") + ", \"fitness\": [" + problems +
                "]}";
            first = false;
            continue;
        }
        std::cout << c.serial << "  " << (c.addresses.empty() ? "(no address)" : join(c.addresses)) << "  "
                  << c.key_type << "  " << base::format_date(c.not_before) << ".." << base::format_date(c.not_after)
                  << "  " << state << "  " << c.id << "\n";
        std::cout << "    revocation: " << revocation_line(rst, now) << "\n";
        for (const auto& l : policy::explain(f)) {
            std::cout << "    " << l << "\n";
        }
    }
    bool header = false;
    for (const auto& [cert, kind] : ca_certificates(*gw)) {
        const smime::CertInfo info = smime::inspect(cert.get());
        const long left = policy::days_left(info.not_after, now);
        const std::string state = now >= info.not_after ? "EXPIRED " + base::format_date(info.not_after)
                                  : left <= 90 ? "expires in " + std::to_string(left) + " days: install its successor"
                                               : "valid";
        check_warn(kind + " certificate " + info.serial + " (" + info.common_name + ")", info.not_after, false);
        if (o.json) {
            json += std::string(first ? "" : ",") + "\n  {\"kind\": " + base::json_string(kind) +
                    ", \"serial\": " + base::json_string(info.serial) +
                    ", \"subject\": " + base::json_string(info.subject) +
                    ", \"not_before\": " + base::json_string(base::format_time(info.not_before)) +
                    ", \"not_after\": " + base::json_string(base::format_time(info.not_after)) +
                    ", \"days_left\": " + std::to_string(left) + ", \"state\": " + base::json_string(state) + "}";
            first = false;
            continue;
        }
        if (!header) {
            std::cout << "CA and responder certificates:\n";
            header = true;
        }
        std::cout << "  " << kind << "  " << info.serial << "  " << info.common_name << "  "
                  << base::format_date(info.not_before) << ".." << base::format_date(info.not_after) << "  " << state
                  << "\n";
    }
    if (o.json) {
        std::string w;
        for (const auto& x : warnings) {
            w += std::string(w.empty() ? "" : ", ") + base::json_string(x);
        }
        std::cout << json << "\n], \"warnings\": [" << w << "]}\n";
    } else {
        for (const auto& x : warnings) {
            std::cout << "warning: " << x << "\n";
        }
    }
    // Monitoring (--warn-days): exit 1 when anything is expired, revoked or inside N days.
    return o.warn_days && !warnings.empty() ? 1 : 0;
}

int cmd_revocation(const Args& o) {
    if (o.positional.size() != 1 || o.positional.front() != "refresh") {
        throw std::invalid_argument("usage: segelctl revocation refresh --config FILE");
    }
    const auto gw = load(o);
    const TimePoint now = std::chrono::system_clock::now();
    gw->revocation().refresh(true, now);
    int rc = 0;
    for (std::size_t i = 0; i < gw->credentials().size(); ++i) {
        const auto& cred = gw->credentials()[i];
        const services::CertificateStatus st = gw->revocation().status(cred.cert.get());
        std::cout << cred.info.serial << "  "
                  << (cred.info.addresses.empty() ? "(no address)" : join(cred.info.addresses)) << "  "
                  << revocation_line(st, now) << "\n";
        if (st.evidence.state == smime::RevocationState::Revoked ||
            st.evidence.state == smime::RevocationState::Unknown) {
            rc = 1;
        }
    }
    const std::string& dir = gw->settings().revocation.cache_directory;
    std::cout << (dir.empty() ? "note: revocation.cache_directory is not set, so a running segel-milter does not see "
                                "these answers (it checks on its own)\n"
                              : "answers written to " + dir + "; a running segel-milter takes them within 30 s\n");
    return rc;
}

int cmd_notify_expiry(const Args& o) {
    const auto gw = load(o);
    const config::Notices& n = gw->settings().notices;
    if (!n.present) {
        std::cerr << o.config << ": no notices: section; add one (docs/operations.md, \"Expiry notices\")\n";
        return EX_CONFIG;
    }
    const TimePoint now = o.at.value_or(std::chrono::system_clock::now());
    gw->revocation().refresh(false, std::chrono::system_clock::now());
    std::vector<policy::Expiring> certs;
    const auto facts = gw->facts(now);
    for (std::size_t i = 0; i < facts.size(); ++i) {
        policy::Expiring e = expiring(gw->credentials()[i].cert.get(), "signing");
        e.revoked = facts[i].revocation.state == policy::RevocationFacts::State::Revoked;
        certs.push_back(std::move(e));
    }
    for (const auto& [cert, kind] : ca_certificates(*gw)) {
        certs.push_back(expiring(cert.get(), kind));
    }
    std::vector<std::string> skipped;
    const auto due = policy::due_notices(certs, now, n.days, &skipped);
    for (const auto& s : skipped) {
        std::cout << "skipped: " << s << "\n";
    }
    if (due.empty()) {
        std::cout << "no expiry notice is due (" << certs.size() << " certificates)\n";
        return 0;
    }
    // The notices are signed as notices.sign_as, through the gateway's own decision (R3-R6 apply).
    policy::Envelope env;
    env.auth_login = env.mail_from = n.sign_as;
    engine::add_from_header(env, " " + n.sign_as);
    env.client_ip = "127.0.0.1";
    const policy::Decision sign = gw->decide(env, now);
    if (!o.dry_run && sign.action != policy::Action::Sign) {
        std::cerr << "segelctl: notices.sign_as " << n.sign_as
                  << " cannot sign the notices: " << (sign.reply_text.empty() ? sign.summary : sign.reply_text)
                  << "; nothing sent\n";
        return 1;
    }
    std::optional<NoticeLedger> ledger;
    if (!o.dry_run) {
        ledger.emplace(n.state_file);
    }
    const std::string node = host_name();
    int rc = 0;
    for (const auto& d : due) {
        const policy::Expiring& c = certs[d.index];
        const auto to = policy::notice_recipients(n, c);
        const std::string what = c.kind + " certificate " + c.serial + " (" +
                                 (c.addresses.empty() ? c.common_name : join(c.addresses)) + "), " +
                                 (d.threshold == 0 ? "expired" : std::to_string(d.threshold) + "-day notice");
        if (to.empty()) {
            std::cout << "skipped: " << what << ": nobody to tell (set notices.administrators)\n";
            continue;
        }
        if (o.dry_run) {
            std::cout << "due: " << what << " -> " << join(to, ", ") << "\n";
            continue;
        }
        if (!ledger->claim(c.key, d.threshold, node, now)) {
            std::cout << "already sent: " << what << "\n";
            continue;
        }
        try {
            const std::string text = compose_notice(c, d.threshold, n.sign_as, to, now, node);
            smime::Blob blob = smime::Blob::from(text);
            const smime::SignedMessage sm = gw->sign(sign, blob, now);
            const std::string message = engine::replace_entity(text, sm.headers, sm.body.view());
            const std::string error = services::smtp::send(n.relay, n.from, to, message, {.helo = node});
            if (!error.empty()) {
                ledger->release(c.key, d.threshold);
                std::cerr << "segelctl: not sent: " << what << ": " << error << " (retried on the next run)\n";
                rc = 1;
                continue;
            }
            ledger->sent(c.key, d.threshold, join(to, ","), now);
            std::cout << "sent: " << what << " -> " << join(to, ", ") << "\n";
        } catch (const std::exception& e) {
            ledger->release(c.key, d.threshold);
            std::cerr << "segelctl: not sent: " << what << ": " << e.what() << "\n";
            rc = 1;
        }
    }
    return rc;
}

}  // namespace segel::tools
