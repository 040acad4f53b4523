#include "config/load.h"
#include "engine/gateway.h"
#include "engine/session.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace segel;

namespace {

std::string config_for(const test::TestPki& pki, const std::string& credentials) {
    return "milter:\n  internal_networks: [10.0.0.0/8]\ntrust:\n  anchors: [" + pki.root_file() +
           "]\n  intermediates: [" + pki.intermediate_file() +
           "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n  logins:\n"
           "    budi: [budi@dinas.example.go.id]\ncredentials:\n" +
           credentials;
}

/** Staff mail from @p login through a Session, as the milter runs it. */
engine::Processed submit(const std::shared_ptr<const engine::Gateway>& gw, const std::string& login,
                         const std::string& from, const std::string& message) {
    engine::Transcript t;
    t.connection.client_ip = "192.0.2.10";
    t.login = login;
    t.mail_from = from;
    t.recipients = {"a@example.org"};
    return engine::process(gw, t, message, [] { return test::fixed_now(); });
}

std::string seal_serial(const test::Issued& leaf) {
    return smime::inspect(leaf.cert.get()).serial;
}

}  // namespace

TEST_CASE("engine: load, decide, sign and assemble like the milter", "[engine]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    const auto budi = pki.issue({.name = "Budi", .email = "budi@dinas.example.go.id", .ec = true});
    const std::string path = test::write_file(
        pki.dir() + "/segel.yaml",
        config_for(pki, "  - pkcs12: " + p12 + "\n    passphrase_file: " + pass +
                            "\n  - certificate: " + budi.cert_file + "\n    key: " + budi.key_file + "\n"));
    const auto gw = engine::Gateway::load(path);
    REQUIRE(gw->certificates().size() == 2);
    CHECK(gw->certificates()[0].chain_trusted);

    const std::string msg =
        "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: a@example.org\r\nSubject: Rapat\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nRapat besok \xC3\xA9\r\n";
    const auto out = submit(gw, "siti@dinas.example.go.id", "siti@dinas.example.go.id", msg);
    REQUIRE(out.outcome.decision == engine::Decision::Sign);
    CHECK(out.reply.kind == engine::Reply::Kind::Continue);
    REQUIRE(out.outcome.certificate);
    CHECK(out.outcome.certificate->key_store == "file");  // read into memory at load (docs/keys.md)
    const std::string full = out.actions.message();
    CHECK_THAT(full, Catch::StartsWith(
                         "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: a@example.org\r\nSubject: Rapat\r\n"));
    CHECK_THAT(full, Catch::Contains("Content-Type: multipart/signed;"));
    CHECK(full.find("Content-Transfer-Encoding: 8bit") == std::string::npos);
    // The record names what signed it and what was signed.
    REQUIRE(out.outcome.certificate);
    CHECK(out.outcome.certificate->serial == gw->certificates()[0].serial);
    CHECK(out.outcome.certificate->fingerprint.size() == 64);
    CHECK(out.outcome.content_sha256.size() == 64);
    CHECK(out.outcome.signer == "siti@dinas.example.go.id");
    CHECK(out.outcome.unit == "dinas.example.go.id");
    CHECK(out.outcome.reencoded > 0);

    // Signing the signed result again leaves it alone.
    const auto again = submit(gw, "siti@dinas.example.go.id", "siti@dinas.example.go.id", full);
    CHECK(again.outcome.decision == engine::Decision::Pass);
    CHECK_THAT(again.outcome.summary, Catch::StartsWith("pass: already signed by the sender siti@dinas.example.go.id"));
    CHECK(again.actions.recorded().empty());

    const auto refused = submit(gw, "budi", "siti@dinas.example.go.id", msg);
    CHECK(refused.outcome.decision == engine::Decision::Refuse);
    CHECK(refused.reply.kind == engine::Reply::Kind::Reject);
    CHECK(refused.reply.text == "login budi may not send as siti@dinas.example.go.id");
    CHECK(refused.outcome.reason_code == "login-not-owner");  // the word the audit event and the reports carry
}

TEST_CASE("engine: credential problems are config errors at the credential's line", "[engine]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    ::chmod(p12.c_str(), 0640);
    const std::string path = test::write_file(
        pki.dir() + "/segel.yaml", config_for(pki, "  - pkcs12: " + p12 + "\n    passphrase_file: " + pass + "\n"));
    try {
        (void)engine::Gateway::load(path);
        FAIL("a group-readable key was accepted");
    } catch (const config::ConfigError& e) {
        CHECK(e.origin.line == 12);
        CHECK(e.key_path == "credentials[0].pkcs12");
        CHECK_THAT(e.what(), Catch::Contains("chmod 600 " + p12));
    }
}

