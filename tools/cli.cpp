#include "tools/cli.h"

#include "base/time.h"

#include <ctime>
#include <iostream>
#include <iterator>
#include <stdexcept>

namespace segel::tools {

std::string option_value(int argc, char** argv, int& i) {
    if (i + 1 >= argc) {
        throw std::invalid_argument(std::string(argv[i]) + " needs a value");
    }
    return argv[++i];
}

TimePoint parse_at(const std::string& text) {
    struct tm tm {};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || (*end != 'Z' && *end != '\0') || (*end == 'Z' && end[1] != '\0')) {
        tm = {};
        end = strptime(text.c_str(), "%Y-%m-%d", &tm);
        if (end == nullptr || *end != '\0') {
            throw std::invalid_argument("--at: \"" + text + "\" is not an RFC 3339 time like 2026-12-01T00:00:00Z");
        }
    }
    return base::time_from_unix(timegm(&tm));  // --at 2300-01-01 must not overflow
}

std::string read_stdin() {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
}

Args parse_args(int argc, char** argv, int first) {
    Args a;
    if (first < argc) {
        a.command = argv[first];
    }
    for (int i = first + 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&] { return option_value(argc, argv, i); };
        if (k == "--config" || k == "-c") {
            a.config = value();
        } else if (k == "--user") {
            a.user = value();
        } else if (k == "--from") {
            a.from = value();
        } else if (k == "--header-from") {
            a.header_from = value();
        } else if (k == "--login") {
            a.login = value();
        } else if (k == "--client") {
            a.client = value();
        } else if (k == "--to" || k == "--rcpt") {
            a.to.push_back(value());
        } else if (k == "--at") {
            a.at = parse_at(value());
        } else if (k == "--queue-id") {
            a.queue_id = value();
        } else if (k == "--explain" || k == "-v") {
            a.explain = true;
        } else if (k == "--json") {
            a.json = true;
        } else if (k == "--message") {
            a.message = true;
        } else if (k == "--trust-anchors") {
            a.trust_anchors.push_back(value());
        } else if (k == "--crl") {
            a.crls.push_back(value());
        } else if (k == "--certificate-time") {
            a.certificate_time = value();
        } else if (k == "--warn-days") {
            const std::string v = value();
            std::size_t used = 0;
            long days = -1;
            try {
                days = std::stol(v, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != v.size() || days < 0) {
                throw std::invalid_argument("--warn-days: \"" + v + "\" is not a number of days");
            }
            a.warn_days = days;
        } else if (k == "--strict") {
            a.strict = true;
        } else if (k == "--dry-run") {
            a.dry_run = true;
        } else if (k.size() > 1 && k[0] == '-') {
            throw std::invalid_argument(a.command + ": unknown option " + k);
        } else {
            a.positional.push_back(k);
        }
    }
    return a;
}

}  // namespace segel::tools
