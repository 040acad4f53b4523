#include "base/time.h"

#include <ctime>

namespace segel::base {

namespace {
std::string format_utc(TimePoint t, const char* format) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}
}  // namespace

std::string format_date(TimePoint t) {
    return format_utc(t, "%Y-%m-%d");
}

std::string format_time(TimePoint t) {
    return format_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}

std::string format_rfc5322(TimePoint t) {
    return format_utc(t, "%a, %d %b %Y %H:%M:%S +0000");
}

}  // namespace segel::base
