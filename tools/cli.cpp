#include "tools/cli.h"

#include <ctime>
#include <stdexcept>

namespace segel::tools {

std::string option_value(int argc, char** argv, int& i) {
    if (i + 1 >= argc) {
        throw std::invalid_argument(std::string(argv[i]) + " needs a value");
    }
    return argv[++i];
}

std::chrono::system_clock::time_point parse_at(const std::string& text) {
    struct tm tm {};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || (*end != 'Z' && *end != '\0') || (*end == 'Z' && end[1] != '\0')) {
        tm = {};
        end = strptime(text.c_str(), "%Y-%m-%d", &tm);
        if (end == nullptr || *end != '\0') {
            throw std::invalid_argument("--at: \"" + text + "\" is not an RFC 3339 time like 2026-12-01T00:00:00Z");
        }
    }
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace segel::tools
