// The "incidents:" section: thresholds of incident detection and the signed
// mail about each incident (docs/incidents.md, R12). Detection is always on;
// the section only changes thresholds and adds the mail. Example:
//
//   incidents:
//     notify:
//       relay: 127.0.0.1:25
//       csirt: [csirt@examplekab.go.id]
//       administrators: [kominfo@examplekab.go.id]
//       domains:
//         - domain: dinas.example.go.id
//           administrators: [admin@dinas.example.go.id]
//       period: 1h          # one mail per kind and login per period
//     send_as: {refusals: 5, within: 10m}
//     volume: {factor: 10, floor: 60}
//     clients: {factor: 3, floor: 4, within: 1h}
//     checkpoint_gap: {factor: 3}
#include "config/reader.h"

namespace segel::config::detail {

namespace {

/** A whole number from @p low to @p high. */
std::uint64_t whole(const Reader& r, const YAML::Node& n, const std::string& path, std::uint64_t low,
                    std::uint64_t high) {
    const std::string text = r.scalar(n, path);
    std::uint64_t v = 0;
    bool ok = !text.empty() && text.size() <= 12;
    for (const char c : text) {
        ok = ok && std::isdigit(static_cast<unsigned char>(c)) != 0;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || v < low || v > high) {
        r.fail(n, path,
               "\"" + text + "\" is not a whole number from " + std::to_string(low) + " to " + std::to_string(high));
    }
    return v;
}

/** A factor from 1 to 1000 (e.g. 10, 2.5). */
double factor(const Reader& r, const YAML::Node& n, const std::string& path) {
    const std::string text = r.scalar(n, path);
    double v = 0;
    std::size_t used = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || !(v >= 1 && v <= 1000)) {
        r.fail(n, path, "\"" + text + "\" is not a factor from 1 to 1000 (e.g. 10 or 2.5)");
    }
    return v;
}

/** A duration from @p low to @p high, written like 10m, 1h, 7d. */
std::chrono::seconds duration(const Reader& r, const YAML::Node& n, const std::string& path, std::chrono::seconds low,
                              std::chrono::seconds high) {
    const std::string text = r.scalar(n, path);
    std::chrono::seconds v{0};
    if (!parse_duration(text, v) || v < low || v > high) {
        r.fail(n, path,
               "\"" + text + "\" is not a duration from " + std::to_string(low.count()) + "s to " +
                   std::to_string(high.count() / 86400) + "d (e.g. 10m, 1h, 7d)");
    }
    return v;
}

void parse_notify(const Reader& r, const YAML::Node& n, Settings& s) {
    Incidents::Notify& no = s.incidents.notify;
    no.enabled = true;
    no.origin = origin_of(n);
    r.require_map(n, "incidents.notify", {"relay", "from", "csirt", "administrators", "domains", "period", "queue"});
    if (n["relay"]) {
        no.relay = r.scalar(n["relay"], "incidents.notify.relay");
        if (!valid_host_port(no.relay)) {
            r.fail(n["relay"], "incidents.notify.relay", "\"" + no.relay + "\" is not HOST:PORT (e.g. 127.0.0.1:25)");
        }
    }
    if (n["from"]) {
        no.from = lower(r.scalar(n["from"], "incidents.notify.from"));
        if (!valid_address(no.from)) {
            r.fail(n["from"], "incidents.notify.from", "\"" + no.from + "\" is not an e-mail address");
        }
    }
    if (n["csirt"]) {
        no.csirt = addresses(r, n["csirt"], "incidents.notify.csirt");
    }
    if (n["administrators"]) {
        no.administrators = addresses(r, n["administrators"], "incidents.notify.administrators");
    }
    if (n["domains"]) {
        int i = 0;
        for (const auto& item : r.sequence(n["domains"], "incidents.notify.domains")) {
            const std::string path = Reader::index("incidents.notify.domains", i++);
            no.domains.push_back(domain_administrators(r, item, path));
        }
    }
    if (n["period"]) {
        no.period = duration(r, n["period"], "incidents.notify.period", std::chrono::seconds(0),
                             std::chrono::seconds(7 * 86400));
    }
    if (n["queue"]) {
        no.queue = whole(r, n["queue"], "incidents.notify.queue", 1, 100000);
    }
    if (no.csirt.empty() && no.administrators.empty() && no.domains.empty()) {
        r.fail(n, "incidents.notify", "names no one: list csirt, administrators or domains[].administrators");
    }
    if (!s.audit.enabled) {
        r.fail(n, "incidents.notify",
               "needs the audit: section: incident mail is signed with the audit seal (audit.seal), like the "
               "witness mail");
    }
}

}  // namespace

