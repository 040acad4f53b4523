// segel-milter: the composition root. Loads and validates the whole
// configuration (keys included) before listening; exits 78 (EX_CONFIG) when
// it cannot; refuses a socket another process answers on; reloads on SIGHUP or
// SIGUSR1; stops gracefully on SIGTERM or SIGINT (messages in progress finish,
// bounded by milter.shutdown_timeout) and removes its socket.
#include "config/load.h"
#include "engine/gateway.h"
#include "milter/callbacks.h"
#include "milter/daemon.h"
#include "milter/runtime.h"

#include <libmilter/mfapi.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace {

namespace daemon = segel::milter::daemon;
using Clock = std::chrono::steady_clock;

void usage(std::ostream& out) {
    out << "usage: segel-milter -c CONFIG [--check-config]\n"
           "  -c, --config FILE   the YAML configuration (see docs/configuration.md)\n"
           "  --check-config      validate FILE and every key it names, print problems, exit 0 or 78\n"
           "  --version           print the version\n"
           "Signals: SIGHUP or SIGUSR1 reloads the configuration; SIGTERM or SIGINT stops (messages in\n"
           "progress finish first, for at most milter.shutdown_timeout seconds).\n";
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

/**
 * Reloads in a thread of its own, so that the main thread goes straight back to
 * catching signals (see daemon::SignalCatcher). Requests that arrive during a
 * reload are folded into one more reload after it.
 */
class Reloader {
public:
    Reloader() : m_thread([this] { run(); }) {}
    ~Reloader() {
        {
            std::lock_guard lock(m_mutex);
            m_quit = true;
        }
        m_wake.notify_one();
        m_thread.join();
    }
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    void request(const char* why) {
        {
            std::lock_guard lock(m_mutex);
            m_why = why;
            m_pending = true;
        }
        m_wake.notify_one();
    }

private:
    void run() {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_pending || m_quit; });
            if (m_quit) {
                return;
            }
            m_pending = false;
            const std::string why = m_why;
            lock.unlock();
            std::string error;
            auto& rt = segel::milter::runtime();
            if (rt.reload(error)) {
                spdlog::info("configuration reloaded from {} ({})", rt.path(), why);
                log_inventory(*rt.snapshot());
            } else {
                spdlog::error("reload failed, keeping the running configuration: {}", error);
            }
            lock.lock();
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_pending = false;
    bool m_quit = false;
    std::string m_why;
    std::thread m_thread;  // last: starts once the members above exist
};

/** Leaves without running static destructors: libmilter's threads may still be inside a callback. */
[[noreturn]] void leave(int rc) {
    spdlog::default_logger()->flush();
    std::cout.flush();
    std::_Exit(rc);
}

}  // namespace

int main(int argc, char** argv) {
    daemon::block_signals();  // first: every thread started from here on inherits them blocked
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

    std::string conn = settings.milter.socket;
    try {
        if (const std::string note = daemon::prepare_socket(conn); !note.empty()) {
            spdlog::warn("{}", note);
        }
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return EX_UNAVAILABLE;
    }
    smfiDesc desc = segel::milter::descriptor();
    if (smfi_setconn(conn.data()) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
        spdlog::critical("cannot set up the milter on {}", conn);
        return EX_SOFTWARE;
    }
    smfi_settimeout(settings.milter.timeout_seconds);
    if (smfi_opensocket(false) != MI_SUCCESS) {  // false: prepare_socket decided about an existing one
        spdlog::critical("cannot listen on {} (is the directory there and writable? another process on it?)", conn);
        return EX_UNAVAILABLE;
    }
    const daemon::SocketFile socket_file = daemon::remember_socket(conn);
    if (!socket_file.path.empty()) {
        // Postfix connects as its own user: let the group reach the socket.
        ::chmod(socket_file.path.c_str(), static_cast<mode_t>(settings.milter.socket_mode));
    }

    // The main thread takes SIGTERM, SIGINT, SIGHUP and SIGUSR1 from here on, before
    // libmilter starts the thread of its own that waits for three of them (one sent
    // during start-up is delivered here now, not left pending for that thread).
    daemon::SignalCatcher signals;
    Reloader reloader;
    std::atomic<bool> milter_done{false};
    std::atomic<int> milter_rc{MI_SUCCESS};
    std::thread milter([&] {
        milter_rc = smfi_main();
        milter_done = true;
    });
    spdlog::info("segel-milter 0.1.0 listening on {} ({} official domain(s), {} credential(s))", conn,
                 settings.signing.domains.size(), gw->certificates().size());
    gw.reset();

    // Serve until a stop signal, or until libmilter stops by itself.
    int stop_signal = 0;
    while (stop_signal == 0 && !milter_done) {
        const int sig = signals.wait(1000);
        if (sig == SIGHUP || sig == SIGUSR1) {
            reloader.request(sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
        } else if (sig == SIGTERM || sig == SIGINT) {
            stop_signal = sig;
        }
    }

    // Stop: no new connections or messages; those in progress finish, within the timeout.
    segel::milter::begin_stop();
    const auto timeout =
        std::chrono::seconds(segel::milter::runtime().snapshot()->settings().milter.shutdown_timeout_seconds);
    if (stop_signal != 0) {
        spdlog::info("stopping on {}: no new connections; waiting up to {} s for {} message(s) in progress",
                     stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", timeout.count(), segel::milter::InFlight::count());
    } else {
        spdlog::error("libmilter stopped listening on {} by itself (a signal it took, or a listener failure)", conn);
    }
    // libmilter's own stop (smfi_stop) closes every session at once, the ones in the
    // middle of a message too; so it comes last. Until then new clients find no
    // socket, and new connections and messages on open ones are answered 451.
    const bool removed_early = daemon::remove_socket(socket_file);
    const auto deadline = Clock::now() + timeout;
    bool cut_short = false;
    while (segel::milter::InFlight::count() > 0 && Clock::now() < deadline) {
        const int sig = signals.wait(100);
        if (sig == SIGTERM || sig == SIGINT) {
            spdlog::warn("second stop signal: not waiting for the {} message(s) in progress",
                         segel::milter::InFlight::count());
            cut_short = true;
            break;
        }
    }
    const std::size_t left = segel::milter::InFlight::count();
    if (left > 0 && !cut_short) {
        spdlog::warn("shutdown timeout ({} s): {} message(s) still in progress are cut off (Postfix defers them)",
                     timeout.count(), left);
    }
    if (left == 0) {
        // The last callback has returned; give libmilter a moment to write its final reply.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    smfi_stop();
    const bool removed = daemon::remove_socket(socket_file) || removed_early;
    spdlog::info("segel-milter stopped{}", removed ? ", socket " + socket_file.path + " removed" : "");
    milter.detach();  // libmilter's listener notices the stop within a few seconds; nothing is left to wait for
    leave(stop_signal != 0 && milter_rc == MI_SUCCESS ? 0 : EX_SOFTWARE);
}
