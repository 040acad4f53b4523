// segelctl incidents: the incident events of the audit trail (docs/incidents.md),
// from the node's SQLite file or the shared PostgreSQL store, oldest first.
#include "audit/event.h"
#include "audit/json.h"
#include "audit/store.h"
#include "base/address.h"
#include "base/json.h"
#include "config/load.h"
#include "policy/incident.h"
#include "tools/cli.h"

#include <chrono>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

namespace segel::tools {

namespace {

namespace au = segel::audit;

struct Options {
    std::string config;
    std::string store;
    std::optional<std::uint64_t> since_us;
    std::string kind;
    std::string unit;
    bool json = false;
};

void usage(std::ostream& out) {
    out << "usage: segelctl incidents [--since DATE|DURATION] [--kind WORD] [--unit OPD] [--format text|json]\n"
           "                          [--store URL] [--config FILE]\n"
           "  the incident events of the audit trail, oldest first (docs/incidents.md); --since 2026-12-01,\n"
           "  2026-12-01T08:00:00Z or a duration back from now (90m, 24h, 7d); --kind one of:\n  ";
    for (const auto& k : policy::incident_kinds()) {
        out << " " << k;
    }
    out << "\n";
}

Options parse(int argc, char** argv, const std::chrono::system_clock::time_point now) {
    Options o;
    for (int i = 0; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&] { return option_value(argc, argv, i); };
        if (k == "--config" || k == "-c") {
            o.config = value();
        } else if (k == "--store") {
            o.store = value();
        } else if (k == "--since") {
            const std::string v = value();
            std::chrono::seconds back{0};
            if (!v.empty() && v.find('-') == std::string::npos && config::parse_duration(v, back)) {
                o.since_us = au::to_micros(now - back);
            } else {
                o.since_us = au::to_micros(parse_at(v));
            }
        } else if (k == "--kind") {
            o.kind = value();
            if (!policy::is_incident_kind(o.kind)) {
                std::string list;
                for (const auto& w : policy::incident_kinds()) {
                    list += (list.empty() ? "" : ", ") + w;
                }
                throw std::invalid_argument("--kind: \"" + o.kind + "\" is not an incident kind (" + list + ")");
            }
        } else if (k == "--unit") {
            o.unit = value();
        } else if (k == "--format") {
            const std::string f = value();
            if (f != "text" && f != "json") {
                throw std::invalid_argument("--format: \"" + f + "\" is not text or json");
            }
            o.json = f == "json";
        } else if (k == "-h" || k == "--help") {
            usage(std::cout);
            std::exit(0);
        } else {
            throw std::invalid_argument("incidents: unknown option " + k);
        }
    }
    return o;
}

std::string note(const au::Event& e, const std::string& key) {
    for (const auto& n : e.notes) {
        if (n.rfind(key + "=", 0) == 0) {
            return n.substr(key.size() + 1);
        }
    }
    return "";
}

}  // namespace

int cmd_incidents(int argc, char** argv) {
    const auto now = std::chrono::system_clock::now();
    const Options o = parse(argc, argv, now);
    std::string url = o.store;
    if (url.empty()) {
        if (o.config.empty()) {
            throw std::invalid_argument("incidents needs --config FILE or --store URL");
        }
        const config::Settings s = config::load(o.config);
        if (!s.audit.enabled) {
            throw config::ConfigError(o.config, {1, 1}, "audit",
                                      "the audit trail is not configured: add an audit: section (docs/audit.md)");
        }
        url = au::is_postgresql(s.audit.store) ? s.audit.store : "sqlite:" + s.audit.local;
    }
    auto store = au::open_reader(url);
    au::Query q;
    q.kind = au::kind::k_incident;
    q.since_us = o.since_us;
    std::size_t shown = 0;
    store->find(q, [&](const std::string& node, const au::RowView& row) {
        const au::Event e = au::decode(row.data);
        if ((!o.kind.empty() && e.reason_code != o.kind) ||
            (!o.unit.empty() && !base::domain_matches(e.unit, o.unit, true))) {
            return true;
        }
        const std::string address = note(e, "address");
        const std::string who = !e.login.empty() ? e.login : !address.empty() ? address : e.sender;
        const std::string detail = e.reasons.empty() ? "" : e.reasons.front();
        if (o.json) {
            base::JsonWriter w(0);  // one line per incident (JSON Lines)
            w.begin_object();
            w.field("time", au::format_time_us(e.time)).field("node", node).field("index", e.index);
            w.field("kind", e.reason_code).field("unit", e.unit).field("login", e.login).field("address", address);
            w.field("sender", e.sender).field("client", e.client).field("queue_id", e.queue_id);
            w.field("serial", e.cert_serial).field("detail", detail);
            w.end_object();
            std::cout << w.str() << "\n";
        } else {
            std::cout << au::format_time_us(e.time) << "  " << e.reason_code << "  " << (e.unit.empty() ? "-" : e.unit)
                      << "  " << (who.empty() ? "-" : who) << "  " << (e.client.empty() ? "-" : e.client) << "  "
                      << detail << "\n";
        }
        ++shown;
        return true;
    });
    if (!o.json) {
        std::cerr << store->name() << ": " << shown << " incident(s)\n";
    }
    return 0;
}

}  // namespace segel::tools
