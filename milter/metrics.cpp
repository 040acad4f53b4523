#include "milter/metrics.h"

#include "policy/decide.h"
#include "segel/version.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace segel::milter {

namespace {

// Upper bounds: seconds from a loopback sign (~1 ms) to a large encrypted message; bytes from a
// one-line note to milter.max_message_size's default (50 MB).
const std::vector<double> k_duration_bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const std::vector<double> k_size_bounds = {1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};

/**
 * The reason label: few values, never a message's own text. The reply's status
 * codes for a refusal or a deferral ("550 5.7.1"), the step of an internal
 * error ("eom"), "none" otherwise.
 */
std::string reason_of(const engine::Outcome& o) {
    using D = engine::Decision;
    if ((o.decision == D::Refuse || o.decision == D::Defer) && !o.reply_code.empty()) {
        return o.reply_code + (o.reply_xcode.empty() ? "" : " " + o.reply_xcode);
    }
    if (o.decision == D::Error && o.error) {
        return o.error->step;
    }
    return "none";
}

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

std::string seconds_since_epoch(TimePoint t) {
    return number(std::chrono::duration<double>(t.time_since_epoch()).count());
}

std::string bound(double b) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", b);
    return buf;
}

class Exposition {
public:
    void family(const char* name, const char* type, const char* help) {
        m_out += "# HELP ";
        m_out += name;
        m_out += ' ';
        m_out += help;
        m_out += "\n# TYPE ";
        m_out += name;
        m_out += ' ';
        m_out += type;
        m_out += '\n';
    }
    void sample(const std::string& name, std::initializer_list<std::pair<const char*, std::string>> labels,
                const std::string& value) {
        m_out += name;
        if (labels.size() > 0) {
            m_out += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                m_out += first ? "" : ",";
                first = false;
                m_out += k;
                m_out += "=\"";
                m_out += prometheus_label(v);
                m_out += '"';
            }
            m_out += '}';
        }
        m_out += ' ';
        m_out += value;
        m_out += '\n';
    }
    void histogram(const char* name, const std::string& direction, const Histogram& h) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.bounds->size(); ++i) {
            cumulative += h.counts[i];
            sample(std::string(name) + "_bucket", {{"direction", direction}, {"le", bound((*h.bounds)[i])}},
                   std::to_string(cumulative));
        }
        sample(std::string(name) + "_bucket", {{"direction", direction}, {"le", "+Inf"}}, std::to_string(h.count));
        sample(std::string(name) + "_sum", {{"direction", direction}}, number(h.sum));
        sample(std::string(name) + "_count", {{"direction", direction}}, std::to_string(h.count));
    }
    [[nodiscard]] const std::string& str() const { return m_out; }

private:
    std::string m_out;
};

}  // namespace

void Histogram::observe(double v) {
    for (std::size_t i = 0; i < bounds->size(); ++i) {
        if (v <= (*bounds)[i]) {
            ++counts[i];
            break;
        }
    }
    ++count;
    sum += v;
}

void Metrics::record(const engine::Outcome& o) {
    const std::string direction = engine::to_string(o.direction);
    std::lock_guard lock(m_mutex);
    ++m_messages[{direction, engine::to_string(o.decision), reason_of(o)}];
    if (o.verification) {
        ++m_verdicts[{smime::to_string(o.verification->result), smime::to_string(o.verification->problem)}];
    }
    for (const auto& i : o.incidents) {
        ++m_incidents[i.kind];
    }
    m_duration.try_emplace(direction, &k_duration_bounds)
        .first->second.observe((o.timings.decide_ms + o.timings.process_ms) / 1000.0);
    m_size.try_emplace(direction, &k_size_bounds).first->second.observe(static_cast<double>(o.size));
}

void Metrics::incident(const std::string& kind) {
    std::lock_guard lock(m_mutex);
    ++m_incidents[kind];
}

void Metrics::incident_mail(const std::string& result) {
    std::lock_guard lock(m_mutex);
    ++m_incident_mail[result];
}

void Metrics::reloaded(bool ok, TimePoint when) {
    std::lock_guard lock(m_mutex);
    ++(ok ? m_reloads_ok : m_reloads_failed);
    m_last_reload = when;
    m_last_reload_ok = ok;
}

