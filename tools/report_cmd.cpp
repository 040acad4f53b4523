// segelctl report: the supervision report (R11, docs/reports.md) from the audit
// trail, in HTML, PDF (WeasyPrint), CSV or JSON, optionally signed with the
// audit seal as a detached CMS signature beside it.
#include "audit/checkpoint.h"
#include "audit/error.h"
#include "audit/setup.h"
#include "config/load.h"
#include "report/report.h"
#include "smime/error.h"
#include "tools/cli.h"

#include <spawn.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace segel::tools {

namespace {

namespace au = segel::audit;
namespace fs = std::filesystem;

void report_usage(std::ostream& out) {
    out << "usage: segelctl report --from YYYY-MM-DD --to YYYY-MM-DD [--unit OPD] [--node N [--checkpoint SEQ]]\n"
           "                      [--format html|pdf|csv|json|text] [--lang id|en] [--out FILE] [--sign]\n"
           "                      [--config FILE | --store URL] [--local]\n"
           "  the supervision report (R11) per organisational unit and in total, computed from the events the\n"
           "  latest signed audit checkpoint of each node covers (docs/reports.md). Dates are UTC, both inclusive.\n"
           "  --format pdf needs weasyprint and --out; --sign (needs --config and --out) writes FILE.p7s, a\n"
           "  detached CMS signature made with the audit seal:\n"
           "    openssl cms -verify -binary -inform DER -in FILE.p7s -content FILE -noverify -out /dev/null\n"
           "Exit status: 0 ok, 1 no checkpoint / cannot compute, 2 usage, 69 store or program unavailable,\n"
           "78 configuration error.\n";
}

struct Options {
    std::string from, to, unit, node, format = "html", lang = "id", out, config, store;
    std::optional<std::uint64_t> checkpoint;
    bool sign = false;
    bool local = false;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 0; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&] { return option_value(argc, argv, i); };
        if (k == "--from") {
            o.from = value();
        } else if (k == "--to") {
            o.to = value();
        } else if (k == "--unit") {
            o.unit = value();
        } else if (k == "--node") {
            o.node = value();
        } else if (k == "--checkpoint") {
            const std::string v = value();
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18) {
                throw std::invalid_argument("--checkpoint: \"" + v + "\" is not a checkpoint sequence number");
            }
            o.checkpoint = std::stoull(v);
        } else if (k == "--format") {
            o.format = value();
        } else if (k == "--lang") {
            o.lang = value();
        } else if (k == "--out" || k == "-o") {
            o.out = value();
        } else if (k == "--sign") {
            o.sign = true;
        } else if (k == "--config" || k == "-c") {
            o.config = value();
        } else if (k == "--store") {
            o.store = value();
        } else if (k == "--local") {
            o.local = true;
        } else {
            throw std::invalid_argument("report: unknown option " + k);
        }
    }
    if (o.from.empty() || o.to.empty()) {
        throw std::invalid_argument("report needs --from YYYY-MM-DD and --to YYYY-MM-DD");
    }
    if (o.format != "html" && o.format != "pdf" && o.format != "csv" && o.format != "json" && o.format != "text") {
        throw std::invalid_argument("--format " + o.format + ": expected html, pdf, csv, json or text");
    }
    if (o.lang != "id" && o.lang != "en") {
        throw std::invalid_argument("--lang " + o.lang + ": expected id (Indonesian) or en (English)");
    }
    if ((o.format == "pdf" || o.sign) && o.out.empty()) {
        throw std::invalid_argument(std::string(o.sign ? "--sign" : "--format pdf") + " needs --out FILE");
    }
    if (o.sign && o.config.empty()) {
        throw std::invalid_argument("--sign needs --config FILE (the audit seal signs the report)");
    }
    if (o.config.empty() && o.store.empty()) {
        throw std::invalid_argument("report needs --config FILE or --store URL");
    }
    return o;
}

/** The path of @p program in PATH, or "". */
std::string find_program(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const fs::path p = fs::path(dir.empty() ? "." : dir) / program;
        if (access(p.c_str(), X_OK) == 0) {
            return p.string();
        }
    }
    return {};
}

