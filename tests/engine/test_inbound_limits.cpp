// inbound.limits (docs/configuration.md): the bounds on what reading an
// inbound message may cost, configured, validated, and applied by the engine
// to verification and decryption alike. Beyond a limit the message is
// delivered with smime=permerror and the limit's name, tagged like any broken
// signature, and forged Authentication-Results are removed all the same.
#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/inbound.h"
#include "engine/session.h"
#include "smime/base64.h"
#include "smime/encrypt.h"
#include "tests/support/inbound.h"

#include <catch2/catch.hpp>

using namespace segel;
using smime::AuthResult;

namespace {

const std::string& k_base = test::k_inbound_base;
using test::config_error;

/** The fixture with siti's key as a credential: decryption is on. */
struct Fixture : test::InboundFixture {
    [[nodiscard]] std::shared_ptr<const engine::Gateway> gateway(const std::string& inbound_yaml) const {
        return InboundFixture::gateway(inbound_yaml, true);
    }
};

/** Mail from an outside partner to siti, through a Session as the milter runs it. */
engine::Processed receive(const std::shared_ptr<const engine::Gateway>& gw, const std::string& message) {
    return test::from_outside(gw, "kepala@mitra.example", "siti@dinas.example.go.id", message);
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

std::string part_bomb(std::size_t n, const std::string& extra_head = "") {
    std::string m = extra_head +
                    "From: kepala@mitra.example\r\nTo: siti@dinas.example.go.id\r\nSubject: Laporan\r\n"
                    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
    for (std::size_t i = 0; i < n; ++i) {
        m += "--b\r\n\r\n";
    }
    return m + "--b--\r\n";
}

}  // namespace

TEST_CASE("config: inbound.limits are validated, with the line and the fix", "[config][inbound][limits]") {
    CHECK(config_error(k_base + "inbound:\n  limits:\n    max_parts: 200\n    max_depth: 16\n    max_parameters: 50\n"
                                "    max_header_bytes: 64K\n    max_signers: 4\n    max_certificates: 16\n"
                                "    max_recipients: 1000\n")
              .empty());
    CHECK(config_error(k_base + "inbound:\n  limits:\n    max_parts: 0\n") ==
          "segel.yaml:8:16: inbound.limits.max_parts: \"0\" is not a whole number from 1 to 100000");
    CHECK(config_error(k_base + "inbound:\n  limits:\n    max_depth: 5000\n") ==
          "segel.yaml:8:16: inbound.limits.max_depth: \"5000\" is not a whole number from 1 to 1000");
    CHECK(config_error(k_base + "inbound:\n  limits:\n    max_signers: many\n") ==
          "segel.yaml:8:18: inbound.limits.max_signers: \"many\" is not a whole number from 1 to 64");
    CHECK(config_error(k_base + "inbound:\n  limits:\n    max_header_bytes: huge\n") ==
          "segel.yaml:8:23: inbound.limits.max_header_bytes: \"huge\" is not a size from 4K to 64M (e.g. 256K)");
    CHECK(
        config_error(k_base + "inbound:\n  limits:\n    max_header_bytes: 1K\n").find("is not a size from 4K to 64M") !=
        std::string::npos);
    CHECK(
        config_error(k_base + "inbound:\n  limits:\n    max_cats: 3\n").find("inbound.limits.max_cats: unknown key") !=
        std::string::npos);
    CHECK(config_error(k_base + "inbound:\n  limits: 5\n").find("inbound.limits: must be a mapping") !=
          std::string::npos);
}

TEST_CASE("inbound: beyond a limit the message is delivered with permerror and the limit named",
          "[engine][inbound][limits]") {
    Fixture f;
    const auto gw = f.gateway(
        "inbound:\n  authserv_id: mx.dinas.example.go.id\n  subject_tag:\n    enabled: true\n    language: en\n");
    const auto out = receive(gw, part_bomb(5000));
    REQUIRE(out.outcome.verification);
    CHECK(out.outcome.verification->result == AuthResult::PermError);
    CHECK(out.outcome.verification->reason == "more than 1000 MIME parts (limit max_parts)");
    CHECK(out.outcome.decision == engine::Decision::Deliver);
    CHECK(out.reply.kind == engine::Reply::Kind::Continue);
    const std::string delivered = out.actions.message();
    CHECK_THAT(delivered, Catch::StartsWith("Authentication-Results: mx.dinas.example.go.id;"));
    CHECK_THAT(delivered, Catch::Contains("smime=permerror (more than 1000 MIME parts \\(limit max_parts\\))"));
    CHECK_THAT(delivered, Catch::Contains("\r\nSubject: [INVALID SIGNATURE] Laporan\r\n"));

    // The configured limit is the one applied.
    const auto wide = f.gateway("inbound:\n  limits:\n    max_parts: 6000\n");
    REQUIRE(receive(wide, part_bomb(5000)).outcome.verification);
    CHECK(receive(wide, part_bomb(5000)).outcome.verification->result == AuthResult::None);
    const auto narrow = f.gateway("inbound:\n  limits:\n    max_parts: 10\n");
    const auto n = receive(narrow, part_bomb(11));
    REQUIRE(n.outcome.verification);
    CHECK(n.outcome.verification->reason == "more than 10 MIME parts (limit max_parts)");
}

TEST_CASE("inbound: a header over max_header_bytes is permerror, and forged results in it are still removed",
          "[engine][inbound][limits]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  authserv_id: mx.dinas.example.go.id\n");
    std::string head;
    for (int i = 0; head.size() < 300 * 1024; ++i) {
        head += "Received: from relay" + std::to_string(i) + ".example by mx.example; Mon, 1 Jun 2026\r\n";
    }
    head += "Authentication-Results: mx.dinas.example.go.id; smime=pass (forged)\r\n";
    const auto out = receive(gw, part_bomb(2, head));
    REQUIRE(out.outcome.verification);
    CHECK(out.outcome.verification->result == AuthResult::PermError);
    CHECK(out.outcome.verification->reason == "a header block larger than 256 KB (limit max_header_bytes)");
    CHECK(out.outcome.verification->forged_results_removed == 1);
    const std::string delivered = out.actions.message();
    CHECK(count_of(delivered, "Authentication-Results:") == 1);
    CHECK(delivered.find("(forged)") == std::string::npos);
}

