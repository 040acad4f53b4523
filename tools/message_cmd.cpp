// segelctl's message commands — sign, encrypt, decrypt, verify, process — all
// run a message through the same engine Session the milter uses (engine::process),
// with recording actions that render the message the MTA would send on.
#include "base/json.h"
#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/outcome_format.h"
#include "engine/session.h"
#include "smime/error.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace segel::tools {

namespace {

std::shared_ptr<const engine::Gateway> load(const Args& a) {
    if (a.config.empty()) {
        throw std::invalid_argument(a.command + " needs --config FILE");
    }
    auto gw = engine::Gateway::load(a.config);
    // What the milter knows comes from revocation.cache_directory; what is due is checked now (R6).
    gw->revocation().refresh(false, std::chrono::system_clock::now());
    return gw;
}

engine::Clock clock_of(const Args& a) {
    if (!a.at) {
        return {};
    }
    const TimePoint at = *a.at;
    return [at] { return at; };
}

/** An outbound transcript: staff mail as the milter sees it after SMTP AUTH (or from an internal client). */
engine::Transcript outbound(const Args& a) {
    if (a.from.empty()) {
        throw std::invalid_argument(a.command + " needs --from ADDR (the envelope sender)");
    }
    engine::Transcript t;
    t.mail_from = a.from;
    t.login = a.login;
    t.recipients = a.to;
    t.connection.client_ip = a.client.empty() ? (a.login.empty() ? "unknown" : "127.0.0.1") : a.client;
    if (!a.queue_id.empty()) {
        t.queue_id = a.queue_id;
    }
    return t;
}

/** An inbound transcript: mail from outside (no login; the client is not internal unless --client says so). */
engine::Transcript inbound(const Args& a, std::vector<std::string> recipients) {
    engine::Transcript t;
    t.mail_from = a.from;
    t.recipients = std::move(recipients);
    t.connection.client_ip = a.client.empty() ? "unknown" : a.client;
    if (!a.queue_id.empty()) {
        t.queue_id = a.queue_id;
    }
    return t;
}

std::string reply_line(const engine::Reply& r) {
    return r.code + " " + r.xcode + " " + r.text;
}

bool refused(const engine::Reply& r) {
    return r.kind == engine::Reply::Kind::Reject || r.kind == engine::Reply::Kind::Tempfail;
}

void print_reasons(const engine::Outcome& o) {
    for (const auto& r : o.reasons) {
        std::cerr << "  - " << r << "\n";
    }
}

/** The edits as applied, as JSON (segelctl process). */
void edits_json(base::JsonWriter& w, const engine::RecordingActions& actions) {
    w.begin_array();
    for (const auto& r : actions.recorded()) {
        w.begin_object().field("op", r.op);
        if (!r.name.empty()) {
            w.field("name", r.name);
        }
        if (r.op == "body") {
            w.field("pieces", r.index);
        } else if (r.op == "delete" || r.op == "change" || r.op == "insert") {
            w.field("index", r.index);
        }
        if (!r.value.empty()) {
            w.field("value", r.value);
        }
        w.end_object();
    }
    w.end_array();
}

}  // namespace

int cmd_sign(const Args& a) {
    const auto gw = load(a);
    if (a.command == "encrypt" && a.to.empty()) {
        throw std::invalid_argument("encrypt needs at least one --to ADDR (the envelope recipients)");
    }
    const std::string input = read_stdin();
    const engine::Processed p = engine::process(gw, outbound(a), input, clock_of(a));
    const engine::Outcome& o = p.outcome;
    if (a.explain) {
        print_reasons(o);
    }
    if (refused(p.reply)) {
        std::cerr << reply_line(p.reply) << "\n";
        return k_refused;
    }
    std::cout << p.actions.message();
    switch (o.decision) {
        case engine::Decision::Sign:
            std::cerr << "signed as " << o.signer << " with certificate " << o.certificate->serial
                      << (o.encryption && o.encryption->considered ? "; " + o.encryption->summary : std::string())
                      << "\n";
            break;
        case engine::Decision::SignEncrypt:
            std::cerr << "signed as " << o.signer << " and encrypted (" << o.encryption->cipher << ") for "
                      << o.encryption->certificates << " certificates\n";
            break;
        default:
            std::cerr << "not signed: " << o.summary << "\n";
            break;
    }
    return 0;
}

