// Inbound verification: every RFC 7281 result word and every reason, hostile
// input (broken boundaries, garbage base64, truncated CMS, no signer, 10 000
// nested parts), and the Authentication-Results format.
#include "smime/authres.h"
#include "smime/base64.h"
#include "smime/error.h"
#include "smime/sign.h"
#include "smime/verify.h"
#include "tests/support/pki.h"

#include <openssl/cms.h>
#include <catch2/catch.hpp>

#include <thread>

using namespace segel;
using smime::AuthResult;
using Problem = smime::VerifyResult::Problem;

namespace {

const std::string k_entity = "Content-Type: text/plain; charset=us-ascii\r\n\r\nPesan uji dari segel.\r\nSalam\r\n";

struct Fixture {
    test::TestPki pki;
    smime::TrustStore trust = pki.trust();
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});

    smime::VerifyOptions options() const {
        smime::VerifyOptions o;
        o.now = test::fixed_now();
        return o;
    }
    smime::VerifyResult verify(const std::string& msg) const {
        return smime::verify(smime::Blob::from(msg), trust, options());
    }
    smime::VerifyResult verify(const std::string& msg, const smime::VerifyOptions& o) const {
        return smime::verify(smime::Blob::from(msg), trust, o);
    }
};

/** Raw CMS signing, independent of smime::sign (which refuses untrusted signers by design). */
std::string cms_sign(std::string_view content, X509* cert, EVP_PKEY* key, X509* extra, const EVP_MD* md, bool detached,
                     std::optional<test::TimePoint> signing_time = test::fixed_now()) {
    const unsigned flags = CMS_BINARY | CMS_PARTIAL | (detached ? CMS_DETACHED : 0U);
    auto cms = smime::ossl::adopt(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    REQUIRE(cms);
    if (cert != nullptr && key != nullptr) {
        CMS_SignerInfo* si = CMS_add1_signer(cms.get(), cert, key, md, flags);
        REQUIRE(si != nullptr);
        if (signing_time) {
            auto t =
                smime::ossl::adopt(ASN1_TIME_adj(nullptr, std::chrono::system_clock::to_time_t(*signing_time), 0, 0));
            REQUIRE(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1) == 1);
        }
    } else if (cert != nullptr) {
        REQUIRE(CMS_add1_cert(cms.get(), cert) == 1);
    }
    if (extra != nullptr) {
        REQUIRE(CMS_add1_cert(cms.get(), extra) == 1);
    }
    if (key != nullptr) {
        auto in = smime::ossl::mem_bio(content.data(), content.size());
        REQUIRE(CMS_final(cms.get(), in.get(), nullptr, flags) == 1);
    }  // else: a certificates-only SignedData with no SignerInfo (RFC 5652 §5.1 allows it)
    auto out = smime::ossl::adopt(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
    return smime::ossl::bio_to_string(out.get());
}

std::string head(const std::string& from) {
    return "From: " + from + "\r\nTo: kepala@mitra.example\r\nSubject: Uji\r\nMIME-Version: 1.0\r\n";
}

std::string detached_message(const std::string& from, const std::string& entity, const std::string& der,
                             const std::string& protocol = "application/pkcs7-signature") {
    return head(from) + "Content-Type: multipart/signed; protocol=\"" + protocol +
           "\"; micalg=sha-256;\r\n\tboundary=\"b1\"\r\n\r\n--b1\r\n" + entity +
           "\r\n--b1\r\nContent-Type: " + protocol + "; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           smime::base64::encode_lines(der) + "--b1--\r\n";
}

std::string opaque_message(
    const std::string& from, const std::string& der,
    const std::string& content_type = "application/pkcs7-mime; smime-type=signed-data; name=smime.p7m") {
    return head(from) + "Content-Type: " + content_type + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           smime::base64::encode_lines(der);
}

/** A detached message signed by @p who with the usual intermediate. */
std::string signed_by(const Fixture& f, const test::Issued& who, const std::string& from = "siti@dinas.example.go.id",
                      const EVP_MD* md = EVP_sha256()) {
    return detached_message(from, k_entity,
                            cms_sign(k_entity, who.cert.get(), who.key.get(), f.pki.intermediate(), md, true));
}

std::string to_lf(std::string s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

TEST_CASE("verify: every problem has its own stable name", "[smime][verify]") {
    const std::vector<std::pair<Problem, std::string>> rows = {
        {Problem::None, "none"},
        {Problem::NotSigned, "not-signed"},
        {Problem::ContentChanged, "content-changed"},
        {Problem::Untrusted, "untrusted"},
        {Problem::Expired, "expired"},
        {Problem::NotYetValid, "not-yet-valid"},
        {Problem::Revoked, "revoked"},
        {Problem::Usage, "usage"},
        {Problem::SignerNotSender, "signer-not-sender"},
        {Problem::NoAddress, "no-address"},
        {Problem::WeakAlgorithm, "weak-algorithm"},
        {Problem::PartiallySigned, "partially-signed"},
        {Problem::Malformed, "malformed"},
        {Problem::Unsupported, "unsupported"},
        {Problem::Internal, "internal"},
    };
    for (const auto& [p, name] : rows) {
        CHECK(smime::to_string(p) == name);
    }
}

TEST_CASE("verify: pass for a good detached signature of the From address", "[smime][verify]") {
    Fixture f;
    const auto r = f.verify(signed_by(f, f.siti, "Siti Rahma <Siti@Dinas.Example.Go.Id>"));
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.reason == "good signature");
    CHECK(r.identifier == "siti@dinas.example.go.id");
    CHECK(r.serial == smime::inspect(f.siti.cert.get()).serial);
    CHECK(r.issuer.find("BSrE") != std::string::npos);
    CHECK(r.digest == "sha-256");
    CHECK(r.signature_valid);
    CHECK(r.chain_trusted);
    CHECK_FALSE(r.opaque);
    CHECK(r.signer_cert);
}

TEST_CASE("verify: messages made by smime::sign (detached and opaque) pass", "[smime][verify]") {
    Fixture f;
    const auto cred = test::credential(f.siti);
    std::vector<smime::ossl::Ptr<X509>> chain;
    chain.push_back(smime::ossl::retain(f.pki.intermediate()));
    for (const auto format : {smime::SignFormat::Detached, smime::SignFormat::Opaque}) {
        const std::string original =
            "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: a@b.example\r\nSubject: x\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nTrailing space \r\nFrom here \xe2\x9c\x93\r\n";
        smime::SignOptions so;
        so.format = format;
        so.now = test::fixed_now();
        const auto sm = smime::sign(smime::Blob::from(original), cred, chain, so);
        std::string msg = "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: a@b.example\r\nSubject: x\r\n";
        for (const auto& h : sm.headers) {
            std::string v = h.value;
            for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
                v.replace(p, 1, "\r\n");
            }
            msg += h.name + ": " + v + "\r\n";
        }
        msg += "\r\n" + sm.body.str();
        const auto r = f.verify(msg);
        INFO(r.reason);
        CHECK(r.result == AuthResult::Pass);
        CHECK(r.opaque == (format == smime::SignFormat::Opaque));
    }
}

