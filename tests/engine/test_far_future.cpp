// Certificates valid past 2262 (std::chrono::system_clock counts nanoseconds in
// 64 bits: its end is 2262-04-11), including RFC 5280 §4.1.2.5's
// 99991231235959Z, "no well-defined expiration date". Such times are held as
// TimePoint::max() and shown as 9999-12-31: never as an expiry in the past.
#include "base/time.h"
#include "config/load.h"
#include "engine/gateway.h"
#include "engine/inbound.h"
#include "engine/outcome_format.h"
#include "engine/recipients.h"
#include "smime/base64.h"
#include "smime/certificate.h"
#include "smime/verify.h"
#include "tests/support/pki.h"

#include <openssl/cms.h>
#include <openssl/pem.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace segel;
using smime::AuthResult;

namespace {

/** A detached signature by @p who over @p entity, with a signingTime of @p signing_time (an ASN.1 time). */
std::string signed_message(const test::Issued& who, X509* intermediate, const std::string& entity,
                           const char* signing_time = nullptr) {
    const unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_DETACHED;
    auto cms = smime::ossl::adopt(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), who.cert.get(), who.key.get(), EVP_sha256(), flags);
    REQUIRE(si != nullptr);
    REQUIRE(CMS_add1_cert(cms.get(), intermediate) == 1);
    if (signing_time != nullptr) {
        auto t = smime::ossl::adopt(ASN1_TIME_new());
        REQUIRE(ASN1_TIME_set_string(t.get(), signing_time) == 1);
        REQUIRE(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1) == 1);
    }
    auto in = smime::ossl::mem_bio(entity.data(), entity.size());
    REQUIRE(CMS_final(cms.get(), in.get(), nullptr, flags) == 1);
    auto out = smime::ossl::adopt(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
    const std::string der = smime::ossl::bio_to_string(out.get());
    return "From: siti@dinas.example.go.id\r\nTo: kepala@mitra.example\r\nSubject: Uji\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
           "boundary=\"b1\"\r\n\r\n--b1\r\n" +
           entity +
           "\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           smime::base64::encode_lines(der) + "--b1--\r\n";
}

const std::string k_entity = "Content-Type: text/plain\r\n\r\nBerlaku selamanya.\r\n";

}  // namespace

TEST_CASE("time: notAfter 99991231235959Z and 2300 are far future, shown as 9999-12-31", "[smime][time]") {
    test::TestPki pki;
    const auto forever =
        pki.issue({.name = "Siti Rahma", .email = "siti@dinas.example.go.id", .not_after = "99991231235959Z"});
    const auto y2300 = pki.issue({.name = "Budi", .email = "budi@dinas.example.go.id", .not_after = "23000101000000Z"});
    for (const auto* leaf : {&forever, &y2300}) {
        const smime::CertInfo info = smime::inspect(leaf->cert.get());
        CHECK(info.not_after == smime::TimePoint::max());
        CHECK(info.not_after > test::fixed_now());
        CHECK(base::format_date(info.not_after) == "9999-12-31");
        CHECK(base::format_time(info.not_after) == "9999-12-31T23:59:59Z");
    }
    // Ordinary dates are unchanged, and so is the last one a TimePoint holds.
    CHECK(base::format_date(test::fixed_now()) == "2026-06-01");
    CHECK(smime::inspect(pki.issue({"Ani", "ani@dinas.example.go.id"}).cert.get()).not_after < smime::TimePoint::max());
}

