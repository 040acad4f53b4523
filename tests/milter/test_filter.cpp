// milter::Filter — what each libmilter callback does — driven in-process the way
// libmilter drives it (every step through the same exception firewall), with
// recording actions in place of smfi_*: refusals, inbound verdicts, decryption,
// the deferred-failure paths and callbacks in any order.
#include "config/load.h"
#include "engine/outcome_format.h"
#include "milter/filter.h"
#include "smime/encrypt.h"
#include "smime/mime/fields.h"
#include "smime/sign.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <stdexcept>

using namespace segel;
using engine::Decision;
using Kind = engine::Reply::Kind;

namespace {

/** The MTA side of one connection, recording what the filter asks for. */
class TestMta final : public milter::Mta, public engine::Actions {
public:
    std::map<std::string, std::string> macros;
    engine::RecordingActions recording;
    int fail_body_after = -1;  ///< throw on the body piece after this many (a failing smfi_replacebody)
    int body_pieces = 0;

    std::string macro(const char* name) override {
        const auto it = macros.find(name);
        return it == macros.end() ? "" : it->second;
    }
    engine::Actions& actions() override { return *this; }
    [[nodiscard]] bool changed() const override { return !recording.recorded().empty(); }
    void reset() override {
        recording = engine::RecordingActions();
        body_pieces = 0;
    }
    void delete_header(const std::string& n, int i) override { recording.delete_header(n, i); }
    void change_header(const std::string& n, int i, const std::string& v) override { recording.change_header(n, i, v); }
    void insert_header(int i, const std::string& n, const std::string& v) override { recording.insert_header(i, n, v); }
    void add_header(const std::string& n, const std::string& v) override { recording.add_header(n, v); }
    void replace_body(std::string_view piece) override {
        if (fail_body_after >= 0 && body_pieces++ >= fail_body_after) {
            throw std::runtime_error("smfi_replacebody failed");
        }
        recording.replace_body(piece);
    }
    void quarantine(const std::string& reason) override { recording.quarantine(reason); }

    [[nodiscard]] std::vector<std::string> ops() const {
        std::vector<std::string> out;
        for (const auto& r : recording.recorded()) {
            out.push_back(r.op + (r.name.empty() ? "" : " " + r.name));
        }
        return out;
    }
};

struct Fixture {
    test::TestPki pki;
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    std::vector<engine::Outcome> reported;

    std::shared_ptr<const engine::Gateway> gateway(const std::string& extra_yaml = {},
                                                   const std::function<void(config::Settings&)>& tweak = {}) {
        config::Settings s = config::parse(
            "milter:\n  internal_networks: [10.0.0.0/8]\n"
            "trust:\n  anchors: [/nonexistent]\n"
            "signing:\n  domains:\n    - domain: dinas.example.go.id\n  logins:\n"
            "    budi: [budi@dinas.example.go.id]\n"
            "inbound:\n  authserv_id: mx.dinas.example.go.id\n" +
                extra_yaml,
            "segel.yaml");
        s.trust.anchors = {pki.root_file()};
        s.trust.intermediates = {pki.intermediate_file()};
        config::CredentialRef ref;
        ref.certificate = siti.cert_file;
        ref.key = siti.key_file;
        s.credentials.push_back(ref);
        if (tweak) {
            tweak(s);
        }
        return engine::Gateway::from_settings(std::move(s));
    }

    milter::Filter filter(std::shared_ptr<const engine::Gateway> gw, bool no_reply = true) {
        milter::FilterContext c;
        c.snapshot = [gw] { return gw; };
        c.report = [this](const engine::Outcome& o) { reported.push_back(o); };
        c.clock = [] { return test::fixed_now(); };
        milter::Filter f(std::move(c));
        f.negotiated(true, no_reply, no_reply);
        return f;
    }