TEST_CASE("verify: opaque, legacy x-pkcs7 and octet-stream .p7m forms pass; the CMS type decides", "[smime][verify]") {
    Fixture f;
    const std::string der =
        cms_sign(k_entity, f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), EVP_sha256(), false);
    const std::string from = "siti@dinas.example.go.id";
    for (const std::string ct : {"application/pkcs7-mime; smime-type=signed-data; name=smime.p7m",
                                 "application/x-pkcs7-mime; smime-type=signed-data; name=smime.p7m",
                                 "application/octet-stream; name=\"smime.p7m\"",
                                 // the MIME parameter lies: the CMS says signed-data, so it is verified
                                 "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"}) {
        const auto r = f.verify(opaque_message(from, der, ct));
        INFO(ct << ": " << r.reason);
        CHECK(r.result == AuthResult::Pass);
        CHECK(r.opaque);
    }
    const std::string detached_der =
        cms_sign(k_entity, f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), EVP_sha256(), true);
    const auto legacy = f.verify(detached_message(from, k_entity, detached_der, "application/x-pkcs7-signature"));
    CHECK(legacy.result == AuthResult::Pass);
}

TEST_CASE("verify: none for unsigned, OpenPGP and encrypted-only messages", "[smime][verify]") {
    Fixture f;
    const auto plain = f.verify(head("a@b.example") + "Content-Type: text/plain\r\n\r\nhalo\r\n");
    CHECK(plain.result == AuthResult::None);
    CHECK(plain.problem == Problem::NotSigned);
    CHECK(plain.reason == "not signed");

    const auto pgp =
        f.verify(head("a@b.example") +
                 "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; "
                 "boundary=p\r\n\r\n--p\r\nContent-Type: text/plain\r\n\r\nx\r\n--p\r\n"
                 "Content-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n--p--\r\n");
    CHECK(pgp.result == AuthResult::None);
    CHECK(pgp.reason.find("not S/MIME") != std::string::npos);
}