TEST_CASE("time: a far-future staff certificate signs, verifies, is harvested and encrypted to", "[engine][time]") {
    test::TestPki pki;
    const auto siti =
        pki.issue({.name = "Siti Rahma", .email = "siti@dinas.example.go.id", .not_after = "99991231235959Z"});
    const std::string yaml = "trust:\n  anchors: [" + pki.root_file() + "]\n  intermediates: [" +
                             pki.intermediate_file() +
                             "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\ncredentials:\n"
                             "  - certificate: " +
                             siti.cert_file + "\n    key: " + siti.key_file + "\n";
    const auto gw = engine::Gateway::from_settings(config::parse(yaml, "segel.yaml"));
    REQUIRE(gw->certificates().size() == 1);
    CHECK(policy::certificate_state(gw->certificates()[0], test::fixed_now()) == "usable");

    // Signing (R5): never "expired 1816-03-30".
    policy::Envelope env;
    env.auth_login = "siti@dinas.example.go.id";
    env.client_ip = "192.0.2.10";
    env.mail_from = "siti@dinas.example.go.id";
    const std::string msg = "From: siti@dinas.example.go.id\r\nTo: a@example.org\r\nSubject: x\r\n\r\nHalo\r\n";
    engine::read_from_headers(env, msg);
    const policy::Decision d = gw->decide(env, test::fixed_now());
    INFO(d.summary);
    CHECK(d.action == policy::Action::Sign);

    // Verification and harvesting.
    const std::string signed_msg = signed_message(siti, pki.intermediate(), k_entity);
    smime::VerifyOptions o;
    o.now = test::fixed_now();
    const auto r = smime::verify(smime::Blob::from(signed_msg), gw->trust(), o);
    INFO(r.reason);
    CHECK(r.result == AuthResult::Pass);
    const std::string dir = pki.dir() + "/harvest";
    const auto files = engine::harvest(dir, siti.cert.get(), test::fixed_now());
    REQUIRE(files.size() == 1);
    CHECK(files[0] == dir + "/siti@dinas.example.go.id.pem");

    // Encryption: the harvested certificate is usable for the recipient.
    config::Settings s;
    s.trust.anchors = {pki.root_file()};
    s.trust.intermediates = {pki.intermediate_file()};
    engine::RecipientStore store(s.encryption, dir, engine::RecipientStore::load_trust(s), nullptr);
    const auto found = store.lookup("siti@dinas.example.go.id", test::fixed_now());
    INFO(found.why);
    REQUIRE(found.found != nullptr);
    CHECK_THAT(found.why, Catch::Contains("valid to 9999-12-31"));
}

TEST_CASE("time: a signingTime in 2300 is in the future, not in 1816", "[smime][time]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const std::string msg = signed_message(siti, pki.intermediate(), k_entity, "23000101000000Z");
    smime::VerifyOptions o;
    o.now = test::fixed_now();
    const auto arrival = smime::verify(smime::Blob::from(msg), pki.trust(), o);
    CHECK(arrival.result == AuthResult::Pass);
    REQUIRE(arrival.signing_time.has_value());
    CHECK(*arrival.signing_time == smime::TimePoint::max());
    o.certificate_time = smime::CertificateTime::SigningTime;
    const auto claimed = smime::verify(smime::Blob::from(msg), pki.trust(), o);
    CHECK(claimed.result == AuthResult::Fail);
    CHECK(claimed.reason == "signing time 9999-12-31T23:59:59Z lies in the future");
}

