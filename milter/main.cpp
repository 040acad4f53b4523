// segel-milter: the composition root. Loads and validates the whole
// configuration (keys included) before listening; exits 78 (EX_CONFIG) when
// it cannot; refuses a socket another process answers on (69); drops to -u
// USER[:GROUP] once keys and socket are in place; tells systemd when it is
// ready and keeps its watchdog fed; reloads on SIGHUP or SIGUSR1; stops
// gracefully on SIGTERM or SIGINT (messages in progress finish, bounded by
// milter.shutdown_timeout) and removes its socket.
#include "audit/setup.h"
#include "base/time.h"
#include "config/load.h"
#include "engine/check.h"
#include "engine/gateway.h"
#include "milter/audit_record.h"
#include "milter/callbacks.h"
#include "milter/daemon.h"
#include "milter/incidents.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/report.h"
#include "milter/runtime.h"
#include "segel/version.h"

#include <libmilter/mfapi.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace {

namespace daemon = segel::milter::daemon;
namespace log = segel::milter::log;
using Clock = std::chrono::steady_clock;

void usage(std::ostream& out) {
    out << "usage: segel-milter [-c CONFIG] [-u USER[:GROUP]] [-P PIDFILE] [--check-config] [--version]\n"
           "  -c, --config FILE     the YAML configuration (default " SEGEL_DEFAULT_CONFIG
           ")\n"
           "  -u, --user USER[:GROUP]  run as USER once keys and socket are in place (needs root)\n"
           "  -P, --pidfile FILE    write the process id there (removed at stop)\n"
           "  --check-config        check FILE and every file it names as the daemon would run (as the\n"
           "                        -u user, else as yourself); print every problem; exit 0 or 78\n"
           "  --version             print the version\n"
           "Signals: SIGHUP or SIGUSR1 reloads the configuration; SIGTERM or SIGINT stops (messages in\n"
           "progress finish first, for at most milter.shutdown_timeout seconds). See segel-milter(8).\n";
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) {
        out += (out.empty() ? "" : ",") + s;
    }
    return out;
}

void log_inventory(const segel::engine::Gateway& gw) {
    const auto now = std::chrono::system_clock::now();
    for (const auto& c : gw.facts(now)) {
        const std::string state = segel::policy::certificate_state(c, now, gw.settings());
        const bool fine = state == "usable" ||
                          (state.rfind("usable; revocation: ", 0) == 0 && state.find(" good") != std::string::npos);
        const auto level = fine ? spdlog::level::info : spdlog::level::warn;
        spdlog::log(level, "certificate {}",
                    log::fields({{"serial", c.serial},
                                 {"addresses", c.addresses.empty() ? "-" : join(c.addresses)},
                                 {"key", c.key_type},
                                 {"valid_until", segel::base::format_date(c.not_after)},
                                 {"state", state},
                                 {"file", c.id}}));
    }
}

/** Logs what the revocation service learns about a signing certificate (R6), as it happens. */
void log_revocation(X509* cert, const segel::services::CertificateStatus& before,
                    const segel::services::CertificateStatus& after) {
    const segel::smime::CertInfo info = segel::smime::inspect(cert);
    const auto line =
        segel::milter::revocation_line(info.serial, info.addresses, before, after, std::chrono::system_clock::now());
    spdlog::log(line.warning ? spdlog::level::warn : spdlog::level::info, "{}", line.text);
}

int check_only(const std::string& path, const std::optional<segel::engine::Identity>& as) {
    segel::engine::CheckReport report = segel::engine::check_config(path, as);
    if (report.ok()) {
        segel::audit::check_seal(path, report.errors);  // the audit seal is a key file too
    }
    return segel::engine::print_report(report, path, std::cout, std::cerr);
}

const char* signal_name(int sig) {
    switch (sig) {
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        case SIGHUP:
            return "SIGHUP";
        case SIGUSR1:
            return "SIGUSR1";
        default:
            return "signal";
    }
}

/**
 * Writes the metrics file (milter/metrics.h) of the configuration in force;
 * from the main loop, after a reload and at stop. A failure is logged once,
 * and again only after the file could be written in between.
 */
