// The trail on a real SQLite file: group commit, checkpoints signed with a
// seal from a test PKI, and `verify` against every kind of tampering, each
// naming the first bad event or checkpoint.
#include "audit/error.h"
#include "audit/sqlite.h"
#include "audit/trail.h"
#include "audit/verify.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <thread>

using namespace segel::audit;
namespace test = segel::test;

namespace {

/** One test PKI and seal for the whole run: RSA key generation is the slow part. */
struct SharedPki {
    test::TestPki pki;
    std::shared_ptr<Seal> seal = std::make_shared<Seal>();
    std::string seal_fingerprint;
    SharedPki() {
        const test::Issued leaf = pki.issue({.name = "Segel Audit Seal", .email = "noreply@dinas.example.go.id"});
        seal->credential = test::credential(leaf);
        seal_fingerprint = segel::smime::ossl::fingerprint_sha256(seal->credential.cert.get());
    }
    static SharedPki& get() {
        static SharedPki shared;
        return shared;
    }
};

struct Fixture {
    test::TestPki& pki = SharedPki::get().pki;
    std::shared_ptr<Seal> seal = SharedPki::get().seal;
    std::string dir;
    std::string path;
    std::set<std::string> seals{SharedPki::get().seal_fingerprint};
    std::uint64_t clock_us = 1780304400000000ULL;  // 2026-06-01T09:00:00Z
    Sync sync = Sync::Normal;                      // fsync is the disk's time, not the code's; one test uses Full

    Fixture() {
        char tmpl[] = "/tmp/segel-audit-test.XXXXXX";
        dir = mkdtemp(tmpl);
        path = dir + "/audit.db";
    }
    ~Fixture() { std::filesystem::remove_all(dir); }

    TrailOptions options() {
        TrailOptions o;
        o.path = path;
        o.node = "mx1";
        o.seal = seal;
        o.sync = sync;
        o.checkpoint_events = 1000000;  // checkpoints only when the test asks
        o.checkpoint_interval = std::chrono::hours(24);
        o.clock = [this] { return from_micros(clock_us); };
        return o;
    }

    Event event(int i) {
        Event e;
        clock_us += 1000000;
        e.time = from_micros(clock_us);
        e.kind = i % 5 == 4 ? kind::k_refuse : kind::k_sign;
        e.queue_id = "Q" + std::to_string(i);
        e.direction = "outbound";
        e.sender = "siti@dinas.example.go.id";
        e.login = "siti@dinas.example.go.id";
        e.client = "192.0.2.10";
        e.recipients = {"kepala@mitra.example"};
        e.unit = "dinas.example.go.id";
        e.decision = i % 5 == 4 ? "reject" : "sign";
        e.reason_code = i % 5 == 4 ? "login-not-owner" : "official-sender";
        e.cert_serial = "1004";
        e.content_sha256 = sha256("message " + std::to_string(i));
        return e;
    }

    /** 10 events, a checkpoint (whose record is the next event), five times: checkpoint k covers 11k+10 events. */
    void build_log() {
        Trail t(options());
        for (int round = 0; round < 5; ++round) {
            for (int i = 0; i < 10; ++i) {
                t.append(event(round * 10 + i));
            }
            clock_us += 1000;
            REQUIRE(t.checkpoint());
        }
        t.close();
    }

    VerifyReport check() {
        auto store = open_reader(path);
        VerifyOptions o;
        o.seals = seals;
        return verify(*store, o);
    }

    /** Raw SQL on the file, as an intruder with write access would run it (triggers dropped first). */
    void tamper(const std::string& sql) {
        sql::Db db = sql::Db::open(path, false);
        db.exec(
            "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;"
            "DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS checkpoints_no_delete;");
        db.exec(sql.c_str());
    }

    Event stored(std::uint64_t i) {
        sql::Db db = sql::Db::open(path, false);
        auto q = db.prepare("SELECT data FROM events WHERE idx = ?");
        q.bind(1, i);
        REQUIRE(q.step());
        return decode(q.blob(0));
    }

