#include "milter/daemon.h"

#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace segel::milter::daemon {

namespace {

constexpr std::array<int, 4> k_handled = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};

int g_pipe[2] = {-1, -1};  // written by the handler, read by SignalCatcher::wait

extern "C" void on_signal(int sig) {
    const int saved = errno;
    const unsigned char byte = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &byte, 1);  // full pipe: a signal is already waiting
    errno = saved;
}

/** The signal that wakes libmilter's listener (a real-time one: no meaning of its own). */
int wake_signal() {
    return SIGRTMIN + 1;
}

std::atomic<unsigned> g_wakes{0};  // wake-ups the listener's thread took

extern "C" void on_wake(int) {
    g_wakes.fetch_add(1, std::memory_order_relaxed);  // lock-free: async-signal-safe
}

bool handled(int sig) {
    return std::find(k_handled.begin(), k_handled.end(), sig) != k_handled.end();
}

sigset_t handled_set() {
    sigset_t set;
    sigemptyset(&set);
    for (const int s : k_handled) {
        sigaddset(&set, s);
    }
    return set;
}

/** Connects to a unix socket path. @return true when a process answers; errno says why not */
bool answers_unix(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), std::min(path.size(), sizeof sa.sun_path - 1));
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return ok;
}

/** inet:PORT@HOST / inet6:PORT@HOST (HOST may be [addr]); no host: loopback. */
bool answers_inet(const std::string& conn) {
    const auto colon = conn.find(':');
    const bool v6 = conn.rfind("inet6:", 0) == 0;
    std::string rest = conn.substr(colon + 1);
    std::string host = v6 ? "::1" : "127.0.0.1";
    if (const auto at = rest.find('@'); at != std::string::npos) {
        host = rest.substr(at + 1);
        rest = rest.substr(0, at);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        }
    }
    addrinfo hints{};
    hints.ai_family = v6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), rest.c_str(), &hints, &res) != 0 || res == nullptr) {
        return false;  // libmilter reports an unusable address when it opens the socket
    }
    bool ok = false;
    for (const addrinfo* a = res; a != nullptr && !ok; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0) {
            ok = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
            ::close(fd);
        }
    }
    ::freeaddrinfo(res);
    return ok;
}

}  // namespace

void block_signals() {
    sigset_t set = handled_set();
    sigaddset(&set, wake_signal());  // taken only where listen_here() says
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a peer that went away is an error to handle, not a reason to die
    struct sigaction sa {};
    sa.sa_handler = on_wake;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // poll() is never restarted (signal(7)); other calls are
    sigaction(wake_signal(), &sa, nullptr);
}

void listen_here() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, wake_signal());
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

