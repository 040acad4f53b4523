// segelctl audit: verify, show, prove, export, checkpoint, ship and witness —
// the audit trail (docs/audit.md) for administrators and auditors.
#include "audit/error.h"
#include "audit/json.h"
#include "audit/pg_store.h"
#include "audit/proof.h"
#include "audit/setup.h"
#include "audit/verify.h"
#include "audit/witness.h"
#include "config/load.h"
#include "smime/certificate.h"
#include "smime/error.h"
#include "tools/cli.h"

#include <sysexits.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace segel::tools {

namespace {

namespace au = segel::audit;

constexpr int k_failed = 1;

void audit_usage(std::ostream& out) {
    out << "usage: segelctl audit COMMAND [options]   (docs/audit.md)\n"
           "  verify [--config FILE | --store URL --seal-cert PEM...] [--local] [--node N] [--witnessed CP.txt]...\n"
           "      check the whole log against its signed checkpoints; exit 0, or 1 naming the first event or\n"
           "      checkpoint that does not match and why\n"
           "  show [--config FILE | --store URL] [--local] [--since TIME] [--until TIME] [--sender ADDR]\n"
           "       [--queue-id ID] [--kind KIND] [--node N] [--limit N] [--json]\n"
           "      list events, one per line (or JSON lines)\n"
           "  prove EVENT [--checkpoint SEQ] [--config FILE | --store URL] [--local] [--node N]\n"
           "      an inclusion proof of event number EVENT against the latest (or given) checkpoint, as JSON\n"
           "  prove --consistency SEQ [--to SEQ] [...]\n"
           "      a consistency proof: checkpoint --to (default: the latest) extends checkpoint SEQ\n"
           "  export [--config FILE | --store URL] [--local] [--node N] [--out FILE]\n"
           "      every checkpoint and event as JSON lines, with the exact signed bytes (base64)\n"
           "  checkpoint --config FILE\n"
           "      sign a checkpoint now over this node's log (when events came since the last one)\n"
           "  ship --config FILE [--once] [--batch N] [--interval SECONDS]\n"
           "      move this node's events to the shared PostgreSQL store (audit.store); --once: until caught up\n"
           "  witness --config FILE [--save FILE]\n"
           "      mail the latest checkpoint, signed with the seal, to audit.witnesses through audit.witness_smtp\n"
           "TIME is RFC 3339 UTC, e.g. 2026-12-01T00:00:00Z, or a date 2026-12-01.\n"
           "Exit status: 0 ok, 1 verification failed, 2 usage, 69 store unreachable, 78 configuration error.\n";
}

struct Options {
    std::string command;
    std::string config;
    std::string store;
    bool local = false;
    std::string node;
    std::vector<std::string> seal_certs;
    std::vector<std::string> witnessed;
    std::optional<std::uint64_t> since_us;
    std::optional<std::uint64_t> until_us;
    std::string sender;
    std::string queue_id;
    std::string kind;
    std::size_t limit = 0;
    bool json = false;
    std::optional<std::uint64_t> checkpoint;
    std::optional<std::uint64_t> consistency;
    std::optional<std::uint64_t> to;
    std::string out;
    std::string save;
    bool once = false;
    std::size_t batch = 10000;
    int interval = 2;
    std::vector<std::string> positional;
};

std::uint64_t number(const std::string& option, const std::string& v) {
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || v[0] == '-') {
        throw std::invalid_argument(option + ": \"" + v + "\" is not a number");
    }
    return n;
}