TEST_CASE("verify: fail when one byte of the signed content changed", "[smime][verify]") {
    Fixture f;
    std::string msg = signed_by(f, f.siti);
    msg[msg.find("Pesan uji")] = 'p';
    const auto r = f.verify(msg);
    CHECK(r.result == AuthResult::Fail);
    CHECK(r.problem == Problem::ContentChanged);
    CHECK(r.reason == "content changed after signing");
    CHECK_FALSE(r.signature_valid);
}

TEST_CASE("verify: fail reasons for the certificate", "[smime][verify]") {
    Fixture f;
    struct Row {
        test::LeafSpec spec;
        Problem problem;
        std::string reason_start;
    };
    const std::vector<Row> rows = {
        {{.name = "Eko", .email = "siti@dinas.example.go.id", .untrusted = true},
         Problem::Untrusted,
         "untrusted issuer: "},
        {{.name = "Ani", .email = "siti@dinas.example.go.id", .not_before_days = -800, .not_after_days = -1},
         Problem::Expired,
         "certificate expired on "},
        {{.name = "Baru", .email = "siti@dinas.example.go.id", .not_before_days = 10, .not_after_days = 700},
         Problem::NotYetValid,
         "certificate not valid before "},
        {{.name = "Fajar", .email = "siti@dinas.example.go.id", .sign_usage = false},
         Problem::Usage,
         "certificate not for signing (key usage)"},
        {{.name = "Dedi", .email = "siti@dinas.example.go.id", .email_eku = false},
         Problem::Usage,
         "certificate not for e-mail (extended key usage)"},
    };
    for (const auto& row : rows) {
        const auto leaf = f.pki.issue(row.spec);
        const auto r = f.verify(signed_by(f, leaf));
        INFO(row.spec.name << ": " << r.reason);
        CHECK(r.result == AuthResult::Fail);
        CHECK(r.problem == row.problem);
        CHECK(r.reason.rfind(row.reason_start, 0) == 0);
        CHECK(r.signature_valid);
        CHECK(r.chain_trusted == (row.problem == Problem::Usage));  // usage is judged after the chain
        CHECK(r.identifier == "siti@dinas.example.go.id");
    }
}

