// RFC 3161 time-stamps (smime/timestamp.h, services/tsa.h) against a real TSA on
// 127.0.0.1: `openssl ts -reply` behind integration/responders.py, with the
// authorities of integration/make-tsa.sh. Every way a TSA can fail (down, slow,
// garbage, an HTTP error, a wrong imprint, a replayed answer, an untrusted
// certificate, missing or wrong credentials) is a failure the client names,
// never a token; a signature with a token still verifies, and a valid token
// moves the moment the signer's certificate is judged at.
#include "base/time.h"
#include "engine/gateway.h"
#include "engine/outcome_format.h"
#include "engine/session.h"
#include "services/http.h"
#include "services/tsa.h"
#include "smime/error.h"
#include "smime/sign.h"
#include "smime/timestamp.h"
#include "smime/verify.h"
#include "tests/support/pki.h"
#include "tests/support/responders.h"

#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

using namespace segel;
namespace tsa = services::tsa;
namespace ts = smime::timestamp;

namespace {

using Clock = std::chrono::system_clock;

/** The authorities of make-tsa.sh, made once per test process (they take a couple of seconds). */
struct TsaFiles {
    std::string dir;
    TsaFiles() {
        char templ[] = "/tmp/segel-unit-tsa-XXXXXX";
        dir = mkdtemp(templ);
        const std::string cmd =
            "bash " SEGEL_SOURCE_DIR "/integration/make-tsa.sh " + dir + " >" + dir + "/make.log 2>&1";
        if (std::system(cmd.c_str()) != 0) {
            throw std::runtime_error("make-tsa.sh failed: see " + dir + "/make.log");
        }
    }
    ~TsaFiles() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    static const std::string& get() {
        static const TsaFiles files;
        return files.dir;
    }
};

/** The two authorities served on /tsa, /rogue and /locked (needs tsa-user:rahasia), by a server of its own. */
struct Tsa {
    std::string dir = TsaFiles::get();
    test::Responders resp;
    smime::TrustStore anchors;

    Tsa()
        : resp({"--tsa", "/tsa,config=" + dir + "/tsa.cnf", "--tsa", "/rogue,config=" + dir + "/rogue.cnf", "--tsa",
                "/locked,config=" + dir + "/tsa.cnf,auth=tsa-user:rahasia"}),
          anchors(smime::TrustStore::load({dir + "/tsa-root.pem"}, {})) {}

    tsa::Authority at(const std::string& name, const std::string& path, int timeout = 5) const {
        return {name, resp.url(path), std::chrono::seconds(timeout), ""};
    }
    tsa::Client client(std::vector<tsa::Authority> list, ts::Hash hash = ts::Hash::Sha256) const {
        return tsa::Client(std::move(list), hash,
                           std::shared_ptr<const smime::TrustStore>(std::shared_ptr<void>(), &anchors));
    }
};

const std::string k_signature = std::string("\x30\x82 signature value bytes \x00\xff", 28);

/** Siti's certificate, valid at @p now and for five more days (the test PKI counts days from its fixed date). */
test::Issued valid_now(test::TestPki& pki, Clock::time_point now) {
    const int today =
        static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(now - test::fixed_now()).count() / 24);
    return pki.issue({.name = "Siti",
                      .email = "siti@dinas.example.go.id",
                      .not_before_days = today - 10,
                      .not_after_days = today + 5});
}

}  // namespace

TEST_CASE("tsa: a good authority gives a checked token over the signature value", "[tsa]") {
    Tsa t;
    const auto now = Clock::now();
    for (const auto hash : {ts::Hash::Sha256, ts::Hash::Sha384, ts::Hash::Sha512}) {
        const tsa::Result r = t.client({t.at("test", "/tsa")}, hash).stamp(k_signature, now);
        REQUIRE(r.token.valid);
        CHECK(r.failures.empty());
        CHECK(r.authority == "test");
        CHECK(r.token.tsa == "Segel Test TSA");
        CHECK(r.token.hash == ts::hash_name(hash));
        CHECK(r.token.time <= now + std::chrono::minutes(1));
        CHECK(r.token.time >= now - std::chrono::minutes(1));
        // The same token read back as a recipient would: over exactly these bytes, and no others.
        const ts::Token back = ts::check_token(r.token.der, k_signature, t.anchors, now);
        CHECK(back.valid);
        CHECK(back.serial == r.token.serial);
        const ts::Token other = ts::check_token(r.token.der, k_signature + "x", t.anchors, now);
        CHECK_FALSE(other.valid);
        CHECK_THAT(other.error, Catch::Contains("message imprint"));
    }
}

