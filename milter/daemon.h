#pragma once
// What makes segel-milter a well-behaved daemon, apart from mail: its signals,
// its socket (never taken from a running instance), and leaving nothing behind.
// Used by milter/main.cpp only.
#include <pthread.h>
#include <sys/types.h>

#include <string>

namespace segel::milter::daemon {

/**
 * The signals segel-milter handles itself: SIGTERM and SIGINT stop gracefully,
 * SIGHUP and SIGUSR1 reload. Blocked at the start of main() so that every
 * thread started afterwards (libmilter's included) inherits them blocked.
 */
void block_signals();

/**
 * Takes the handled signals in the calling thread (main) from now on. libmilter
 * runs a thread of its own that waits for SIGHUP, SIGTERM and SIGINT; the kernel
 * hands a process signal to the main thread whenever that thread does not block
 * it, which it never does after this, so libmilter's thread only sees a signal
 * when several arrive at the very same instant (then it stops the milter: still
 * a graceful stop, logged as such by main()).
 */
class SignalCatcher {
public:
    SignalCatcher();
    ~SignalCatcher();
    SignalCatcher(const SignalCatcher&) = delete;
    SignalCatcher& operator=(const SignalCatcher&) = delete;

    /** The next signal caught, waiting at most @p timeout_ms; 0 when none came. */
    int wait(int timeout_ms);
};

/**
 * Call first in the thread that runs smfi_main(): libmilter's listener (mi_listener) runs in it,
 * and the wake-up signal stop_listener() sends is taken there (blocked in every other thread
 * block_signals() was called before).
 */
void listen_here();

/**
 * Stops libmilter's listener promptly: calls @p stop (smfi_stop) in a thread of its own and
 * interrupts @p listener's poll() until it returns. The listener waits for clients in fixed
 * 5-second poll() periods while holding the lock smfi_stop() needs, so smfi_stop() alone waits
 * for the period to end (libmilter listener.c); poll() interrupted by a signal handler fails with
 * EINTR, upon which the listener releases that lock and checks the stop flag. Sessions are not
 * touched (smfi_stop asks for no abort).
 * @return how many wake-ups reached the listener's thread (0: it was not woken, so the stop
 *         waited for the end of its period)
 */
unsigned stop_listener(pthread_t listener, void (*stop)());

/**
 * Makes the milter socket ready to be opened. A unix socket path that a process
 * answers on means another segel-milter (or something else) serves it: refused,
 * because taking the path over would leave that process unreachable while it
 * runs and the path dangling when this one exits. A path nobody answers on is a
 * stale socket of a process that died: removed. An inet socket with a listener is
 * refused too.
 * @return a line to log ("removed the stale socket ..."), or "" when nothing was there
 * @throws std::runtime_error with the sentence that explains the refusal
 */
std::string prepare_socket(const std::string& conn);

/** The unix socket file this process created, so that it removes its own and never another's. */
struct SocketFile {
    std::string path;  ///< empty: not a unix socket
    dev_t dev = 0;
    ino_t ino = 0;
};

/** Records the socket file @p conn names, right after it was created. */
SocketFile remember_socket(const std::string& conn);

/** Removes the socket file if it is still the one remember_socket() saw. @return true when removed */
bool remove_socket(const SocketFile& file);

/** The path of a unix:/local: milter socket, or "" for inet sockets. */
std::string unix_path(const std::string& conn);

/**
 * Gives the unix socket its owner, group and mode (milter.socket_owner,
 * socket_group, socket_mode). An owner or group it already has is not set
 * again, so a set-group-ID directory (/run/segel, group postfix) needs no
 * privilege. @throws std::runtime_error naming the key and the system's reason
 */
void own_socket(const SocketFile& file, const std::string& owner, const std::string& group, unsigned mode);

/** A pid file (-P): written at start, removed at stop only while it still holds this process's pid. */
class PidFile {
public:
    PidFile() = default;
    /** @throws std::runtime_error with the system's reason */
    explicit PidFile(std::string path);
    ~PidFile();
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;
    PidFile(PidFile&& other) noexcept;
    PidFile& operator=(PidFile&& other) noexcept;
    /** Removes it now (at stop). @return "" or why it could not be removed */
    std::string remove();

private:
    std::string m_path;
};

/**
 * systemd's notification socket ($NOTIFY_SOCKET), through libsystemd: READY=1,
 * RELOADING=1, STOPPING=1, STATUS=..., WATCHDOG=1. Without systemd, nothing.
 */
void notify(const std::string& state);

/** How often the watchdog wants a ping (half of WatchdogSec), in milliseconds; 0 when it is off. */
int watchdog_interval_ms();

}  // namespace segel::milter::daemon