    /** Replaces event i's bytes, leaf and columns with those of @p e (as an intruder who knows the format). */
    void rewrite(std::uint64_t i, const Event& e, bool fix_leaf = true) {
        sql::Db db = sql::Db::open(path, false);
        db.exec("DROP TRIGGER IF EXISTS events_no_update");
        const std::string data = encode(e);
        auto q = db.prepare(fix_leaf ? "UPDATE events SET data = ?, leaf = ?, sender = ? WHERE idx = ?"
                                     : "UPDATE events SET data = ?, sender = ? WHERE idx = ?");
        const Hash leaf = merkle::leaf_hash(data);
        const std::string sender = columns_of(e).sender;
        if (fix_leaf) {
            q.bind_blob(1, data).bind_blob(2, as_bytes(leaf)).bind(3, sender).bind(4, i).run();
        } else {
            q.bind_blob(1, data).bind(2, sender).bind(3, i).run();
        }
    }
};

Problem problem_of(const VerifyReport& r) {
    REQUIRE(r.nodes.size() == 1);
    REQUIRE(r.nodes[0].problem);
    return *r.nodes[0].problem;
}

}  // namespace

TEST_CASE("trail: an untouched log verifies, checkpoint by checkpoint", "[audit]") {
    Fixture f;
    f.sync = Sync::Full;
    f.build_log();
    const VerifyReport r = f.check();
    REQUIRE(r.ok());
    CHECK(r.nodes[0].events == 55);
    CHECK(r.nodes[0].checkpoints == 5);
    CHECK(r.nodes[0].uncovered == 1);  // the last checkpoint's own record
    const auto tip = SqliteStore::open(f.path, "mx1", false)->tip();
    CHECK(tip.size == 55);
    REQUIRE(tip.last_checkpoint);
    CHECK(tip.last_checkpoint->size == 54);
    const Checkpoint c = parse_checkpoint(tip.last_checkpoint->signed_checkpoint.text);
    CHECK(c.sequence == 4);
    CHECK(c.node == "mx1");
    // The checkpoint's root is the RFC 9162 root of the first 54 leaves.
    merkle::Frontier fr;
    SqliteStore::open(f.path, "mx1", false)->leaves("mx1", {0, 54}, [&](const Hash& h) { fr.push(h); });
    CHECK(c.root == fr.root());
    // A trail reopened continues the same log.
    {
        Trail t(f.options());
        CHECK(t.append(f.event(99)) == 55);
    }
    CHECK(f.check().ok());
    CHECK(f.check().nodes[0].checkpoints == 6);  // close() signed the new event
}

TEST_CASE("trail: the summary table counts per hour, unit and outcome", "[audit]") {
    Fixture f;
    f.build_log();
    const Counts c = SqliteStore::open(f.path, "mx1", false)->counts("mx1");
    std::int64_t signs = 0;
    std::int64_t refusals = 0;
    std::int64_t checkpoints = 0;
    for (const auto& [k, n] : c) {
        if (std::get<2>(k) == kind::k_sign) {
            CHECK(std::get<1>(k) == "dinas.example.go.id");
            CHECK(std::get<4>(k) == "official-sender");
            signs += n;
        } else if (std::get<2>(k) == kind::k_refuse) {
            CHECK(std::get<4>(k) == "login-not-owner");
            refusals += n;
        } else if (std::get<2>(k) == kind::k_checkpoint) {
            checkpoints += n;
        }
    }
    CHECK(signs == 40);
    CHECK(refusals == 10);
    CHECK(checkpoints == 5);
}