TEST_CASE("verify: certificate validity at arrival by default, at signingTime when configured", "[smime][verify]") {
    Fixture f;
    // Valid until 10 days before "now"; signed 20 days before "now".
    const auto ani = f.pki.issue(
        {.name = "Ani", .email = "ani@dinas.example.go.id", .not_before_days = -700, .not_after_days = -10});
    const std::string der = cms_sign(k_entity, ani.cert.get(), ani.key.get(), f.pki.intermediate(), EVP_sha256(), true,
                                     test::days(test::fixed_now(), -20));
    const std::string msg = detached_message("ani@dinas.example.go.id", k_entity, der);
    CHECK(f.verify(msg).result == AuthResult::Fail);
    auto o = f.options();
    o.certificate_time = smime::CertificateTime::SigningTime;
    CHECK(f.verify(msg, o).result == AuthResult::Pass);
    // A signingTime far in the future is refused, not believed.
    const std::string future =
        detached_message("siti@dinas.example.go.id", k_entity,
                         cms_sign(k_entity, f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), EVP_sha256(),
                                  true, test::days(test::fixed_now(), 30)));
    const auto r = f.verify(future, o);
    CHECK(r.result == AuthResult::Fail);
    CHECK(r.reason.find("in the future") != std::string::npos);
}

TEST_CASE("verify: policy when the signer is not the sender or has no address", "[smime][verify]") {
    Fixture f;
    const auto other = f.verify(signed_by(f, f.siti, "Budi <budi@dinas.example.go.id>"));
    CHECK(other.result == AuthResult::Policy);
    CHECK(other.problem == Problem::SignerNotSender);
    CHECK(other.reason == "signer siti@dinas.example.go.id is not the sender budi@dinas.example.go.id");
    CHECK(other.identifier == "siti@dinas.example.go.id");

    const auto noaddr = f.pki.issue({.name = "Server Only", .email = ""});
    const auto r = f.verify(signed_by(f, noaddr));
    CHECK(r.result == AuthResult::Policy);
    CHECK(r.problem == Problem::NoAddress);
    CHECK(r.reason == "signer certificate has no e-mail address");

    // The caller's From list (the envelope's header From) overrides the message's.
    auto o = f.options();
    o.from = {"budi@dinas.example.go.id"};
    CHECK(f.verify(signed_by(f, f.siti), o).result == AuthResult::Policy);
}

TEST_CASE("verify: SHA-1 is reported as weak; configured to fail, it fails", "[smime][verify]") {
    Fixture f;
    const std::string msg = signed_by(f, f.siti, "siti@dinas.example.go.id", EVP_sha1());
    const auto r = f.verify(msg);
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.digest == "sha-1");
    CHECK(r.reason == "good signature; weak: SHA-1 digest");
    CHECK(r.problem == Problem::WeakAlgorithm);
    auto o = f.options();
    o.weak = smime::WeakAlgorithms::Fail;
    const auto strict = f.verify(msg, o);
    CHECK(strict.result == AuthResult::Fail);
    CHECK(strict.reason == "weak algorithm: SHA-1 digest");
}

TEST_CASE("verify: content_sha256 is the SHA-256 of the bytes that verified, whatever the signer's digest",
          "[smime][verify]") {
    // The record of what was verified (docs/audit.md): the signer's own SHA-256 of the content
    // when it used SHA-256, a hash of its own otherwise; the LF form when that one verified.
    Fixture f;
    const std::string crlf_sha = smime::ossl::sha256_hex(k_entity);
    CHECK(f.verify(signed_by(f, f.siti)).content_sha256 == crlf_sha);
    CHECK(f.verify(to_lf(signed_by(f, f.siti))).content_sha256 == crlf_sha);  // canonicalised first
    CHECK(f.verify(signed_by(f, f.siti, "siti@dinas.example.go.id", EVP_sha1())).content_sha256 == crlf_sha);
    CHECK(f.verify(signed_by(f, f.siti, "siti@dinas.example.go.id", EVP_sha512())).content_sha256 == crlf_sha);
    const std::string lf_der =
        cms_sign(to_lf(k_entity), f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), EVP_sha256(), true);
    const auto lf = f.verify(detached_message("siti@dinas.example.go.id", k_entity, lf_der));
    REQUIRE(lf.lf_normalised);
    CHECK(lf.content_sha256 == smime::ossl::sha256_hex(to_lf(k_entity)));
    for (const EVP_MD* md : {EVP_sha256(), EVP_sha1()}) {
        const std::string opaque =
            cms_sign(k_entity, f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), md, false);
        const auto r = f.verify(opaque_message("siti@dinas.example.go.id", opaque));
        REQUIRE(r.result == AuthResult::Pass);
        CHECK(r.content_sha256 == crlf_sha);
    }
    // Changed content: the hash is still of the bytes received (what the record says arrived).
    std::string changed = signed_by(f, f.siti);
    changed.replace(changed.find("Pesan"), 5, "Pesen");
    const auto bad = f.verify(changed);
    CHECK(bad.result == AuthResult::Fail);
    std::string changed_entity = k_entity;
    changed_entity.replace(changed_entity.find("Pesan"), 5, "Pesen");
    CHECK(bad.content_sha256 == smime::ossl::sha256_hex(changed_entity));
}

