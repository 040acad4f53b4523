#include "engine/check.h"

#include "config/load.h"
#include "engine/gateway.h"
#include "policy/decide.h"

#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace segel::engine {

namespace {

std::string sys_error(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

/** The directory a unix:/local: milter socket is created in, or "" for inet sockets. */
std::string socket_directory(const std::string& conn) {
    std::string path;
    if (conn.rfind("unix:", 0) == 0 || conn.rfind("local:", 0) == 0) {
        path = conn.substr(conn.find(':') + 1);
    } else {
        return "";
    }
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

/** What Gateway::load cannot see: the socket's directory and the names the socket is given to. */
void check_daemon_paths(const config::Settings& s, CheckReport& report) {
    const auto& m = s.milter;
    const auto at = [&](const config::Origin& o, const std::string& key, const std::string& msg) {
        report.errors.push_back(config::ConfigError(s.source, o, key, msg).what());
    };
    if (const std::string dir = socket_directory(m.socket); !dir.empty() && ::access(dir.c_str(), W_OK | X_OK) != 0) {
        at(m.socket_origin, "milter.socket",
           "cannot create the socket in " + dir + ": " + std::strerror(errno) +
               " (create the directory, writable by the milter's user; the package's is /run/segel)");
    }
    // The default (/run/segel/segel.prom) is not checked: a milter that cannot write it only warns.
    if (const std::string& f = s.metrics.file; !f.empty() && s.metrics.file_origin.line > 0) {
        const std::string dir = f.substr(0, std::max<std::size_t>(f.rfind('/'), 1));
        if (::access(dir.c_str(), W_OK | X_OK) != 0) {
            at(s.metrics.file_origin, "metrics.file",
               "cannot write in " + dir + ": " + std::strerror(errno) +
                   " (the milter replaces the file there; give its user write access or set metrics.file: off)");
        }
    }
    if (!m.socket_owner.empty() && ::getpwnam(m.socket_owner.c_str()) == nullptr && !all_digits(m.socket_owner)) {
        at(m.socket_owner_origin, "milter.socket_owner", "no user \"" + m.socket_owner + "\" on this system");
    }
    if (!m.socket_group.empty() && ::getgrnam(m.socket_group.c_str()) == nullptr && !all_digits(m.socket_group)) {
        at(m.socket_group_origin, "milter.socket_group", "no group \"" + m.socket_group + "\" on this system");
    }
}

/** The check itself, in this process as whoever it is now. */
CheckReport check_here(const std::string& path) {
    CheckReport report;
    report.checked_as = current_identity().user;
    std::vector<config::ConfigError> errors;
    const config::Settings settings = config::load_partial(path, errors);
    for (const auto& e : errors) {
        report.errors.insert(report.errors.end(), e.lines.begin(), e.lines.end());
    }
    if (settings.source.empty() || (!errors.empty() && errors.front().origin.line == 0)) {
        return report;  // the file itself could not be read
    }
    check_daemon_paths(settings, report);
    if (settings.trust.anchors.empty()) {
        return report;  // nothing to load keys against; the trust mistake is already reported
    }
    try {
        const auto gw = Gateway::from_settings(settings);
        const auto now = std::chrono::system_clock::now();
        for (const auto& c : gw->certificates()) {
            const std::string st = policy::certificate_state(c, now);
            if (st != "usable") {
                report.warnings.push_back(c.id + ": certificate " + c.serial + ": " + st);
            }
        }
        report.summary = std::to_string(settings.signing.domains.size()) + " official domain(s), " +
                         std::to_string(gw->certificates().size()) + " credential(s), " +
                         std::to_string(gw->trust().anchor_count()) + " trust anchor(s)";
    } catch (const config::ConfigError& e) {
        report.errors.insert(report.errors.end(), e.lines.begin(), e.lines.end());
    } catch (const std::exception& e) {
        report.errors.push_back(path + ": " + e.what());
    }
    return report;
}

std::string one_line(std::string s) {
    for (auto& c : s) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return s;
}

}  // namespace

Identity lookup_identity(const std::string& spec) {
    const auto colon = spec.find(':');
    const std::string user = spec.substr(0, colon);
    Identity id;
    const passwd* pw = all_digits(user) ? ::getpwuid(static_cast<uid_t>(std::stoul(user))) : ::getpwnam(user.c_str());
    if (user.empty() || pw == nullptr) {
        throw std::invalid_argument("no user '" + user + "' on this system");
    }
    id.user = pw->pw_name;
    id.uid = pw->pw_uid;
    id.gid = pw->pw_gid;
    if (colon != std::string::npos) {
        const std::string group = spec.substr(colon + 1);
        const struct group* gr =
            all_digits(group) ? ::getgrgid(static_cast<gid_t>(std::stoul(group))) : ::getgrnam(group.c_str());
        if (group.empty() || gr == nullptr) {
            throw std::invalid_argument("no group '" + group + "' on this system");
        }
        id.gid = gr->gr_gid;
    }
    const struct group* gr = ::getgrgid(id.gid);
    id.group = gr != nullptr ? gr->gr_name : std::to_string(id.gid);
    return id;
}

Identity current_identity() {
    Identity id;
    id.uid = ::geteuid();
    id.gid = ::getegid();
    const passwd* pw = ::getpwuid(id.uid);
    id.user = pw != nullptr ? pw->pw_name : std::to_string(id.uid);
    const struct group* gr = ::getgrgid(id.gid);
    id.group = gr != nullptr ? gr->gr_name : std::to_string(id.gid);
    return id;
}

void become(const Identity& who) {
    if (::geteuid() == who.uid && ::getegid() == who.gid) {
        return;
    }
    if (::initgroups(who.user.c_str(), who.gid) != 0) {
        throw std::runtime_error(sys_error("cannot take the groups of " + who.user));
    }
    if (::setgid(who.gid) != 0) {
        throw std::runtime_error(sys_error("cannot become group " + who.group));
    }
    if (::setuid(who.uid) != 0) {
        throw std::runtime_error(sys_error("cannot become user " + who.user));
    }
    if (who.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
        throw std::runtime_error("became " + who.user + " but could become root again; not running like this");
    }
}

int print_report(const CheckReport& report, const std::string& path, std::ostream& out, std::ostream& err) {
    for (const auto& e : report.errors) {
        err << e << "\n";
    }
    for (const auto& w : report.warnings) {
        out << "warning: " << w << "\n";
    }
    if (!report.ok()) {
        err << path << ": " << report.errors.size() << " problem(s) (checked as user " << report.checked_as << ")\n";
        return EX_CONFIG;
    }
    out << path << ": OK (" << report.summary << "; checked as user " << report.checked_as << ")\n";
    return 0;
}

std::optional<Identity> default_check_identity() {
    if (::geteuid() != 0) {
        return std::nullopt;
    }
    try {
        return lookup_identity("segel");
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

CheckReport check_config(const std::string& path, const std::optional<Identity>& as) {
    if (!as || as->uid == ::geteuid()) {
        return check_here(path);
    }
    int fds[2];
    if (::pipe(fds) != 0) {
        throw std::runtime_error(sys_error("pipe"));
    }
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) {
        throw std::runtime_error(sys_error("fork"));
    }
    if (child == 0) {
        ::close(fds[0]);
        std::string out;
        try {
            become(*as);
            const CheckReport r = check_here(path);
            for (const auto& e : r.errors) {
                out += "E " + one_line(e) + "\n";
            }
            for (const auto& w : r.warnings) {
                out += "W " + one_line(w) + "\n";
            }
            out += "S " + one_line(r.summary) + "\n";
        } catch (const std::exception& e) {
            out = "E " + one_line(path + ": check-config as " + as->user + ": " + e.what()) + "\n";
        }
        for (std::size_t off = 0; off < out.size();) {
            const ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
            if (n <= 0) {
                break;
            }
            off += static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string in;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
            in.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    CheckReport report;
    report.checked_as = as->user;
    for (std::size_t pos = 0; pos < in.size();) {
        auto eol = in.find('\n', pos);
        if (eol == std::string::npos) {
            eol = in.size();
        }
        const std::string line = in.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.size() < 2) {
            continue;
        }
        const std::string text = line.substr(2);
        if (line[0] == 'E') {
            report.errors.push_back(text);
        } else if (line[0] == 'W') {
            report.warnings.push_back(text);
        } else if (line[0] == 'S') {
            report.summary = text;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        report.errors.push_back(path + ": the check as " + as->user + " did not finish (status " +
                                std::to_string(status) + ")");
    }
    return report;
}

}  // namespace segel::engine