TEST_CASE("decryption: an EnvelopedData over max_recipients is not opened, the message kept as it arrived",
          "[engine][decrypt][limits]") {
    Fixture f;
    const std::string entity = "Content-Type: text/plain\r\n\r\nRahasia.\r\n";
    std::vector<smime::ossl::Ptr<X509>> to;
    to.push_back(smime::ossl::retain(f.siti.cert.get()));
    for (int i = 0; i < 4; ++i) {
        to.push_back(smime::ossl::retain(f.pki.issue({"R" + std::to_string(i), "r@mitra.example"}).cert.get()));
    }
    const auto m = smime::encrypt_entity(entity, to, {});
    const std::string msg = engine::replace_entity(
        "From: kepala@mitra.example\r\nTo: siti@dinas.example.go.id\r\nSubject: x\r\n", m.headers, m.body.view());
    using Outcome = engine::InboundDecryption::Outcome;
    const auto narrow = f.gateway("inbound:\n  limits:\n    max_recipients: 4\n");
    const auto r = engine::decrypt_inbound(*narrow, {"siti@dinas.example.go.id"}, smime::Blob::from(msg));
    CHECK(r.outcome == Outcome::Failed);
    CHECK(r.detail == "over a limit: the message is encrypted to more than 4 recipients (limit max_recipients)");
    CHECK_THAT(r.header, Catch::StartsWith("failed; reason=\"over a limit: "));
    const auto wide = f.gateway("inbound:\n  limits:\n    max_recipients: 5\n");
    CHECK(engine::decrypt_inbound(*wide, {"siti@dinas.example.go.id"}, smime::Blob::from(msg)).outcome ==
          Outcome::Decrypted);
}