    /** A message signed by siti (smime::sign), as a client that signs itself would send it. */
    std::string signed_by_siti(const std::string& body = "Isi surat.\r\n") const {
        const std::string head =
            "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: budi@dinas.example.go.id\r\n"
            "Subject: Undangan\r\n";
        std::vector<smime::ossl::Ptr<X509>> chain;
        chain.push_back(smime::ossl::retain(pki.intermediate()));
        smime::SignOptions o;
        o.now = test::fixed_now();
        const auto sm = smime::sign(smime::Blob::from(head + "Content-Type: text/plain\r\n\r\n" + body),
                                    test::credential(siti), chain, o);
        std::string msg = head;
        for (const auto& h : sm.headers) {
            msg += h.name + ": " + smime::canonical::to_crlf(h.value) + "\r\n";
        }
        return msg + "\r\n" + sm.body.str();
    }
};

struct Step {
    std::string name;
    milter::Answer answer;
};

/**
 * One SMTP transaction through @p f as libmilter runs it: each callback inside
 * the same firewall callbacks.cpp uses (an exception goes to Filter::fault).
 * Stops at the first answer that ends the message.
 */
std::vector<Step> transact(milter::Filter& f, TestMta& mta, const std::string& login, const std::string& from,
                           const std::vector<std::string>& rcpts, const std::string& message, bool connect = true,
                           const std::string& client = "192.0.2.10") {
    std::vector<Step> steps;
    auto step = [&](const char* name, auto&& fn) {
        milter::Answer a;
        try {
            a = fn();
        } catch (const std::exception& e) {
            a = f.fault(mta, name, e);
        }
        steps.push_back({name, a});
        return a.reply.kind == Kind::Continue;
    };
    mta.macros["{auth_authen}"] = login;
    mta.macros["i"] = "Q1";
    if (connect && !step("connect", [&] { return f.connect("", client); })) {
        return steps;
    }
    if (!step("envfrom", [&] { return f.mail_from(mta, "<" + from + ">"); })) {
        return steps;
    }
    for (const auto& r : rcpts) {
        if (!step("envrcpt", [&] { return f.recipient(mta, "<" + r + ">"); })) {
            return steps;
        }
    }
    const auto block = smime::mime::split_fields(message);
    for (const auto& fld : block.fields) {
        if (!step("header", [&] { return f.header(mta, fld.name, fld.raw); })) {
            return steps;
        }
    }
    if (!step("eoh", [&] { return f.end_of_headers(mta); })) {
        return steps;
    }
    const std::string body = smime::canonical::to_crlf(message.substr(block.body));
    for (std::size_t off = 0; off < body.size(); off += 65535) {
        if (!step("body", [&] { return f.body(mta, std::string_view(body).substr(off, 65535)); })) {
            return steps;
        }
    }
    step("eom", [&] { return f.end_of_message(mta); });
    return steps;
}

const Step& last(const std::vector<Step>& steps) {
    REQUIRE_FALSE(steps.empty());
    return steps.back();
}

const std::string k_plain =
    "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: kepala@mitra.example\r\n"
    "Subject: Rapat\r\nContent-Type: text/plain\r\n\r\nRapat besok jam 9.\r\n";

}  // namespace

