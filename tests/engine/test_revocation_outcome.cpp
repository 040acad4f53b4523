// Revocation decisions reach the Outcome (R6): which certificate, its status and
// reason, and where the evidence came from — for the log line and the audit event.
#include "config/load.h"
#include "engine/gateway.h"
#include "engine/outcome_format.h"
#include "engine/session.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

using namespace segel;

namespace {

const auto k_revoked_at = std::chrono::system_clock::from_time_t(1793577600);  // 2026-11-02T00:00:00Z

engine::Outcome outbound(engine::Decision decision) {
    engine::Outcome o;
    o.direction = engine::Direction::Outbound;
    o.decision = decision;
    o.mail_from = "cabut@dinas.example.go.id";
    o.login = "cabut@dinas.example.go.id";
    o.client_ip = "192.0.2.10";
    return o;
}

}  // namespace

TEST_CASE("outcome: a refusal for a revoked certificate names the certificate and the evidence",
          "[engine][revocation]") {
    engine::Outcome o = outbound(engine::Decision::Refuse);
    o.reply_code = "550";
    o.reply_xcode = "5.7.1";
    o.reply_text = "certificate 1004 of cabut@dinas.example.go.id was revoked on 2026-11-02 (keyCompromise)";
    o.revocation = engine::RevocationEvidence{"1004",
                                              "revoked",
                                              "keyCompromise",
                                              k_revoked_at,
                                              "ocsp",
                                              "http://ocsp.example.go.id/",
                                              "ocsp revoked on 2026-11-02 (keyCompromise), 5 min old"};
    const auto lines = engine::log_lines(o);
    REQUIRE_FALSE(lines.empty());
    CHECK_THAT(lines.front().text,
               Catch::EndsWith(" cert=1004 revocation=\"ocsp revoked on 2026-11-02 (keyCompromise), 5 min old\""));
    const std::string json = engine::to_json(o, false);
    CHECK_THAT(json, Catch::Contains("\"revocation\": {"));
    CHECK_THAT(json, Catch::Contains("\"status\": \"revoked\""));
    CHECK_THAT(json, Catch::Contains("\"reason\": \"keyCompromise\""));
    CHECK_THAT(json, Catch::Contains("\"revoked_at\": \"2026-11-02T00:00:00Z\""));
    CHECK_THAT(json, Catch::Contains("\"source\": \"ocsp\""));
    CHECK_THAT(json, Catch::Contains("\"url\": \"http://ocsp.example.go.id/\""));
}

TEST_CASE("outcome: an inbound signer's revocation state is in the verify line and the JSON", "[engine][revocation]") {
    engine::Outcome o;
    o.direction = engine::Direction::Inbound;
    o.decision = engine::Decision::Deliver;
    o.mail_from = "mitra@mitra.example.go.id";
    engine::VerificationFacts v;
    v.result = smime::AuthResult::Fail;
    v.reason = "certificate revoked on 2026-11-02: keyCompromise; revocation: crl, just now";
    v.serial = "2A";
    v.action = "deliver";
    v.revocation = engine::RevocationEvidence{"2A",
                                              "revoked",
                                              "keyCompromise",
                                              k_revoked_at,
                                              "crl",
                                              "http://crl.example.go.id/int.crl",
                                              "crl revoked on 2026-11-02 (keyCompromise), just now"};
    o.verification = v;
    const auto lines = engine::log_lines(o);
    REQUIRE_FALSE(lines.empty());
    CHECK_THAT(lines.front().text, Catch::Contains(" revocation=revoked revocation_source=crl "));
    const std::string json = engine::to_json(o, false);
    CHECK_THAT(json, Catch::Contains("\"url\": \"http://crl.example.go.id/int.crl\""));
    CHECK_THAT(json, Catch::Contains("\"evidence\": \"crl revoked on 2026-11-02 (keyCompromise), just now\""));
}

TEST_CASE("session: the signing decision's revocation state lands in the Outcome", "[engine][revocation]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    const auto gw = engine::Gateway::load(test::write_signing_config(pki, p12, pass));
    engine::Transcript t;
    t.connection.client_ip = "192.0.2.10";
    t.login = "siti@dinas.example.go.id";
    t.mail_from = "siti@dinas.example.go.id";
    t.recipients = {"kepala@mitra.example"};
    const auto out = engine::process(gw, t, "From: siti@dinas.example.go.id\r\nSubject: s\r\n\r\nisi\r\n",
                                     [] { return test::fixed_now(); });
    REQUIRE(out.outcome.decision == engine::Decision::Sign);
    REQUIRE(out.outcome.certificate);
    // The test PKI's certificates name no OCSP responder or CRL: signed, and recorded as not checked.
    REQUIRE(out.outcome.revocation);
    CHECK(out.outcome.revocation->serial == out.outcome.certificate->serial);
    CHECK(out.outcome.revocation->status == "not-checked");
    CHECK_THAT(out.outcome.revocation->evidence, Catch::StartsWith("not checked: "));
    CHECK_FALSE(out.outcome.revocation->revoked_at);
    CHECK_THAT(engine::log_lines(out.outcome).front().text, Catch::Contains(" revocation=\"not checked: "));
}
