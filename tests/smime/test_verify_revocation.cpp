// Inbound verification with the revocation callback (VerifyOptions::revocation):
// smime does no network I/O; it asks, and the verdict carries the evidence.
#include "smime/authres.h"
#include "smime/sign.h"
#include "smime/verify.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

using namespace segel;
using smime::AuthResult;
using smime::RevocationState;
using Problem = smime::VerifyResult::Problem;

namespace {

struct Signed {
    test::TestPki pki;
    smime::TrustStore trust = pki.trust();
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    std::string message;

    Signed() {
        const std::string head = "From: siti@dinas.example.go.id\r\nTo: kepala@mitra.example\r\nSubject: Uji\r\n";
        const std::string msg = head + "Content-Type: text/plain; charset=us-ascii\r\n\r\nPesan uji.\r\n";
        smime::SignOptions o;
        o.now = test::fixed_now();
        std::vector<smime::ossl::Ptr<X509>> chain;
        chain.push_back(smime::ossl::retain(pki.intermediate()));
        const smime::SignedMessage sm = smime::sign(smime::Blob::from(msg), test::credential(siti), chain, o);
        message = head + "MIME-Version: 1.0\r\n";
        for (const auto& h : sm.headers) {
            if (h.name != "MIME-Version") {
                message += h.name + ": " + h.value + "\r\n";
            }
        }
        message += "\r\n" + std::string(sm.body.view());
    }

    /** Verifies with a callback answering @p answer; @p asked receives what it was asked about. */
    smime::VerifyResult verify(const smime::RevocationStatus& answer, bool temperror = false,
                               std::vector<std::string>* asked = nullptr) const {
        smime::VerifyOptions o;
        o.now = test::fixed_now();
        o.revocation_unknown_temperror = temperror;
        o.revocation = [answer, asked](X509* cert, const std::string& fingerprint, X509* issuer, smime::TimePoint) {
            CHECK(fingerprint == smime::ossl::fingerprint_sha256(cert));
            if (asked != nullptr) {
                asked->push_back(smime::inspect(cert).common_name + " by " + smime::inspect(issuer).common_name);
            }
            return answer;
        };
        return smime::verify(smime::Blob::from(message), trust, o);
    }
};

smime::RevocationStatus status(RevocationState state, smime::RevocationStatus::Source source) {
    smime::RevocationStatus s;
    s.state = state;
    s.source = source;
    s.obtained = test::fixed_now() - std::chrono::hours(2);
    return s;
}

}  // namespace

TEST_CASE("verify revocation: good evidence goes into the reason and the header", "[smime][verify][revocation]") {
    Signed s;
    std::vector<std::string> asked;
    const auto r = s.verify(status(RevocationState::Good, smime::RevocationStatus::Source::Ocsp), false, &asked);
    REQUIRE(r.result == AuthResult::Pass);
    CHECK(r.reason == "good signature; revocation: ocsp good, 2 h old");
    CHECK(r.revocation.state == RevocationState::Good);
    CHECK(asked == std::vector<std::string>{"Siti Rahma by BSrE Unit Intermediate CA"});
    CHECK_THAT(smime::authres::format("mx.dinas.example.go.id", r),
               Catch::Contains("smime=pass (good signature; revocation: ocsp good, 2 h old)"));
}

TEST_CASE("verify revocation: a revoked signer fails, with the date, reason and source",
          "[smime][verify][revocation]") {
    Signed s;
    auto rev = status(RevocationState::Revoked, smime::RevocationStatus::Source::Crl);
    rev.revoked_at = test::fixed_now() - std::chrono::hours(24 * 3);
    rev.reason = "keyCompromise";
    const auto r = s.verify(rev);
    CHECK(r.result == AuthResult::Fail);
    CHECK(r.problem == Problem::Revoked);
    CHECK(r.reason == "certificate revoked on 2026-05-29: keyCompromise; revocation: crl, 2 h old");
    CHECK_FALSE(r.chain_trusted);  // never harvested for encryption
}

TEST_CASE("verify revocation: unknown is a note, or temperror when configured", "[smime][verify][revocation]") {
    Signed s;
    smime::RevocationStatus unknown;
    unknown.state = RevocationState::Unknown;
    unknown.detail = "POST http://ocsp.example.go.id/: Couldn't connect to server";
    const auto noted = s.verify(unknown);
    CHECK(noted.result == AuthResult::Pass);
    CHECK(noted.reason ==
          "good signature; revocation unknown: POST http://ocsp.example.go.id/: Couldn't connect to server");
    const auto strict = s.verify(unknown, true);
    CHECK(strict.result == AuthResult::TempError);
    CHECK(strict.reason == "revocation unknown: POST http://ocsp.example.go.id/: Couldn't connect to server");
}

TEST_CASE("verify revocation: nothing to ask leaves the reason alone", "[smime][verify][revocation]") {
    Signed s;
    smime::RevocationStatus none;
    none.detail = "the certificate names no OCSP responder or CRL distribution point";
    const auto r = s.verify(none);
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.reason == "good signature");
    CHECK(r.revocation.state == RevocationState::NotChecked);
}

TEST_CASE("verify revocation: judged at the signing time, the issuer asked about is the one on that path",
          "[smime][verify][revocation]") {
    // The chain is built again for the signing time (not the arrival); revocation is asked of its issuer.
    Signed s;
    std::vector<std::string> asked;
    smime::VerifyOptions o;
    o.now = test::fixed_now() + std::chrono::hours(5);  // arrival five hours after signing
    o.certificate_time = smime::CertificateTime::SigningTime;
    o.revocation = [&asked](X509* cert, const std::string& /*fingerprint*/, X509* issuer, smime::TimePoint) {
        asked.push_back(smime::inspect(cert).common_name + " by " + smime::inspect(issuer).common_name);
        return status(RevocationState::Good, smime::RevocationStatus::Source::Ocsp);
    };
    const auto r = smime::verify(smime::Blob::from(s.message), s.trust, o);
    REQUIRE(r.result == AuthResult::Pass);
    CHECK(asked == std::vector<std::string>{"Siti Rahma by BSrE Unit Intermediate CA"});
    CHECK(r.revocation.state == RevocationState::Good);
}