TEST_CASE("filter: every outbound refusal is answered at its step with its reply", "[milter]") {
    struct Row {
        const char* name;
        const char* login;
        const char* from;
        std::string message;
        const char* yaml;
        const char* step;
        const char* code;
        const char* xcode;
        const char* text;
    };
    const std::string other = "From: a@other.example\r\nSubject: x\r\n\r\nx\r\n";
    const std::string two_from = "From: siti@dinas.example.go.id\r\nFrom: budi@dinas.example.go.id\r\n\r\nx\r\n";
    const std::string rahasia = "From: a@other.example\r\nSubject: [RAHASIA] x\r\n\r\nx\r\n";
    const Row row = GENERATE_COPY(values<Row>({
        {"send-as", "budi", "siti@dinas.example.go.id", k_plain, "", "eoh", "550", "5.7.1",
         "login budi may not send as siti@dinas.example.go.id"},
        {"not official", "x@other.example", "a@other.example", other, "", "eoh", "550", "5.7.1",
         "a@other.example is not an official address of this gateway"},
        {"two From fields", "siti@dinas.example.go.id", "siti@dinas.example.go.id", two_from, "", "eoh", "550", "5.7.1",
         "header From must name exactly one address"},
        {"envelope differs", "siti@dinas.example.go.id", "budi@dinas.example.go.id", k_plain, "", "eoh", "550", "5.7.1",
         "envelope sender budi@dinas.example.go.id differs from header From"},
        {"no certificate", "budi", "budi@dinas.example.go.id",
         "From: budi@dinas.example.go.id\r\nSubject: x\r\n\r\nx\r\n", "", "eoh", "550", "5.7.1",
         "no certificate for budi@dinas.example.go.id is installed"},
        {"required but unsignable", "x@other.example", "a@other.example", rahasia,
         "encryption:\n  policy: opportunistic\n", "eoh", "550", "5.7.1", "encryption is required (subject [RAHASIA])"},
    }));
    INFO(row.name);
    Fixture fx;
    // other_senders is "reject" by default; the unsignable row needs mail that would pass unsigned.
    const bool unsignable = std::string(row.name) == "required but unsignable";
    auto gw = fx.gateway(row.yaml, [unsignable](config::Settings& s) {
        if (unsignable) {
            s.signing.other_senders = config::Action::Pass;
        }
    });
    auto f = fx.filter(gw);
    TestMta mta;
    const auto steps = transact(f, mta, row.login, row.from, {"kepala@mitra.example"}, row.message);
    CHECK(last(steps).name == row.step);
    const auto& r = last(steps).answer.reply;
    CHECK(r.kind == Kind::Reject);
    CHECK(r.code == row.code);
    CHECK(r.xcode == row.xcode);
    CHECK_THAT(r.text, Catch::Contains(row.text));
    CHECK(mta.recording.recorded().empty());
    REQUIRE(fx.reported.size() == 1);
    CHECK(fx.reported[0].decision == Decision::Refuse);
    CHECK(fx.reported[0].queue_id == "Q1");
    CHECK(fx.reported[0].reply_text == r.text);
}

TEST_CASE("filter: staff mail is signed; the edits replace the entity and the Outcome names the certificate",
          "[milter]") {
    Fixture fx;
    const auto gw = fx.gateway();
    auto f = fx.filter(gw);
    TestMta mta;
    const auto steps =
        transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"kepala@mitra.example"}, k_plain);
    CHECK(last(steps).name == "eom");
    CHECK(last(steps).answer.reply.kind == Kind::Continue);
    // The new body first, then the top-level fields: Content-Type changed in place, MIME-Version added.
    CHECK(mta.ops() == std::vector<std::string>{"body", "add MIME-Version", "change Content-Type"});
    REQUIRE(fx.reported.size() == 1);
    const auto& o = fx.reported[0];
    CHECK(o.decision == Decision::Sign);
    CHECK(o.direction == engine::Direction::Outbound);
    CHECK(o.login == "siti@dinas.example.go.id");
    CHECK(o.recipients == std::vector<std::string>{"kepala@mitra.example"});
    REQUIRE(o.certificate);
    CHECK(o.certificate->serial == gw->certificates().at(0).serial);
    CHECK(o.certificate->fingerprint == gw->certificates().at(0).fingerprint);
    CHECK(o.content_sha256.size() == 64);
    CHECK(engine::log_lines(o).front().text.rfind("sign from=<siti@dinas.example.go.id> login=siti@", 0) == 0);
}

TEST_CASE("filter: a top-level field that already reads as segel would write it is not changed", "[milter]") {
    // Every modification is a round trip to the MTA (a writev that wakes it): MIME-Version: 1.0
    // as the client wrote it stays as it is; any other form of it is rewritten.
    Fixture fx;
    const auto gw = fx.gateway();
    const std::string head =
        "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: kepala@mitra.example\r\nSubject: Rapat\r\n";
    const std::string rest =
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nRapat.\r\n";
    const auto [version, ops] = GENERATE(table<std::string, std::vector<std::string>>({
        {"MIME-Version: 1.0\r\n", {"body", "delete Content-Transfer-Encoding", "change Content-Type"}},
        {"MIME-Version: 1.0 (produced by a client)\r\n",
         {"body", "delete Content-Transfer-Encoding", "change MIME-Version", "change Content-Type"}},
        {"MIME-Version:1.0\r\n",
         {"body", "delete Content-Transfer-Encoding", "change MIME-Version", "change Content-Type"}},
    }));
    INFO(version);
    auto f = fx.filter(gw);
    TestMta mta;
    const auto steps = transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id",
                                {"kepala@mitra.example"}, head + version + rest);
    CHECK(last(steps).answer.reply.kind == Kind::Continue);
    CHECK(mta.ops() == ops);
}