/** Runs @p argv (no shell); its exit status, or -1 when it could not be started. */
int run(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
        return -1;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << bytes;
    f.close();
    if (!f) {
        throw au::Error(au::Category::Usage, "cannot write " + path);
    }
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        throw au::Error(au::Category::Usage, "cannot read " + path);
    }
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string text_summary(const report::Report& r) {
    std::ostringstream o;
    o << "report " << r.period.from << " .. " << r.period.to << " (UTC) from " << r.store << "\n";
    for (const auto& c : r.checkpoints) {
        o << "  checkpoint: node " << c.node << " sequence " << c.sequence << ", " << c.size << " events, root "
          << c.root << ", " << c.time << " (" << c.events_after << " later events not counted)\n";
    }
    const auto line = [&](const std::string& name, const report::Measures& m) {
        o << "  " << name << ": signed " << m.signed_only << ", signed+encrypted " << m.sign_encrypt << ", refused "
          << m.refused_total() << ", verified " << m.verified_total() << ", decrypted " << m.decrypted << ", incidents "
          << m.incidents_total() << ", certificates issued/expired/expiring/revoked " << m.certs_issued << "/"
          << m.certs_expired << "/" << m.certs_expiring << "/" << m.certs_revoked << "\n";
    };
    for (const auto& [u, m] : r.units) {
        line(u.empty() ? "(no unit)" : au::column_safe(u), m);
    }
    line("total", r.total);
    for (const auto& [word, n] : r.total.refused) {
        o << "    refused " << au::column_safe(word) << ": " << n << "\n";
    }
    for (const auto& [word, n] : r.total.verified) {
        o << "    verified " << au::column_safe(word) << ": " << n << "\n";
    }
    for (const auto& [word, n] : r.total.incidents) {
        o << "    incident " << au::column_safe(word) << ": " << n << "\n";
    }
    return o.str();
}

int cmd_run(const Options& o) {
    std::optional<config::Settings> settings;
    if (!o.config.empty()) {
        settings = config::load(o.config);
        if (!settings->audit.enabled) {
            throw config::ConfigError(o.config, {1, 1}, "audit",
                                      "the audit trail is not configured: add an audit: section (docs/audit.md)");
        }
    }
    const std::string url = !o.store.empty()                                       ? o.store
                            : o.local || !au::is_postgresql(settings->audit.store) ? "sqlite:" + settings->audit.local
                                                                                   : settings->audit.store;
    report::Options ro;
    ro.period = report::period(o.from, o.to);
    ro.unit = o.unit;
    ro.node = o.node;
    ro.sequence = o.checkpoint;
    std::string weasyprint;
    if (o.format == "pdf") {
        weasyprint = find_program("weasyprint");
        if (weasyprint.empty()) {
            std::cerr << "segelctl report: --format pdf needs the program weasyprint, which is not installed "
                         "(Debian: apt-get install weasyprint); --format html gives the same report to print\n";
            return EX_UNAVAILABLE;
        }
    }
    auto store = au::open_reader(url);
    const report::Report r = report::compute(*store, ro, au::format_time_us(std::chrono::system_clock::now()));
    const report::Lang lang = o.lang == "en" ? report::Lang::En : report::Lang::Id;
    std::string bytes;
    if (o.format == "json") {
        bytes = report::to_json(r);
    } else if (o.format == "csv") {
        bytes = report::to_csv(r);
    } else if (o.format == "text") {
        bytes = text_summary(r);
    } else {
        bytes = report::to_html(r, lang);
    }
    if (o.format == "pdf") {
        const std::string html = o.out + ".tmp.html";
        write_file(html, bytes);
        const int rc = run({weasyprint, "--quiet", html, o.out});
        fs::remove(html);
        if (rc != 0) {
            std::cerr << "segelctl report: weasyprint " << (rc < 0 ? "could not be started" : "failed") << " (exit "
                      << rc << ") making " << o.out << "\n";
            return 1;
        }
        bytes = read_file(o.out);
    } else if (o.out.empty()) {
        std::cout << bytes;
    } else {
        write_file(o.out, bytes);
    }
    if (o.sign) {
        const auto seal = au::load_seal(*settings);
        if (!seal) {
            throw config::ConfigError(o.config, {1, 1}, "audit.seal", "no audit seal is configured to sign with");
        }
        // The same detached CMS SignedData as a checkpoint's (docs/audit.md), over the report's bytes.
        write_file(o.out + ".p7s", au::sign_checkpoint(bytes, seal->credential, seal->chain));
    }
    if (!o.out.empty()) {
        std::cerr << "segelctl report: wrote " << o.out << (o.sign ? " and " + o.out + ".p7s" : std::string()) << "\n";
    }
    return 0;
}

}  // namespace

/**
 * Runs `segelctl report ...` (arguments after the word "report").
 * @return 0 ok, 1 cannot compute (no checkpoint), 2 usage, 69 store or program unavailable, 78 configuration error
 */
int cmd_report(int argc, char** argv) {
    try {
        if (argc >= 1 && (std::string(argv[0]) == "-h" || std::string(argv[0]) == "--help")) {
            report_usage(std::cout);
            return 0;
        }
        return cmd_run(parse(argc, argv));
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return EX_CONFIG;
    } catch (const std::invalid_argument& e) {
        std::cerr << "segelctl report: " << e.what() << "\n";
        report_usage(std::cerr);
        return k_usage;
    } catch (const au::Error& e) {
        std::cerr << "segelctl report: " << e.what() << "\n";
        return e.category() == au::Category::Unavailable ? EX_UNAVAILABLE : 1;
    } catch (const smime::Error& e) {
        std::cerr << "segelctl report: " << e.what() << "\n";
        return 1;
    } catch (const std::runtime_error& e) {
        std::cerr << "segelctl report: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace segel::tools
