// milter/audit_record: an Outcome becomes audit events (every field an auditor
// needs, no content), and the Recorder on a real SQLite trail records messages,
// start, reload with certificate state changes, and stop — all of which verify.
#include "audit/sqlite_store.h"
#include "audit/verify.h"
#include "config/load.h"
#include "milter/audit_record.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace segel;

namespace {

engine::Outcome signed_outcome() {
    engine::Outcome o;
    o.queue_id = "4XyZ1b2C3d";
    o.direction = engine::Direction::Outbound;
    o.decision = engine::Decision::Sign;
    o.client_ip = "192.0.2.10";
    o.login = "siti@dinas.example.go.id";
    o.mail_from = "siti@dinas.example.go.id";
    o.recipients = {"kepala@mitra.example"};
    o.unit = "dinas.example.go.id";
    o.matched_rule = "signing.domains: dinas.example.go.id";
    o.reasons = {"login siti@dinas.example.go.id owns siti@dinas.example.go.id"};
    o.certificate =
        engine::CertificateUsed{"1004", std::string(64, 'a'), "CN=Siti", "/etc/segel/siti.p12", "file", {}, {}};
    o.content_sha256 = std::string(64, 'b');
    o.format = "detached";
    o.size = 2048;
    o.timings.decide_ms = 0.25;
    o.timings.process_ms = 0.5;
    return o;
}

std::vector<audit::Event> all_events(const std::string& path) {
    std::vector<audit::Event> out;
    auto store = audit::SqliteStore::open(path, "", false, audit::Sync::Full, true);
    store->scan(store->node(), 0, UINT64_MAX, [&](const audit::RowView& row) {
        out.push_back(audit::decode(row.data));
        return true;
    });
    return out;
}

}  // namespace

TEST_CASE("audit record: the events of an outcome", "[milter][audit]") {
    const auto now = test::fixed_now();
    SECTION("signed") {
        const auto events = milter::events_of(signed_outcome(), now);
        REQUIRE(events.size() == 1);
        const auto& e = events[0];
        CHECK(e.kind == audit::kind::k_sign);
        CHECK(e.queue_id == "4XyZ1b2C3d");
        CHECK(e.direction == "outbound");
        CHECK(e.sender == "siti@dinas.example.go.id");
        CHECK(e.login == "siti@dinas.example.go.id");
        CHECK(e.client == "192.0.2.10");
        CHECK(e.recipients == std::vector<std::string>{"kepala@mitra.example"});
        CHECK(e.unit == "dinas.example.go.id");
        CHECK(e.decision == "sign");
        CHECK(e.reason_code == "signing.domains");
        CHECK(e.cert_serial == "1004");
        CHECK(audit::to_hex(e.cert_fingerprint) == std::string(64, 'a'));
        CHECK(audit::to_hex(e.content_sha256) == std::string(64, 'b'));
        CHECK(e.duration_us == 750);
        CHECK(e.time == now);
    }
    SECTION("refused") {
        engine::Outcome o = signed_outcome();
        o.decision = engine::Decision::Refuse;
        o.certificate.reset();
        o.reply_code = "550";
        o.reply_xcode = "5.7.1";
        o.reply_text = "login budi may not send as siti@dinas.example.go.id";
        const auto e = milter::events_of(o, now).at(0);
        CHECK(e.kind == audit::kind::k_refuse);
        CHECK(e.reply == "550 5.7.1 login budi may not send as siti@dinas.example.go.id");
        CHECK(e.reason_code == "550 5.7.1");  // no word named: the SMTP code, as records before the words
        o.reason_code = "login-not-owner";
        CHECK(milter::events_of(o, now).at(0).reason_code == "login-not-owner");  // the word the reports count
    }
    SECTION("inbound, verified, an incident") {
        engine::Outcome o;
        o.queue_id = "Q2";
        o.direction = engine::Direction::Inbound;
        o.decision = engine::Decision::Deliver;
        o.mail_from = "kepala@dinas.example.go.id";
        o.unit = "dinas.example.go.id";
        engine::VerificationFacts v;
        v.result = smime::AuthResult::Fail;
        v.identifier = "kepala@dinas.example.go.id";
        v.reason = "content changed after signing";
        v.serial = "77";
        v.fingerprint = std::string(64, 'c');
        o.verification = v;
        o.incidents.push_back({"invalid-signature", "", "kepala@dinas.example.go.id", "192.0.2.9", "77",
                               "invalid signature claiming a go.id signer"});
        const auto events = milter::events_of(o, now);
        REQUIRE(events.size() == 2);
        CHECK(events[0].kind == audit::kind::k_verify);
        CHECK(events[0].verdicts.at(0).rfind("fail signer=kepala@dinas.example.go.id", 0) == 0);
        CHECK(audit::verdict_word(events[0]) == "fail");
        CHECK(events[0].cert_serial == "77");
        CHECK(events[1].kind == audit::kind::k_incident);
        CHECK(events[1].reason_code == "invalid-signature");
        CHECK(events[1].client == "192.0.2.9");
        CHECK(events[1].cert_serial == "77");
        CHECK(events[1].notes == std::vector<std::string>{"address=kepala@dinas.example.go.id"});
        CHECK(events[1].reasons == std::vector<std::string>{"invalid signature claiming a go.id signer"});
    }
    SECTION("decrypted, internal error, undecided") {
        engine::Outcome o;
        o.direction = engine::Direction::Inbound;
        o.decision = engine::Decision::Deliver;
        o.decryption = engine::DecryptionFacts{engine::DecryptionFacts::Result::Decrypted, "", "siti@x", "9", "", ""};
        CHECK(milter::events_of(o, now).at(0).kind == audit::kind::k_decrypt);
        engine::Outcome err;
        err.decision = engine::Decision::Error;
        err.error = engine::InternalError{"eom", "smfi_replacebody failed", false};
        const auto e = milter::events_of(err, now).at(0);
        CHECK(e.kind == audit::kind::k_internal_error);
        CHECK(e.error == "smfi_replacebody failed");
        CHECK(milter::events_of(engine::Outcome{}, now).empty());
    }
}