TEST_CASE("filter: outbound over milter.max_message_size is refused with 552, at the body or at the end", "[milter]") {
    Fixture fx;
    const auto gw = fx.gateway("", [](config::Settings& s) { s.milter.max_message_size = 1024; });
    const std::string big = k_plain + std::string(4000, 'x') + "\r\n";
    for (const bool no_reply : {true, false}) {
        INFO("SMFIP_NR_BODY " << no_reply);
        fx.reported.clear();
        auto f = fx.filter(gw, no_reply);
        TestMta mta;
        const auto steps =
            transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, big);
        CHECK(last(steps).name == (no_reply ? "eom" : "body"));
        CHECK(last(steps).answer.reply.code == "552");
        CHECK(last(steps).answer.reply.xcode == "5.3.4");
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Refuse);
    }
}

TEST_CASE("filter: inbound verdicts become an Authentication-Results field, tags and dispositions", "[milter]") {
    Fixture fx;
    SECTION("a good signature: pass, forged A-R removed") {
        auto f = fx.filter(fx.gateway());
        TestMta mta;
        const std::string msg = "Authentication-Results: mx.dinas.example.go.id; smime=pass\r\n" + fx.signed_by_siti();
        transact(f, mta, "", "siti@dinas.example.go.id", {"budi@dinas.example.go.id"}, msg);
        CHECK(mta.ops() == std::vector<std::string>{"delete Authentication-Results", "insert Authentication-Results"});
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Deliver);
        REQUIRE(fx.reported[0].verification);
        CHECK(fx.reported[0].verification->result == smime::AuthResult::Pass);
        CHECK(fx.reported[0].unit == "dinas.example.go.id");
    }
    SECTION("a tampered body: fail, tagged") {
        auto f = fx.filter(fx.gateway("  subject_tag:\n    enabled: true\n"));
        TestMta mta;
        std::string msg = fx.signed_by_siti();
        msg[msg.find("Isi surat")] = 'i';
        transact(f, mta, "", "siti@dinas.example.go.id", {"budi@dinas.example.go.id"}, msg);
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].verification->result == smime::AuthResult::Fail);
        REQUIRE(fx.reported[0].incidents.size() == 1);
        CHECK(fx.reported[0].incidents[0].kind == "invalid-signature");
        CHECK(fx.reported[0].incidents[0].address == "siti@dinas.example.go.id");
        CHECK(mta.recording.message().find("Subject: [TANDA TANGAN TIDAK SAH] Undangan") != std::string::npos);
    }
    SECTION("an unsigned official sender, sender_protection reject: 550 at the end of the message") {
        auto f = fx.filter(fx.gateway("  sender_protection: reject\n"));
        TestMta mta;
        const auto steps = transact(f, mta, "", "kepala@dinas.example.go.id", {"budi@dinas.example.go.id"},
                                    "From: kepala@dinas.example.go.id\r\nSubject: x\r\n\r\nx\r\n");
        CHECK(last(steps).name == "eom");
        CHECK(last(steps).answer.reply.code == "550");
        CHECK(mta.recording.recorded().empty());
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Refuse);
        CHECK(fx.reported[0].direction == engine::Direction::Inbound);
    }
    SECTION("quarantine") {
        auto f = fx.filter(fx.gateway("  sender_protection: quarantine\n"));
        TestMta mta;
        transact(f, mta, "", "kepala@dinas.example.go.id", {"budi@dinas.example.go.id"},
                 "From: kepala@dinas.example.go.id\r\nSubject: x\r\n\r\nx\r\n");
        CHECK(mta.recording.quarantined().has_value());
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Quarantine);
    }
}