Options parse(int argc, char** argv) {
    Options o;
    if (argc < 1) {
        throw std::invalid_argument("audit needs a command (verify, show, prove, export, checkpoint, ship, witness)");
    }
    o.command = argv[0];
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&] { return option_value(argc, argv, i); };
        auto micros = [&] { return au::to_micros(parse_at(value())); };
        if (k == "--config" || k == "-c") {
            o.config = value();
        } else if (k == "--store") {
            o.store = value();
        } else if (k == "--local") {
            o.local = true;
        } else if (k == "--node") {
            o.node = value();
        } else if (k == "--seal-cert") {
            o.seal_certs.push_back(value());
        } else if (k == "--witnessed") {
            o.witnessed.push_back(value());
        } else if (k == "--since") {
            o.since_us = micros();
        } else if (k == "--until") {
            o.until_us = micros();
        } else if (k == "--sender") {
            o.sender = value();
        } else if (k == "--queue-id") {
            o.queue_id = value();
        } else if (k == "--kind") {
            o.kind = value();
        } else if (k == "--limit") {
            o.limit = number(k, value());
        } else if (k == "--json") {
            o.json = true;
        } else if (k == "--checkpoint") {
            o.checkpoint = number(k, value());
        } else if (k == "--consistency") {
            o.consistency = number(k, value());
        } else if (k == "--to") {
            o.to = number(k, value());
        } else if (k == "--out") {
            o.out = value();
        } else if (k == "--save") {
            o.save = value();
        } else if (k == "--once") {
            o.once = true;
        } else if (k == "--batch") {
            o.batch = std::max<std::size_t>(1, number(k, value()));
        } else if (k == "--interval") {
            o.interval = static_cast<int>(std::max<std::uint64_t>(1, number(k, value())));
        } else if (!k.empty() && k[0] == '-') {
            throw std::invalid_argument("audit " + o.command + ": unknown option " + k);
        } else {
            o.positional.push_back(k);
        }
    }
    return o;
}

/** The settings, when --config was given. */
std::optional<config::Settings> settings_of(const Options& o, bool required) {
    if (o.config.empty()) {
        if (required) {
            throw std::invalid_argument("audit " + o.command + " needs --config FILE");
        }
        return std::nullopt;
    }
    config::Settings s = config::load(o.config);
    if (!s.audit.enabled) {
        throw config::ConfigError(o.config, {1, 1}, "audit",
                                  "the audit trail is not configured: add an audit: section (docs/audit.md)");
    }
    return s;
}

/** Which store to read: --store, else --local or a sqlite store: the node's file, else audit.store. */
std::string store_url(const Options& o, const std::optional<config::Settings>& s) {
    if (!o.store.empty()) {
        return o.store;
    }
    if (!s) {
        throw std::invalid_argument("audit " + o.command + " needs --config FILE or --store URL");
    }
    return o.local || !au::is_postgresql(s->audit.store) ? "sqlite:" + s->audit.local : s->audit.store;
}

std::string hex_or_dash(const au::Hash& h) {
    return au::is_zero(h) ? "" : au::to_hex(h);
}

std::string event_json(const std::string& node, const au::Event& e, std::string_view raw, bool with_raw) {
    std::string out = "{\"type\":\"event\",\"node\":" + au::json::str(node) + ",\"index\":" + std::to_string(e.index) +
                      ",\"time\":\"" + au::format_time_us(e.time) + "\"";
    auto text = [&](const char* name, const std::string& v) {
        if (!v.empty()) {
            out += std::string(",\"") + name + "\":" + au::json::str(v);
        }
    };
    auto list = [&](const char* name, const std::vector<std::string>& v) {
        if (v.empty()) {
            return;
        }
        out += std::string(",\"") + name + "\":[";
        for (std::size_t i = 0; i < v.size(); ++i) {
            out += (i == 0 ? "" : ",") + au::json::str(v[i]);
        }
        out += "]";
    };
    auto hash = [&](const char* name, const au::Hash& h) { text(name, hex_or_dash(h)); };
    auto num = [&](const char* name, std::uint64_t v) {
        if (v != 0) {
            out += std::string(",\"") + name + "\":" + std::to_string(v);
        }
    };
    text("kind", e.kind);
    text("queue_id", e.queue_id);
    text("direction", e.direction);
    text("sender", e.sender);
    text("login", e.login);
    text("client", e.client);
    list("recipients", e.recipients);
    text("unit", e.unit);
    text("decision", e.decision);
    text("reason_code", e.reason_code);
    list("reasons", e.reasons);
    text("reply", e.reply);
    text("cert_serial", e.cert_serial);
    hash("cert_fingerprint", e.cert_fingerprint);
    list("verdicts", e.verdicts);
    hash("content_sha256", e.content_sha256);
    text("cipher", e.cipher);
    list("encrypted_for", e.encrypted_for);
    hash("config_sha256", e.config_sha256);
    list("credentials", e.credentials);
    text("state", e.state);
    text("error", e.error);
    num("duration_us", e.duration_us);
    num("checkpoint_size", e.checkpoint_size);
    hash("checkpoint_sha256", e.checkpoint_sha256);
    list("notes", e.notes);
    if (with_raw) {
        out += ",\"raw\":\"" + au::base64(raw) + "\"";
    }
    return out + "}";
}

