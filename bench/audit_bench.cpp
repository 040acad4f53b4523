// segel-bench-audit: the audit trail's own numbers (docs/performance.md, scripts/bench).
//   append   — the micro-benchmark: THREADS appenders, COUNT events in all, through Trail::append
//              (group commit); prints events/s, commits, CPU per event and p50/p99 append latency
//   generate — a realistic log of COUNT events in bulk (one transaction per BATCH events, a signed
//              checkpoint every EVERY events), through the same store code, for the 10-million test
// Benchmarks and tests only; nothing here is part of the product.
#include "audit/trail.h"
#include "bench/common.h"
#include "smime/certificate.h"

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

namespace {

namespace au = segel::audit;

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/** Events shaped like a year of a regency's mail: 20 units, 500 staff, mostly signing. */
class Shapes {
public:
    explicit Shapes(std::uint64_t seed) : m_rng(seed) {}

    au::Event next(std::uint64_t time_us) {
        au::Event e;
        e.time = au::from_micros(time_us);
        const unsigned unit = pick(20);
        const unsigned person = pick(25);
        const std::string domain = unit == 0 ? "examplekab.go.id" : "opd" + std::to_string(unit) + ".examplekab.go.id";
        const std::string addr = "pegawai" + std::to_string(person) + "@" + domain;
        e.queue_id = hex(10);
        e.client = "10.1." + std::to_string(pick(4)) + "." + std::to_string(1 + pick(250));
        const unsigned roll = pick(100);
        e.unit = domain;
        if (roll < 85) {  // outbound
            e.direction = "outbound";
            e.sender = addr;
            e.login = addr;
            for (unsigned r = 0, n = 1 + pick(3); r < n; ++r) {
                e.recipients.push_back("penerima" + std::to_string(pick(1000)) + "@mitra" + std::to_string(pick(50)) +
                                       ".example");
            }
            if (roll < 70) {
                e.kind = au::kind::k_sign;
                e.decision = "sign";
                e.reason_code = "official-sender";
                e.reasons.push_back("login " + addr + " owns From <" + addr + ">; certificate chosen: newest valid");
            } else if (roll < 75) {
                e.kind = au::kind::k_sign_encrypt;
                e.decision = "sign";
                e.reason_code = "encryption-required";
                e.cipher = "aes-256-cbc";
                e.encrypted_for = e.recipients;
            } else if (roll < 83) {
                e.kind = au::kind::k_refuse;
                e.decision = "reject";
                e.reason_code = roll < 80 ? "login-not-owner" : "no-certificate";
                e.reply = "550 5.7.1 login " + addr + " may not send as kepala@" + domain;
                e.reasons.push_back(e.reply.substr(10));
            } else {
                e.kind = au::kind::k_pass;
                e.decision = "accept";
                e.reason_code = "not-official";
            }
            if (e.decision == "sign") {
                e.cert_serial = hex(16);
                e.cert_fingerprint = au::sha256(e.cert_serial);
                e.content_sha256 = au::sha256(e.queue_id);
            }
        } else {  // inbound
            e.direction = "inbound";
            e.sender = "pengirim" + std::to_string(pick(3000)) + "@luar" + std::to_string(pick(80)) + ".example";
            e.recipients.push_back(addr);
            e.kind = roll < 98 ? au::kind::k_verify : au::kind::k_incident;
            e.decision = "accept";
            e.verdicts.push_back(roll < 90 ? "pass signer=" + e.sender : roll < 98 ? "none" : "fail");
            e.reason_code = roll < 98 ? "" : "forged-official-sender";
            e.content_sha256 = au::sha256(e.queue_id);
        }
        e.duration_us = 200 + pick(2000);
        return e;
    }

private:
    unsigned pick(unsigned n) { return static_cast<unsigned>(m_rng() % n); }
    std::string hex(int n) {
        static constexpr char k_digits[] = "0123456789ABCDEF";
        std::string s;
        for (int i = 0; i < n; ++i) {
            s += k_digits[m_rng() % 16];
        }
        return s;
    }
    std::mt19937_64 m_rng;
};

std::shared_ptr<au::Seal> load_seal(const std::string& p12, const std::string& pass) {
    auto seal = std::make_shared<au::Seal>();
    seal->credential = segel::smime::load_pkcs12(p12, pass);
    for (const auto& c : seal->credential.chain) {
        seal->chain.push_back(segel::smime::ossl::retain(c.get()));
    }
    return seal;
}

struct Args {
    std::string mode, path, node = "bench", p12, pass, sync = "full";
    std::uint64_t count = 10000, batch = 20000, every = 1000, start_us = 1767225600000000ULL;  // 2026-01-01
    std::uint64_t step_us = 3000000;
    unsigned threads = 8;
};

int append_mode(const Args& a) {
    au::TrailOptions o;
    o.path = a.path;
    o.node = a.node;
    o.sync = a.sync == "normal" ? au::Sync::Normal : au::Sync::Full;
    if (!a.p12.empty()) {
        o.seal = load_seal(a.p12, a.pass);
    }
    o.checkpoint_events = a.every;
    au::Trail trail(o);
    Shapes shapes(42);
    std::vector<au::Event> events;
    for (std::uint64_t i = 0; i < a.count; ++i) {
        events.push_back(shapes.next(a.start_us + i * a.step_us));
    }
    std::vector<std::vector<double>> lat(a.threads);
    std::atomic<std::uint64_t> next{0};
    const double cpu0 = cpu_seconds();
    const auto t0 = segel::bench::Clock::now();
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < a.threads; ++t) {
        threads.emplace_back([&, t] {
            for (std::uint64_t i; (i = next++) < a.count;) {
                const auto s = segel::bench::Clock::now();
                trail.append(events[i]);
                lat[t].push_back(std::chrono::duration<double, std::milli>(segel::bench::Clock::now() - s).count());
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    const double secs = std::chrono::duration<double>(segel::bench::Clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const auto stats = trail.stats();
    trail.close();
    std::vector<double> all;
    for (auto& v : lat) {
        all.insert(all.end(), v.begin(), v.end());
    }
    std::printf(
        "{\"mode\":\"append\",\"threads\":%u,\"sync\":\"%s\",\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.1f,"
        "\"commits\":%llu,\"events_per_commit\":%.2f,\"checkpoints\":%llu,\"cpu_us_per_event\":%.2f,"
        "\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
        a.threads, a.sync.c_str(), static_cast<unsigned long long>(a.count), secs, static_cast<double>(a.count) / secs,
        static_cast<unsigned long long>(stats.commits),
        static_cast<double>(stats.events) / static_cast<double>(std::max<std::uint64_t>(1, stats.commits)),
        static_cast<unsigned long long>(stats.checkpoints), cpu * 1e6 / static_cast<double>(a.count),
        segel::bench::quantile(all, 0.5), segel::bench::quantile(all, 0.99));
    return 0;
}

int generate_mode(const Args& a) {
    const auto seal = load_seal(a.p12, a.pass);
    auto store = au::SqliteStore::open(a.path, a.node, true, au::Sync::Normal);
    store->begin_bulk(512 * 1024);
    std::uint64_t in_transaction = 0;
    Shapes shapes(7);
    const double cpu0 = cpu_seconds();
    const auto t0 = segel::bench::Clock::now();
    std::vector<au::Event> batch;
    std::uint64_t since_cp = 0;
    std::uint64_t time_us = a.start_us;
    std::uint64_t checkpoints = 0;
    for (std::uint64_t done = 0; done < a.count;) {
        batch.clear();
        const std::uint64_t room = std::min(a.every - since_cp, a.count - done);
        const std::uint64_t n = std::min<std::uint64_t>(room, a.batch);
        for (std::uint64_t i = 0; i < n; ++i) {
            batch.push_back(shapes.next(time_us));
            time_us += a.step_us;
        }
        store->append(batch);
        done += n;
        since_cp += n;
        in_transaction += n;
        if (since_cp >= a.every || done == a.count) {
            const auto cp = au::next_checkpoint(store->tip(), a.node, *seal, au::from_micros(time_us));
            if (cp) {
                std::vector<au::Event> none;
                store->append(none, &*cp);
                ++checkpoints;
            }
            since_cp = 0;
        }
        if (in_transaction >= a.batch || done == a.count) {
            store->commit_bulk(done < a.count);
            in_transaction = 0;
        }
    }
    const double secs = std::chrono::duration<double>(segel::bench::Clock::now() - t0).count();
    std::printf(
        "{\"mode\":\"generate\",\"events\":%llu,\"checkpoints\":%llu,\"seconds\":%.1f,\"events_per_s\":%.0f,"
        "\"cpu_seconds\":%.1f}\n",
        static_cast<unsigned long long>(a.count), static_cast<unsigned long long>(checkpoints), secs,
        static_cast<double>(a.count) / secs, cpu_seconds() - cpu0);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    try {
        if (argc < 2) {
            throw std::invalid_argument("mode");
        }
        a.mode = argv[1];
        for (int i = 2; i + 1 < argc; i += 2) {
            const std::string k = argv[i];
            const std::string v = argv[i + 1];
            if (k == "--path") {
                a.path = v;
            } else if (k == "--node") {
                a.node = v;
            } else if (k == "--seal-p12") {
                a.p12 = v;
            } else if (k == "--seal-pass") {
                a.pass = v;
            } else if (k == "--sync") {
                a.sync = v;
            } else if (k == "--count") {
                a.count = std::stoull(v);
            } else if (k == "--batch") {
                a.batch = std::stoull(v);
            } else if (k == "--every") {
                a.every = std::stoull(v);
            } else if (k == "--threads") {
                a.threads = static_cast<unsigned>(std::stoul(v));
            } else if (k == "--start") {
                a.start_us = std::stoull(v) * 1000000ULL;
            } else if (k == "--step-ms") {
                a.step_us = std::stoull(v) * 1000ULL;
            } else {
                throw std::invalid_argument(k);
            }
        }
        if (a.path.empty() || (a.mode == "generate" && a.p12.empty())) {
            throw std::invalid_argument("--path (and for generate --seal-p12/--seal-pass)");
        }
        if (a.mode == "append") {
            return append_mode(a);
        }
        if (a.mode == "generate") {
            return generate_mode(a);
        }
        throw std::invalid_argument(a.mode);
    } catch (const std::invalid_argument& e) {
        std::cerr << "usage: segel-bench-audit append|generate --path DB [--node N] [--seal-p12 P12 --seal-pass FILE]\n"
                     "         [--count N] [--threads T] [--sync full|normal] [--batch N] [--every N]\n"
                     "         [--start UNIX_SECONDS] [--step-ms MS]   (problem: "
                  << e.what() << ")\n";
        return 64;
    } catch (const std::exception& e) {
        std::cerr << "segel-bench-audit: " << e.what() << "\n";
        return 1;
    }
}