TEST_CASE("tsa: requests at the same time each get a token with a serial of its own", "[tsa]") {
    // The milter stamps from several threads; a TSA must answer each (the test TSA once
    // rejected some of them: concurrent `openssl ts -reply` runs raced on its serial file).
    Tsa t;
    const tsa::Client client = t.client({t.at("test", "/tsa")});
    const auto now = Clock::now();
    constexpr int k_threads = 3;
    constexpr int k_each = 8;
    std::vector<std::vector<tsa::Result>> got(k_threads);
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&, i] {
            for (int n = 0; n < k_each; ++n) {
                got[static_cast<std::size_t>(i)].push_back(client.stamp(k_signature, now));
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    std::set<std::string> serials;
    for (const auto& results : got) {
        for (const auto& r : results) {
            CHECK(r.token.valid);
            CHECK(r.failures.empty());
            serials.insert(r.token.serial);
        }
    }
    CHECK(serials.size() == static_cast<std::size_t>(k_threads * k_each));
}

TEST_CASE("tsa: authorities are tried in order; each failure is named", "[tsa]") {
    Tsa t;
    const auto now = Clock::now();
    const tsa::Authority dead{"dead", "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/tsa",
                              std::chrono::seconds(2), ""};
    const tsa::Result r = t.client({dead, t.at("rogue", "/rogue"), t.at("good", "/tsa")}).stamp(k_signature, now);
    REQUIRE(r.token.valid);
    CHECK(r.authority == "good");
    REQUIRE(r.failures.size() == 2);
    CHECK_THAT(r.failures[0], Catch::StartsWith("dead: ") && Catch::Contains("127.0.0.1"));
    CHECK_THAT(r.failures[1],
               Catch::StartsWith("rogue: the TSA certificate does not chain to the time-stamping anchors"));
}

TEST_CASE("tsa: a TSA that fails or answers garbage never gives a token", "[tsa]") {
    Tsa t;
    const auto now = Clock::now();
    const auto [mode, why] = GENERATE(table<std::string, std::string>({
        {"down", "test: "},
        {"slow:3", "test: "},
        {"garbage", "test: the answer is not an RFC 3161 TimeStampResp"},
        {"http500", "test: "},
        {"status:503", "test: "},
        {"wrong-imprint", "test: the message imprint is not the hash of this signature"},
    }));
    CAPTURE(mode);
    t.resp.fault("/tsa", mode);
    const tsa::Result r = t.client({t.at("test", "/tsa", 1)}).stamp(k_signature, now);
    CHECK_FALSE(r.token.valid);
    CHECK(r.token.der.empty());
    REQUIRE(r.failures.size() == 1);
    CHECK_THAT(r.failures[0], Catch::StartsWith(why));
    if (mode == "slow:3") {
        CHECK_THAT(r.failures[0], Catch::Contains("imed out") || Catch::Contains("Timeout"));
    }
    if (mode == "http500" || mode == "status:503") {
        CHECK_THAT(r.failures[0], Catch::Contains(mode == "http500" ? "500" : "503"));
    }
}

TEST_CASE("tsa: a reply to another request (replayed, or for another nonce) is refused", "[tsa]") {
    Tsa t;
    const auto now = Clock::now();
    const std::string first = ts::make_request(k_signature, ts::Hash::Sha256);
    const std::string second = ts::make_request(k_signature, ts::Hash::Sha256);  // same imprint, new nonce
    REQUIRE(first != second);
    services::http::Options o;
    const auto reply = services::http::post(t.resp.url("/tsa"), "application/timestamp-query", first, o);
    REQUIRE(reply.ok());
    CHECK(ts::check_reply(reply.body, first, t.anchors, now).valid);
    const ts::Token replayed = ts::check_reply(reply.body, second, t.anchors, now);
    CHECK_FALSE(replayed.valid);
    CHECK_THAT(replayed.error, Catch::Contains("nonce does not match"));
    // A TSA whose clock is far off is not believed either.
    const ts::Token skewed = ts::check_reply(reply.body, first, t.anchors, now + std::chrono::hours(2));
    CHECK_FALSE(skewed.valid);
    CHECK_THAT(skewed.error, Catch::Contains("away from this gateway's clock"));
    // Truncated and bit-flipped replies are refused, never crash.
    for (std::size_t cut = 0; cut < reply.body.size(); cut += 97) {
        CHECK_FALSE(ts::check_reply(reply.body.substr(0, cut), first, t.anchors, now).valid);
        std::string flipped = reply.body;
        flipped[cut] = static_cast<char>(flipped[cut] ^ 0x5a);
        CHECK_FALSE(ts::check_reply(flipped, first, t.anchors, now).valid);
        CHECK_FALSE(ts::check_token(flipped, k_signature, t.anchors, now).valid);
    }
}

TEST_CASE("tsa: HTTP Basic credentials, read from a file", "[tsa]") {
    Tsa t;
    const auto now = Clock::now();
    tsa::Authority locked = t.at("bssn", "/locked");
    tsa::Result r = t.client({locked}).stamp(k_signature, now);
    CHECK_FALSE(r.token.valid);
    REQUIRE(r.failures.size() == 1);
    CHECK_THAT(r.failures[0], Catch::Contains("401") && Catch::Contains("set credentials_file"));

    config::Timestamping section;
    const std::string cred = t.resp.dir() + "/bssn.cred";
    section.authorities.push_back({"bssn", locked.url, cred, 0, {}, {}});
    test::write_file(cred, "tsa-user:salah\n", 0600);
    r = t.client(tsa::authorities(section, {"bssn"})).stamp(k_signature, now);
    CHECK_FALSE(r.token.valid);
    CHECK_THAT(r.failures[0], Catch::Contains("refused the credentials") && !Catch::Contains("salah"));

    test::write_file(cred, "tsa-user:rahasia\n", 0600);
    r = t.client(tsa::authorities(section, {"bssn"})).stamp(k_signature, now);
    CHECK(r.token.valid);

    ::chmod(cred.c_str(), 0644);
    CHECK_THROWS_WITH(tsa::authorities(section, {"bssn"}), Catch::Contains("chmod 600"));
    test::write_file(cred, "no colon here\n", 0600);
    CHECK_THROWS_WITH(tsa::authorities(section, {"bssn"}), Catch::Contains("must hold USER:PASSWORD on one line"));
}

TEST_CASE("tsa: a time-stamped signature verifies, and is judged at the time-stamp's time", "[tsa][sign]") {
    Tsa t;
    test::TestPki pki;
    const auto now = Clock::now();
    const auto leaf = valid_now(pki, now);
    const smime::Credential cred = test::credential(leaf);
    const tsa::Client client = t.client({t.at("test", "/tsa")});
    smime::SignOptions o;
    o.now = now;
    tsa::Result got;
    o.time_stamp = [&](std::string_view value) {
        got = client.stamp(value, now);
        return got.token.der;
    };
    const std::string head = "From: <siti@dinas.example.go.id>\r\nTo: a@example.org\r\nSubject: uji\r\n";
    const smime::SignedMessage sm =
        smime::sign(smime::Blob::from(head + "Content-Type: text/plain\r\n\r\nIsi.\r\n"), cred, {}, o);
    REQUIRE(got.token.valid);
    const std::string whole = test::signed_message(head, sm);
    smime::VerifyOptions vo;
    vo.now = now;
    vo.tsa_trust = &t.anchors;
    smime::VerifyResult r = smime::verify(smime::Blob::from(whole), pki.trust(), vo);
    CHECK(r.result == smime::AuthResult::Pass);
    REQUIRE(r.time_stamp);
    CHECK(r.time_stamp_tsa == "Segel Test TSA");
    CHECK_THAT(r.reason, Catch::Contains("; time-stamped ") && Catch::Contains(" by Segel Test TSA"));

    // A month later the certificate has expired, but the TSA vouches that it signed before.
    vo.now = now + std::chrono::hours(24 * 30);
    r = smime::verify(smime::Blob::from(whole), pki.trust(), vo);
    CHECK(r.result == smime::AuthResult::Pass);
    // Without trusting the TSA, the signature is judged at arrival: expired.
    smime::TrustStore nobody = smime::TrustStore::load({t.dir + "/rogue-root.pem"}, {});
    vo.tsa_trust = &nobody;
    r = smime::verify(smime::Blob::from(whole), pki.trust(), vo);
    CHECK(r.result == smime::AuthResult::Fail);
    CHECK(r.problem == smime::VerifyResult::Problem::Expired);
    CHECK_THAT(r.reason, Catch::Contains("time-stamp not accepted: the TSA certificate does not chain"));
}

TEST_CASE("tsa: a time-stamp that fails can stop the signature (defer) and nothing is made", "[tsa][sign]") {
    test::TestPki pki;
    const auto leaf = pki.issue({"Siti", "siti@dinas.example.go.id"});
    const smime::Credential cred = test::credential(leaf);
    smime::SignOptions o;
    o.now = test::fixed_now();
    o.time_stamp = [](std::string_view) -> std::string {
        throw smime::Error(smime::Category::Unavailable, "no time-stamp authority gave a valid time-stamp");
    };
    std::string sent;
    const auto msg = smime::Blob::from("From: <siti@dinas.example.go.id>\r\nContent-Type: text/plain\r\n\r\nIsi.\r\n");
    try {
        (void)smime::sign(msg, cred, {}, o, [&](std::string_view piece) { sent += piece; });
        FAIL("signed although the time-stamp failed");
    } catch (const smime::Error& e) {
        CHECK(e.category() == smime::Category::Unavailable);
    }
    CHECK(sent.find("application/pkcs7-signature") == std::string::npos);  // no signature part went out
}

TEST_CASE("tsa: through a Session the time-stamp reaches the Outcome, outbound and inbound", "[tsa][engine]") {
    Tsa t;
    test::TestPki pki;
    const auto now = Clock::now();
    const auto leaf = valid_now(pki, now);
    const std::string cfg =
        "milter:\n  internal_networks: [10.0.0.0/8]\ntrust:\n  anchors: [" + pki.root_file() + "]\n  intermediates: [" +
        pki.intermediate_file() +
        "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n      timestamp: [down, test]\n"
        "credentials:\n  - certificate: " +
        leaf.cert_file + "\n    key: " + leaf.key_file +
        "\ntimestamping:\n  authorities:\n    - name: down\n      url: http://127.0.0.1:" +
        std::to_string(test::closed_port()) + "/tsa\n    - name: test\n      url: " + t.resp.url("/tsa") +
        "\n  anchors: [" + t.dir +
        "/tsa-root.pem]\n  timeout: 2\n  on_failure: sign\n"
        "inbound:\n  authserv_id: mx.dinas.example.go.id\n";
    const auto gw = engine::Gateway::load(test::write_file(pki.dir() + "/segel.yaml", cfg));

    engine::Transcript out;
    out.connection.client_ip = "192.0.2.10";
    out.login = "siti@dinas.example.go.id";
    out.mail_from = "siti@dinas.example.go.id";
    out.recipients = {"a@example.org"};
    const auto sent = engine::process(
        gw, out, "From: <siti@dinas.example.go.id>\r\nTo: a@example.org\r\nSubject: uji\r\n\r\nIsi.\r\n",
        [now] { return now; });
    REQUIRE(sent.outcome.decision == engine::Decision::Sign);
    REQUIRE(sent.outcome.time_stamp);
    const engine::TimeStampFacts& f = *sent.outcome.time_stamp;
    CHECK(f.stamped);
    CHECK(f.authority == "test");
    CHECK(f.tsa == "Segel Test TSA");
    CHECK_FALSE(f.serial.empty());
    CHECK(f.time >= now - std::chrono::minutes(5));
    REQUIRE(f.failures.size() == 1);
    CHECK_THAT(f.failures[0], Catch::StartsWith("down: "));
    const auto lines = engine::log_lines(sent.outcome);
    CHECK_THAT(lines.at(0).text, Catch::Contains(" key=file ") && Catch::Contains(" timestamp=test@"));
    CHECK_THAT(test::compact_json(engine::to_json(sent.outcome, false)),
               Catch::Contains("\"time_stamp\":{\"stamped\":true,\"authority\":\"test\",\"tsa\":\"Segel Test TSA\""));

    // The same message arriving at a segel gateway: the time-stamp is a fact of the verdict.
    engine::Transcript in;
    in.connection.client_ip = "198.51.100.7";
    in.mail_from = "siti@dinas.example.go.id";
    in.recipients = {"kepala@dinas.example.go.id"};
    const auto got = engine::process(gw, in, sent.actions.message(), [now] { return now; });
    REQUIRE(got.outcome.verification);
    const engine::VerificationFacts& v = *got.outcome.verification;
    CHECK(v.result == smime::AuthResult::Pass);
    REQUIRE(v.time_stamp);
    CHECK(*v.time_stamp == f.time);
    CHECK(v.time_stamp_tsa == "Segel Test TSA");
    CHECK(v.time_stamp_error.empty());
    CHECK_THAT(engine::log_lines(got.outcome).at(0).text, Catch::Contains(" timestamp=" + base::format_time(f.time)));
    CHECK_THAT(
        test::compact_json(engine::to_json(got.outcome, false)),
        Catch::Contains("\"time_stamp\":{\"time\":\"" + base::format_time(f.time) + "\",\"tsa\":\"Segel Test TSA\"}"));
}