TEST_CASE("time: a certificate made by openssl ca -enddate 99991231235959Z", "[smime][time][interop]") {
    char templ[] = "/tmp/segel-unit-forever-XXXXXX";
    const std::string dir = mkdtemp(templ);
    const std::string script =
        "set -e; cd " + dir +
        "; mkdir db; : > db/index.txt; echo 1000 > db/serial\n"
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 "
        "-subj '/CN=Forever Root' -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null\n"
        "cat > ca.cnf <<'EOF'\n[ca]\ndefault_ca=d\n[d]\ndatabase=db/index.txt\nserial=db/serial\n"
        "new_certs_dir=db\ndefault_md=sha256\npolicy=p\nunique_subject=no\n"
        "[p]\ncommonName=supplied\nemailAddress=optional\n"
        "[leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=emailProtection\nsubjectAltName=email:siti@dinas.example.go.id\nEOF\n"
        "openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr "
        "-subj '/CN=Siti Rahma' 2>/dev/null\n"
        "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -extensions leaf "
        "-startdate 20260101000000Z -enddate 99991231235959Z -in leaf.csr -out leaf.pem "
        "2>/dev/null\n"
        "printf 'Content-Type: text/plain\\r\\n\\r\\nBerlaku selamanya.\\r\\n' > entity\n"
        "openssl cms -sign -binary -in entity -signer leaf.pem -inkey leaf.key -md sha256 "
        "-outform DER -out sig.der\n";
    test::write_file(dir + "/make.sh", script, 0700);
    REQUIRE(std::system(("bash " + dir + "/make.sh").c_str()) == 0);
    const auto certs = smime::read_pem_certs(dir + "/leaf.pem");
    const smime::CertInfo info = smime::inspect(certs.front().get());
    CHECK(info.not_after == smime::TimePoint::max());
    CHECK(base::format_date(info.not_after) == "9999-12-31");
    const std::string msg =
        "From: siti@dinas.example.go.id\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
        "boundary=\"b1\"\r\n\r\n--b1\r\n" +
        test::read_file(dir + "/entity") +
        "\r\n--b1\r\nContent-Type: application/pkcs7-signature\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" +
        smime::base64::encode_lines(test::read_file(dir + "/sig.der")) + "--b1--\r\n";
    smime::VerifyOptions o;
    o.now = std::chrono::system_clock::now();  // the root made by openssl req -x509 starts now
    const auto trust = smime::TrustStore::load({dir + "/ca.pem"}, {});
    const auto r = smime::verify(smime::Blob::from(msg), trust, o);
    INFO(r.reason);
    CHECK(r.result == AuthResult::Pass);
    std::filesystem::remove_all(dir);
}

TEST_CASE("time: seconds since 1970 are clamped to what a TimePoint holds, never overflowed", "[smime][time]") {
    CHECK(base::time_from_unix(0) == smime::TimePoint{});
    CHECK(base::time_from_unix(1780272000) == test::fixed_now());
    CHECK(base::time_from_unix(9223372035LL) < smime::TimePoint::max());  // 2262-04-11, still exact
    CHECK(base::format_date(base::time_from_unix(9223372035LL)) == "2262-04-11");
    CHECK(base::time_from_unix(9223372037LL) == smime::TimePoint::max());
    CHECK(base::time_from_unix(253402300799LL) == smime::TimePoint::max());  // 9999-12-31T23:59:59Z
    CHECK(base::time_from_unix(-62135596800LL) == smime::TimePoint::min());  // 0001-01-01
    CHECK(base::format_date(smime::TimePoint::min()) == "0001-01-01");
    CHECK(base::format_time(smime::TimePoint::min()) == "0001-01-01T00:00:00Z");
    // Early GeneralizedTime, e.g. a notBefore of 0001-01-01, is the far past.
    auto t = smime::ossl::adopt(ASN1_TIME_new());
    REQUIRE(ASN1_TIME_set_string(t.get(), "00010101000000Z") == 1);
    CHECK(smime::asn1_time(t.get()) == smime::TimePoint::min());
    REQUIRE(ASN1_TIME_set_string(t.get(), "19700101000010Z") == 1);
    CHECK(smime::asn1_time(t.get()) == base::time_from_unix(10));
    REQUIRE(ASN1_TIME_set_string(t.get(), "491231235959Z") == 1);  // UTCTime: 2049
    CHECK(base::format_time(*smime::asn1_time(t.get())) == "2049-12-31T23:59:59Z");
}

TEST_CASE("time: the record shows a certificate valid past 2262 as 9999-12-31, like the log", "[engine][time]") {
    // One formatter for every date (base::format_date / format_time): the record once said
    // 2262-04-11T23:47:16Z where the log said 9999-12-31.
    engine::Outcome o;
    o.decision = engine::Decision::Sign;
    engine::CertificateUsed cert;
    cert.serial = "1A";
    cert.not_after = smime::TimePoint::max();
    o.certificate = cert;
    CHECK_THAT(engine::to_json(o), Catch::Contains("\"not_after\": \"9999-12-31T23:59:59Z\""));
    CHECK(base::format_date(smime::TimePoint::max()) == "9999-12-31");
}
