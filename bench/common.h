#pragma once
// Shared helpers of the benchmark programs: reading message files, timing,
// percentiles, and reading another process's CPU time and peak memory from /proc.
// Benchmarks only; nothing here is part of the product.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace segel::bench {

using Clock = std::chrono::steady_clock;

/** The whole file as bytes; throws std::runtime_error naming the file. */
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/** The @p q quantile (0..1) of @p v in milliseconds; sorts @p v. */
inline double quantile(std::vector<double>& v, double q) {
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    const auto idx = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

/** CPU seconds of a process, all threads: user and system (kernel) time. */
struct CpuTimes {
    double user = -1.0;
    double system = -1.0;
    [[nodiscard]] double total() const { return user < 0 ? -1.0 : user + system; }
};

/** User and system CPU seconds of process @p pid, from /proc/PID/stat; -1 each if unreadable. */
inline CpuTimes process_cpu_times(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) {
        return {};
    }
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    const auto close = line.rfind(')');
    if (close == std::string::npos) {
        return {};
    }
    std::istringstream fields(line.substr(close + 2));
    std::string f;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) {
            utime = std::stoull(f);
        } else if (i == 15) {
            stime = std::stoull(f);
        }
    }
    const auto tck = static_cast<double>(sysconf(_SC_CLK_TCK));
    return {static_cast<double>(utime) / tck, static_cast<double>(stime) / tck};
}

/** CPU seconds (user + system, all threads) of process @p pid, from /proc/PID/stat; -1 if unreadable. */
inline double process_cpu_seconds(long pid) {
    return process_cpu_times(pid).total();
}

/** Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat. */
inline double machine_busy_seconds() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    return static_cast<double>(user + nice + system + irq + softirq + steal) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
}

/** A field of /proc/PID/status in MB (e.g. "VmHWM"); -1 if unreadable. */
inline double process_status_mb(long pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) {
            return std::stod(line.substr(field.size() + 1)) / 1024.0;  // kB → MB
        }
    }
    return -1.0;
}

/** Resets the peak RSS (VmHWM) of @p pid to its current RSS (Linux ≥ 4.0, "5" > clear_refs). */
inline bool reset_peak_rss(long pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

/** Minimal JSON string escaping (labels and paths). */
inline std::string json_str(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

inline std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

}  // namespace segel::bench
