// segelctl encrypt / decrypt: the milter's outbound encryption and inbound
// decryption, on a message read from standard input.
#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/gateway.h"
#include "engine/inbound.h"
#include "smime/error.h"
#include "tools/cli.h"

#include <ctime>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace segel::tools {

using TimePoint = std::chrono::system_clock::time_point;

namespace {

constexpr int k_refused = 1;

struct Options {
    std::string config;
    std::string from;
    std::string login;
    std::string client;
    std::vector<std::string> to;
    std::optional<TimePoint> at;
    bool explain = false;
};
Options parse(int argc, char** argv, const char* command) {
    Options o;
    for (int i = 0; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&] { return segel::tools::option_value(argc, argv, i); };
        if (k == "--config" || k == "-c") {
            o.config = value();
        } else if (k == "--from") {
            o.from = value();
        } else if (k == "--login") {
            o.login = value();
        } else if (k == "--client") {
            o.client = value();
        } else if (k == "--to") {
            o.to.push_back(value());
        } else if (k == "--explain" || k == "-v") {
            o.explain = true;
        } else if (k == "--at") {
            o.at = segel::tools::parse_at(value());
        } else {
            throw std::invalid_argument(std::string(command) + ": unknown option " + k);
        }
    }
    if (o.config.empty()) {
        throw std::invalid_argument(std::string(command) + " needs --config FILE");
    }
    return o;
}

std::string read_stdin() {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
}

std::optional<std::string> subject_of(const std::string& message) {
    for (const auto& h : engine::split_head(message)) {
        if (strcasecmp(h.name.c_str(), "Subject") == 0) {
            return h.value;
        }
    }
    return std::nullopt;
}

/** The message with the first Subject field's value replaced (the trigger removed). */
std::string with_subject(const std::string& message, const std::string& value) {
    std::size_t body = 0;
    const auto fields = engine::split_head(message, &body);
    std::string out;
    bool done = false;
    for (const auto& h : fields) {
        std::string v = (!done && strcasecmp(h.name.c_str(), "Subject") == 0) ? value : h.value;
        done = done || strcasecmp(h.name.c_str(), "Subject") == 0;
        for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
            v.replace(p, 1, "\r\n");
        }
        out += h.name + ":" + v + "\r\n";
    }
    return out + "\r\n" + message.substr(body);
}

}  // namespace

/**
 * `segelctl encrypt --config FILE --from ADDR [--login USER] [--client IP] --to ADDR... [--at TIME] [--explain]`:
 * decide, sign, then encrypt when the encryption policy says so; the result on stdout.
 * @return 0 done (signed, or signed and encrypted), 1 refused (the SMTP reply on stderr)
 */