TEST_CASE("verify: line ends — LF-stored messages and LF-computed signatures", "[smime][verify]") {
    Fixture f;
    // A message saved with LF line ends is canonicalised before checking.
    const auto stored = f.verify(to_lf(signed_by(f, f.siti)));
    CHECK(stored.result == AuthResult::Pass);
    CHECK_FALSE(stored.lf_normalised);

    // A sender that signed the LF-only bytes (NSS, interop finding 1): accepted and said so.
    const std::string der =
        cms_sign(to_lf(k_entity), f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), EVP_sha256(), true);
    const std::string msg = detached_message("siti@dinas.example.go.id", k_entity, der);
    const auto r = f.verify(msg);
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.lf_normalised);
    CHECK(r.reason.find("LF line ends") != std::string::npos);
    auto o = f.options();
    o.lf_fallback = false;
    CHECK(f.verify(msg, o).result == AuthResult::Fail);
}

TEST_CASE("verify: a signed part inside an unsigned multipart is only partially signed", "[smime][verify]") {
    Fixture f;
    const std::string signed_msg = signed_by(f, f.siti);
    const std::size_t ct = signed_msg.find("Content-Type: multipart/signed");
    const std::string signed_entity = signed_msg.substr(ct);
    const std::string msg = head("siti@dinas.example.go.id") +
                            "Content-Type: multipart/mixed; boundary=\"list\"\r\n\r\n--list\r\n" + signed_entity +
                            "\r\n--list\r\nContent-Type: text/plain\r\n\r\n-- \r\nmailing list footer\r\n--list--\r\n";
    const auto r = f.verify(msg);
    CHECK(r.result == AuthResult::Neutral);
    CHECK(r.problem == Problem::PartiallySigned);
    CHECK(r.partially_signed);
    CHECK(r.part == "1");
    CHECK(r.reason.find("partially signed: only part 1 is signed (pass") == 0);
    CHECK_FALSE(r.chain_trusted);  // never harvested
}