std::string event_line(const au::Event& e) {
    std::string out = std::to_string(e.index) + " " + au::format_time_us(e.time) + " " + e.kind;
    auto add = [&](const char* name, const std::string& v) {
        if (!v.empty()) {
            out += std::string(" ") + name + "=" + au::column_safe(v);
        }
    };
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) {
            s += (s.empty() ? "" : ",") + x;
        }
        return s;
    };
    add("qid", e.queue_id);
    add("dir", e.direction);
    if (!e.sender.empty() || e.kind == au::kind::k_sign || e.kind == au::kind::k_refuse) {
        out += " from=<" + au::column_safe(e.sender) + ">";
    }
    add("login", e.login);
    add("client", e.client);
    add("to", join(e.recipients));
    add("unit", e.unit);
    add("decision", e.decision);
    add("reason", e.reason_code);
    add("reply", e.reply.empty() ? "" : "\"" + e.reply + "\"");
    add("cert", e.cert_serial);
    add("verdict", join(e.verdicts).empty() ? "" : "\"" + join(e.verdicts) + "\"");
    add("sha256", hex_or_dash(e.content_sha256));
    add("cipher", e.cipher);
    add("state", e.state);
    add("error", e.error.empty() ? "" : "\"" + e.error + "\"");
    if (e.checkpoint_size != 0) {
        out += " checkpoint_size=" + std::to_string(e.checkpoint_size);
    }
    add("config", hex_or_dash(e.config_sha256));
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::invalid_argument("cannot read " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int cmd_verify(const Options& o) {
    const auto s = settings_of(o, false);
    au::VerifyOptions vo;
    vo.node = o.node;
    if (s) {
        const auto seal = au::load_seal(*s);
        vo.seals = au::pinned_seals(*s, seal.get());
    }
    for (const auto& f : o.seal_certs) {
        for (const auto& cert : smime::read_pem_certs(f)) {
            vo.seals.insert(smime::ossl::fingerprint_sha256(cert.get()));
        }
    }
    if (vo.seals.empty()) {
        throw std::invalid_argument("audit verify needs the seal certificate(s): --config FILE or --seal-cert PEM");
    }
    for (const auto& f : o.witnessed) {
        au::SignedCheckpoint w;
        w.text = read_file(f);
        const std::string base =
            f.size() > 4 && f.compare(f.size() - 4, 4, ".txt") == 0 ? f.substr(0, f.size() - 4) : f;
        w.signature = read_file(base + ".p7s");
        vo.witnessed.push_back(std::move(w));
    }
    const std::string url = store_url(o, s);
    auto store = au::open_reader(url);
    const auto started = std::chrono::steady_clock::now();
    const au::VerifyReport r = au::verify(*store, vo);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (r.nodes.empty()) {
        std::cout << store->name() << ": no events" << (o.node.empty() ? "" : " of node " + o.node) << "\n";
        return k_failed;
    }
    for (const auto& n : r.nodes) {
        if (n.problem) {
            std::cout << n.node << ": FAILED";
            if (n.problem->event) {
                std::cout << " at event " << *n.problem->event;
            } else if (n.problem->checkpoint) {
                std::cout << " at checkpoint " << *n.problem->checkpoint;
            }
            std::cout << ": " << n.problem->what << "\n";
            continue;
        }
        std::cout << n.node << ": OK: " << n.events << " events, " << n.checkpoints << " signed checkpoint(s)";
        if (n.last) {
            std::cout << "; the last, " << n.last->sequence << ", covers " << n.last->size << " events, signed "
                      << au::format_time_us(au::from_micros(n.last->time_us));
        }
        if (n.witnessed != 0) {
            std::cout << "; " << n.witnessed << " witnessed checkpoint(s) match";
        }
        std::cout << "; " << n.uncovered << " event(s) after it not yet signed\n";
    }
    std::cout << store->name() << ": checked in " << std::fixed;
    std::cout.precision(1);
    std::cout << secs << " s\n";
    return r.ok() ? 0 : k_failed;
}

int cmd_show(const Options& o) {
    const auto s = settings_of(o, false);
    auto store = au::open_reader(store_url(o, s));
    au::Query q;
    q.since_us = o.since_us;
    q.until_us = o.until_us;
    q.sender = o.sender;
    q.queue_id = o.queue_id;
    q.kind = o.kind;
    q.node = o.node;
    q.limit = o.limit;
    std::size_t shown = 0;
    store->find(q, [&](const std::string& node, const au::RowView& row) {
        au::Event e;
        try {
            e = au::decode(row.data);
        } catch (const au::Error& err) {
            std::cout << row.index << " (undecodable: " << err.what() << "; run segelctl audit verify)\n";
            return true;
        }
        std::cout << (o.json ? event_json(node, e, row.data, false) : event_line(e)) << "\n";
        ++shown;
        return true;
    });
    if (!o.json) {
        std::cerr << shown << " event(s)\n";
    }
    return 0;
}

std::string node_of(const Options& o, au::Reader& store) {
    if (!o.node.empty()) {
        return o.node;
    }
    const auto nodes = store.nodes();
    if (nodes.size() != 1) {
        throw std::invalid_argument("the store holds " + std::to_string(nodes.size()) + " nodes: name one with --node");
    }
    return nodes.front();
}

int cmd_prove(const Options& o) {
    const auto s = settings_of(o, false);
    auto store = au::open_reader(store_url(o, s));
    const std::string node = node_of(o, *store);
    if (o.consistency) {
        const au::ConsistencyProof p = au::prove_consistency(*store, node, *o.consistency, o.to);
        std::cout << au::to_json(p) << "\n";
        std::cerr << "checkpoint " << p.second.sequence << " (" << p.second.size << " events) extends checkpoint "
                  << p.first.sequence << " (" << p.first.size << " events): " << p.path.size() << " hashes\n";
        return 0;
    }
    if (o.positional.size() != 1) {
        throw std::invalid_argument("audit prove needs one EVENT number (see segelctl audit show)");
    }
    const std::uint64_t index = number("EVENT", o.positional.front());
    const au::InclusionProof p = au::prove_inclusion(*store, node, index, o.checkpoint);
    std::cout << au::to_json(p) << "\n";
    std::cerr << "event " << index << " is in checkpoint " << p.checkpoint.sequence << " (" << p.checkpoint.size
              << " events): " << p.path.size() << " hashes\n";
    return 0;
}

int cmd_export(const Options& o) {
    const auto s = settings_of(o, false);
    auto store = au::open_reader(store_url(o, s));
    std::ofstream file;
    if (!o.out.empty()) {
        file.open(o.out, std::ios::binary | std::ios::trunc);
        if (!file) {
            throw std::invalid_argument("cannot write " + o.out);
        }
    }
    std::ostream& out = o.out.empty() ? std::cout : file;
    std::uint64_t events = 0;
    for (const auto& node : store->nodes()) {
        if (!o.node.empty() && node != o.node) {
            continue;
        }
        for (const auto& c : store->checkpoints(node)) {
            std::string line = au::checkpoint_json(c);
            line.insert(1, "\"type\":\"checkpoint\",\"node\":" + au::json::str(node) + ",");
            out << line << "\n";
        }
        for (const auto& [k, n] : store->counts(node)) {
            out << "{\"type\":\"count\",\"node\":" << au::json::str(node) << ",\"hour\":" << std::get<0>(k)
                << ",\"unit\":" << au::json::str(std::get<1>(k)) << ",\"kind\":" << au::json::str(std::get<2>(k))
                << ",\"decision\":" << au::json::str(std::get<3>(k))
                << ",\"reason_code\":" << au::json::str(std::get<4>(k))
                << ",\"verdict\":" << au::json::str(std::get<5>(k)) << ",\"n\":" << n << "}\n";
        }
        store->scan(node, 0, UINT64_MAX, [&](const au::RowView& row) {
            au::Event e;
            try {
                e = au::decode(row.data);
            } catch (const au::Error&) {
                e = au::Event{};  // exported as stored: the verifier will name it
                e.index = row.index;
            }
            e.index = row.index;
            out << event_json(node, e, row.data, true) << "\n";
            ++events;
            return true;
        });
    }
    out.flush();
    std::cerr << events << " event(s) exported\n";
    return out ? 0 : k_failed;
}

int cmd_checkpoint(const Options& o) {
    const auto s = *settings_of(o, true);
    const auto seal = au::load_seal(s);
    au::Trail trail(au::trail_options(s, seal));
    const auto cp = trail.checkpoint();
    trail.close();
    if (!cp) {
        std::cout << s.audit.node << ": no new events since the last checkpoint\n";
        return 0;
    }
    const au::Checkpoint c = au::parse_checkpoint(cp->text);
    std::cout << s.audit.node << ": checkpoint " << c.sequence << " over " << c.size << " events, root "
              << au::to_hex(c.root) << "\n";
    return 0;
}

std::atomic<bool> g_stop{false};

int cmd_ship(const Options& o) {
    const auto s = *settings_of(o, true);
    if (!au::is_postgresql(s.audit.store)) {
        throw config::ConfigError(s.source, s.audit.origin, "audit.store",
                                  "is a sqlite store: shipping needs a postgresql:// store shared by the nodes");
    }
    std::signal(SIGTERM, [](int) { g_stop = true; });
    std::signal(SIGINT, [](int) { g_stop = true; });
    std::unique_ptr<au::PgStore> shared;
    std::uint64_t total = 0;
    bool reported_down = false;
    while (!g_stop) {
        try {
            auto local = au::SqliteStore::open(s.audit.local, s.audit.node, false, au::Sync::Full, true);
            if (!shared) {
                shared = au::PgStore::open(s.audit.store, true);
                if (reported_down) {
                    std::cerr << "segelctl audit ship: " << au::redact(s.audit.store) << " is reachable again\n";
                    reported_down = false;
                }
            }
            // Catching up a backlog: one transaction per batch, and a stop request is
            // honoured between batches (the batch in flight commits or moves nothing).
            auto before = shared->shipped(s.audit.node);
            while (!g_stop) {
                const auto after = shared->ship(*local, o.batch);
                total += after.events - before.events;
                if (after.events == before.events && after.checkpoints == before.checkpoints) {
                    break;
                }
                before = after;
            }
            if (o.once && !g_stop) {
                const auto at = shared->shipped(s.audit.node);
                std::cout << s.audit.node << ": " << total << " event(s) shipped; " << au::redact(s.audit.store)
                          << " holds " << at.events << " events and " << at.checkpoints << " checkpoint(s)\n";
                return 0;
            }
        } catch (const au::Error& e) {
            if (e.category() != au::Category::Unavailable) {
                std::cerr << "segelctl audit ship: " << e.what() << "\n";
                return k_failed;  // the logs disagree: a person must look
            }
            shared.reset();
            if (o.once) {
                std::cerr << "segelctl audit ship: " << e.what() << "\n";
                return EX_UNAVAILABLE;
            }
            if (!reported_down) {
                std::cerr << "segelctl audit ship: " << e.what() << " (retrying every " << o.interval << " s)\n";
                reported_down = true;
            }
        }
        for (int i = 0; i < o.interval * 10 && !g_stop; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    std::cerr << "segelctl audit ship: stopped after shipping " << total << " event(s)\n";
    return 0;
}

int cmd_witness(const Options& o) {
    const auto s = *settings_of(o, true);
    const auto seal = au::load_seal(s);
    if (s.audit.witnesses.empty()) {
        throw config::ConfigError(s.source, s.audit.origin, "audit.witnesses",
                                  "missing: the addresses the checkpoint mail goes to (e.g. the Inspektorat)");
    }
    au::Trail trail(au::trail_options(s, seal));
    trail.checkpoint();  // the latest state, signed now
    auto store = au::SqliteStore::open(s.audit.local, s.audit.node, false);
    const auto tip = store->tip();
    if (!tip.last_checkpoint) {
        std::cerr << "segelctl audit witness: the log has no events yet\n";
        return k_failed;
    }
    // The checkpoint the witnesses received last: the newest witness event names it.
    std::optional<au::ConsistencyProof> since;
    au::Query q;
    q.kind = au::kind::k_witness;
    std::uint64_t last_size = 0;
    store->find(q, [&](const std::string&, const au::RowView& row) {
        last_size = au::decode(row.data).checkpoint_size;
        return true;
    });
    if (last_size != 0) {
        for (const auto& c : store->checkpoints(s.audit.node)) {
            if (c.size == last_size && c.sequence != tip.last_checkpoint->sequence) {
                since = au::prove_consistency(*store, s.audit.node, c.sequence, tip.last_checkpoint->sequence);
            }
        }
    }
    const auto now = std::chrono::system_clock::now();
    const au::WitnessMail mail = au::compose_witness(*seal, s.audit.node, s.audit.witness_from, s.audit.witnesses,
                                                     *tip.last_checkpoint, since, now);
    std::string reply = "saved, not sent";
    if (!o.save.empty()) {
        std::ofstream f(o.save, std::ios::binary | std::ios::trunc);
        f << mail.message;
        if (!f) {
            throw std::invalid_argument("cannot write " + o.save);
        }
    } else {
        reply = au::submit(s.audit.witness_smtp, mail);
    }
    au::Event e;
    e.time = now;
    e.kind = au::kind::k_witness;
    e.sender = mail.from;
    e.recipients = mail.to;
    e.checkpoint_size = tip.last_checkpoint->size;
    e.checkpoint_sha256 = au::sha256(tip.last_checkpoint->signed_checkpoint.text);
    e.reply = reply;
    e.notes.push_back("sequence=" + std::to_string(tip.last_checkpoint->sequence));
    if (o.save.empty()) {
        trail.append(e);
    }
    trail.close();
    std::cout << s.audit.node << ": checkpoint " << tip.last_checkpoint->sequence << " (" << tip.last_checkpoint->size
              << " events) to " << mail.to.size() << " witness(es): " << reply << "\n";
    return 0;
}

}  // namespace

/**
 * Runs `segelctl audit ...` (arguments after the word "audit").
 * @return 0 ok, 1 verification failed, 2 usage, 69 store unreachable, 78 configuration error
 */
int cmd_audit(int argc, char** argv) {
    try {
        if (argc < 1 || std::string(argv[0]) == "-h" || std::string(argv[0]) == "--help") {
            audit_usage(argc < 1 ? std::cerr : std::cout);
            return argc < 1 ? k_usage : 0;
        }
        const Options o = parse(argc, argv);
        if (o.command == "verify") {
            return cmd_verify(o);
        }
        if (o.command == "show") {
            return cmd_show(o);
        }
        if (o.command == "prove") {
            return cmd_prove(o);
        }
        if (o.command == "export") {
            return cmd_export(o);
        }
        if (o.command == "checkpoint") {
            return cmd_checkpoint(o);
        }
        if (o.command == "ship") {
            return cmd_ship(o);
        }
        if (o.command == "witness") {
            return cmd_witness(o);
        }
        std::cerr << "segelctl audit: unknown command '" << o.command << "'\n";
        audit_usage(std::cerr);
        return k_usage;
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return EX_CONFIG;
    } catch (const std::invalid_argument& e) {
        std::cerr << "segelctl audit: " << e.what() << "\n";
        return k_usage;
    } catch (const au::Error& e) {
        std::cerr << "segelctl audit: " << e.what() << "\n";
        return e.category() == au::Category::Unavailable ? EX_UNAVAILABLE
               : e.category() == au::Category::Usage     ? k_usage
                                                         : k_failed;
    } catch (const smime::Error& e) {
        std::cerr << "segelctl audit: " << e.what() << "\n";
        return k_failed;
    }
}

}  // namespace segel::tools
