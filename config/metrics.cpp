// The "metrics:" section: where segel-milter writes its counters, histograms
// and certificate expiry times (Prometheus text format, for node_exporter's
// textfile collector and for `segelctl status`), and how often. Example:
//
//   metrics:
//     file: /var/lib/prometheus/node-exporter/segel.prom   # "" or off: none
//     interval: 15                                           # seconds
#include "config/reader.h"

namespace segel::config::detail {

void parse_metrics(const Reader& r, const YAML::Node& root, Settings& s) {
    const YAML::Node n = root["metrics"];
    if (!n) {
        return;
    }
    s.metrics.origin = origin_of(n);
    r.require_map(n, "metrics", {"file", "interval"});
    r.part([&] {
        if (n["file"]) {
            const std::string v = r.scalar(n["file"], "metrics.file");
            s.metrics.file = lower(v) == "off" ? "" : v;
            s.metrics.file_origin = origin_of(n["file"]);
            if (!s.metrics.file.empty() && (s.metrics.file.front() != '/' || s.metrics.file.back() == '/')) {
                r.fail(
                    n["file"], "metrics.file",
                    "\"" + v + "\" is not an absolute file name (e.g. /var/lib/prometheus/node-exporter/segel.prom)");
            }
        }
    });
    r.part([&] {
        if (n["interval"]) {
            const std::string v = r.scalar(n["interval"], "metrics.interval");
            std::size_t used = 0;
            int seconds = 0;
            try {
                seconds = std::stoi(v, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != v.size() || seconds < 1 || seconds > 3600) {
                r.fail(n["interval"], "metrics.interval", "\"" + v + "\" is not a number of seconds from 1 to 3600");
            }
            s.metrics.interval_seconds = seconds;
        }
    });
}

}  // namespace segel::config::detail
