// segel-milter: the composition root. Loads and validates the whole
// configuration (keys included) before listening; exits 78 (EX_CONFIG) when
// it cannot; reloads on SIGUSR1 (libmilter reserves SIGHUP for stopping).
#include "config/load.h"
#include "engine/gateway.h"
#include "milter/callbacks.h"
#include "milter/runtime.h"

#include <libmilter/mfapi.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

namespace {

void usage(std::ostream& out) {
    out << "usage: segel-milter -c CONFIG [--check-config]\n"
           "  -c, --config FILE   the YAML configuration (see docs/configuration.md)\n"
           "  --check-config      validate FILE and every key it names, print problems, exit 0 or 78\n"
           "  --version           print the version\n"
           "Signals: SIGUSR1 reloads the configuration; SIGTERM/SIGHUP stop (libmilter).\n";
}

void log_inventory(const segel::engine::Gateway& gw) {
    const auto now = std::chrono::system_clock::now();
    for (const auto& c : gw.certificates()) {
        const std::string state = segel::policy::certificate_state(c, now);
        std::string addrs;
        for (const auto& a : c.addresses) {
            addrs += (addrs.empty() ? "" : ",") + a;
        }
        const auto level =
            state.rfind("usable", 0) == 0 && state.size() == 6 ? spdlog::level::info : spdlog::level::warn;
        spdlog::log(level, "certificate {} for {} ({}) valid until {}: {}", c.serial,
                    addrs.empty() ? "(no address)" : addrs, c.key_type, segel::policy::date(c.not_after), state);
    }
}

int check_only(const std::string& path) {
    try {
        const auto gw = segel::engine::Gateway::load(path);
        std::cout << path << ": OK (" << gw->settings().signing.domains.size() << " official domain(s), "
                  << gw->certificates().size() << " credential(s))\n";
        return 0;
    } catch (const segel::config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return EX_CONFIG;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    bool check = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "-c" || a == "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (a == "--check-config") {
            check = true;
        } else if (a == "--version") {
            std::cout << "segel-milter 0.1.0\n";
            return 0;
        } else if (a == "-h" || a == "--help") {
            usage(std::cout);
            return 0;
        } else {
            std::cerr << "segel-milter: unknown argument '" << a << "'\n";
            usage(std::cerr);
            return EX_USAGE;
        }
    }
    if (config_path.empty()) {
        usage(std::cerr);
        return EX_USAGE;
    }
    if (check) {
        return check_only(config_path);
    }

    auto logger = spdlog::stderr_logger_mt("milter");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ segel[%P]: %v");

    std::shared_ptr<const segel::engine::Gateway> gw;
    try {
        gw = segel::engine::Gateway::load(config_path);
    } catch (const segel::config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        spdlog::critical("not starting: configuration error");
        return EX_CONFIG;
    }
    spdlog::set_level(spdlog::level::from_str(gw->settings().log.level));
    spdlog::flush_on(spdlog::level::info);
    log_inventory(*gw);
    const auto settings = gw->settings();
    segel::milter::set_runtime(std::make_unique<segel::milter::Runtime>(config_path, gw));

    // Reload on SIGUSR1, from a thread of our own: block it everywhere first.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) {
                continue;
            }
            std::string error;
            if (segel::milter::runtime().reload(error)) {
                spdlog::info("configuration reloaded from {}", segel::milter::runtime().path());
                log_inventory(*segel::milter::runtime().snapshot());
            } else {
                spdlog::error("reload failed, keeping the running configuration: {}", error);
            }
        }
    }).detach();

    std::string conn = settings.milter.socket;
    smfiDesc desc = segel::milter::descriptor();
    if (smfi_setconn(conn.data()) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
        spdlog::critical("cannot set up the milter on {}", conn);
        return EX_SOFTWARE;
    }
    smfi_settimeout(settings.milter.timeout_seconds);
    if (smfi_opensocket(true) != MI_SUCCESS) {  // true: remove a stale unix socket first
        spdlog::critical("cannot listen on {} (is another segel-milter running? is the directory writable?)", conn);
        return EX_UNAVAILABLE;
    }
    if (conn.rfind("unix:", 0) == 0 || conn.rfind("local:", 0) == 0) {
        // Postfix connects as its own user: let the group reach the socket.
        const std::string path = conn.substr(conn.find(':') + 1);
        ::chmod(path.c_str(), static_cast<mode_t>(settings.milter.socket_mode));
    }
    spdlog::info("segel-milter 0.1.0 listening on {} ({} official domain(s), {} credential(s))", conn,
                 settings.signing.domains.size(), gw->certificates().size());
    gw.reset();
    const int rc = smfi_main();
    spdlog::info("segel-milter stopped");
    return rc == MI_SUCCESS ? 0 : EX_SOFTWARE;
}
