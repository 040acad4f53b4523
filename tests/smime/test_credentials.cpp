#include "smime/error.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace segel;

TEST_CASE("credentials: PKCS#12 modern and legacy, PEM, EC", "[smime][credentials]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia-siti");
    const auto c = smime::load_pkcs12(p12, pass);
    CHECK(c.info.addresses == std::vector<std::string>{"siti@dinas.example.go.id"});
    CHECK(c.info.key_type == "RSA");
    CHECK(c.chain.size() == 1);

    const auto [legacy, legacy_pass] = pki.pkcs12(siti, "rahasia-lama", true);
    CHECK(smime::load_pkcs12(legacy, legacy_pass).info.serial == c.info.serial);

    const auto budi = pki.issue({.name = "Budi", .email = "budi@dinas.example.go.id", .ec = true});
    const auto e = test::credential(budi);
    CHECK(e.info.key_type == "EC P-256");
    CHECK(e.info.key_usage_signs);
    CHECK(e.info.eku_email);
}

TEST_CASE("credentials: refusals name the file and the fix, never the passphrase", "[smime][credentials]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia-siti");

    ::chmod(p12.c_str(), 0644);
    try {
        (void)smime::load_pkcs12(p12, pass);
        FAIL("a world-readable key file was accepted");
    } catch (const smime::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains(p12) && Catch::Contains("mode 0644") && Catch::Contains("chmod 600"));
    }
    ::chmod(p12.c_str(), 0600);

    test::write_file(pass, "wrong-passphrase\n");
    try {
        (void)smime::load_pkcs12(p12, pass);
        FAIL("a wrong passphrase was accepted");
    } catch (const smime::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("wrong passphrase") && Catch::Contains(pass));
        CHECK_THAT(e.what(), !Catch::Contains("wrong-passphrase"));
    }

    const auto other = pki.issue({"Other", "other@dinas.example.go.id"});
    try {
        (void)smime::load_pem(siti.cert_file, other.key_file);
        FAIL("a key of another certificate was accepted");
    } catch (const smime::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("does not belong to the certificate"));
    }
}

TEST_CASE("trust store: chains, untrusted issuers, time", "[smime][trust]") {
    test::TestPki pki;
    const auto trust = pki.trust();
    const auto good = pki.issue({"Siti", "siti@dinas.example.go.id"});
    const auto bad = pki.issue({.name = "Eko", .email = "eko@dinas.example.go.id", .untrusted = true});
    const auto expired =
        pki.issue({.name = "Ani", .email = "ani@dinas.example.go.id", .not_before_days = -700, .not_after_days = -10});
    CHECK(trust.check(good.cert.get(), {}).trusted);
    CHECK(trust.check(good.cert.get(), {}).path.size() == 3);
    CHECK_FALSE(trust.check(bad.cert.get(), {}).trusted);
    CHECK(trust.check(expired.cert.get(), {}).trusted);  // no time check without a time
    CHECK_FALSE(trust.check(expired.cert.get(), {}, test::fixed_now()).trusted);
    CHECK(trust.check(expired.cert.get(), {}, test::days(test::fixed_now(), -30)).trusted);
}