TEST_CASE("trail: concurrent appenders share commits and never fork the log", "[audit]") {
    Fixture f;
    auto o = f.options();
    o.sync = Sync::Normal;
    {
        Trail a(o);
        Trail b(o);  // a second writer on the same file, as segelctl would be
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                Trail& trail = t % 2 == 0 ? a : b;
                for (int i = 0; i < 50; ++i) {
                    Event e;
                    e.time = from_micros(1780304400000000ULL + static_cast<std::uint64_t>(t * 1000 + i));
                    e.kind = kind::k_pass;
                    e.queue_id = std::to_string(t) + "-" + std::to_string(i);
                    trail.append(e);
                }
            });
        }
        for (auto& th : threads) {
            th.join();
        }
        CHECK(a.stats().events + b.stats().events == 400);
    }
    const VerifyReport r = f.check();
    REQUIRE(r.ok());
    CHECK(r.nodes[0].events >= 400);
}

TEST_CASE("trail: the state row lags the log; a reopened store folds in the events after it", "[audit]") {
    Fixture f;
    {
        auto store = SqliteStore::open(f.path, "mx1", true, Sync::Normal);
        for (int i = 0; i < 1500; ++i) {
            std::vector<Event> one{f.event(i)};
            store->append(one);
        }
    }
    {
        // Written at 1024 events, not at every commit (one page less per commit).
        sql::Db db = sql::Db::open(f.path, false, true);
        auto q = db.prepare("SELECT size FROM state");
        REQUIRE(q.step());
        CHECK(q.u64(0) == 1024);
    }
    merkle::Frontier all;
    auto reader = SqliteStore::open(f.path, "mx1", false);
    reader->leaves("mx1", {0, 1500}, [&](const Hash& h) { all.push(h); });
    const Tip tip = reader->tip();
    CHECK(tip.size == 1500);
    CHECK(tip.frontier.root() == all.root());
    {
        Trail t(f.options());
        CHECK(t.append(f.event(1500)) == 1500);
    }
    CHECK(f.check().ok());
}

TEST_CASE("trail: events that wait for a commit go into the next one together", "[audit]") {
    Fixture f;
    Trail t(f.options());
    t.append(f.event(0));
    const auto before = t.stats().commits;
    std::vector<std::thread> threads;
    {
        // Another connection holds the write lock, so the writer stalls on its first batch
        // while the other appenders queue up behind it.
        sql::Db db = sql::Db::open(f.path, false);
        db.exec("BEGIN IMMEDIATE");
        for (int i = 1; i <= 8; ++i) {
            threads.emplace_back([&t, &f, i] { t.append(f.event(i)); });
        }
        while (t.pending() < 8) {
            std::this_thread::yield();
        }
        db.exec("COMMIT");
    }
    for (auto& th : threads) {
        th.join();
    }
    CHECK(t.stats().events == 9);
    CHECK(t.stats().commits - before <= 2);  // the stalled batch, then everyone else at once
}

TEST_CASE("trail: a store that cannot be written is an error the caller maps (fail closed)", "[audit]") {
    Fixture f;
    auto o = f.options();
    o.busy_timeout_ms = 50;
    Trail t(o);
    sql::Db db = sql::Db::open(f.path, false);
    db.exec("BEGIN IMMEDIATE");
    try {
        t.append(f.event(1));
        FAIL("append succeeded while the store was locked");
    } catch (const Error& e) {
        CHECK(e.category() == Category::Unavailable);
        CHECK(std::string(e.what()).find(f.path) != std::string::npos);
    }
    db.exec("ROLLBACK");
    CHECK(t.append(f.event(2)) == 0);  // nothing of the failed batch was kept
}

TEST_CASE("trail: the file is append-only for SQL too", "[audit]") {
    Fixture f;
    f.build_log();
    sql::Db db = sql::Db::open(f.path, false);
    CHECK_THROWS_WITH(db.exec("UPDATE events SET sender = 'x' WHERE idx = 3"), Catch::Contains("append-only"));
    CHECK_THROWS_WITH(db.exec("DELETE FROM checkpoints"), Catch::Contains("append-only"));
    CHECK_THROWS_AS(SqliteStore::open(f.path, "mx2", false), Error);  // each node its own file
}