class MetricsFile {
public:
    MetricsFile(std::string config_path, std::chrono::system_clock::time_point started)
        : m_config(std::move(config_path)), m_started(started) {}

    void write() {
        std::lock_guard lock(m_mutex);
        const auto gw = segel::milter::runtime().snapshot();
        const auto& m = gw->settings().metrics;
        if (!m_path.empty() && m_path != m.file) {
            ::unlink(m_path.c_str());  // a reload moved it
        }
        m_path = m.file;
        if (m_path.empty()) {
            return;
        }
        segel::milter::DaemonFacts facts{m_config, m_started, segel::milter::InFlight::count(), m.interval_seconds};
        const std::string error = segel::milter::write_atomically(
            m_path, segel::milter::metrics().render(*gw, facts, std::chrono::system_clock::now()));
        if (!error.empty() && !m_failing) {
            spdlog::warn("metrics {}", log::fields({{"file", m_path}, {"error", error}}));
        }
        m_failing = !error.empty();
    }

    /** At stop: a file left behind would show a stopped milter as running. */
    void remove() {
        std::lock_guard lock(m_mutex);
        if (!m_path.empty()) {
            ::unlink(m_path.c_str());
        }
    }

    [[nodiscard]] int interval_ms() const {
        return 1000 * segel::milter::runtime().snapshot()->settings().metrics.interval_seconds;
    }

private:
    std::mutex m_mutex;
    std::string m_config;
    std::chrono::system_clock::time_point m_started;
    std::string m_path;
    bool m_failing = false;
};

/**
 * Reloads in a thread of its own, so that the main thread goes straight back to
 * catching signals (see daemon::SignalCatcher). Requests that arrive during a
 * reload are folded into one more reload after it.
 */
class Reloader {
public:
    explicit Reloader(MetricsFile& metrics_file) : m_metrics_file(metrics_file), m_thread([this] { run(); }) {}
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
            reload(why);
            m_metrics_file.write();
            lock.lock();
        }
    }

    static void reload(const std::string& why) {
        daemon::notify("RELOADING=1");
        std::string error;
        auto& rt = segel::milter::runtime();
        const bool ok = rt.reload(error);
        segel::milter::metrics().reloaded(ok, std::chrono::system_clock::now());
        if (ok) {
            const auto gw = rt.snapshot();
            log::set_level(gw->settings().log.level);
            spdlog::info("reload {}", log::fields({{"status", "ok"}, {"config", rt.path()}, {"signal", why}}));
            log_inventory(*gw);
        } else {
            spdlog::error("reload {}", log::fields({{"status", "failed"},
                                                    {"config", rt.path()},
                                                    {"signal", why},
                                                    {"action", "keeping the running configuration"},
                                                    {"error", error}}));
        }
        daemon::notify("READY=1");
    }

    MetricsFile& m_metrics_file;
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

[[noreturn]] void refuse(int rc, const std::string& reason) {
    spdlog::critical("not-starting {}", log::field("reason", reason));
    leave(rc);
}

struct Options {
    std::string config = SEGEL_DEFAULT_CONFIG;
    std::string user;
    std::string pidfile;
    bool check = false;
};

}  // namespace

