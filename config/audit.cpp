// The "audit:" section of the configuration: the tamper-evident audit trail
// (docs/audit.md). Example:
//
//   audit:
//     store: sqlite:/var/lib/segel/audit.db   # or postgresql://segel@db.example.go.id/segel_audit
//     node: mx1.dinas.example.go.id           # default: this host's name
//     seal:
//       pkcs12: /etc/segel/keys/seal.p12
//       passphrase_file: /etc/segel/keys/seal.pass
//     checkpoint: {events: 1000, minutes: 10}
//     witnesses: [inspektorat@examplekab.go.id]
//     on_failure: tempfail                    # tempfail | accept
#include "config/reader.h"

#include <unistd.h>

namespace segel::config::detail {

namespace {

/** A node name: a host-name-like token (it appears in checkpoint text lines). */
bool valid_node(const std::string& n) {
    if (n.empty() || n.size() > 253) {
        return false;
    }
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
    });
}

std::uint64_t number(const Reader& r, const YAML::Node& n, const std::string& path, std::uint64_t min,
                     std::uint64_t max) {
    const std::string v = r.scalar(n, path);
    std::size_t used = 0;
    unsigned long long value = 0;
    try {
        value = std::stoull(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || v[0] == '-' || value < min || value > max) {
        r.fail(n, path, "\"" + v + "\" is not a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
}

std::string absolute_file(const Reader& r, const YAML::Node& n, const std::string& path, const char* example) {
    const std::string v = r.scalar(n, path);
    if (v.empty() || v.front() != '/') {
        r.fail(n, path, "\"" + v + "\" must be an absolute file path, e.g. " + example);
    }
    return v;
}

void parse_store(const Reader& r, const YAML::Node& n, Audit& a) {
    a.store = r.scalar(n, "audit.store");
    if (a.store.rfind("sqlite:", 0) == 0) {
        const std::string path = a.store.substr(7);
        if (path.empty() || path.front() != '/') {
            r.fail(n, "audit.store", "\"" + a.store + "\": give an absolute path, e.g. sqlite:/var/lib/segel/audit.db");
        }
        return;
    }
    if (a.store.rfind("postgresql://", 0) != 0 && a.store.rfind("postgres://", 0) != 0) {
        r.fail(n, "audit.store",
               "\"" + a.store +
                   "\" is not an audit store: sqlite:/var/lib/segel/audit.db (this node alone) or "
                   "postgresql://user@host/database (shared by several nodes)");
    }
    const std::size_t start = a.store.find("://") + 3;
    const std::size_t at = a.store.find('@', start);
    const std::size_t colon = a.store.find(':', start);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
        r.fail(n, "audit.store",
               "the URL holds a password: put it in the user's ~/.pgpass or a PGPASSFILE (mode 600), never in "
               "this file");
    }
    if (a.store.find("password=") != std::string::npos) {
        r.fail(n, "audit.store", "the URL holds a password: put it in ~/.pgpass or a PGPASSFILE (mode 600)");
    }
}

}  // namespace

void parse_audit(const Reader& r, const YAML::Node& root, Settings& s) {
    Audit& a = s.audit;
    a.node = host_name();
    const YAML::Node n = root["audit"];
    if (!n) {
        a.local = a.store.substr(7);
        return;
    }
    a.origin = origin_of(n);
    for (const auto& kv : root) {  // the "audit" key itself, for errors about the whole section
        if (kv.first.as<std::string>() == "audit") {
            a.origin = origin_of(kv.first);
        }
    }
    a.enabled = true;
    if (n.IsNull()) {
        throw ConfigError(r.file(), a.origin, "audit.seal",
                          "missing: the seal credential that signs the checkpoints (see docs/audit.md)");
    }
    r.require_map(n, "audit",
                  {"enabled", "store", "local", "node", "seal", "seal_certificates", "checkpoint", "witnesses",
                   "witness_from", "witness_smtp", "on_failure", "sync"});
    for (const auto& kv : n) {
        a.field_origins[kv.first.as<std::string>()] = origin_of(kv.second);
    }
    if (n["enabled"]) {
        a.enabled = r.boolean(n["enabled"], "audit.enabled");
    }
    if (n["store"]) {
        parse_store(r, n["store"], a);
    }
    const bool shared = a.store.rfind("sqlite:", 0) != 0;
    if (n["local"]) {
        if (!shared) {
            r.fail(n["local"], "audit.local",
                   "only with a postgresql store: with a sqlite store, the store is the node's own file");
        }
        a.local = absolute_file(r, n["local"], "audit.local", "/var/lib/segel/audit.db");
    } else {
        a.local = shared ? "/var/lib/segel/audit.db" : a.store.substr(7);
    }
    if (n["node"]) {
        a.node = r.scalar(n["node"], "audit.node");
        if (!valid_node(a.node)) {
            r.fail(n["node"], "audit.node",
                   "\"" + a.node +
                       "\" is not a node name: letters, digits, '.', '-' and '_' only, e.g. "
                       "mx1.dinas.example.go.id");
        }
    } else if (!valid_node(a.node)) {
        r.fail(n, "audit.node", "this host's name \"" + a.node + "\" cannot name the node: set audit.node");
    }
    if (n["seal"]) {
        a.seal = parse_credential(r, n["seal"], "audit.seal");
    } else if (a.enabled) {
        r.fail(n, "audit.seal",
               "missing: the seal credential that signs the checkpoints ({pkcs12, passphrase_file} or "
               "{certificate, key}); without signed checkpoints the trail is not tamper-evident");
    }
    if (n["seal_certificates"]) {
        int i = 0;
        for (const auto& item : r.sequence(n["seal_certificates"], "audit.seal_certificates")) {
            const std::string path = Reader::index("audit.seal_certificates", i++);
            const std::string f = absolute_file(r, item, path, "/etc/segel/seals/mx2.pem");
            if (access(f.c_str(), R_OK) != 0) {
                r.fail(item, path, "cannot read " + f + "; give the PEM certificate of another node's seal");
            }
            a.seal_certificates.push_back(f);
        }
    }
    if (const YAML::Node c = n["checkpoint"]) {
        r.require_map(c, "audit.checkpoint", {"events", "minutes"});
        if (c["events"]) {
            a.checkpoint_events = number(r, c["events"], "audit.checkpoint.events", 1, 10000000);
        }
        if (c["minutes"]) {
            a.checkpoint_minutes = static_cast<int>(number(r, c["minutes"], "audit.checkpoint.minutes", 1, 1440));
        }
    }
    if (n["witnesses"]) {
        int i = 0;
        for (const auto& item : r.sequence(n["witnesses"], "audit.witnesses")) {
            const std::string path = Reader::index("audit.witnesses", i++);
            const std::string addr = lower(r.scalar(item, path));
            if (!valid_address(addr)) {
                r.fail(item, path, "\"" + addr + "\" is not an e-mail address");
            }
            a.witnesses.push_back(addr);
        }
    }
    if (n["witness_from"]) {
        a.witness_from = lower(r.scalar(n["witness_from"], "audit.witness_from"));
        if (!valid_address(a.witness_from)) {
            r.fail(n["witness_from"], "audit.witness_from", "\"" + a.witness_from + "\" is not an e-mail address");
        }
    }
    if (n["witness_smtp"]) {
        a.witness_smtp = r.scalar(n["witness_smtp"], "audit.witness_smtp");
        const std::size_t colon = a.witness_smtp.rfind(':');
        bool ok = colon != std::string::npos && colon > 0 && colon + 1 < a.witness_smtp.size();
        if (ok) {
            const std::string port = a.witness_smtp.substr(colon + 1);
            ok = port.find_first_not_of("0123456789") == std::string::npos && port.size() <= 5 &&
                 std::stoul(port) >= 1 && std::stoul(port) <= 65535;
        }
        if (!ok) {
            r.fail(n["witness_smtp"], "audit.witness_smtp",
                   "\"" + a.witness_smtp + "\" is not HOST:PORT (the local Postfix, e.g. 127.0.0.1:25)");
        }
    }
    if (n["on_failure"]) {
        a.on_failure = r.choice<Audit::OnFailure>(
            n["on_failure"], "audit.on_failure",
            {{"tempfail", Audit::OnFailure::Tempfail}, {"accept", Audit::OnFailure::Accept}});
    }
    if (n["sync"]) {
        a.sync = r.choice<Audit::Sync>(n["sync"], "audit.sync",
                                       {{"full", Audit::Sync::Full}, {"normal", Audit::Sync::Normal}});
    }
}

}  // namespace segel::config::detail