TEST_CASE("engine: split_head keeps folded values", "[engine]") {
    std::size_t body = 0;
    const auto h = engine::split_head("A: 1\r\nB: x\r\n\ty\r\n\r\nbody", &body);
    REQUIRE(h.size() == 2);
    CHECK(h[1].value == " x\n\ty");
    CHECK(body == 18);
}

TEST_CASE("engine: mail the client already signed is verified, not waved through", "[engine]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    const auto budi = pki.issue({.name = "Budi", .email = "budi@dinas.example.go.id", .ec = true});
    const auto fake = pki.issue({.name = "Siti Palsu", .email = "siti@dinas.example.go.id", .untrusted = true});
    const std::string path = test::write_file(
        pki.dir() + "/segel.yaml", config_for(pki, "  - pkcs12: " + p12 + "\n    passphrase_file: " + pass + "\n"));
    const auto gw = engine::Gateway::load(path);
    const std::string msg =
        "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: a@example.org\r\nSubject: Rapat\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nRapat besok pukul sembilan.\r\n";
    // What a client that signs by itself sends: the whole message, signed with @p who's key.
    const auto client_signed = [&](const test::Issued& who, bool with_intermediate) {
        smime::SignOptions o;
        o.now = test::fixed_now();
        std::vector<smime::ossl::Ptr<X509>> chain;
        if (with_intermediate) {
            chain.push_back(smime::ossl::retain(pki.intermediate()));
        }
        const smime::SignedMessage sm = smime::sign(smime::Blob::from(msg), test::credential(who), chain, o);
        return engine::replace_entity(msg, sm.headers, sm.body.view());
    };
    const auto run = [&](const std::string& m) {
        const auto p = submit(gw, "siti@dinas.example.go.id", "siti@dinas.example.go.id", m);
        // The record says what the Session did with it; a refusal is the reply.
        return std::pair{p.outcome, p.reply};
    };

    const auto [own, own_reply] = run(client_signed(siti, true));
    CHECK(own.decision == engine::Decision::Pass);
    CHECK(own_reply.kind == engine::Reply::Kind::Continue);
    CHECK_THAT(own.summary, Catch::Contains("already signed by the sender siti@dinas.example.go.id"));

    // The media type in capitals is the same type (RFC 2045 §5.1): the session's head check, which
    // spares plain mail a second reading of the head, must not wave it through.
    std::string shouting = client_signed(siti, true);
    const auto shout = [](std::string& m, const char* type) {
        const auto at = m.find("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"");
        REQUIRE(at != std::string::npos);
        m.replace(at, 70, std::string("Content-Type: ") + type + "; protocol=\"application/PKCS7-signature\"");
    };
    shout(shouting, "MULTIPART/Signed");
    const auto [loud, loud_reply] = run(shouting);
    CHECK(loud.decision == engine::Decision::Pass);
    CHECK_THAT(loud.summary, Catch::Contains("already signed by the sender siti@dinas.example.go.id"));
    const auto [loud_other, loud_other_reply] = run([&] {
        std::string m = client_signed(budi, true);
        shout(m, "Multipart/SIGNED");
        return m;
    }());
    CHECK(loud_other.decision == engine::Decision::Refuse);
    CHECK(loud_other.reason_code == "client-signed");

    const auto [other, other_reply] = run(client_signed(budi, true));
    CHECK(other.decision == engine::Decision::Refuse);
    CHECK(other.reason_code == "client-signed");  // decided at the end of the message, carried all the same
    CHECK(other_reply.code == "550");
    CHECK_THAT(other_reply.text, Catch::StartsWith("the message is already signed by budi@dinas.example.go.id, "
                                                   "not by the sender siti@dinas.example.go.id"));

    const auto [untrusted, untrusted_reply] = run(client_signed(fake, false));
    CHECK(untrusted.decision == engine::Decision::Refuse);
    CHECK_THAT(untrusted_reply.text,
               Catch::StartsWith("the message is already signed, but the signature cannot be trusted"));

    std::string tampered = client_signed(siti, true);
    const auto at = tampered.find("pukul sembilan");
    REQUIRE(at != std::string::npos);
    tampered.replace(at, 14, "pukul sepuluh!");
    const auto [changed, changed_reply] = run(tampered);
    CHECK(changed.decision == engine::Decision::Refuse);
    CHECK_THAT(changed_reply.text,
               Catch::StartsWith("the message is already signed, but the signature does not match the content"));
}

TEST_CASE("engine: a From that readers parse differently is not signed", "[engine]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    const std::string path = test::write_file(
        pki.dir() + "/segel.yaml", config_for(pki, "  - pkcs12: " + p12 + "\n    passphrase_file: " + pass + "\n"));
    const auto gw = engine::Gateway::load(path);
    for (const std::string from :
         {"budi@dinas.example.go.id <siti@dinas.example.go.id>", "siti@dinas.example.go.id; budi@dinas.example.go.id",
          "\"budi@dinas.example.go.id\" <siti@dinas.example.go.id>",
          "Siti\r\n (budi@dinas.example.go.id) <siti@dinas.example.go.id>"}) {
        INFO(from);
        const std::string msg = "From: " + from + "\r\nTo: a@example.org\r\nSubject: x\r\n\r\nisi\r\n";
        const auto out = submit(gw, "siti@dinas.example.go.id", "siti@dinas.example.go.id", msg);
        CHECK(out.outcome.decision == engine::Decision::Refuse);
        CHECK_THAT(out.reply.text, Catch::StartsWith("header From cannot be signed: "));
    }
}