int main(int argc, char** argv) {
    daemon::block_signals();  // first: every thread started from here on inherits them blocked
    // Buffers of a megabyte and more (a large message decoded or decrypted) are mapped and
    // unmapped on their own. glibc would otherwise raise this threshold after the first one and
    // serve the next from a thread's arena, whose free top malloc_trim() does not give back:
    // 36 MB stayed resident after a 39 MB hostile message (docs/performance.md, "Hostile inbound").
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    // Fixing that threshold also fixes the trim threshold at glibc's default, 128 KB: a thread
    // arena's free top above it is handed back (madvise) at every free, and the next message
    // faults the same pages in again — every message of a few tens of KB paid that (50 KB: 0.04–0.07
    // ms of system time per message; 1 MB: 0.4–0.7 ms; docs/performance.md, "Tenth round"). Up to
    // 4 MB of free top stays per arena; after a message larger than milter.spool_memory_limit,
    // malloc_trim() still hands everything back (milter/filter.cpp).
    mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&](std::string& target) {
            if (i + 1 >= argc) {
                std::cerr << "segel-milter: " << a << " needs a value\n";
                std::exit(EX_USAGE);
            }
            target = argv[++i];
        };
        if (a == "-c" || a == "--config") {
            value(o.config);
        } else if (a == "-u" || a == "--user") {
            value(o.user);
        } else if (a == "-P" || a == "--pidfile") {
            value(o.pidfile);
        } else if (a == "--check-config") {
            o.check = true;
        } else if (a == "--version") {
            std::cout << "segel-milter " SEGEL_VERSION "\n";
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
    std::optional<segel::engine::Identity> run_as;
    if (!o.user.empty()) {
        try {
            run_as = segel::engine::lookup_identity(o.user);
        } catch (const std::exception& e) {
            std::cerr << "segel-milter: -u " << o.user << ": " << e.what() << "\n";
            return EX_NOUSER;
        }
    }
    if (o.check) {
        return check_only(o.config, run_as);  // as the daemon with these options would run
    }

    const auto started = std::chrono::system_clock::now();
    // The configuration first (cheap), so the log goes where it says; then the keys.
    segel::config::Settings settings;
    try {
        settings = segel::config::load(o.config);
    } catch (const segel::config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        log::setup({});
        spdlog::critical("not-starting {}", log::fields({{"reason", "configuration error"},
                                                         {"config", o.config},
                                                         {"errors", std::to_string(e.lines.size())},
                                                         {"first", e.lines.empty() ? "" : e.lines.front()}}));
        return EX_CONFIG;
    }
    const std::string destination = log::setup(settings.log);
    spdlog::info("starting {}", log::fields({{"version", SEGEL_VERSION}, {"config", o.config}, {"log", destination}}));

    std::shared_ptr<const segel::engine::Gateway> gw;
    try {
        gw = segel::engine::Gateway::from_settings(settings);
    } catch (const segel::config::ConfigError& e) {
        for (const auto& line : e.lines) {
            std::cerr << line << "\n";
        }
        spdlog::critical("not-starting {}", log::fields({{"reason", "configuration error"},
                                                         {"config", o.config},
                                                         {"errors", std::to_string(e.lines.size())},
                                                         {"first", e.lines.empty() ? "" : e.lines.front()}}));
        leave(EX_CONFIG);
    }
    segel::milter::set_runtime(std::make_unique<segel::milter::Runtime>(o.config, gw));
    if (::geteuid() == 0 && !run_as) {
        spdlog::warn("running-as-root {}",
                     log::field("hint",
                                "give -u segel (or User= in the systemd unit): keys and socket are set up "
                                "first, then a flaw in message handling cannot act as root"));
    }

    std::string conn = settings.milter.socket;
    try {
        if (const std::string note = daemon::prepare_socket(conn); !note.empty()) {
            spdlog::warn("stale-socket {}", log::fields({{"socket", daemon::unix_path(conn)}, {"action", note}}));
        }
    } catch (const std::exception& e) {
        refuse(EX_UNAVAILABLE, e.what());
    }
    smfiDesc desc = segel::milter::descriptor();
    if (smfi_setconn(conn.data()) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
        refuse(EX_SOFTWARE, "libmilter cannot use " + conn);
    }
    smfi_settimeout(settings.milter.timeout_seconds);
    if (smfi_opensocket(false) != MI_SUCCESS) {  // false: prepare_socket decided about an existing one
        refuse(EX_UNAVAILABLE, "cannot listen on " + conn + " (is the directory there and writable by " +
                                   segel::engine::current_identity().user + "?)");
    }
    const daemon::SocketFile socket_file = daemon::remember_socket(conn);
    daemon::PidFile pidfile;
    try {
        // Postfix connects as its own user: the socket's group (postfix) must reach it.
        // Created by root for -u: it belongs to that user and group unless the settings say otherwise.
        const std::string owner = !settings.milter.socket_owner.empty() ? settings.milter.socket_owner
                                  : run_as                              ? run_as->user
                                                                        : "";
        const std::string group = !settings.milter.socket_group.empty() ? settings.milter.socket_group
                                  : run_as                              ? run_as->group
                                                                        : "";
        daemon::own_socket(socket_file, owner, group, settings.milter.socket_mode);
        if (!o.pidfile.empty()) {
            pidfile = daemon::PidFile(o.pidfile);
        }
        if (run_as) {
            segel::engine::become(*run_as);
        }
    } catch (const std::exception& e) {
        daemon::remove_socket(socket_file);
        refuse(EX_OSERR, e.what());
    }
    // Incidents (docs/incidents.md): the windows rebuilt from the audit store and the checkpoint
    // check, before the trail opens (its checkpointer would cover what the check looks for).
    std::vector<segel::policy::Incident> found_at_start;
    try {
        auto incidents = std::make_unique<segel::milter::Incidents>(*gw);
        found_at_start = incidents->rebuild(*gw, std::chrono::system_clock::now());
        segel::milter::set_incidents(std::move(incidents));
    } catch (const std::exception& e) {
        daemon::remove_socket(socket_file);
        refuse(EX_CONFIG, std::string("incidents: ") + e.what());
    }
    if (settings.audit.enabled) {
        // Opened as the user the milter runs as, like every file a reload opens again.
        try {
            segel::milter::set_recorder(std::make_unique<segel::milter::Recorder>(*gw, o.config));
        } catch (const segel::config::ConfigError& e) {
            daemon::remove_socket(socket_file);
            std::cerr << e.what() << "\n";
            refuse(EX_CONFIG, e.what());
        } catch (const std::exception& e) {
            daemon::remove_socket(socket_file);
            refuse(EX_CANTCREAT, "the audit trail " + settings.audit.local + " cannot be written: " + e.what());
        }
    }
    for (const auto& incident : found_at_start) {
        segel::milter::incidents()->raise(incident, std::chrono::system_clock::now(), true);
    }
    // Revocation of the signing certificates (R6): checked now (as the -u user, so the cache
    // directory stays its own), then kept fresh in a background thread (signals blocked).
    segel::services::RevocationService::process()->start(log_revocation);
    log_inventory(*gw);

    // The main thread takes SIGTERM, SIGINT, SIGHUP and SIGUSR1 from here on, before
    // libmilter starts the thread of its own that waits for three of them (one sent
    // during start-up is delivered here now, not left pending for that thread).
    daemon::SignalCatcher signals;
    MetricsFile metrics_file(o.config, started);
    Reloader reloader(metrics_file);
    std::atomic<bool> milter_done{false};
    std::atomic<int> milter_rc{MI_SUCCESS};
    std::thread milter([&] {
        daemon::listen_here();
        milter_rc = smfi_main();
        milter_done = true;
    });
    const auto me = segel::engine::current_identity();
    spdlog::info("listening {}", log::fields({{"socket", conn},
                                              {"version", SEGEL_VERSION},
                                              {"domains", std::to_string(settings.signing.domains.size())},
                                              {"credentials", std::to_string(gw->certificates().size())},
                                              {"user", me.user},
                                              {"group", me.group}}));
    daemon::notify("READY=1\nSTATUS=listening on " + conn);
    gw.reset();

    // Serve until a stop signal, or until libmilter stops by itself. The watchdog is
    // fed from here: a main thread stuck for WatchdogSec gets the service restarted.
    const int watchdog_ms = daemon::watchdog_interval_ms();
    const int tick_ms = watchdog_ms > 0 ? std::min(watchdog_ms, 1000) : 1000;
    metrics_file.write();
    auto next_metrics = Clock::now() + std::chrono::milliseconds(metrics_file.interval_ms());
    int stop_signal = 0;
    while (stop_signal == 0 && !milter_done) {
        const int sig = signals.wait(tick_ms);
        if (segel::milter::Recorder* r = segel::milter::recorder()) {
            const auto current = segel::milter::runtime().snapshot();
            if (auto gap = r->watch_checkpoints(current->settings().incidents, std::chrono::system_clock::now())) {
                segel::milter::incidents()->raise(*gap, std::chrono::system_clock::now(), true);
            }
        }
        if (Clock::now() >= next_metrics) {
            metrics_file.write();
            next_metrics = Clock::now() + std::chrono::milliseconds(metrics_file.interval_ms());
        }
        if (sig == SIGHUP || sig == SIGUSR1) {
            reloader.request(signal_name(sig));
        } else if (sig == SIGTERM || sig == SIGINT) {
            stop_signal = sig;
        }
        if (watchdog_ms > 0) {
            daemon::notify("WATCHDOG=1");
        }
    }

    // Stop: no new connections or messages; those in progress finish, within the timeout.
    segel::milter::begin_stop();
    const int timeout_s = segel::milter::runtime().snapshot()->settings().milter.shutdown_timeout_seconds;
    const auto timeout = std::chrono::seconds(timeout_s);
    daemon::notify("STOPPING=1\nSTATUS=finishing messages in progress");
    if (stop_signal != 0) {
        spdlog::info("stopping {}", log::fields({{"signal", signal_name(stop_signal)},
                                                 {"in_progress", std::to_string(segel::milter::InFlight::count())},
                                                 {"timeout", std::to_string(timeout_s)},
                                                 {"action", "no new connections; messages in progress finish first"}}));
    } else {
        spdlog::error("stopping {}", log::fields({{"signal", "-"},
                                                  {"socket", conn},
                                                  {"reason",
                                                   "libmilter stopped listening by itself (a signal it "
                                                   "took, or a listener failure)"}}));
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
            spdlog::warn("stop-now {}", log::fields({{"signal", signal_name(sig)},
                                                     {"cut_off", std::to_string(segel::milter::InFlight::count())},
                                                     {"reason", "second stop signal"}}));
            cut_short = true;
            break;
        }
        if (watchdog_ms > 0) {
            daemon::notify("WATCHDOG=1");
        }
    }
    const std::size_t left = segel::milter::InFlight::count();
    if (left > 0 && !cut_short) {
        spdlog::warn("shutdown-timeout {}", log::fields({{"timeout", std::to_string(timeout_s)},
                                                         {"cut_off", std::to_string(left)},
                                                         {"action", "Postfix defers the messages still in progress"}}));
    }
    if (left == 0) {
        // The last callback has returned; give libmilter a moment to write its final reply.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (segel::milter::Recorder* r = segel::milter::recorder()) {
        r->stopped();  // the stop event and a last checkpoint; a message still in progress now gets 451
    }
    if (segel::milter::Incidents* i = segel::milter::incidents()) {
        i->stop();  // the mail being sent finishes; what waits is dropped and logged
    }
    // smfi_stop() alone would wait up to 5 s for libmilter's listener (daemon::stop_listener).
    const bool woken = !milter_done && daemon::stop_listener(milter.native_handle(), [] { smfi_stop(); }) > 0;
    const bool removed = daemon::remove_socket(socket_file) || removed_early;
    metrics_file.remove();
    if (const std::string why = pidfile.remove(); !why.empty()) {
        spdlog::warn("pidfile {}", log::field("error", why));
    }
    spdlog::info("stopped {}", log::fields({{"socket", socket_file.path.empty() ? conn : socket_file.path},
                                            {"socket_removed", removed ? "yes" : "no"},
                                            {"listener", woken ? "woken" : "ended"}}));
    segel::services::RevocationService::process()->stop();
    milter.detach();  // libmilter's listener leaves its loop now; nothing is left to wait for
    // A stop that was asked for and carried out is a clean exit. When segel had to wake libmilter's
    // listener, what smfi_main() returns reports that wake-up (seen once under load: MI_FAILURE
    // after the stop, exit 70 in integration.daemon), not a failure to serve mail.
    leave(stop_signal != 0 && (milter_rc == MI_SUCCESS || woken) ? 0 : EX_SOFTWARE);
}
