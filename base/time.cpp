#include "base/time.h"

#include <ctime>

namespace segel::base {

namespace {
// The ends of a TimePoint stand for what lies beyond it (smime::time_from_unix): RFC 5280's
// 99991231235959Z and any date after 2262 are TimePoint::max(), shown as the last moment of 9999.
std::string format_utc(TimePoint t, const char* format, const char* last, const char* first) {
    if (t == TimePoint::max()) {
        return last;
    }
    if (t == TimePoint::min()) {
        return first;
    }
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}
}  // namespace

std::string format_date(TimePoint t) {
    return format_utc(t, "%Y-%m-%d", "9999-12-31", "0001-01-01");
}

std::string format_time(TimePoint t) {
    return format_utc(t, "%Y-%m-%dT%H:%M:%SZ", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z");
}

std::string format_rfc5322(TimePoint t) {
    return format_utc(t, "%a, %d %b %Y %H:%M:%S +0000", "Fri, 31 Dec 9999 23:59:59 +0000",
                      "Mon, 01 Jan 0001 00:00:00 +0000");
}

}  // namespace segel::base