int cmd_decrypt(const Args& a) {
    const auto gw = load(a);
    const std::string input = read_stdin();
    std::vector<std::string> recipients = a.to;
    if (recipients.empty()) {
        recipients = engine::addressed_recipients(*gw, smime::Blob::from(input));
    }
    const engine::Processed p = engine::process(gw, inbound(a, recipients), input, clock_of(a));
    const engine::Outcome& o = p.outcome;
    if (refused(p.reply)) {
        std::cerr << reply_line(p.reply) << "\n";
        return k_refused;
    }
    std::cout << p.actions.message();
    if (!o.decryption || o.decryption->result != engine::DecryptionFacts::Result::Decrypted) {
        std::cerr << (o.decryption ? o.decryption->detail : std::string("not encrypted")) << "\n";
        return k_refused;
    }
    std::cerr << o.decryption->detail;
    if (o.verification) {
        std::cerr << "; inner signature: smime=" << smime::to_string(o.verification->result)
                  << (o.verification->identifier.empty() ? "" : " signer=" + o.verification->identifier) << " reason=\""
                  << o.verification->reason << "\"";
    }
    std::cerr << "\n";
    return 0;
}

int cmd_verify(const Args& a) {
    if (a.positional.empty() || a.config.empty() == a.trust_anchors.empty()) {
        std::cerr << "usage: segelctl verify [--config FILE | --trust-anchors PEM] [--crl FILE] [--at TIME]\n"
                     "                       [--certificate-time arrival|signing_time] MESSAGE...\n";
        return k_usage;
    }
    // The inbound settings of the configuration (or just the anchors given), verification on.
    config::Settings s;
    if (!a.config.empty()) {
        s = config::load(a.config);
    } else {
        s.source = "(command line)";
        s.trust.anchors = a.trust_anchors;
        s.encryption.decrypt_inbound = false;
    }
    s.inbound.enabled = true;
    for (const auto& c : a.crls) {
        s.inbound.crl_files.push_back(c);
    }
    if (a.certificate_time == "signing_time") {
        s.inbound.certificate_time = config::Inbound::CertificateTime::SigningTime;
    } else if (a.certificate_time == "arrival") {
        s.inbound.certificate_time = config::Inbound::CertificateTime::Arrival;
    } else if (!a.certificate_time.empty()) {
        throw std::invalid_argument("--certificate-time: \"" + a.certificate_time +
                                    "\" is not arrival or signing_time");
    }
    std::shared_ptr<const engine::Gateway> gw;
    try {
        gw = engine::Gateway::from_settings(std::move(s));
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return k_usage;
    }
    bool all_pass = true;
    for (const auto& file : a.positional) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            std::cout << file << ": temperror reason=cannot read the file\n";
            all_pass = false;
            continue;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        const engine::Processed p = engine::process(gw, inbound(a, {}), ss.str(), clock_of(a));
        const auto& v = p.outcome.verification;
        if (!v) {
            std::cout << file << ": temperror reason="
                      << (p.outcome.error ? p.outcome.error->what : std::string("not verified")) << "\n";
            all_pass = false;
            continue;
        }
        std::cout << file << ": " << smime::to_string(v->result);
        if (!v->identifier.empty() && v->result != smime::AuthResult::None) {
            std::cout << " signer=" << v->identifier;
        }
        if (!v->reason.empty()) {
            std::cout << " reason=" << v->reason;
        }
        std::cout << "\n";
        all_pass = all_pass && v->result == smime::AuthResult::Pass;
    }
    return all_pass ? 0 : k_refused;
}

int cmd_process(const Args& a) {
    const auto gw = load(a);
    const std::string input = read_stdin();
    // The direction is the policy's to decide, from the login and the client, as in the milter.
    engine::Transcript t;
    t.mail_from = a.from;
    t.login = a.login;
    t.recipients = a.to;
    t.connection.client_ip = a.client.empty() ? (a.login.empty() ? "unknown" : "127.0.0.1") : a.client;
    if (!a.queue_id.empty()) {
        t.queue_id = a.queue_id;
    }
    const engine::Processed p = engine::process(gw, t, input, clock_of(a));
    base::JsonWriter w;
    w.begin_object();
    w.key("reply").begin_object();
    w.field("kind", p.reply.kind == engine::Reply::Kind::Continue ? "continue"
                    : p.reply.kind == engine::Reply::Kind::Accept ? "accept"
                    : p.reply.kind == engine::Reply::Kind::Reject ? "reject"
                                                                  : "tempfail");
    w.field("code", p.reply.code).field("xcode", p.reply.xcode).field("text", p.reply.text);
    w.end_object();
    w.key("edits");
    edits_json(w, p.actions);
    w.key("outcome").raw(engine::to_json(p.outcome, !a.at));
    if (a.message) {
        w.field("message", p.actions.message());
    }
    w.end_object();
    std::cout << w.str() << "\n";
    return refused(p.reply) ? k_refused : 0;
}

}  // namespace segel::tools