TEST_CASE("inbound: a head of many fields costs nothing, and beyond max_header_bytes nothing more is kept",
          "[engine][inbound][limits][head]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  authserv_id: mx.dinas.example.go.id\n");
    engine::ConnectionFacts outside_client{"192.0.2.10", ""};
    engine::Session s(gw, outside_client, [] { return test::fixed_now(); });
    s.mail_from("<kepala@mitra.example>", "");
    s.recipient("<siti@dinas.example.go.id>");
    s.header("From", " kepala@mitra.example");
    // Fields segel neither reads nor changes are never kept, however many there are.
    for (int i = 0; i < 20000; ++i) {
        s.header("X-Filler-" + std::to_string(i % 100), " y");
    }
    CHECK(s.head().fields().empty());
    // Beyond 256 KB (inbound.limits.max_header_bytes) not even the fields it changes are kept,
    // but the first Subject (the one a tag goes on).
    for (int i = 0; i < 30000; ++i) {
        s.header("Content-X" + std::to_string(i), " " + std::string(10, 'c'));
    }
    const std::size_t kept = s.head().fields().size();
    CHECK(kept < 30000);
    s.header("Subject", " Laporan");
    s.header("Content-Late", " z");
    REQUIRE(s.head().fields().size() == kept + 1);
    CHECK(s.head().fields().back().name == "Subject");
    CHECK(s.head().count("Subject") == 1);

    // Outbound mail (SMTP AUTH: the sender is staff) is not bounded this way.
    engine::Session out(gw, outside_client, [] { return test::fixed_now(); });
    out.mail_from("<siti@dinas.example.go.id>", "siti@dinas.example.go.id");
    for (int i = 0; i < 30000; ++i) {
        out.header("Content-X" + std::to_string(i), " " + std::string(10, 'c'));
    }
    CHECK(out.head().fields().size() == 30000);
}

TEST_CASE("inbound: beyond max_header_bytes a late Subject is tagged and late forged fields removed, or refused",
          "[engine][inbound][limits][head]") {
    Fixture f;
    const auto gw = f.gateway(
        "inbound:\n  authserv_id: mx.dinas.example.go.id\n  subject_tag:\n    enabled: true\n    language: en\n");
    std::string head;
    for (int i = 0; head.size() < 300 * 1024; ++i) {
        head += "Content-X" + std::to_string(i) + ": filler\r\n";
    }
    const std::string forged = "Authentication-Results: mx.dinas.example.go.id; smime=pass (forged)\r\n";
    const std::string decryption = "X-Segel-Decryption: decrypted; recipient=siti@dinas.example.go.id\r\n";
    const auto late = receive(gw, part_bomb(2, head + forged + decryption + forged));
    REQUIRE(late.outcome.verification);
    CHECK(late.outcome.verification->reason == "a header block larger than 256 KB (limit max_header_bytes)");
    CHECK(late.outcome.verification->forged_results_removed == 2);
    const std::string delivered = late.actions.message();
    CHECK(count_of(delivered, "Authentication-Results:") == 1);
    CHECK(delivered.find("(forged)") == std::string::npos);
    CHECK(delivered.find("X-Segel-Decryption") == std::string::npos);
    CHECK(count_of(delivered, "\r\nSubject: ") == 1);
    CHECK_THAT(delivered, Catch::Contains("\r\nSubject: [INVALID SIGNATURE] Laporan\r\n"));

    // More than 100 of them beyond the limit: one header change each is more than a message
    // may ask for; it is refused, never delivered with forged results left in.
    std::string flood = head;
    for (int i = 0; i < 101; ++i) {
        flood += forged;
    }
    const auto refused = receive(gw, part_bomb(2, flood));
    CHECK(refused.outcome.decision == engine::Decision::Refuse);
    CHECK(refused.reply.code == "552");
    CHECK(refused.reply.xcode == "5.3.4");
    CHECK(refused.outcome.reason_code == "header-too-large");
    CHECK_THAT(refused.reply.text, Catch::StartsWith("message header too large: more than 256 KB, followed by more "
                                                     "than 100 Authentication-Results or X-Segel-Decryption fields"));
    // Forged fields of someone else's authserv-id are not ours to remove, nor counted.
    std::string foreign = head;
    for (int i = 0; i < 101; ++i) {
        foreign += "Authentication-Results: mx.mitra.example; dkim=pass\r\n";
    }
    CHECK(receive(gw, part_bomb(2, foreign)).outcome.decision == engine::Decision::Deliver);
}
