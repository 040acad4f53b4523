// `segelctl status`: the running segel-milter as its metrics file shows it
// (milter/metrics.h: Prometheus text format, rewritten every metrics.interval
// seconds and removed at stop). No socket to the daemon: the key-holding
// process answers nobody but Postfix.
#include "base/time.h"
#include "config/load.h"
#include "tools/commands.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace segel::tools {

namespace {

struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

/** One sample line of the text format; false for comments and lines it cannot read. */
bool parse_sample(const std::string& line, Sample& out) {
    if (line.empty() || line[0] == '#') {
        return false;
    }
    std::size_t i = line.find_first_of("{ ");
    if (i == std::string::npos) {
        return false;
    }
    out = Sample{};
    out.name = line.substr(0, i);
    if (line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
            const auto eq = line.find('=', i);
            if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
                return false;
            }
            const std::string key = line.substr(i, eq - i);
            std::string value;
            std::size_t j = eq + 2;
            for (; j < line.size() && line[j] != '"'; ++j) {
                if (line[j] == '\\' && j + 1 < line.size()) {
                    ++j;
                    value += line[j] == 'n' ? '\n' : line[j];
                } else {
                    value += line[j];
                }
            }
            if (j >= line.size()) {
                return false;
            }
            out.labels[key] = value;
            i = j + 1;
            if (i < line.size() && line[i] == ',') {
                ++i;
            }
        }
        ++i;  // '}'
    }
    try {
        out.value = std::stod(line.substr(i));
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

std::string when(double unix_seconds) {
    return base::format_time(std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(unix_seconds))));
}

std::string count(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

}  // namespace

int cmd_status(const Args& a) {
    const config::Settings s = config::load(a.config);
    const std::string& path = s.metrics.file;
    if (path.empty()) {
        std::cerr << "segelctl status: metrics.file is off in " << a.config
                  << "; segel-milter writes its state there (docs/operations.md#metrics)\n";
        return k_refused;
    }
    std::ifstream in(path);
    if (!in) {
        const int why = errno;
        std::cout << "segel-milter is not running: " << path << ": " << std::strerror(why)
                  << " (the file exists while segel-milter runs)\n";
        return k_refused;
    }
    std::vector<Sample> samples;
    for (std::string line; std::getline(in, line);) {
        Sample sample;
        if (parse_sample(line, sample)) {
            samples.push_back(std::move(sample));
        }
    }
    const auto first = [&](const std::string& name) -> const Sample* {
        for (const auto& x : samples) {
            if (x.name == name) {
                return &x;
            }
        }
        return nullptr;
    };
    const Sample* build = first("segel_build_info");
    const Sample* written = first("segel_metrics_written_timestamp_seconds");
    if (build == nullptr || written == nullptr) {
        std::cerr << "segelctl status: " << path << " is not a segel metrics file\n";
        return k_refused;
    }
    const std::string pid = build->labels.count("pid") != 0 ? build->labels.at("pid") : "";
    const bool alive = !pid.empty() && ::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0;
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double age = now - written->value;
    const double interval =
        written->labels.count("interval_seconds") != 0 ? std::stod(written->labels.at("interval_seconds")) : 15;
    const bool fresh = age <= 3 * interval + 1;
    const Sample* start = first("segel_start_time_seconds");
    std::cout << "segel-milter " << build->labels.at("version") << ": "
              << (alive && fresh ? "running" : (alive ? "STALE (not written for " + count(age) + " s)" : "NOT RUNNING"))
              << ", pid " << pid << (start != nullptr ? ", since " + when(start->value) : "") << "\n";
    if (const Sample* gen = first("segel_config_generation")) {
        double ok = 0;
        double failed = 0;
        for (const auto& x : samples) {
            if (x.name == "segel_config_reloads_total") {
                (x.labels.at("result") == "ok" ? ok : failed) = x.value;
            }
        }
        std::cout << "configuration: " << gen->labels.at("config") << ", generation " << count(gen->value)
                  << "; reloads: " << count(ok) << " ok, " << count(failed) << " failed";
        if (const Sample* last = first("segel_config_last_reload_timestamp_seconds")) {
            const Sample* success = first("segel_config_last_reload_success");
            std::cout << "; last " << (success != nullptr && success->value == 1 ? "ok" : "FAILED (old one in force)")
                      << " at " << when(last->value);
        }
        std::cout << "\n";
    }
    if (const Sample* p = first("segel_messages_in_progress")) {
        std::cout << "messages in progress: " << count(p->value) << "\n";
    }
    std::cout << "messages:\n";
    for (const auto& x : samples) {
        if (x.name == "segel_messages_total") {
            const std::string& reason = x.labels.at("reason");
            std::string what =
                x.labels.at("direction") + " " + x.labels.at("decision") + (reason == "none" ? "" : " " + reason);
            what.resize(std::max<std::size_t>(what.size(), 32), ' ');
            std::cout << "  " << what << " " << count(x.value) << "\n";
        }
    }
    bool any_verdict = false;
    for (const auto& x : samples) {
        if (x.name == "segel_inbound_verdicts_total") {
            if (!any_verdict) {
                std::cout << "inbound verdicts:\n";
                any_verdict = true;
            }
            std::string what = "smime=" + x.labels.at("smime") +
                               (x.labels.at("problem") == "none" ? "" : " (" + x.labels.at("problem") + ")");
            what.resize(std::max<std::size_t>(what.size(), 32), ' ');
            std::cout << "  " << what << " " << count(x.value) << "\n";
        }
    }
    if (const Sample* inc = first("segel_incidents_total")) {
        std::cout << "incidents: " << count(inc->value) << "\n";
    }
    std::cout << "certificates:\n";
    for (const auto& x : samples) {
        if (x.name != "segel_certificate_expiry_timestamp_seconds") {
            continue;
        }
        bool usable = false;
        for (const auto& u : samples) {
            if (u.name == "segel_certificate_usable" && u.labels == x.labels) {
                usable = u.value == 1;
            }
        }
        const std::string& addr = x.labels.at("address");
        std::cout << "  " << x.labels.at("serial") << "  " << (addr.empty() ? "(no address)" : addr) << "  expires "
                  << when(x.value).substr(0, 10) << "  " << (usable ? "usable" : "NOT USABLE") << "\n";
    }
    std::cout << "metrics: " << path << ", written " << count(age) << " s ago\n";
    return alive && fresh ? 0 : k_refused;
}

}  // namespace segel::tools