TEST_CASE("verify: malformed input is permerror with a reason, never a crash", "[smime][verify][hostile]") {
    Fixture f;
    const std::string good = signed_by(f, f.siti);
    struct Row {
        std::string name;
        std::string message;
        std::string reason_part;
    };
    std::vector<Row> rows;
    {
        std::string m = good;
        m.erase(m.rfind("--b1--"));  // closing boundary gone
        m.replace(m.rfind("--b1\r\n"), 6, "--zz\r\n");
        rows.push_back({"broken boundaries", m, "boundary"});
    }
    {
        std::string m = good;
        const std::size_t at = m.find("\r\n\r\n", m.find("name=smime.p7s")) + 4;
        m.replace(at, 10, "!!!garbage");
        rows.push_back({"garbage base64", m, "not valid base64"});
    }
    {
        const std::string der =
            cms_sign(k_entity, f.siti.cert.get(), f.siti.key.get(), f.pki.intermediate(), EVP_sha256(), true);
        rows.push_back({"truncated CMS",
                        detached_message("siti@dinas.example.go.id", k_entity, der.substr(0, der.size() / 2)),
                        "not a CMS structure"});
        rows.push_back({"truncated opaque CMS", opaque_message("siti@dinas.example.go.id", der.substr(0, 40)),
                        "not a CMS structure"});
    }
    {
        const std::string der = cms_sign(k_entity, f.siti.cert.get(), nullptr, nullptr, EVP_sha256(), true);
        rows.push_back({"no signer", detached_message("siti@dinas.example.go.id", k_entity, der), "has no signer"});
    }
    rows.push_back({"lone signature part",
                    head("a@b.example") + "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
                                          "Content-Transfer-Encoding: base64\r\n\r\nMIIB\r\n",
                    "signed content"});
    rows.push_back({"second part is not a signature",
                    head("a@b.example") + "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
                                          "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\n"
                                          "Content-Type: text/plain\r\n\r\ny\r\n--b--\r\n",
                    "not application/pkcs7-signature"});
    rows.push_back(
        {"multipart/signed without boundary",
         head("a@b.example") + "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"\r\n\r\nx\r\n",
         "boundary"});
    for (const auto& row : rows) {
        const auto r = f.verify(row.message);
        INFO(row.name << ": " << r.reason);
        CHECK(r.result == AuthResult::PermError);
        CHECK(r.problem == Problem::Malformed);
        CHECK(r.reason.find(row.reason_part) != std::string::npos);
    }
}

TEST_CASE("verify: 10 000 nested parts on a default thread stack give permerror", "[smime][verify][hostile]") {
    Fixture f;
    std::string msg = head("a@b.example");
    std::string tail;
    for (int i = 0; i < 10000; ++i) {
        const std::string b = "n" + std::to_string(i);
        msg += "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n";
        tail = "\r\n--" + b + "--\r\n" + tail;
    }
    msg += "Content-Type: text/plain\r\n\r\ndeep\r\n" + tail;
    smime::VerifyResult r;
    std::thread worker([&] { r = f.verify(msg); });  // a fresh thread: the default stack size, like libmilter's
    worker.join();
    CHECK(r.result == AuthResult::PermError);
    CHECK(r.reason.find("nesting deeper than") != std::string::npos);
}

TEST_CASE("authres: the RFC 7281 value, with escaping and 7-bit output", "[smime][authres]") {
    smime::VerifyResult r;
    r.result = AuthResult::Pass;
    r.reason = "good signature (really)";
    r.identifier = "siti@dinas.example.go.id";
    r.serial = "1E";
    r.issuer = "CN=BSrE \"Test\",O=BSSN,C=ID";
    CHECK(smime::authres::format("mx.dinas.example.go.id", r) ==
          "mx.dinas.example.go.id;\n\tsmime=pass (good signature "
          "\\(really\\))\n\tbody.smime-identifier=siti@dinas.example.go.id"
          "\n\tbody.smime-serial=1E\n\tbody.smime-issuer=\"CN=BSrE \\\"Test\\\",O=BSSN,C=ID\"");
    smime::VerifyResult none;
    none.result = AuthResult::None;
    none.reason = "not signed";
    CHECK(smime::authres::format("mx", none) == "mx;\n\tsmime=none (not signed)");
    smime::VerifyResult partial;
    partial.result = AuthResult::Neutral;
    partial.reason = "partially signed";
    partial.part = "2";
    CHECK(smime::authres::format("mx", partial).find("body.smime-part=2") != std::string::npos);
    CHECK(smime::authres::comment_text("caf\xc3\xa9\r\nx") == "caf??  x");
    for (const auto w : {AuthResult::None, AuthResult::Pass, AuthResult::Fail, AuthResult::Policy, AuthResult::Neutral,
                         AuthResult::TempError, AuthResult::PermError}) {
        smime::VerifyResult v;
        v.result = w;
        CHECK(smime::authres::format("mx", v) == std::string("mx;\n\tsmime=") + smime::to_string(w));
    }
}