TEST_CASE("audit record: the recorder on a real trail, start to stop", "[milter][audit]") {
    test::TestPki pki;
    const test::Issued seal = pki.issue({"Segel Elektronik", "noreply@dinas.example.go.id"});
    const test::Issued siti = pki.issue({"Siti", "siti@dinas.example.go.id"});
    const std::string db = pki.dir() + "/audit.db";
    const std::string config_path = pki.dir() + "/segel.yaml";
    test::write_file(config_path, "# the configuration's bytes are hashed into start and reload events\n");
    auto gateway = [&](bool with_siti) {
        config::Settings s = config::parse(
            "trust:\n  anchors: [/x]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n"
            "audit:\n  store: sqlite:" +
                db + "\n  node: mx1\n  sync: normal\n  seal:\n    certificate: " + seal.cert_file +
                "\n    key: " + seal.key_file + "\n",
            config_path);
        s.trust.anchors = {pki.root_file()};
        s.trust.intermediates = {pki.intermediate_file()};
        if (with_siti) {
            config::CredentialRef ref;
            ref.certificate = siti.cert_file;
            ref.key = siti.key_file;
            s.credentials.push_back(ref);
        }
        return engine::Gateway::from_settings(std::move(s));
    };
    {
        milter::Recorder r(*gateway(true), config_path);
        CHECK_FALSE(r.record(signed_outcome(), engine::Reply::go_on()));
        r.reloaded(*gateway(false), config_path);  // siti's certificate removed: no state change to record
        r.stopped();
        // After the stop nothing can be recorded: mail defers, a refusal stands.
        const auto deferred = r.record(signed_outcome(), engine::Reply::go_on());
        REQUIRE(deferred);
        CHECK(deferred->code == "451");
        CHECK_FALSE(r.record(signed_outcome(), engine::Reply::refuse("550", "5.7.1", "no")));
    }
    const auto events = all_events(db);
    std::vector<std::string> kinds;
    for (const auto& e : events) {
        kinds.push_back(e.kind);
    }
    CHECK(kinds == std::vector<std::string>{"start", "sign", "reload", "stop", "checkpoint"});
    CHECK(events[0].credentials.size() == 1);
    CHECK(events[0].credentials[0].find("state=usable") != std::string::npos);
    // The dates the reports count certificates by (docs/reports.md), before state= (its value has spaces).
    CHECK_THAT(events[0].credentials[0], Catch::Matches(".* not_before=\\d{4}-\\d{2}-\\d{2} "
                                                        "not_after=\\d{4}-\\d{2}-\\d{2} state=usable.*"));
    CHECK_FALSE(audit::is_zero(events[0].config_sha256));
    CHECK(events[1].queue_id == "4XyZ1b2C3d");
    auto store = audit::open_reader("sqlite:" + db);
    audit::VerifyOptions vo;
    vo.seals = {smime::ossl::fingerprint_sha256(seal.cert.get())};
    CHECK(audit::verify(*store, vo).ok());
}

TEST_CASE("audit record: on_failure accept lets mail through unrecorded; tempfail defers it", "[milter][audit]") {
    test::TestPki pki;
    const test::Issued seal = pki.issue({"Segel Elektronik", "noreply@dinas.example.go.id"});
    const std::string config_path = pki.dir() + "/segel.yaml";
    test::write_file(config_path, "# hashed into the start event\n");
    auto gateway = [&](const std::string& on_failure) {
        config::Settings s = config::parse(
            "trust:\n  anchors: [/x]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n"
            "audit:\n  store: sqlite:" +
                pki.dir() + "/" + on_failure + ".db\n  node: mx1\n  sync: normal\n  on_failure: " + on_failure +
                "\n  seal:\n    certificate: " + seal.cert_file + "\n    key: " + seal.key_file + "\n",
            config_path);
        s.trust.anchors = {pki.root_file()};
        s.trust.intermediates = {pki.intermediate_file()};
        return engine::Gateway::from_settings(std::move(s));
    };
    const bool accept = GENERATE(true, false);
    milter::Recorder r(*gateway(accept ? "accept" : "tempfail"), config_path);
    r.stopped();  // the trail is closed: nothing can be recorded any more
    const auto answer = r.record(signed_outcome(), engine::Reply::go_on());
    if (accept) {
        CHECK_FALSE(answer);  // the signed message leaves unrecorded (and the loss is logged)
    } else {
        REQUIRE(answer);
        CHECK(answer->code == "451");
        CHECK(answer->text.find("audit trail") != std::string::npos);
    }
    // Either way a refusal stays the refusal it was.
    CHECK_FALSE(r.record(signed_outcome(), engine::Reply::refuse("550", "5.7.1", "no")));
}