TEST_CASE("filter: inbound mail encrypted to a held key is decrypted and its inner signature verified", "[milter]") {
    Fixture fx;
    auto f = fx.filter(fx.gateway());
    TestMta mta;
    // The signed entity of siti's message, encrypted to siti's certificate (as a partner would).
    const std::string signed_msg = fx.signed_by_siti();
    const auto block = smime::mime::split_fields(signed_msg);
    std::string entity;
    for (const auto& fld : block.fields) {
        if (smime::canonical::is_content_header(fld.name)) {
            entity += fld.name + ":" + smime::canonical::to_crlf(fld.raw) + "\r\n";
        }
    }
    entity += "\r\n" + signed_msg.substr(block.body);
    std::vector<smime::ossl::Ptr<X509>> to;
    to.push_back(smime::ossl::retain(fx.siti.cert.get()));
    const auto enc = smime::encrypt_entity(entity, to, {});
    std::string msg =
        "X-Segel-Decryption: decrypted; forged\r\nFrom: Siti Rahma <siti@dinas.example.go.id>\r\n"
        "To: siti@dinas.example.go.id\r\nSubject: Rahasia\r\n";
    for (const auto& h : enc.headers) {
        msg += h.name + ": " + smime::canonical::to_crlf(h.value) + "\r\n";
    }
    msg += "\r\n" + enc.body.str();
    transact(f, mta, "", "siti@dinas.example.go.id", {"siti@dinas.example.go.id"}, msg);
    REQUIRE(fx.reported.size() == 1);
    const auto& o = fx.reported[0];
    REQUIRE(o.decryption);
    CHECK(o.decryption->result == engine::DecryptionFacts::Result::Decrypted);
    CHECK(o.decryption->key_owner == "siti@dinas.example.go.id");
    REQUIRE(o.verification);
    CHECK(o.verification->result == smime::AuthResult::Pass);
    const std::string delivered = mta.recording.message();
    CHECK(delivered.find("forged") == std::string::npos);
    CHECK(delivered.find("X-Segel-Decryption: decrypted; recipient=siti@dinas.example.go.id") != std::string::npos);
    CHECK(delivered.find("Content-Type: multipart/signed") != std::string::npos);
    CHECK(delivered.find("Isi surat.") != std::string::npos);
}

TEST_CASE("filter: internal errors defer; accepted unchanged only when configured and nothing was changed",
          "[milter]") {
    Fixture fx;
    const std::string spool = fx.pki.dir() + "/spool";
    std::filesystem::create_directory(spool);
    auto broken_spool = [&](config::OnError on_error) {
        return fx.gateway("", [&](config::Settings& s) {
            s.milter.spool_memory_limit = 64;
            s.milter.spool_directory = spool;
            s.milter.on_internal_error = on_error;
        });
    };
    SECTION("a header step fails under SMFIP_NR_HDR: answered 451 at the end of headers") {
        const auto gw = broken_spool(config::OnError::Tempfail);
        std::filesystem::remove(spool);  // the spool file cannot be made once the head outgrows memory
        auto f = fx.filter(gw);
        TestMta mta;
        const auto steps =
            transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain);
        CHECK(last(steps).name == "eoh");
        CHECK(last(steps).answer.reply.code == "451");
        CHECK(last(steps).answer.reply.xcode == "4.3.0");
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Error);
        REQUIRE(fx.reported[0].error);
        CHECK(fx.reported[0].error->step == "header");
        CHECK_THAT(fx.reported[0].error->what, Catch::Contains("spool"));
    }
    SECTION("on_internal_error: accept, nothing changed yet: accepted unchanged") {
        const auto gw = broken_spool(config::OnError::Accept);
        std::filesystem::remove(spool);
        auto f = fx.filter(gw);
        TestMta mta;
        const auto steps =
            transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain);
        CHECK(last(steps).answer.reply.kind == Kind::Accept);
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].error->accepted_unchanged);
    }
    SECTION("part of the new body already went out: 451 even with on_internal_error: accept") {
        const auto gw =
            fx.gateway("", [](config::Settings& s) { s.milter.on_internal_error = config::OnError::Accept; });
        auto f = fx.filter(gw);
        TestMta mta;
        mta.fail_body_after = 1;
        const std::string big = k_plain + std::string(200000, 'y') + "\r\n";
        const auto steps =
            transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, big);
        CHECK(last(steps).name == "eom");
        CHECK(last(steps).answer.reply.code == "451");
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Error);
        CHECK_FALSE(fx.reported[0].error->accepted_unchanged);
    }
}

