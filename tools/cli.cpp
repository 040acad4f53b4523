#include "tools/cli.h"

#include <ctime>

namespace segel::tools {

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
    struct tm tm {};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || (*end != 'Z' && *end != '\0') || (*end == 'Z' && end[1] != '\0')) {
        tm = {};
        end = strptime(text.c_str(), "%Y-%m-%d", &tm);
        if (end == nullptr || *end != '\0') {
            return std::nullopt;
        }
    }
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace segel::tools