std::string Metrics::render(const engine::Gateway& gw, const DaemonFacts& facts, TimePoint now) const {
    std::lock_guard lock(m_mutex);
    Exposition e;
    e.family("segel_build_info", "gauge", "The running segel-milter: its version and process id.");
    e.sample("segel_build_info", {{"version", SEGEL_VERSION}, {"pid", std::to_string(::getpid())}}, "1");
    e.family("segel_start_time_seconds", "gauge", "When segel-milter started (Unix time).");
    e.sample("segel_start_time_seconds", {}, seconds_since_epoch(facts.started));
    e.family("segel_metrics_written_timestamp_seconds", "gauge",
             "When this file was written (Unix time); it is rewritten every interval_seconds.");
    e.sample("segel_metrics_written_timestamp_seconds", {{"interval_seconds", std::to_string(facts.interval_seconds)}},
             seconds_since_epoch(now));
    e.family("segel_config_generation", "gauge",
             "Configurations loaded: 1 at start, one more for each successful reload.");
    e.sample("segel_config_generation", {{"config", facts.config_path}}, std::to_string(1 + m_reloads_ok));
    e.family("segel_config_reloads_total", "counter", "Reloads (SIGHUP, SIGUSR1), by result.");
    e.sample("segel_config_reloads_total", {{"result", "ok"}}, std::to_string(m_reloads_ok));
    e.sample("segel_config_reloads_total", {{"result", "failed"}}, std::to_string(m_reloads_failed));
    e.family("segel_config_last_reload_success", "gauge",
             "1 when the last reload succeeded (or none was tried), 0 when it failed and the old configuration runs.");
    e.sample("segel_config_last_reload_success", {}, m_last_reload_ok ? "1" : "0");
    if (m_last_reload) {
        e.family("segel_config_last_reload_timestamp_seconds", "gauge", "When the last reload was tried (Unix time).");
        e.sample("segel_config_last_reload_timestamp_seconds", {}, seconds_since_epoch(*m_last_reload));
    }
    e.family("segel_messages_in_progress", "gauge", "Messages between MAIL FROM and their answer, now.");
    e.sample("segel_messages_in_progress", {}, std::to_string(facts.in_progress));
    e.family("segel_messages_total", "counter",
             "Messages by direction, decision and reason (a refusal's reply codes, an internal error's step).");
    for (const auto& [key, n] : m_messages) {
        const auto& [direction, decision, reason] = key;
        e.sample("segel_messages_total", {{"direction", direction}, {"decision", decision}, {"reason", reason}},
                 std::to_string(n));
    }
    e.family("segel_inbound_verdicts_total", "counter",
             "Inbound S/MIME verdicts (RFC 7281 result) and what stood behind them.");
    for (const auto& [key, n] : m_verdicts) {
        e.sample("segel_inbound_verdicts_total", {{"smime", key.first}, {"problem", key.second}}, std::to_string(n));
    }
    e.family("segel_incidents_total", "counter", "Security incidents (R12) by kind (docs/incidents.md).");
    for (const auto& kind : policy::incident_kinds()) {
        const auto it = m_incidents.find(kind);
        e.sample("segel_incidents_total", {{"kind", kind}}, std::to_string(it == m_incidents.end() ? 0 : it->second));
    }
    e.family("segel_incident_mail_total", "counter",
             "Incident mail by result: sent, failed, dropped (queue full), suppressed (one per kind and login per "
             "incidents.notify.period).");
    for (const char* result : {"sent", "failed", "dropped", "suppressed"}) {
        const auto it = m_incident_mail.find(result);
        e.sample("segel_incident_mail_total", {{"result", result}},
                 std::to_string(it == m_incident_mail.end() ? 0 : it->second));
    }
    e.family("segel_message_duration_seconds", "histogram",
             "Time segel spent on a message (decision and signing, encryption or verification), by direction.");
    for (const auto& [direction, h] : m_duration) {
        e.histogram("segel_message_duration_seconds", direction, h);
    }
    e.family("segel_message_size_bytes", "histogram", "Size of the messages as received, by direction.");
    for (const auto& [direction, h] : m_size) {
        e.histogram("segel_message_size_bytes", direction, h);
    }
    e.family("segel_certificate_expiry_timestamp_seconds", "gauge",
             "When each installed certificate expires (Unix time), for alerts ahead of renewal (R5).");
    const auto& certs = gw.certificates();
    for (const auto& c : certs) {
        std::string addrs;
        for (const auto& a : c.addresses) {
            addrs += (addrs.empty() ? "" : ",") + a;
        }
        e.sample("segel_certificate_expiry_timestamp_seconds", {{"serial", c.serial}, {"address", addrs}},
                 seconds_since_epoch(c.not_after));
    }
    e.family("segel_certificate_usable", "gauge",
             "1 when the certificate can sign now (valid, trusted, fit for mail), 0 when not.");
    for (const auto& c : certs) {
        std::string addrs;
        for (const auto& a : c.addresses) {
            addrs += (addrs.empty() ? "" : ",") + a;
        }
        e.sample("segel_certificate_usable", {{"serial", c.serial}, {"address", addrs}},
                 policy::certificate_state(c, now) == "usable" ? "1" : "0");
    }
    return e.str();
}

Metrics& metrics() {
    static Metrics m;
    return m;
}

std::string prometheus_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return "cannot write " + tmp + ": " + std::strerror(errno);
    }
    bool ok = ::fchmod(fd, 0644) == 0;  // the unit's UMask would make it 0640: node_exporter must read it
    for (std::size_t off = 0; ok && off < text.size();) {
        const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ok = n > 0;
        off += ok ? static_cast<std::size_t>(n) : 0;
    }
    const int why = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok) {
        ::unlink(tmp.c_str());
        return "cannot write " + tmp + ": " + std::strerror(why);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return "cannot replace " + path + ": " + std::strerror(e);
    }
    return "";
}

}  // namespace segel::milter