TEST_CASE("authres: reading the authserv-id of incoming fields (RFC 8601 §2.2, §5)", "[smime][authres]") {
    using smime::authres::authserv_id;
    CHECK(authserv_id(" mx.dinas.example.go.id; smime=pass") == "mx.dinas.example.go.id");
    CHECK(authserv_id(" (forged (nested) comment)\r\n\tMX.Dinas.Example.Go.Id 1; dkim=pass") ==
          "MX.Dinas.Example.Go.Id");
    CHECK(authserv_id(" \"quoted id\"; none") == "quoted id");
    CHECK(authserv_id("mx.example") == "mx.example");
    CHECK_FALSE(authserv_id("   ").has_value());
    CHECK_FALSE(authserv_id(" (unterminated").has_value());
    CHECK_FALSE(authserv_id(" \"unterminated").has_value());
    CHECK(smime::authres::claims(" MX.DINAS.example.go.id; smime=pass", "mx.dinas.example.go.id"));
    CHECK_FALSE(smime::authres::claims(" mx.dinas.example.go.id.evil; smime=pass", "mx.dinas.example.go.id"));
    CHECK_FALSE(smime::authres::claims(" other.example; smime=pass", "mx.dinas.example.go.id"));
}

TEST_CASE("verify: an organisation seal signs for From through the Sender field (RFC 8550 §3)", "[verify][seal]") {
    Fixture f;
    const auto seal = f.pki.issue({"Sekretariat Dinas", "sekretariat@dinas.example.go.id"});
    const auto other = f.pki.issue({"Sekretariat Lain", "sekretariat@lain.example.go.id"});
    const auto parent = f.pki.issue({"Sekretariat Kabupaten", "sekretariat@examplekab.go.id"});
    const std::string sealed = "Sender: \"Sekretariat Dinas\" <sekretariat@dinas.example.go.id>\r\n" +
                               signed_by(f, seal, "Siti <siti@dinas.example.go.id>");
    auto r = f.verify(sealed);
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.identifier == "sekretariat@dinas.example.go.id");
    CHECK(r.sealed_for == "siti@dinas.example.go.id");
    CHECK(r.reason == "good signature; sealed by sekretariat@dinas.example.go.id for siti@dinas.example.go.id");
    CHECK_THAT(smime::authres::format("mx.example.go.id", r),
               Catch::Contains("smime=pass (good signature; sealed by sekretariat@dinas.example.go.id for "
                               "siti@dinas.example.go.id)") &&
                   Catch::Contains("body.smime-identifier=sekretariat@dinas.example.go.id"));

    // A seal of a parent domain speaks for the units below it.
    r = f.verify("Sender: sekretariat@examplekab.go.id\r\n" + signed_by(f, parent, "rina@kominfo.examplekab.go.id"));
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.sealed_for == "rina@kominfo.examplekab.go.id");

    // A certificate of another organisation does not become the sender by writing Sender.
    r = f.verify("Sender: sekretariat@lain.example.go.id\r\n" + signed_by(f, other, "siti@dinas.example.go.id"));
    CHECK(r.result == AuthResult::Policy);
    CHECK(r.problem == Problem::SignerNotSender);
    CHECK(r.sealed_for.empty());
    // The signer must be the Sender, not just anyone of the organisation.
    r = f.verify("Sender: budi@dinas.example.go.id\r\n" + signed_by(f, seal, "siti@dinas.example.go.id"));
    CHECK(r.result == AuthResult::Policy);
    // Without a Sender field the seal is just not the sender.
    r = f.verify(signed_by(f, seal, "siti@dinas.example.go.id"));
    CHECK(r.result == AuthResult::Policy);
    // The person's own signature stays a plain pass, whatever Sender says.
    r = f.verify("Sender: sekretariat@dinas.example.go.id\r\n" + signed_by(f, f.siti));
    CHECK(r.result == AuthResult::Pass);
    CHECK(r.sealed_for.empty());
    CHECK(r.reason == "good signature");
}