unsigned stop_listener(pthread_t listener, void (*stop)()) {
    const unsigned before = g_wakes.load();
    std::atomic<bool> done{false};
    std::thread stopper([&] {
        stop();
        done = true;
    });
    // Until smfi_stop() returns: it sets the stop flag first and then waits for the lock, so a
    // wake-up that came before the flag only starts another poll, and the next one ends it.
    while (!done) {
        pthread_kill(listener, wake_signal());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stopper.join();
    return g_wakes.load() - before;
}

SignalCatcher::SignalCatcher() {
    if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    // SA_NODEFER: the signal stays unblocked in this thread even while its handler
    // runs, so a second one also comes here rather than to libmilter's thread.
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    for (const int s : k_handled) {
        sigaction(s, &sa, nullptr);
    }
    const sigset_t set = handled_set();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

SignalCatcher::~SignalCatcher() {
    const sigset_t set = handled_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int SignalCatcher::wait(int timeout_ms) {
    pollfd p{g_pipe[0], POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) {
        return 0;  // timeout, or EINTR from the handler itself: the byte is read next time
    }
    unsigned char byte = 0;
    return ::read(g_pipe[0], &byte, 1) == 1 ? byte : 0;
}

std::string unix_path(const std::string& conn) {
    if (conn.rfind("unix:", 0) == 0 || conn.rfind("local:", 0) == 0) {
        return conn.substr(conn.find(':') + 1);
    }
    if (conn.find(':') == std::string::npos) {
        return conn;  // libmilter: a bare path is a unix socket
    }
    return "";
}

std::string prepare_socket(const std::string& conn) {
    const std::string path = unix_path(conn);
    if (path.empty()) {
        if (answers_inet(conn)) {
            throw std::runtime_error("another process is listening on " + conn +
                                     " (is segel-milter already running?); not starting");
        }
        return "";
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return "";
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw std::runtime_error(path + " exists and is not a socket; move it away or choose another milter.socket");
    }
    if (answers_unix(path)) {
        throw std::runtime_error("another process answers on " + path +
                                 " (is segel-milter already running? stop it first, or give this one its own "
                                 "milter.socket); not starting");
    }
    const int why = errno;
    if (why != ECONNREFUSED) {
        throw std::runtime_error("cannot tell whether " + path + " is in use: " + std::strerror(why));
    }
    if (::unlink(path.c_str()) != 0) {
        throw std::runtime_error("cannot remove the stale socket " + path + ": " + std::strerror(errno));
    }
    return "removed the stale socket " + path + " (nothing answered on it)";
}

SocketFile remember_socket(const std::string& conn) {
    SocketFile f;
    f.path = unix_path(conn);
    struct stat st {};
    if (!f.path.empty() && ::lstat(f.path.c_str(), &st) == 0) {
        f.dev = st.st_dev;
        f.ino = st.st_ino;
    } else {
        f.path.clear();
    }
    return f;
}

bool remove_socket(const SocketFile& file) {
    struct stat st {};
    if (file.path.empty() || ::lstat(file.path.c_str(), &st) != 0 || st.st_dev != file.dev || st.st_ino != file.ino) {
        return false;
    }
    return ::unlink(file.path.c_str()) == 0;
}

void own_socket(const SocketFile& file, const std::string& owner, const std::string& group, unsigned mode) {
    if (file.path.empty()) {
        return;
    }
    struct stat st {};
    if (::lstat(file.path.c_str(), &st) != 0) {
        throw std::runtime_error("cannot see the socket " + file.path + ": " + std::strerror(errno));
    }
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (!owner.empty()) {
        const passwd* pw = ::getpwnam(owner.c_str());
        if (pw == nullptr) {
            throw std::runtime_error("milter.socket_owner: no user \"" + owner + "\" on this system");
        }
        if (pw->pw_uid != st.st_uid) {
            uid = pw->pw_uid;
        }
    }
    if (!group.empty()) {
        const struct group* gr = ::getgrnam(group.c_str());
        if (gr == nullptr) {
            throw std::runtime_error("milter.socket_group: no group \"" + group + "\" on this system");
        }
        if (gr->gr_gid != st.st_gid) {
            gid = gr->gr_gid;
        }
    }
    if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) && ::chown(file.path.c_str(), uid, gid) != 0) {
        throw std::runtime_error("cannot give the socket " + file.path + " to " + (owner.empty() ? "-" : owner) + ":" +
                                 (group.empty() ? "-" : group) + ": " + std::strerror(errno) +
                                 " (milter.socket_owner/socket_group; a set-group-ID socket directory needs neither)");
    }
    if (::chmod(file.path.c_str(), static_cast<mode_t>(mode)) != 0) {
        throw std::runtime_error("milter.socket_mode: cannot chmod " + file.path + ": " + std::strerror(errno));
    }
}

PidFile::PidFile(std::string path) : m_path(std::move(path)) {
    const int fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot write the pid file " + m_path + ": " + std::strerror(errno));
    }
    const std::string text = std::to_string(::getpid()) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const int why = errno;
    ::close(fd);
    if (!ok) {
        throw std::runtime_error("cannot write the pid file " + m_path + ": " + std::strerror(why));
    }
}

PidFile::~PidFile() {
    remove();
}

PidFile::PidFile(PidFile&& other) noexcept : m_path(std::move(other.m_path)) {
    other.m_path.clear();
}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
    if (this != &other) {
        remove();
        m_path = std::move(other.m_path);
        other.m_path.clear();
    }
    return *this;
}

std::string PidFile::remove() {
    if (m_path.empty()) {
        return "";
    }
    const std::string path = std::move(m_path);
    m_path.clear();
    char buf[32] = {};
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return "";  // already gone
    }
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0 || std::to_string(::getpid()) + "\n" != std::string(buf, static_cast<std::size_t>(n))) {
        return "";  // another process's now
    }
    if (::unlink(path.c_str()) != 0) {
        return "cannot remove the pid file " + path + ": " + std::strerror(errno) +
               " (put it in a directory the milter's user may write, e.g. /run/segel)";
    }
    return "";
}

void notify(const std::string& state) {
    ::sd_notify(0, state.c_str());
}

int watchdog_interval_ms() {
    std::uint64_t usec = 0;
    if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
        return 0;
    }
    return static_cast<int>(std::max<std::uint64_t>(usec / 2000, 1));
}

}  // namespace segel::milter::daemon

// libmilter's smfi_main() starts a thread of its own that sigwait()s for SIGHUP, SIGTERM and
// SIGINT and stops the milter on any of them (SIGINT: aborts every session). The kernel gives a
// process-directed signal to any thread that takes it, so that thread raced the main thread's
// handler: a reload could stop the milter, a SIGINT cut off the messages in progress. segel-milter
// defines sigwait() itself (a definition in the executable wins over libc's for libmilter.so):
// while the SignalCatcher is installed, a signal that thread takes is handed to the main thread
// like any other and the thread waits again; otherwise it behaves as POSIX says.
extern "C" int sigwait(const sigset_t* set, int* sig) {
    for (;;) {
        siginfo_t info{};
        const int s = ::sigwaitinfo(set, &info);
        if (s < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        if (segel::milter::daemon::g_pipe[1] >= 0 && segel::milter::daemon::handled(s)) {
            segel::milter::daemon::on_signal(s);
            continue;
        }
        *sig = s;
        return 0;
    }
}