TEST_CASE("engine: the organisation seal signs for a sender without a certificate, and reads back as sealed",
          "[engine][seal]") {
    test::TestPki pki;
    const auto seal = pki.issue({"Sekretariat Dinas Contoh", "sekretariat@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(seal, "rahasia");
    std::string cfg = config_for(pki, "  - pkcs12: " + p12 + "\n    passphrase_file: " + pass + "\n");
    cfg.replace(cfg.find("    - domain: dinas.example.go.id\n"), 34,
                "    - domain: dinas.example.go.id\n      seal: sekretariat@dinas.example.go.id\n");
    cfg += "inbound:\n  authserv_id: mx.dinas.example.go.id\n";
    const auto gw = engine::Gateway::load(test::write_file(pki.dir() + "/segel.yaml", cfg));

    const std::string msg =
        "From: Siti Rahma <siti@dinas.example.go.id>\r\nSender: siti@dinas.example.go.id\r\nTo: a@example.org\r\n"
        "Subject: Surat edaran\r\nContent-Type: text/plain\r\n\r\nIsi surat.\r\n";
    const auto out = submit(gw, "siti@dinas.example.go.id", "siti@dinas.example.go.id", msg);
    REQUIRE(out.outcome.decision == engine::Decision::Sign);
    CHECK(out.outcome.signer == "siti@dinas.example.go.id");
    CHECK(out.outcome.sealed_by == "sekretariat@dinas.example.go.id");
    CHECK(out.outcome.summary ==
          "sealed by sekretariat@dinas.example.go.id for siti@dinas.example.go.id with certificate " +
              seal_serial(seal));
    const std::string sent = out.actions.message();
    CHECK_THAT(sent, Catch::StartsWith("From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: a@example.org\r\n"));
    CHECK_THAT(sent, Catch::Contains("\r\nSender: \"Sekretariat Dinas Contoh\" <sekretariat@dinas.example.go.id>\r\n"));
    CHECK(sent.find("Sender: siti@") == std::string::npos);  // the client's own Sender is replaced

    // The same message arriving at a segel gateway: verified as sealed.
    engine::Transcript in;
    in.connection.client_ip = "198.51.100.7";
    in.mail_from = "siti@dinas.example.go.id";
    in.recipients = {"kepala@dinas.example.go.id"};
    const auto got = engine::process(gw, in, sent, [] { return test::fixed_now(); });
    REQUIRE(got.outcome.verification);
    CHECK(got.outcome.verification->result == smime::AuthResult::Pass);
    CHECK(got.outcome.verification->reason ==
          "good signature; sealed by sekretariat@dinas.example.go.id for siti@dinas.example.go.id");
    CHECK(got.outcome.verification->identifier == "sekretariat@dinas.example.go.id");
    CHECK(got.outcome.verification->sealed_for == "siti@dinas.example.go.id");
    CHECK_FALSE(got.outcome.verification->time_stamp);
    CHECK_THAT(got.actions.message(),
               Catch::Contains("smime=pass (good signature; sealed by sekretariat@dinas.example.go.id for "
                               "siti@dinas.example.go.id)"));
}
