#include "milter/log.h"

#include "base/text.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

namespace segel::milter::log {

namespace {

constexpr const char* k_ident = "segel";

int syslog_facility(const std::string& name) {
    static const std::map<std::string, int> k_facilities = {
        {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
        {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
        {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
    const auto it = k_facilities.find(name);
    return it != k_facilities.end() ? it->second : LOG_MAIL;
}

int priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return LOG_DEBUG;
        case spdlog::level::info:
            return LOG_INFO;
        case spdlog::level::warn:
            return LOG_WARNING;
        case spdlog::level::err:
            return LOG_ERR;
        case spdlog::level::critical:
            return LOG_CRIT;
        default:
            return LOG_INFO;
    }
}

/**
 * The journal, with the fields syslog(3) would give a line (PRIORITY,
 * SYSLOG_FACILITY, SYSLOG_IDENTIFIER), so `journalctl -t segel -p warning` and
 * `journalctl SYSLOG_FACILITY=2` find segel beside Postfix. A failed write is
 * dropped: logging never fails a message.
 */
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit JournalSink(int facility) : m_facility(facility >> 3) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const auto& p = msg.payload;
        sd_journal_send("MESSAGE=%.*s", static_cast<int>(p.size()), p.data(), "PRIORITY=%d", priority(msg.level),
                        "SYSLOG_FACILITY=%d", m_facility, "SYSLOG_IDENTIFIER=%s", k_ident, nullptr);
    }
    void flush_() override {}

private:
    int m_facility;
};

/** The journal took stderr over (systemd sets JOURNAL_STREAM=device:inode of that stream). */
bool stderr_is_journal() {
    const char* js = std::getenv("JOURNAL_STREAM");
    struct stat st {};
    if (js == nullptr || ::fstat(STDERR_FILENO, &st) != 0) {
        return false;
    }
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    return std::sscanf(js, "%llu:%llu", &dev, &ino) == 2 && dev == st.st_dev && ino == st.st_ino;
}

}  // namespace

std::string field(std::string_view key, std::string_view v) {
    std::string out(key);
    out += '=';
    out += base::kv_value(v);
    return out;
}

std::string fields(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    std::string out;
    for (const auto& [k, v] : pairs) {
        if (!out.empty()) {
            out += ' ';
        }
        out += field(k, v);
    }
    return out;
}

config::Settings::Log::Destination resolve(config::Settings::Log::Destination wanted) {
    using Destination = config::Settings::Log::Destination;
    if (wanted != Destination::Auto) {
        return wanted;
    }
    if (stderr_is_journal()) {
        return Destination::Syslog;  // under systemd: syslog(3) puts segel where Postfix's lines go
    }
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) {
        return Destination::Syslog;
    }
    if (::isatty(STDERR_FILENO) != 0 || S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
        return Destination::Stderr;  // a terminal, a file or a pipe someone reads
    }
    return Destination::Syslog;  // /dev/null and other devices: nobody would see it
}

std::string setup(const config::Settings::Log& settings) {
    using Destination = config::Settings::Log::Destination;
    const Destination d = resolve(settings.destination);
    std::shared_ptr<spdlog::logger> logger;
    std::string where;
    if (d == Destination::Syslog) {
        auto sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(k_ident, LOG_PID | LOG_NDELAY,
                                                                    syslog_facility(settings.facility), false);
        logger = std::make_shared<spdlog::logger>("milter", sink);
        where = "syslog facility " + settings.facility;
    } else if (d == Destination::Journal) {
        logger = std::make_shared<spdlog::logger>("milter",
                                                  std::make_shared<JournalSink>(syslog_facility(settings.facility)));
        where = "the journal (facility " + settings.facility + ")";
    } else {
        logger = std::make_shared<spdlog::logger>("milter", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ segel[%P]: %v");
        where = "stderr";
    }
    spdlog::set_default_logger(logger);
    set_level(settings.level);
    spdlog::flush_on(spdlog::level::info);
    return where;
}

void set_level(const std::string& level) {
    spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace segel::milter::log