TEST_CASE("verify: each kind of tampering names the first bad event or checkpoint", "[audit][tamper]") {
    Fixture f;
    f.build_log();
    // Layout: events 0-9, checkpoint 0 (10 events) recorded as event 10; 11-20, checkpoint 1 (21) as 21; ...
    REQUIRE(f.check().ok());

    SECTION("a field changed in the record") {
        Event e = f.stored(15);
        e.sender = "budi@dinas.example.go.id";
        f.rewrite(15, e, false);
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("leaf hash"));
    }
    SECTION("a field changed and its leaf hash recomputed") {
        Event e = f.stored(15);
        e.recipients = {"someone@else.example"};
        f.rewrite(15, e, true);
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("event 16 records a different hash for event 15"));
    }
    SECTION("a column changed (reports would lie)") {
        f.tamper("UPDATE events SET decision = 'pass' WHERE idx = 15");
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("column decision says 'pass'"));
    }
    SECTION("an event deleted") {
        f.tamper("DELETE FROM events WHERE idx = 15");
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("event 15 is missing"));
    }
    SECTION("an event deleted and the rest renumbered") {
        f.tamper(
            "DELETE FROM events WHERE idx = 15; UPDATE events SET idx = -(idx - 1) WHERE idx > 15;"
            "UPDATE events SET idx = -idx WHERE idx < 0;");
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("says it is event 16"));
    }
    SECTION("two events swapped") {
        f.tamper(
            "UPDATE events SET idx = -1 WHERE idx = 15; UPDATE events SET idx = 15 WHERE idx = 16;"
            "UPDATE events SET idx = 16 WHERE idx = -1;");
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("event 15: its signed record says it is event 16"));
    }
    SECTION("an event inserted, well formed and chained to its predecessor") {
        Event forged = f.stored(15);
        forged.sender = "kepala@dinas.example.go.id";
        f.tamper("UPDATE events SET idx = -(idx + 1) WHERE idx >= 15; UPDATE events SET idx = -idx WHERE idx < 0;");
        sql::Db db = sql::Db::open(f.path, false);
        const std::string data = encode(forged);
        const Hash leaf = merkle::leaf_hash(data);
        auto q = db.prepare(
            "INSERT INTO events SELECT 15, time, kind, queue_id, direction, ?, login, client, unit, decision, "
            "reason_code, verdict, cert_serial, ?, ? FROM events WHERE idx = 16");
        q.bind(1, forged.sender).bind_blob(2, data).bind_blob(3, as_bytes(leaf)).run();
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("inserted"));
    }
    SECTION("the log truncated") {
        f.tamper("DELETE FROM events WHERE idx >= 15");
        const Problem p = problem_of(f.check());
        CHECK(p.event == 15u);
        CHECK(p.checkpoint == 1u);
        CHECK_THAT(p.what, Catch::Contains("truncated"));
    }
    SECTION("the log truncated with its last checkpoints") {
        f.tamper(
            "DELETE FROM events WHERE idx >= 15; DELETE FROM checkpoints WHERE seq >= 1; DELETE FROM counts;"
            "INSERT INTO counts SELECT time / 3600000000, unit, kind, decision, reason_code, verdict, count(*) "
            "FROM events GROUP BY 1, 2, 3, 4, 5, 6");
        // Locally this is a shorter, consistent log: only the witnesses can tell (next section).
        const VerifyReport r = f.check();
        CHECK(r.ok());
        CHECK(r.nodes[0].uncovered == 5);
    }
    SECTION("...which the witnesses' copy of a later checkpoint exposes") {
        const auto witnessed = SqliteStore::open(f.path, "mx1", false)->checkpoints("mx1", 3).front();
        f.tamper("DELETE FROM events WHERE idx >= 15; DELETE FROM checkpoints WHERE seq >= 1");
        auto store = open_reader(f.path);
        VerifyOptions o;
        o.seals = f.seals;
        o.witnessed.push_back(witnessed.signed_checkpoint);
        const Problem p = problem_of(verify(*store, o));
        CHECK(p.event == 15u);
        CHECK_THAT(p.what, Catch::Contains("the witnesses hold checkpoint 3"));
    }
    SECTION("every event from one on rewritten consistently: the checkpoint window is named") {
        Hash prev = merkle::leaf_hash(encode(f.stored(14)));
        for (std::uint64_t i = 15; i < 55; ++i) {
            Event e = f.stored(i);
            e.prev = prev;
            if (i == 15) {
                e.sender = "kepala@dinas.example.go.id";
            }
            f.rewrite(i, e, true);
            prev = merkle::leaf_hash(encode(e));
        }
        const Problem p = problem_of(f.check());
        CHECK(p.checkpoint == 1u);
        CHECK(p.event == 10u);
        CHECK_THAT(p.what, Catch::Contains("an event in 10..20 was changed"));
    }
    SECTION("a checkpoint's text changed") {
        f.tamper("UPDATE checkpoints SET body = replace(body, 'size 21', 'size 20'), size = 20 WHERE seq = 1");
        const Problem p = problem_of(f.check());
        CHECK(p.checkpoint == 1u);
    }
    SECTION("a checkpoint replaced by one signed with another key") {
        test::Issued other = f.pki.issue({"Intruder", "intruder@dinas.example.go.id"});
        const auto cred = test::credential(other);
        const auto cp = SqliteStore::open(f.path, "mx1", false)->checkpoints("mx1", 1).front();
        const std::string sig = sign_checkpoint(cp.signed_checkpoint.text, cred, {});
        sql::Db db = sql::Db::open(f.path, false);
        db.exec("DROP TRIGGER checkpoints_no_update");
        auto q = db.prepare("UPDATE checkpoints SET signature = ? WHERE seq = 1");
        q.bind_blob(1, sig).run();
        const Problem p = problem_of(f.check());
        CHECK(p.checkpoint == 1u);
        CHECK_THAT(p.what, Catch::Contains("not a configured seal"));
    }
    SECTION("a checkpoint replaced by the seal's own hand (an insider with the key)") {
        auto cp = parse_checkpoint(
            SqliteStore::open(f.path, "mx1", false)->checkpoints("mx1", 1).front().signed_checkpoint.text);
        cp.time = from_micros(to_micros(cp.time) + 1);
        const std::string text = checkpoint_text(cp);
        const std::string sig = sign_checkpoint(text, f.seal->credential, {});
        sql::Db db = sql::Db::open(f.path, false);
        db.exec("DROP TRIGGER checkpoints_no_update");
        auto q = db.prepare("UPDATE checkpoints SET body = ?, signature = ?, time = ? WHERE seq = 1");
        q.bind_blob(1, text).bind_blob(2, sig).bind(3, to_micros(cp.time)).run();
        const Problem p = problem_of(f.check());
        CHECK(p.event == 21u);  // the record the log kept of the real checkpoint 1
        CHECK(p.checkpoint == 1u);
        CHECK_THAT(p.what, Catch::Contains("the checkpoint was replaced"));
    }
    SECTION("a checkpoint removed") {
        f.tamper("DELETE FROM checkpoints WHERE seq = 2");
        const Problem p = problem_of(f.check());
        CHECK(p.event == 32u);  // the record of checkpoint 2, before checkpoint 3 falls due
        CHECK(p.checkpoint == 2u);
        CHECK_THAT(p.what, Catch::Contains("checkpoint 2 of 32 events that is not in the store"));
    }
    SECTION("the summary table changed") {
        f.tamper("UPDATE counts SET n = n + 3 WHERE kind = 'refuse'");
        const Problem p = problem_of(f.check());
        CHECK_FALSE(p.event);
        CHECK_THAT(p.what, Catch::Contains("summary table"));
    }
    SECTION("a seal that is not pinned proves nothing") {
        auto store = open_reader(f.path);
        VerifyOptions o;  // no seals
        const Problem p = problem_of(verify(*store, o));
        CHECK(p.checkpoint == 0u);
    }
}
