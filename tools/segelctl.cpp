// segelctl: the administrator's tool. Every command runs the same engine code
// as segel-milter, so what it says is what the milter does.
#include "config/load.h"
#include "engine/gateway.h"
#include "smime/error.h"
#include "tools/cli.h"

#include <sysexits.h>

#include <ctime>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace segel::tools {
/** `segelctl verify ...` (tools/verify_cmd.cpp): takes its own arguments, after the command word. */
int cmd_verify(int argc, char** argv);
/** `segelctl encrypt ...` and `segelctl decrypt ...` (tools/encrypt_cmd.cpp): own arguments too. */
int cmd_encrypt(int argc, char** argv);
int cmd_decrypt(int argc, char** argv);
}  // namespace segel::tools

namespace {

using segel::engine::Gateway;
using TimePoint = std::chrono::system_clock::time_point;

constexpr int k_refused = 1;
constexpr int k_usage = 2;

void usage(std::ostream& out) {
    out << "usage: segelctl COMMAND [options]\n"
           "  check-config FILE\n"
           "      validate the configuration and every file it names; exit 0, or 78 with FILE:LINE:COL: key: problem\n"
           "  sign --config FILE --from ADDR [--login USER] [--client IP] [--at TIME] < message > signed\n"
           "      decide and sign exactly as the milter would; refusals print the SMTP reply and exit 1\n"
           "  explain --config FILE --from ADDR [--header-from ADDR] [--login USER] [--client IP] [--at TIME]\n"
           "      print the decision the milter would take and every fact behind it; exit 1 when it would refuse\n"
           "  certs --config FILE [--at TIME]\n"
           "      list the installed certificates, their addresses, validity and state\n"
           "  encrypt --config FILE --from ADDR [--login USER] [--client IP] --to ADDR... [--at TIME] [--explain]\n"
           "      sign, then encrypt when the encryption policy says so (docs/encryption.md); refusals exit 1\n"
           "  decrypt --config FILE [--to ADDR...] [--at TIME] < message\n"
           "      decrypt with the held key of a recipient and verify the inner signature; exit 1 when not decrypted\n"
           "  verify [--config FILE | --trust-anchors PEM] [--crl FILE] [--at TIME] MESSAGE...\n"
           "      verify S/MIME signatures as the milter does for inbound mail; one line per message\n"
           "TIME is RFC 3339 UTC, e.g. 2026-12-01T00:00:00Z (default: now).\n";
}

struct Args {
    std::string command;
    std::string config;
    std::string from;
    std::string header_from;
    std::string login;
    std::string client;
    std::optional<TimePoint> at;
    std::vector<std::string> positional;
};
std::optional<Args> parse_args(int argc, char** argv) {
    if (argc < 2) {
        return std::nullopt;
    }
    Args a;
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&](std::string& target) { target = segel::tools::option_value(argc, argv, i); };
        if (k == "--config" || k == "-c") {
            value(a.config);
        } else if (k == "--from") {
            value(a.from);
        } else if (k == "--header-from") {
            value(a.header_from);
        } else if (k == "--login") {
            value(a.login);
        } else if (k == "--client") {
            value(a.client);
        } else if (k == "--at") {
            a.at = segel::tools::parse_at(segel::tools::option_value(argc, argv, i));
        } else if (!k.empty() && k[0] == '-') {
            throw std::invalid_argument("unknown option " + k);
        } else {
            a.positional.push_back(k);
        }
    }
    return a;
}

std::shared_ptr<const Gateway> load(const std::string& path) {
    if (path.empty()) {
        throw std::invalid_argument("--config FILE is required");
    }
    return Gateway::load(path);
}

segel::policy::Envelope envelope(const Args& a) {
    segel::policy::Envelope env;
    env.mail_from = a.from;
    env.auth_login = a.login;
    env.client_ip = a.client.empty() ? (a.login.empty() ? "unknown" : "127.0.0.1") : a.client;
    return env;
}

int cmd_check_config(const Args& a) {
    const std::string path = !a.positional.empty() ? a.positional.front() : a.config;
    if (path.empty()) {
        throw std::invalid_argument("check-config needs a FILE");
    }
    const auto gw = load(path);
    const auto now = std::chrono::system_clock::now();
    std::cout << path << ": OK (" << gw->settings().signing.domains.size() << " official domain(s), "
              << gw->certificates().size() << " credential(s), " << gw->trust().anchor_count() << " trust anchor(s))\n";
    for (const auto& c : gw->certificates()) {
        const std::string st = segel::policy::certificate_state(c, now);
        if (st != "usable") {
            std::cout << "warning: " << c.id << ": certificate " << c.serial << ": " << st << "\n";
        }
    }
    return 0;
}

int cmd_certs(const Args& a) {
    const auto gw = load(a.config);
    const TimePoint now = a.at.value_or(std::chrono::system_clock::now());
    for (const auto& c : gw->certificates()) {
        std::string addrs;
        for (const auto& x : c.addresses) {
            addrs += (addrs.empty() ? "" : ",") + x;
        }
        std::cout << c.serial << "  " << (addrs.empty() ? "(no address)" : addrs) << "  " << c.key_type << "  "
                  << segel::policy::date(c.not_before) << ".." << segel::policy::date(c.not_after) << "  "
                  << segel::policy::certificate_state(c, now) << "  " << c.id << "\n";
    }
    return 0;
}

