// segelctl: the administrator's tool. Every command runs the same engine code
// as segel-milter, so what it says is what the milter does.
#include "audit/setup.h"
#include "base/time.h"
#include "config/load.h"
#include "engine/check.h"
#include "engine/gateway.h"
#include "policy/fitness.h"
#include "segel/version.h"
#include "smime/error.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/lifecycle.h"

#include <sysexits.h>

#include <ctime>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace segel::tools {
/** `segelctl audit ...` (tools/audit_cmd.cpp): the audit trail, with its own options. */
int cmd_audit(int argc, char** argv);
/** `segelctl report ...` (tools/report_cmd.cpp): the supervision report (docs/reports.md). */
int cmd_report(int argc, char** argv);
/** `segelctl incidents ...` (tools/incidents_cmd.cpp): the incidents in the audit trail (docs/incidents.md). */
int cmd_incidents(int argc, char** argv);
}  // namespace segel::tools

namespace {

using segel::engine::Gateway;
using TimePoint = std::chrono::system_clock::time_point;

using segel::tools::Args;
using segel::tools::k_refused;
using segel::tools::k_usage;

void usage(std::ostream& out) {
    out << "usage: segelctl [--config FILE] COMMAND [options]    (segelctl --version)\n"
           "Every command takes --config FILE (or -c FILE), before or after its name; the default is\n"
           "  " SEGEL_DEFAULT_CONFIG
           ".\n"
           "  check-config [FILE] [--user USER[:GROUP]] [--strict]\n"
           "      check the configuration and every file and directory it names, reading them as USER\n"
           "      (default for root: segel, the packaged service's user, when it exists); print every\n"
           "      problem as FILE:LINE:COL: key: problem; exit 0, or 78; with --strict, exit 1 when there\n"
           "      are warnings (expired, revoked, unknown revocation, unfit certificates)\n"
           "  sign --config FILE --from ADDR [--login USER] [--client IP] [--to ADDR...] [--at TIME] [--explain]\n"
           "      run the message through the gateway exactly as the milter would (signing, and encryption when\n"
           "      the policy says so for the --to recipients); the result on stdout, refusals on stderr, exit 1\n"
           "  encrypt --config FILE --from ADDR [--login USER] [--client IP] --to ADDR... [--at TIME] [--explain]\n"
           "      the same, with at least one recipient (docs/encryption.md)\n"
           "  explain --config FILE --from ADDR [--header-from ADDR] [--login USER] [--client IP] [--at TIME]\n"
           "      print the decision the milter would take and every fact behind it; exit 1 when it would refuse\n"
           "  certs --config FILE [--at TIME] [--warn-days N] [--json]\n"
           "      list the certificates, their validity, revocation (state, source, age) and fitness for mail;\n"
           "      with --warn-days N, exit 1 when any is expired, revoked or expires within N days\n"
           "  revocation refresh --config FILE\n"
           "      check the revocation of every signing certificate now; exit 1 when one is revoked or unknown\n"
           "  notify-expiry --config FILE [--at TIME] [--dry-run]\n"
           "      send the expiry notices that are due (90, 60, 30, 14, 7, 1 days, on expiry), each once\n"
           "  decrypt --config FILE [--to ADDR...] [--at TIME] < message\n"
           "      the message as inbound mail: decrypted with the held key of a recipient, inner signature\n"
           "      verified; the message as it would be delivered on stdout; exit 1 when not decrypted\n"
           "  verify [--config FILE | --trust-anchors PEM] [--crl FILE] [--at TIME] MESSAGE...\n"
           "      verify S/MIME signatures as the milter does for inbound mail; one line per message\n"
           "  process --config FILE [--from ADDR] [--login USER] [--client IP] [--rcpt ADDR...] [--at TIME]\n"
           "          [--queue-id ID] [--message] < message\n"
           "      the milter's whole pipeline on one message: the reply, the edits and the Outcome as JSON\n"
           "  status\n"
           "      the running segel-milter: configuration generation and reloads, counters, certificates\n"
           "      (from its metrics file, metrics.file); exit 1 when it is not running\n"
           "  audit verify|show|prove|export|checkpoint|ship|witness [options]\n"
           "      the tamper-evident audit trail (segelctl audit --help, docs/audit.md)\n"
           "  report --from YYYY-MM-DD --to YYYY-MM-DD [--unit OPD] [--format html|pdf|csv|json|text] [--sign] ...\n"
           "      the supervision report per unit, tied to an audit checkpoint (segelctl report --help, "
           "docs/reports.md)\n"
           "  incidents [--since DATE|DURATION] [--kind WORD] [--unit OPD] [--format text|json] [--store URL]\n"
           "      the security incidents in the audit trail, oldest first (docs/incidents.md)\n"
           "TIME is RFC 3339 UTC, e.g. 2026-12-01T00:00:00Z (default: now).\n";
}

std::shared_ptr<const Gateway> load(const std::string& path) {
    if (path.empty()) {
        throw std::invalid_argument("--config FILE is required");
    }
    auto gw = Gateway::load(path);
    // What the milter knows comes from revocation.cache_directory; what is due is checked now (R6).
    gw->revocation().refresh(false, std::chrono::system_clock::now());
    return gw;
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
    const std::optional<segel::engine::Identity> as =
        a.user.empty() ? segel::engine::default_check_identity() : segel::engine::lookup_identity(a.user);
    segel::engine::CheckReport report = segel::engine::check_config(path, as);
    if (report.ok()) {
        segel::audit::check_seal(path, report.errors);  // the audit seal is a key file too (docs/audit.md)
    }
    const int rc = segel::engine::print_report(report, path, std::cout, std::cerr);
    if (rc != 0 || !a.strict) {
        return rc;
    }
    // --strict: the certificates' lifecycle too (revocation checked now, fitness, CA expiry, notices).
    const auto gw = load(path);
    const auto warnings = segel::tools::certificate_warnings(*gw, a.at.value_or(std::chrono::system_clock::now()));
    for (const auto& w : warnings) {
        std::cout << "warning: " << w << "\n";
    }
    return warnings.empty() && report.warnings.empty() ? 0 : k_refused;
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
    std::cout << "time:      " << segel::base::format_time(now) << "\n";
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
                      << c.key_type << ", " << segel::base::format_date(c.not_before) << ".."
                      << segel::base::format_date(c.not_after) << ", " << c.id << "\n      " << v.why << "\n";
            for (const auto& l : segel::policy::explain(segel::policy::fitness(c, gw->settings()))) {
                std::cout << "      " << l << "\n";  // fitness for mail, Indonesian then English (R4)
            }
        }
    }
    switch (d.action) {
        case segel::policy::Action::Sign: {
            const auto& c = gw->certificates()[*d.cert];
            std::cout << "decision:  SIGN as " << d.sender << " with certificate " << c.serial << " (valid until "
                      << segel::base::format_date(c.not_after) << ")\n";
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

}  // namespace

int main(int argc, char** argv) {
    try {
        // Options before the command word: --config FILE (for every command), --version, --help.
        int first = 1;
        std::string config;
        while (first < argc && argv[first][0] == '-') {
            const std::string k = argv[first];
            if (k == "--version") {
                std::cout << "segelctl " SEGEL_VERSION "\n";
                return 0;
            }
            if (k == "-h" || k == "--help") {
                usage(std::cout);
                return 0;
            }
            if ((k == "--config" || k == "-c") && first + 1 < argc) {
                config = argv[first + 1];
                first += 2;
                continue;
            }
            throw std::invalid_argument("unknown option " + k + " before the command");
        }
        if (first >= argc) {
            usage(std::cerr);
            return k_usage;
        }
        if (std::string(argv[first]) == "audit") {
            // segelctl [--config FILE] audit SUBCOMMAND [options]: the audit commands parse their own options.
            std::vector<char*> rest(argv + first + 1, argv + argc);
            std::string flag = "--config";
            if (!config.empty() && !rest.empty()) {
                rest.insert(rest.begin() + 1, {flag.data(), config.data()});
            }
            return segel::tools::cmd_audit(static_cast<int>(rest.size()), rest.data());
        }
        // Commands that parse their own options (report_cmd.cpp, incidents_cmd.cpp): --config FILE first.
        static const std::map<std::string, int (*)(int, char**)> k_own_options = {
            {"report", segel::tools::cmd_report}, {"incidents", segel::tools::cmd_incidents}};
        if (const auto own = k_own_options.find(argv[first]); own != k_own_options.end()) {
            std::vector<char*> rest(argv + first + 1, argv + argc);
            std::string flag = "--config";
            if (!config.empty()) {
                rest.insert(rest.begin(), {flag.data(), config.data()});
            }
            return own->second(static_cast<int>(rest.size()), rest.data());
        }
        Args args = segel::tools::parse_args(argc, argv, first);
        if (args.config.empty() && !(args.command == "verify" && !args.trust_anchors.empty())) {
            args.config = config.empty() ? SEGEL_DEFAULT_CONFIG : config;
        }
        if (args.command == "-h" || args.command == "--help" || args.command == "help") {
            usage(std::cout);
            return 0;
        }
        static const std::map<std::string, int (*)(const Args&)> k_commands = {
            {"check-config", cmd_check_config},
            {"sign", segel::tools::cmd_sign},
            {"encrypt", segel::tools::cmd_sign},
            {"decrypt", segel::tools::cmd_decrypt},
            {"verify", segel::tools::cmd_verify},
            {"process", segel::tools::cmd_process},
            {"explain", cmd_explain},
            {"status", segel::tools::cmd_status},
            {"certs", segel::tools::cmd_certs},
            {"revocation", segel::tools::cmd_revocation},
            {"notify-expiry", segel::tools::cmd_notify_expiry}};
        const auto it = k_commands.find(args.command);
        if (it == k_commands.end()) {
            std::cerr << "segelctl: unknown command '" << args.command << "'\n";
            usage(std::cerr);
            return k_usage;
        }
        return it->second(args);
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