TEST_CASE("filter: callbacks in any order a client may send are safe", "[milter]") {
    Fixture fx;
    const auto gw = fx.gateway();
    SECTION("MAIL without CONNECT: the message is still handled") {
        auto f = fx.filter(gw);
        TestMta mta;
        transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain, false);
        REQUIRE(fx.reported.size() == 1);
        CHECK(fx.reported[0].decision == Decision::Sign);
    }
    SECTION("headers, end of headers, body and end of message without MAIL do nothing") {
        auto f = fx.filter(gw);
        TestMta mta;
        CHECK(f.header(mta, "From", " a@b").reply.kind == Kind::Continue);
        CHECK(f.end_of_headers(mta).reply.kind == Kind::Continue);
        CHECK(f.body(mta, "x").reply.kind == Kind::Continue);
        CHECK(f.end_of_message(mta).reply.kind == Kind::Continue);
        f.abort();
        CHECK(fx.reported.empty());
        CHECK(mta.recording.recorded().empty());
    }
    SECTION("a connection reused after an abort, and after QUIT_NC (a new CONNECT), starts clean") {
        auto f = fx.filter(gw);
        TestMta mta;
        f.connect("", "192.0.2.10");
        f.mail_from(mta, "<siti@dinas.example.go.id>");
        f.header(mta, "From", " budi@dinas.example.go.id");
        f.abort();
        transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain, false);
        f.connect("", "192.0.2.11");
        transact(f, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain, false);
        REQUIRE(fx.reported.size() == 2);
        CHECK(fx.reported[0].decision == Decision::Sign);
        CHECK(fx.reported[1].decision == Decision::Sign);
        CHECK(fx.reported[1].client_ip == "192.0.2.11");
    }
}

TEST_CASE("filter: every decided message is recorded before its answer; a lost record defers, a refusal stays",
          "[milter][audit]") {
    Fixture fx;
    auto gw = fx.gateway();
    std::vector<std::pair<engine::Decision, engine::Reply::Kind>> recorded;
    bool store_down = false;
    auto f = fx.filter(gw);
    milter::FilterContext c;
    c.snapshot = [gw] { return gw; };
    c.report = [&fx](const engine::Outcome& o) { fx.reported.push_back(o); };
    c.clock = [] { return test::fixed_now(); };
    c.record = [&](const engine::Outcome& o, const engine::Reply& r) -> std::optional<engine::Reply> {
        recorded.emplace_back(o.decision, r.kind);
        if (store_down && (r.kind == Kind::Continue || r.kind == Kind::Accept)) {
            return engine::Reply::refuse("451", "4.3.0", "cannot record");
        }
        return std::nullopt;
    };
    milter::Filter g(std::move(c));
    g.negotiated(true, true, true);
    TestMta mta;
    auto steps = transact(g, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain);
    CHECK(last(steps).name == "eom");
    CHECK(last(steps).answer.reply.kind == Kind::Continue);
    REQUIRE(recorded.size() == 1);
    CHECK(recorded[0].first == Decision::Sign);

    store_down = true;
    steps = transact(g, mta, "siti@dinas.example.go.id", "siti@dinas.example.go.id", {"a@b.example"}, k_plain);
    CHECK(last(steps).name == "eom");
    CHECK(last(steps).answer.reply.code == "451");  // signed, but without a record it may not leave
    REQUIRE(fx.reported.size() == 2);
    CHECK(engine::log_lines(fx.reported[1]).front().text.find("sign") == 0);
    steps = transact(g, mta, "budi", "siti@dinas.example.go.id", {"a@b.example"}, k_plain);
    CHECK(last(steps).name == "eoh");
    CHECK(last(steps).answer.reply.code == "550");  // a permanent refusal is never turned into "try again"
    REQUIRE(recorded.size() == 3);
    CHECK(recorded[2].first == Decision::Refuse);
}