int cmd_explain(const Args& a) {
    const auto gw = load(a.config);
    const TimePoint now = a.at.value_or(std::chrono::system_clock::now());
    segel::policy::Envelope env = envelope(a);
    if (!a.header_from.empty()) {
        segel::engine::add_from_header(env, a.header_from);
    } else {
        segel::engine::add_from_header(env, a.from);
    }
    const auto d = gw->decide(env, now);
    std::cout << "envelope:  from=<" << env.mail_from
              << "> header-from=" << (a.header_from.empty() ? a.from : a.header_from)
              << " login=" << (env.auth_login.empty() ? "-" : env.auth_login) << " client=" << env.client_ip << "\n";
    std::cout << "time:      " << segel::smime::format_time(now) << "\n";
    std::cout << "direction: " << d.direction << "\n";
    if (!d.matched_rule.empty()) {
        std::cout << "rule:      " << d.matched_rule << "\n";
    }
    std::cout << "why:\n";
    for (const auto& r : d.reasons) {
        std::cout << "  - " << r << "\n";
    }
    if (!d.considered.empty()) {
        std::cout << "certificates naming " << d.sender << ":\n";
        for (const auto& v : d.considered) {
            const auto& c = gw->certificates()[v.index];
            std::cout << "  " << (d.cert && *d.cert == v.index ? "* " : "  ") << "serial " << c.serial << ", "
                      << c.key_type << ", " << segel::policy::date(c.not_before) << ".."
                      << segel::policy::date(c.not_after) << ", " << c.id << "\n      " << v.why << "\n";
        }
    }
    switch (d.action) {
        case segel::policy::Action::Sign: {
            const auto& c = gw->certificates()[*d.cert];
            std::cout << "decision:  SIGN as " << d.sender << " with certificate " << c.serial << " (valid until "
                      << segel::policy::date(c.not_after) << ")\n";
            return 0;
        }
        case segel::policy::Action::Pass:
            std::cout << "decision:  PASS unsigned: " << d.summary << "\n";
            return 0;
        case segel::policy::Action::Reject:
            std::cout << "decision:  REJECT " << d.reply_code << " " << d.reply_xcode << " " << d.reply_text << "\n";
            return k_refused;
    }
    return 0;
}

int cmd_sign(const Args& a) {
    const auto gw = load(a.config);
    if (a.from.empty()) {
        throw std::invalid_argument("sign needs --from ADDR (the envelope sender)");
    }
    const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    const TimePoint now = a.at.value_or(std::chrono::system_clock::now());
    segel::policy::Envelope env = envelope(a);
    segel::engine::read_from_headers(env, input);
    const auto& s = gw->settings();
    segel::smime::Blob message(s.milter.spool_memory_limit, s.milter.spool_directory);
    message.append(input);
    const auto out = gw->process(env, message, now);
    const auto& d = out.decision;
    if (d.action == segel::policy::Action::Reject) {
        std::cerr << d.reply_code << " " << d.reply_xcode << " " << d.reply_text << "\n";
        return k_refused;
    }
    if (!out.signed_message) {
        std::cerr << "not signed: " << d.summary << "\n";
        std::cout << input;
        return 0;
    }
    std::cout << segel::engine::assemble(input, *out.signed_message);
    std::cerr << "signed as " << d.sender << " with certificate " << gw->certificates()[*d.cert].serial << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && std::string(argv[1]) == "verify") {
            return segel::tools::cmd_verify(argc - 2, argv + 2);  // own options (--trust-anchors, --crl, files)
        }
        if (argc >= 2 && std::string(argv[1]) == "encrypt") {
            return segel::tools::cmd_encrypt(argc - 2, argv + 2);
        }
        if (argc >= 2 && std::string(argv[1]) == "decrypt") {
            return segel::tools::cmd_decrypt(argc - 2, argv + 2);
        }
        const auto args = parse_args(argc, argv);
        if (!args || args->command == "-h" || args->command == "--help" || args->command == "help") {
            usage(args ? std::cout : std::cerr);
            return args ? 0 : k_usage;
        }
        static const std::map<std::string, int (*)(const Args&)> k_commands = {
            {"check-config", cmd_check_config}, {"sign", cmd_sign}, {"explain", cmd_explain}, {"certs", cmd_certs}};
        const auto it = k_commands.find(args->command);
        if (it == k_commands.end()) {
            std::cerr << "segelctl: unknown command '" << args->command << "'\n";
            usage(std::cerr);
            return k_usage;
        }
        return it->second(*args);
    } catch (const segel::config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return EX_CONFIG;
    } catch (const std::invalid_argument& e) {
        std::cerr << "segelctl: " << e.what() << "\n";
        return k_usage;
    } catch (const segel::smime::Error& e) {
        std::cerr << "segelctl: " << e.what() << "\n";
        return EX_SOFTWARE;
    } catch (const std::exception& e) {
        std::cerr << "segelctl: internal error: " << e.what() << "\n";
        return EX_SOFTWARE;
    }
}