void parse_incidents(const Reader& r, const YAML::Node& root, Settings& s) {
    Incidents& in = s.incidents;
    const YAML::Node n = root["incidents"];
    if (!n) {
        return;
    }
    in.origin = origin_of(n);
    if (n.IsNull()) {
        return;
    }
    r.require_map(n, "incidents", {"notify", "send_as", "volume", "clients", "checkpoint_gap", "max_logins"});
    if (n["notify"]) {
        parse_notify(r, n["notify"], s);
    }
    if (const YAML::Node v = n["send_as"]) {
        r.require_map(v, "incidents.send_as", {"refusals", "within"});
        if (v["refusals"]) {
            in.send_as.refusals = whole(r, v["refusals"], "incidents.send_as.refusals", 1, 10000);
        }
        if (v["within"]) {
            in.send_as.within = duration(r, v["within"], "incidents.send_as.within", std::chrono::seconds(60),
                                         std::chrono::seconds(86400));
        }
    }
    if (const YAML::Node v = n["volume"]) {
        r.require_map(v, "incidents.volume", {"factor", "floor", "history"});
        if (v["factor"]) {
            in.volume.factor = factor(r, v["factor"], "incidents.volume.factor");
        }
        if (v["floor"]) {
            in.volume.floor = whole(r, v["floor"], "incidents.volume.floor", 1, 10000000);
        }
        if (v["history"]) {
            in.volume.history = duration(r, v["history"], "incidents.volume.history", std::chrono::seconds(3600),
                                         std::chrono::seconds(90 * 86400));
        }
    }
    if (const YAML::Node v = n["clients"]) {
        r.require_map(v, "incidents.clients", {"factor", "floor", "within", "ipv4_prefix", "ipv6_prefix"});
        if (v["factor"]) {
            in.clients.factor = factor(r, v["factor"], "incidents.clients.factor");
        }
        if (v["floor"]) {
            in.clients.floor = whole(r, v["floor"], "incidents.clients.floor", 1, 200);
        }
        if (v["within"]) {
            in.clients.within = duration(r, v["within"], "incidents.clients.within", std::chrono::seconds(60),
                                         std::chrono::seconds(86400));
        }
        if (v["ipv4_prefix"]) {
            in.clients.ipv4_prefix =
                static_cast<int>(whole(r, v["ipv4_prefix"], "incidents.clients.ipv4_prefix", 8, 32));
        }
        if (v["ipv6_prefix"]) {
            in.clients.ipv6_prefix =
                static_cast<int>(whole(r, v["ipv6_prefix"], "incidents.clients.ipv6_prefix", 16, 128));
        }
    }
    if (const YAML::Node v = n["checkpoint_gap"]) {
        r.require_map(v, "incidents.checkpoint_gap", {"factor"});
        if (v["factor"]) {
            in.checkpoint_gap.factor =
                static_cast<int>(whole(r, v["factor"], "incidents.checkpoint_gap.factor", 2, 1000));
        }
    }
    if (n["max_logins"]) {
        in.max_logins = whole(r, n["max_logins"], "incidents.max_logins", 10, 10000000);
    }
}

}  // namespace segel::config::detail