int cmd_encrypt(int argc, char** argv) {
    const Options o = parse(argc, argv, "encrypt");
    if (o.to.empty()) {
        throw std::invalid_argument("encrypt needs at least one --to ADDR (the envelope recipients)");
    }
    if (o.from.empty()) {
        throw std::invalid_argument("encrypt needs --from ADDR (the envelope sender)");
    }
    const auto gw = engine::Gateway::load(o.config);
    const TimePoint now = o.at.value_or(std::chrono::system_clock::now());
    std::string input = read_stdin();
    policy::Envelope env;
    env.mail_from = o.from;
    env.auth_login = o.login;
    env.client_ip = o.client.empty() ? (o.login.empty() ? "unknown" : "127.0.0.1") : o.client;
    engine::read_from_headers(env, input);

    const policy::Decision d = gw->decide(env, now);
    if (d.action == policy::Action::Reject) {
        std::cerr << d.reply_code << " " << d.reply_xcode << " " << d.reply_text << "\n";
        return k_refused;
    }
    const engine::OutboundPlan plan = engine::plan_outbound(*gw, o.to, subject_of(input), now);
    if (o.explain) {
        for (const auto& r : plan.decision.reasons) {
            std::cerr << "encryption: " << r << "\n";
        }
    }
    if (plan.decision.action == policy::EncryptAction::Reject) {
        std::cerr << plan.decision.reply_code << " " << plan.decision.reply_xcode << " " << plan.decision.reply_text
                  << "\n";
        return k_refused;
    }
    if (d.action != policy::Action::Sign) {
        if (plan.decision.required) {
            std::cerr << "550 5.7.1 encryption is required but the message cannot be signed: " << d.summary << "\n";
            return k_refused;
        }
        std::cerr << "not signed, not encrypted: " << d.summary << "\n";
        std::cout << input;
        return 0;
    }
    const auto& s = gw->settings();
    smime::Blob message(s.milter.spool_memory_limit, s.milter.spool_directory);
    message.append(input);
    if (smime::classify(message) != smime::Protection::None) {
        std::cerr << "already signed or encrypted: left unchanged\n";
        std::cout << input;
        return 0;
    }
    const smime::SignedMessage signed_message = gw->sign(d, message, now);
    if (plan.decision.action != policy::EncryptAction::Encrypt) {
        std::cout << engine::assemble(input, signed_message);
        std::cerr << "signed as " << d.sender << "; " << plan.decision.summary << "\n";
        return 0;
    }
    const smime::EncryptedMessage enc = engine::encrypt_outbound(*gw, d, plan, signed_message);
    if (plan.new_subject) {
        input = with_subject(input, *plan.new_subject);
    }
    std::cout << engine::replace_entity(input, enc.headers, enc.body.view());
    std::cerr << "signed as " << d.sender << " and encrypted (" << smime::cipher_name(enc.cipher) << ") for "
              << enc.recipient_count << " certificates\n";
    return 0;
}

/**
 * `segelctl decrypt --config FILE [--to ADDR...] [--at TIME]`: decrypts as the
 * milter does for inbound mail and verifies any inner signature. Without --to,
 * the recipient is the first held key the message is encrypted to.
 * @return 0 decrypted, 1 not decrypted (why on stderr; the message unchanged on stdout)
 */
int cmd_decrypt(int argc, char** argv) {
    const Options o = parse(argc, argv, "decrypt");
    const auto gw = engine::Gateway::load(o.config);
    const TimePoint now = o.at.value_or(std::chrono::system_clock::now());
    const std::string input = read_stdin();
    const auto& s = gw->settings();
    smime::Blob message(s.milter.spool_memory_limit, s.milter.spool_directory);
    message.append(input);

    std::vector<std::string> recipients = o.to;
    if (recipients.empty()) {
        recipients = engine::addressed_recipients(*gw, message);
    }
    const engine::InboundDecryption r = engine::decrypt_inbound(*gw, recipients, message);
    using Outcome = engine::InboundDecryption::Outcome;
    if (r.outcome != Outcome::Decrypted) {
        std::cerr << (r.outcome == Outcome::NotEncrypted ? std::string("not encrypted") : r.detail) << "\n";
        std::cout << input;
        return k_refused;
    }
    const std::string plain = engine::replace_entity(input, r.entity.headers, r.entity.body);
    // The inner signature, verified and reported exactly as for any inbound message.
    policy::Envelope env;
    env.client_ip = o.client.empty() ? "unknown" : o.client;
    engine::read_from_headers(env, plain);
    const engine::InboundEdits edits = engine::inbound(*gw, env, smime::Blob::from(plain), now);
    std::string head = std::string(engine::k_decryption_header) + ": " + r.header + "\r\n";
    for (const auto& h : edits.add) {
        std::string v = h.value;
        for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
            v.replace(p, 1, "\r\n");
        }
        head += h.name + ": " + v + "\r\n";
    }
    std::cout << head << plain;
    std::cerr << r.detail << "; inner signature: " << edits.summary << "\n";
    return 0;
}

}  // namespace segel::tools
