#include "smime/base64.h"
#include "smime/error.h"
#include "smime/mime/mime.h"
#include "smime/sign.h"
#include "smime/verify.h"
#include "smime/verify_core.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

using namespace segel;

namespace {

struct Fixture {
    test::TestPki pki;
    smime::TrustStore trust = pki.trust();
    test::Issued siti_leaf = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    smime::Credential siti = test::credential(siti_leaf);
    test::Issued budi_leaf = pki.issue({.name = "Budi", .email = "budi@dinas.example.go.id", .ec = true});
    smime::Credential budi = test::credential(budi_leaf);

    std::vector<smime::ossl::Ptr<X509>> chain() const {
        std::vector<smime::ossl::Ptr<X509>> c;
        c.push_back(smime::ossl::retain(pki.intermediate()));
        return c;
    }

    smime::SignedMessage sign(const std::string& msg, const smime::Credential& who,
                              smime::SignFormat format = smime::SignFormat::Detached) const {
        smime::SignOptions o;
        o.format = format;
        o.now = test::fixed_now();
        return smime::sign(smime::Blob::from(msg), who, chain(), o);
    }
};

std::string boundary_of(const smime::SignedMessage& sm) {
    std::smatch m;
    const std::string ct = sm.headers.at(1).value;
    REQUIRE(std::regex_search(ct, m, std::regex("boundary=\"([^\"]+)\"")));
    return m[1];
}

/** The CMS structure in the signature part of a multipart/signed body (null when it does not decode). */
smime::ossl::Ptr<CMS_ContentInfo> signature_of(const smime::SignedMessage& sm) {
    const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
    const auto der = smime::base64::decode(parts.signature.substr(parts.signature.find("\r\n\r\n") + 4));
    if (!der) {
        return nullptr;
    }
    auto bio = smime::ossl::mem_bio(der->data(), der->size());
    return smime::ossl::adopt(d2i_CMS_bio(bio.get(), nullptr));
}

/** Independent check: the verdict of the same signature through check_cms, from the body alone. */
smime::CmsCheck reverify(const Fixture& f, const smime::SignedMessage& sm) {
    const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
    const auto blank = parts.signature.find("\r\n\r\n");
    const auto der = smime::base64::decode(parts.signature.substr(blank + 4));
    REQUIRE(der.has_value());
    return smime::check_cms(*der, parts.content, f.trust, test::fixed_now());
}

/** A second implementation's verdict: `openssl cms -verify` on the assembled message. */
bool openssl_verifies(const Fixture& f, const smime::SignedMessage& sm) {
    const std::string path = f.pki.dir() + "/signed.eml";
    std::ofstream out(path, std::ios::binary);
    for (const auto& h : sm.headers) {
        std::string v = h.value;
        for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
            v.replace(p, 1, "\r\n");
        }
        out << h.name << ": " << v << "\r\n";
    }
    out << "\r\n" << sm.body.view();
    out.close();
    const std::string cmd = "openssl cms -verify -in " + path + " -CAfile " + f.pki.root_file() + " -certfile " +
                            f.pki.intermediate_file() +
                            " -purpose smimesign -attime 1780272000 -out /dev/null 2>/dev/null";
    return std::system(cmd.c_str()) == 0;
}

const std::string k_long(200, 'x');

}  // namespace

TEST_CASE("sign: hard messages come out transport-safe and verifiable", "[smime][sign]") {
    Fixture f;
    struct Case {
        const char* name;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"plain ASCII", "From: siti@dinas.example.go.id\r\nSubject: hi\r\n\r\nHello.\r\n"},
        {"no MIME headers, LF only", "From: siti@dinas.example.go.id\nSubject: hi\n\nline one\nline two\n"},
        {"8bit UTF-8 body and non-ASCII subject",
         "From: siti@dinas.example.go.id\nSubject: =?UTF-8?B?U3VyYXQgw6k=?=\nMIME-Version: 1.0\n"
         "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nSurat dinas \xC3\xA9\xC3\xA0\n"},
        {"trailing space, From line, long line",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: text/plain\n\nend with space   \nFrom here "
         "on\n" +
             k_long + "\n"},
        {"nested multiparts with attachment and preamble",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"o\"\n\n"
         "preamble text\n--o\nContent-Type: multipart/alternative; boundary=\"i\"\n\n--i\nContent-Type: text/plain\n\n"
         "plain\n--i\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: "
         "8bit\n\n<p>h\xC3\xA9</p>\n--i--\n"
         "--o\nContent-Type: application/pdf; name=\"laporan.pdf\"\nContent-Disposition: attachment; "
         "filename=\"laporan.pdf\"\n"
         "Content-Transfer-Encoding: "
         "base64\n\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURlY29kZT4+\n"
         "--o--\nepilogue that must not be signed\n"},
        {"attached message/rfc822 with 8bit",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
         "Content-Type: text/plain\n\nsee attached\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: "
         "8bit\n\n"
         "From: x@example.org\nSubject: Laporan \xC3\xA9\n\ninner \xC3\xA9 body\n--b--\n"},
        {"binary attachment labelled binary",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: application/octet-stream\n"
         "Content-Transfer-Encoding: binary\n\n" +
             std::string("\x01\x02\xff\xfe\x00\x10", 6) + "\n"},
        {"non-ASCII attachment name",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: text/plain; name=\"surat \xC3\xA9.txt\"\n"
         "Content-Disposition: attachment;\n\tfilename=\"surat \xC3\xA9.txt\"\n\nisi\n"},
        {"8bit label on 7bit content",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: text/plain\n"
         "Content-Transfer-Encoding: 8bit\n\nonly ascii here\n"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        const auto sm = f.sign(c.message, f.siti);
        const std::string_view body = sm.body.view();
        // Every line of what leaves is 7-bit, <= 76 characters, no trailing space, no "From ".
        CHECK_FALSE(smime::canonical::scan(body).any());
        CHECK(body.find("epilogue that must not be signed") == std::string_view::npos);
        const auto r = reverify(f, sm);
        CHECK(r.signature_valid);
        CHECK(r.chain_trusted);
        CHECK(r.digest == "sha-256");
        REQUIRE(r.signing_time.has_value());
        CHECK(*r.signing_time == test::fixed_now());
        CHECK(r.signer_info.addresses == std::vector<std::string>{"siti@dinas.example.go.id"});
        CHECK(openssl_verifies(f, sm));
    }
}

TEST_CASE("sign: headers describe an RFC 8551 multipart/signed", "[smime][sign]") {
    Fixture f;
    const auto sm = f.sign("From: siti@dinas.example.go.id\r\n\r\nHi\r\n", f.siti);
    REQUIRE(sm.headers.size() == 2);
    CHECK(sm.headers[0].name == "MIME-Version");
    CHECK_THAT(sm.headers[1].value,
               Catch::StartsWith("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;"));
    CHECK_THAT(std::string(sm.body.view()),
               Catch::Contains("Content-Type: application/pkcs7-signature; name=\"smime.p7s\""));
    CHECK_THAT(std::string(sm.body.view()), Catch::Contains("filename=\"smime.p7s\""));
}

TEST_CASE("sign: EC P-256 keys and the opaque format", "[smime][sign]") {
    Fixture f;
    const auto ec = f.sign("From: budi@dinas.example.go.id\r\n\r\nHi\r\n", f.budi);
    CHECK(reverify(f, ec).signature_valid);
    CHECK(openssl_verifies(f, ec));

    const auto opaque = f.sign("From: siti@dinas.example.go.id\r\n\r\nHi\r\n", f.siti, smime::SignFormat::Opaque);
    CHECK_THAT(opaque.headers[1].value, Catch::Contains("smime-type=signed-data"));
    const auto der = smime::base64::decode(opaque.body.view());
    REQUIRE(der.has_value());
    const auto r = smime::check_cms(*der, std::nullopt, f.trust, test::fixed_now());
    CHECK(r.signature_valid);
    CHECK(r.content.find("Hi\r\n") != std::string::npos);
    CHECK(openssl_verifies(f, opaque));
}

TEST_CASE("sign: the signature carries chain, signingTime, capabilities and ESS signing-certificate-v2",
          "[smime][sign]") {
    Fixture f;
    const auto sm = f.sign("From: siti@dinas.example.go.id\r\n\r\nHi\r\n", f.siti);
    const auto cms = signature_of(sm);
    REQUIRE(cms);
    STACK_OF(X509)* certs = CMS_get1_certs(cms.get());
    CHECK(sk_X509_num(certs) == 2);  // signer + intermediate, no root
    sk_X509_pop_free(certs, X509_free);
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    CHECK(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0);
    CHECK(CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1) >= 0);
    CHECK(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) >= 0);
}

TEST_CASE("sign: a changed byte breaks the signature", "[smime][sign]") {
    Fixture f;
    const auto sm = f.sign("From: siti@dinas.example.go.id\r\n\r\nTransfer Rp 1.000.000\r\n", f.siti);
    std::string body(sm.body.view());
    body.replace(body.find("1.000.000"), 9, "9.000.000");
    const auto parts = smime::split_multipart_signed(body, boundary_of(sm));
    const auto der = *smime::base64::decode(parts.signature.substr(parts.signature.find("\r\n\r\n") + 4));
    const auto r = smime::check_cms(der, parts.content, f.trust, test::fixed_now());
    CHECK_FALSE(r.signature_valid);
    CHECK_THAT(r.signature_error, Catch::Contains("content changed"));
}

TEST_CASE("sign: classify leaves signed and encrypted mail alone", "[smime][sign]") {
    Fixture f;
    CHECK(smime::classify(smime::Blob::from("From: a@b.c\r\n\r\nx\r\n")) == smime::Protection::None);
    CHECK(smime::classify(smime::Blob::from("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
                                            "boundary=x\r\n\r\n--x\r\n\r\na\r\n--x--\r\n")) ==
          smime::Protection::Signed);
    CHECK(smime::classify(
              smime::Blob::from("Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nAA\r\n")) ==
          smime::Protection::Encrypted);
    CHECK(smime::classify(
              smime::Blob::from("Content-Type: application/x-pkcs7-mime; smime-type=signed-data\r\n\r\nAA\r\n")) ==
          smime::Protection::Signed);
    CHECK(smime::classify(smime::Blob::from("Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x--\r\n")) ==
          smime::Protection::Encrypted);
}

TEST_CASE("sign: classify_content_type answers as classify does for a head with that one field", "[smime][sign]") {
    // The session classifies from the fields the milter delivered; it must agree with the spool.
    CHECK(smime::classify_content_type(std::nullopt) == smime::Protection::None);
    for (const std::string raw :
         {" text/plain; charset=utf-8", " MULTIPART/Signed; protocol=\"application/PKCS7-signature\"; boundary=x",
          " multipart/signed;\n\tprotocol=\"application/pkcs7-signature\"; boundary=x", " multipart/mixed; boundary=x",
          " application/pkcs7-mime; smime-type=enveloped-data", " Application/X-PKCS7-MIME; smime-type=signed-data",
          " multipart/encrypted; boundary=x", " text/plain; name=\"pkcs7.txt\"", " (multipart/signed) text/plain"}) {
        std::string head = "Content-Type:" + raw + "\r\n";
        for (std::size_t at = 0; (at = head.find("\n\t", at)) != std::string::npos; at += 3) {
            head.replace(at, 1, "\r\n");
        }
        CAPTURE(raw);
        CHECK(smime::classify_content_type(raw) == smime::classify(smime::Blob::from(head + "\r\nx\r\n")));
    }
    CHECK(smime::classify_content_type(" Multipart/SIGNED; boundary=x") == smime::Protection::Signed);
}

TEST_CASE("sign: hostile structures fail cleanly", "[smime][sign][abuse]") {
    Fixture f;
    std::string deep = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n";
    for (int i = 0; i < 200; ++i) {
        deep += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
                std::to_string(i) + "\r\n";
    }
    deep += "\r\nleaf\r\n";
    CHECK_THROWS_AS(f.sign(deep, f.siti), smime::Error);

    std::string params = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: text/plain";
    for (int i = 0; i < 5000; ++i) {
        params += ";\r\n p" + std::to_string(i) + "=v";
    }
    params += "\r\n\r\nbody\r\n";
    CHECK(reverify(f, f.sign(params, f.siti)).signature_valid);

    const std::string missing_boundary =
        "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"nope\"\r\n\r\nno parts at all\r\n";
    CHECK(reverify(f, f.sign(missing_boundary, f.siti)).signature_valid);

    CHECK_THROWS_AS(smime::split_multipart_signed("--x\r\nonly one part\r\n", "x"), smime::Error);
    CHECK_THROWS_AS(smime::split_multipart_signed("no boundary\r\n", "x"), smime::Error);
}

TEST_CASE("sign: a large message is spooled to disk and still verifies", "[smime][sign]") {
    Fixture f;
    std::string big =
        "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    const std::string line = std::string(76, 'A') + "\r\n";
    while (big.size() < 3 * 1024 * 1024) {
        big += line;
    }
    big += "--b--\r\n";
    smime::SignOptions o;
    o.now = test::fixed_now();
    o.memory_limit = 256 * 1024;
    smime::Blob in(256 * 1024);
    in.append(big);
    CHECK(in.on_disk());
    const auto sm = smime::sign(in, f.siti, f.chain(), o);
    CHECK(sm.body.on_disk());
    CHECK(reverify(f, sm).signature_valid);
}

TEST_CASE("sign: an already transport-safe entity is signed exactly as received", "[smime][sign]") {
    Fixture f;
    const std::string head = "From: siti@dinas.example.go.id\r\nSubject: Rapat\r\nMIME-Version: 1.0\r\n";
    const std::string entity =
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        "Rapat besok pukul 09.00.\r\n--b--";
    SECTION("the signed part is the received Content-* fields and body, byte for byte") {
        const auto sm = f.sign(head + entity + "\r\n", f.siti);
        const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
        CHECK(parts.content == entity);
        CHECK(sm.rewrite.parts_reencoded == 0);
        CHECK(reverify(f, sm).signature_valid);
        CHECK(openssl_verifies(f, sm));
    }
    SECTION("an epilogue after the close delimiter is not signed") {
        const auto sm = f.sign(head + entity + "\r\nepilogue text\r\n", f.siti);
        const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
        CHECK(parts.content.find("epilogue") == std::string_view::npos);
        CHECK(reverify(f, sm).signature_valid);
    }
    SECTION("anything unsafe takes the rewriting path") {
        // The rewriting path changes these (8bit label -> 7bit, LF -> CRLF, "From " -> QP); a
        // tab-led line is only a reason to be conservative, and comes out unchanged.
        for (const std::string& body :
             {std::string("Content-Transfer-Encoding: 8bit\r\n\r\nplain ascii\r\n"), std::string("\r\nLF only\nhere\n"),
              std::string("\r\nFrom me\r\n"), std::string("\r\n\tindented\r\n")}) {
            INFO(body);
            const auto sm = f.sign(head + body, f.siti);
            const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
            CHECK((parts.content != body) == (body.find('\t') == std::string::npos));
            CHECK_FALSE(smime::canonical::scan(parts.content).any());
            CHECK(reverify(f, sm).signature_valid);
        }
    }
}

TEST_CASE("sign: large mail streams to a sink in bounded pieces, signed as received", "[smime][sign]") {
    Fixture f;
    const std::string head = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n";
    std::string entity =
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nlihat lampiran\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    while (entity.size() < 3 * 1024 * 1024) {
        entity += std::string(76, 'Q') + "\r\n";
    }
    entity += "--b--";
    smime::Blob in(64 * 1024);
    in.append(head + entity + "\r\n");
    REQUIRE(in.on_disk());
    smime::SignOptions o;
    o.now = test::fixed_now();
    o.memory_limit = 64 * 1024;
    std::string streamed;
    std::size_t pieces = 0;
    std::size_t largest = 0;
    auto sm = smime::sign(in, f.siti, f.chain(), o, [&](std::string_view piece) {
        streamed += piece;
        ++pieces;
        largest = std::max(largest, piece.size());
    });
    CHECK(sm.body.size() == 0);  // the sink took it all
    // The spooled body goes out in the pieces it is read in (no regathering copy), each
    // bounded: what is held per message stays small whatever the message's size.
    CHECK(largest > 65535);
    CHECK(largest <= 256 * 1024);
    CHECK(pieces >= streamed.size() / (256 * 1024));
    sm.body = smime::Blob::from(streamed);
    const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
    CHECK(parts.content == entity);  // byte for byte as received: no GMime rewrite
    CHECK(reverify(f, sm).signature_valid);
    CHECK(openssl_verifies(f, sm));
}

TEST_CASE("sign: a body scanned on arrival decides only when it covers the whole body", "[smime][sign]") {
    Fixture f;
    const std::string body = "From here\r\n";  // a hazard: the rewrite path protects it
    const std::string msg = "From: siti@dinas.example.go.id\r\nContent-Type: text/plain\r\n\r\n" + body;
    const std::string as_received = "Content-Type: text/plain\r\n\r\n" + body;
    smime::canonical::Scanner vouched;  // the receiver's scan, which the signer trusts
    vouched.feed("safe line\r\n");      // as many bytes as the body: trusted
    smime::canonical::Scanner longer = vouched;
    longer.feed("!");  // one more: ignored
    smime::SignOptions o;
    o.now = test::fixed_now();
    o.body_scan = &vouched;
    REQUIRE(vouched.size() == body.size());
    SECTION("covering exactly the body: its verdict decides (signed as received)") {
        const auto sm = smime::sign(smime::Blob::from(msg), f.siti, f.chain(), o);
        const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
        CHECK(parts.content == as_received);
        CHECK(reverify(f, sm).signature_valid);
    }
    SECTION("another size: ignored, the body is scanned here and rewritten") {
        o.body_scan = &longer;
        const auto sm = smime::sign(smime::Blob::from(msg), f.siti, f.chain(), o);
        const auto parts = smime::split_multipart_signed(sm.body.view(), boundary_of(sm));
        CHECK(parts.content != as_received);
        CHECK_FALSE(smime::canonical::scan(parts.content).any());
        CHECK(reverify(f, sm).signature_valid);
    }
}

TEST_CASE("blob: a reused spool file never shows an earlier message's bytes", "[smime][blob]") {
    {
        smime::Blob first(16);
        first.append(std::string(200 * 1024, 'x'));
        REQUIRE(first.on_disk());
    }  // its file goes back to the pool
    const std::string msg = "From: a@b.example\r\nSubject: kecil\r\n\r\nisi pesan\r\n";
    smime::Blob second(16);
    second.append(msg);
    REQUIRE(second.on_disk());
    CHECK(second.size() == msg.size());
    CHECK(second.view() == msg);
    std::string read;
    second.read(
        0, second.size(), [&read](std::string_view p) { read += p; }, 7);
    CHECK(read == msg);
    auto parsed = smime::mime::parse_message(second);
    GMimeObject* body = g_mime_message_get_mime_part(parsed.get());
    REQUIRE(body != nullptr);
    auto* text = g_mime_text_part_get_text(GMIME_TEXT_PART(body));
    CHECK(std::string(text) == "isi pesan\r\n");
    g_free(text);
}

TEST_CASE("blob: spool files kept for reuse follow the spool directory", "[smime][blob]") {
    // After a reload to another spool directory, files of the old one must not stay open forever.
    const auto open_in = [](const std::string& dir) {
        int n = 0;
        for (int fd = 0; fd < 1024; ++fd) {
            char link[64];
            char target[4096];
            std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            const ssize_t len = ::readlink(link, target, sizeof target - 1);
            if (len > 0 && std::string(target, static_cast<std::size_t>(len)).rfind(dir + "/", 0) == 0) {
                ++n;
            }
        }
        return n;
    };
    char a_templ[] = "/tmp/segel-pool-a.XXXXXX";
    char b_templ[] = "/tmp/segel-pool-b.XXXXXX";
    const std::string a = ::mkdtemp(a_templ);
    const std::string b = ::mkdtemp(b_templ);
    for (const std::string& dir : {a, b}) {
        std::vector<smime::Blob> live;
        for (int i = 0; i < 6; ++i) {
            live.emplace_back(16, dir);
            live.back().append(std::string(4096, 'x'));
            REQUIRE(live.back().on_disk());
        }
    }  // each round: six files given back, at most four kept
    CHECK(open_in(a) == 0);
    CHECK(open_in(b) > 0);
    CHECK(open_in(b) <= 4);
    ::rmdir(a.c_str());
    ::rmdir(b.c_str());
}

namespace {

/** What SMTP delivers: every line end CRLF (RFC 5321 §2.3.8), whatever was handed to the MTA. */
std::string transported(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() + bytes.size() / 16);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) {
            out += '\r';
        }
        out += bytes[i];
    }
    return out;
}

/** The whole signed message as a recipient receives it: a From field, segel's headers, the body. */
std::string received_copy(const smime::SignedMessage& sm, const std::string& from = "siti@dinas.example.go.id") {
    std::string msg = "From: " + from + "\r\nSubject: wire form\r\n";
    for (const auto& h : sm.headers) {
        msg += h.name + ": " + h.value + "\r\n";
    }
    msg += "\r\n";
    msg += sm.body.view();
    return transported(msg);
}

/** smime::verify over the received copy, strictly: no LF-only fallback. */
smime::VerifyResult verify_received(const Fixture& f, const std::string& received) {
    smime::VerifyOptions o;
    o.now = test::fixed_now();
    o.lf_fallback = false;
    return smime::verify(smime::Blob::from(received), f.trust, o);
}

/**
 * `openssl cms -verify -binary` over the exact signed-part bytes of a received copy and its
 * detached signature: strict about every byte, unlike openssl's own multipart reader.
 */
bool openssl_verifies_received(const Fixture& f, const std::string& received) {
    const std::size_t body = received.find("\r\n\r\n");
    std::smatch m;
    const std::string head = received.substr(0, body);
    if (body == std::string::npos || !std::regex_search(head, m, std::regex("boundary=\"([^\"]+)\""))) {
        return false;
    }
    const auto parts = smime::split_multipart_signed(std::string_view(received).substr(body + 4), m[1]);
    const auto der = smime::base64::decode(parts.signature.substr(parts.signature.find("\r\n\r\n") + 4));
    if (!der) {
        return false;
    }
    const std::string content = f.pki.dir() + "/received-part.bin";
    const std::string signature = f.pki.dir() + "/received.p7s";
    std::ofstream(content, std::ios::binary) << parts.content;
    std::ofstream(signature, std::ios::binary) << *der;
    const std::string cmd = "openssl cms -verify -binary -inform DER -in " + signature + " -content " + content +
                            " -CAfile " + f.pki.root_file() +
                            " -purpose smimesign -attime 1780272000 -out /dev/null 2>/dev/null";
    return std::system(cmd.c_str()) == 0;
}

/** The first part of a multipart/signed body: the bytes the signature is over, as they left segel. */
std::string signed_part(const smime::SignedMessage& sm) {
    return std::string(smime::split_multipart_signed(sm.body.view(), boundary_of(sm)).content);
}

/** A line end without its CR (what SMTP would change), as the (reference-tested) scanner finds it. */
bool has_bare_lf(std::string_view s) {
    smime::canonical::Scanner scanner;
    scanner.feed(s);
    return scanner.lines().bare_lf;
}

}  // namespace

TEST_CASE("sign: preambles and epilogues are signed in the CRLF form the recipient receives", "[smime][sign]") {
    Fixture f;
    const std::string eight_bit_part =
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSurat dinas \xC3\xA9\r\n";
    struct Case {
        const char* name;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"preamble of two paragraphs (a blank line inside) and an 8-bit part",
         "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
         "This is a multi-part message in MIME format.\r\n\r\nSecond paragraph of the preamble.\r\n--b\r\n" +
             eight_bit_part + "--b--\r\n"},
        {"nested multipart with a preamble and an epilogue, 8-bit beside it",
         "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
         "--o\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\nline one of the preamble\r\nline two\r\n"
         "\r\n--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n--i--\r\nepilogue line one\r\nepilogue line two\r\n\r\n"
         "--o\r\n" +
             eight_bit_part + "--o--\r\n"},
        {"the same with LF line ends as a file would have them",
         "From: siti@dinas.example.go.id\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
         "Preamble line one.\n\nPreamble line three.\n--b\nContent-Type: text/plain; charset=utf-8\n"
         "Content-Transfer-Encoding: 8bit\n\nh\xC3\xA9llo\n--b--\nepilogue\n"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        const auto sm = f.sign(c.message, f.siti);
        CHECK_FALSE(has_bare_lf(signed_part(sm)));
        const std::string received = received_copy(sm);
        const auto r = verify_received(f, received);
        CHECK(r.result == smime::AuthResult::Pass);
        CHECK_FALSE(r.lf_normalised);
        CHECK(openssl_verifies_received(f, received));
    }
}

TEST_CASE("sign: header lines up to 998 octets are signed, in the entity and inside attached messages",
          "[smime][sign]") {
    Fixture f;
    const std::string from = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n";
    const std::string long_name(120, 'n');
    struct Case {
        const char* name;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"multipart/related with type= on one line of 110 characters",
         from + "Content-Type: multipart/related; boundary=\"----=_rel_0123456789abcdef\"; "
                "type=\"multipart/alternative\"\r\n\r\n------=_rel_0123456789abcdef\r\nContent-Type: text/html\r\n\r\n"
                "<p>Rapat</p>\r\n------=_rel_0123456789abcdef--\r\n"},
        {"Outlook-style folded long filename",
         from +
             "Content-Type: multipart/mixed; boundary=\"_002_\"\r\n\r\n--_002_\r\nContent-Type: text/plain\r\n\r\n"
             "lihat lampiran\r\n--_002_\r\nContent-Type: application/pdf;\r\n\tname=\"" +
             long_name + ".pdf\"\r\nContent-Description: " + long_name +
             ".pdf\r\nContent-Disposition: attachment;\r\n"
             "\tfilename=\"" +
             long_name +
             ".pdf\"; size=4;\r\n\tcreation-date=\"Fri, 20 Nov 2026 01:02:03 GMT\";\r\n"
             "\tmodification-date=\"Fri, 20 Nov 2026 01:02:03 GMT\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             "JVBERg==\r\n--_002_--\r\n"},
        {"forwarded message with a long Received field, 8-bit beside it",
         from +
             "Content-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n--fw\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\nTeruskan \xC3\xA9\r\n--fw\r\nContent-Type: message/rfc822\r\n\r\n"
             "Received: from mail.mitra.example (mail.mitra.example [192.0.2.25]) by mx.dinas.example.go.id "
             "(Postfix) with ESMTPS id 4F2A1B3C4D for <siti@dinas.example.go.id>; Fri, 20 Nov 2026 10:00:00 +0700\r\n"
             "From: kepala@mitra.example\r\nSubject: Undangan\r\n\r\nIsi undangan.\r\n--fw--\r\n"},
        {"a header line of exactly 998 octets",
         from + "Content-Type: text/plain; x-note=\"" + std::string(998 - 36, 'q') + "\"\r\n\r\nisi\r\n"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        smime::SignedMessage sm;
        try {
            sm = f.sign(c.message, f.siti);
        } catch (const std::exception& e) {
            FAIL_CHECK("not signed: " << e.what());
            continue;
        }
        const std::string received = received_copy(sm);
        CHECK(verify_received(f, received).result == smime::AuthResult::Pass);
        CHECK(openssl_verifies_received(f, received));
    }
}

TEST_CASE("sign: a forwarded signed message keeps its own signature valid", "[smime][sign]") {
    Fixture f;
    // budi signs a message whose signed part has a long, tab-folded header line.
    const std::string inner_in =
        "From: budi@dinas.example.go.id\r\nSubject: Nota dinas\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii;\r\n\tname=\"nota-dinas-" +
        std::string(90, 'x') + ".txt\"\r\n\r\nNota dinas nomor 1.\r\n";
    const auto inner_sm = f.sign(inner_in, f.budi);
    const std::string inner = received_copy(inner_sm, "budi@dinas.example.go.id");
    REQUIRE(verify_received(f, inner).result == smime::AuthResult::Pass);
    // siti forwards it with an 8-bit note, so her message is rewritten around it.
    const std::string outer =
        "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n"
        "--fw\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Diteruskan \xC3\xA9\r\n--fw\r\nContent-Type: message/rfc822\r\n\r\n" +
        inner + "\r\n--fw--\r\n";
    smime::SignedMessage sm;
    REQUIRE_NOTHROW(sm = f.sign(outer, f.siti));
    const std::string received = received_copy(sm);
    CHECK(verify_received(f, received).result == smime::AuthResult::Pass);
    // The attached message is still budi's signed message, byte for byte.
    const std::string part = signed_part(sm);
    const std::size_t start = part.find("From: budi@dinas.example.go.id");
    REQUIRE(start != std::string::npos);
    const std::size_t end = part.find("\r\n--fw--");
    REQUIRE(end != std::string::npos);
    const std::string forwarded = part.substr(start, end - start);
    CHECK(forwarded == inner);
    CHECK(verify_received(f, forwarded).result == smime::AuthResult::Pass);
}

TEST_CASE("sign: signing over a client-signed message keeps the client's signature valid", "[smime][sign]") {
    Fixture f;
    // budi's client signed it (a tab-folded, long header in the signed part); an epilogue
    // after the close delimiter keeps it off the sign-as-received path.
    const auto client = f.sign(
        "From: budi@dinas.example.go.id\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii;\r\n\tname=\"nota-" +
            std::string(90, 'x') + ".txt\"\r\n\r\nNota dinas.\r\n",
        f.budi);
    const std::string signed_by_client = received_copy(client, "budi@dinas.example.go.id") + "epilogue\r\n";
    REQUIRE(verify_received(f, signed_by_client).result == smime::AuthResult::Pass);
    const auto over = f.sign(signed_by_client, f.siti);
    CHECK(verify_received(f, received_copy(over)).result == smime::AuthResult::Pass);
    CHECK(over.rewrite.protected_kept == 1);
    // The client's signed message is the signed part, and still verifies on its own.
    const std::string inner = "From: budi@dinas.example.go.id\r\n" + signed_part(over) + "\r\n";
    CHECK(verify_received(f, inner).result == smime::AuthResult::Pass);
}

TEST_CASE("sign: SMIMECapabilities name only the AES ciphers segel decrypts, strongest first", "[smime][sign]") {
    Fixture f;
    const auto sm = f.sign("From: siti@dinas.example.go.id\r\n\r\nHi\r\n", f.siti);
    const auto cms = signature_of(sm);
    REQUIRE(cms);
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    const auto* seq = static_cast<const ASN1_STRING*>(
        CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_SMIMECapabilities), -3, V_ASN1_SEQUENCE));
    REQUIRE(seq != nullptr);
    const unsigned char* p = ASN1_STRING_get0_data(seq);
    STACK_OF(X509_ALGOR)* caps = d2i_X509_ALGORS(nullptr, &p, ASN1_STRING_length(seq));
    REQUIRE(caps != nullptr);
    std::vector<std::string> names;
    bool parameters = false;
    for (int i = 0; i < sk_X509_ALGOR_num(caps); ++i) {
        const ASN1_OBJECT* oid = nullptr;
        int ptype = 0;
        X509_ALGOR_get0(&oid, &ptype, nullptr, sk_X509_ALGOR_value(caps, i));
        names.emplace_back(OBJ_nid2sn(OBJ_obj2nid(oid)));
        parameters = parameters || ptype != V_ASN1_UNDEF;  // RFC 8551 §2.7.1: AES capabilities carry none
    }
    sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
    CHECK(names == std::vector<std::string>{"id-aes256-GCM", "id-aes128-GCM", "AES-256-CBC", "AES-128-CBC"});
    CHECK_FALSE(parameters);
}

TEST_CASE("sign: what the message itself makes unsignable is Malformed, with the reason", "[smime][sign]") {
    Fixture f;
    const std::string from = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n";
    struct Case {
        const char* name;
        std::string message;
        const char* reason;  ///< what the error names
    };
    const std::vector<Case> cases = {
        {"a header line of 1,200 octets with no place to fold it",
         from + "Content-Type: text/plain; x-token=\"" + std::string(1200, 't') + "\"\r\n\r\nisi\r\n", "998"},
        {"a part header with a NUL byte",
         from +
             "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n"
             "Content-Description: a" +
             std::string(1, '\0') + "b\r\n\r\nisi\r\n--b--\r\n",
         "NUL"},
        {"MIME nesting 200 levels deep",
         [] {
             std::string deep = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n";
             for (int i = 0; i < 200; ++i) {
                 deep += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
                         std::to_string(i) + "\r\n";
             }
             return deep + "\r\nleaf\r\n";
         }(),
         "nested"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        try {
            (void)f.sign(c.message, f.siti);
            FAIL_CHECK("signed");
        } catch (const smime::Error& e) {
            CHECK(e.category() == smime::Category::Malformed);
            CHECK_THAT(e.what(), Catch::Contains(c.reason));
        }
    }
}

namespace {

/** A random message shape with the hazards real mail has (line lengths, 8-bit, folds, nesting). */
class ShapeMaker {
public:
    /** @param hostile also bytes no legal message has: NUL, bare CR, 1,100-octet header lines, LF line ends */
    explicit ShapeMaker(unsigned seed, bool hostile = false) : m_rng(seed), m_hostile(hostile) {}

    std::string message() {
        m_n = 0;
        std::string msg = "From: siti@dinas.example.go.id\r\nSubject: acak\r\nMIME-Version: 1.0\r\n" + entity(0);
        if (m_hostile && pick(3) == 0) {  // a file with LF line ends (segelctl sign reads files)
            std::string lf;
            for (std::size_t i = 0; i < msg.size(); ++i) {
                if (!(msg[i] == '\r' && i + 1 < msg.size() && msg[i + 1] == '\n')) {
                    lf += msg[i];
                }
            }
            msg = lf;
        }
        return msg;
    }

private:
    unsigned pick(unsigned n) { return static_cast<unsigned>(m_rng() % n); }

    std::string text_line() {
        static const std::vector<std::string> words = {"surat", "dinas", "From", "h\xC3\xA9", "=", ".",
                                                       "--",    " ",     "\t",   "rapat",     "x", "\xE2\x80\x94"};
        static const std::vector<std::string> hostile = {std::string(1, '\0'),  "\r",     "\x01",
                                                         std::string(600, 'w'), " \r\n ", "\r\n\t\r\n x"};
        std::string line;
        const unsigned n = pick(5) == 0 ? 60 + pick(200) : pick(12);
        for (unsigned i = 0; i < n; ++i) {
            line += m_hostile && pick(8) == 0 ? hostile[pick(static_cast<unsigned>(hostile.size()))]
                                              : words[pick(static_cast<unsigned>(words.size()))];
        }
        return line;
    }

    std::string param_value() {
        switch (pick(4)) {
            case 0:
                return "\"" + std::string(20 + pick(140), 'p') + ".pdf\"";  // long quoted names (Outlook)
            case 1:
                return "\"laporan " + std::string(pick(3) == 0 ? "\xC3\xA9" : "") + "akhir.txt\"";  // raw 8-bit
            case 2:
                return "UTF-8''laporan%20%C3%A9.txt";  // RFC 2231 (used as filename*)
            default:
                return "v" + std::to_string(pick(1000));
        }
    }

    /** Content-* fields for a part, folded with a tab or a space, sometimes long. */
    std::string fields(const std::string& type) {
        std::string f = "Content-Type: " + type;
        const unsigned params = pick(3);
        for (unsigned i = 0; i < params; ++i) {
            f += std::string(";") + (pick(2) != 0 ? "\r\n\t" : " ") + "name=" + param_value();
        }
        f += "\r\n";
        if (pick(3) == 0) {
            f += "Content-Disposition: attachment;" + std::string(pick(2) != 0 ? "\r\n\t" : " ") +
                 "filename=" + param_value() + "\r\n";
        }
        if (pick(6) == 0) {
            f += "Content-Description: " + text_line() + "\r\n";
        }
        return f;
    }

    std::string leaf() {
        std::string body;
        const unsigned lines = pick(6);
        for (unsigned i = 0; i < lines; ++i) {
            body += text_line() + "\r\n";
        }
        switch (pick(5)) {
            case 0:
                return fields("text/plain; charset=utf-8") + "Content-Transfer-Encoding: 8bit\r\n\r\n" + body;
            case 1:
                return fields("text/html; charset=utf-8") + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
                       "<p>=C3=A9 rapat</p>=\r\n\r\n";
            case 2: {
                std::string bin;
                for (unsigned i = 0; i < 200 + pick(400); ++i) {
                    bin += static_cast<char>(m_rng() & 0xFFU);
                }
                return fields("application/octet-stream") + "Content-Transfer-Encoding: base64\r\n\r\n" +
                       base64_lines(bin);
            }
            case 3:
                return fields("text/calendar; method=REQUEST; charset=UTF-8") + "\r\nBEGIN:VCALENDAR\r\n" + body +
                       "END:VCALENDAR\r\n";
            default:
                return fields("text/plain") + "\r\n" + body;
        }
    }

    static std::string base64_lines(const std::string& bin) { return segel::smime::base64::encode_lines(bin); }

    std::string entity(int depth) {
        const unsigned kind = depth >= 3 ? 0 : pick(4);
        if (kind == 0 || kind == 1) {
            return leaf();
        }
        if (kind == 2) {  // a forwarded message
            std::string inner =
                "Received: from mail.mitra.example (mail.mitra.example [192.0.2.25]) by "
                "mx.dinas.example.go.id with ESMTPS id " +
                std::to_string(pick(100000)) +
                " for <siti@dinas.example.go.id>; Fri, 20 Nov 2026\r\n"
                "From: kepala@mitra.example\r\nSubject: " +
                text_line() + "\r\nMIME-Version: 1.0\r\n" + entity(depth + 1);
            return "Content-Type: message/rfc822\r\n" +
                   std::string(pick(2) != 0 ? "Content-Disposition: inline\r\n" : "") + "\r\n" + inner;
        }
        static const std::vector<std::string> subtypes = {"mixed", "alternative", "related", "digest"};
        const std::string boundary = "=_b" + std::to_string(depth) + "_" + std::to_string(++m_n);
        std::string e = "Content-Type: multipart/" + subtypes[pick(4)] + "; boundary=\"" + boundary + "\"" +
                        (pick(3) == 0 ? std::string(";\r\n\ttype=\"multipart/alternative\"; x-long=\"") +
                                            std::string(60, 'l') + "\""
                                      : "") +
                        "\r\n\r\n";
        if (pick(2) != 0) {
            e += "This is a multi-part message in MIME format.\r\n" + std::string(pick(2) != 0 ? "\r\n" : "") +
                 text_line() + "\r\n";
        }
        const unsigned parts = 1 + pick(3);
        for (unsigned i = 0; i < parts; ++i) {
            e += "--" + boundary + "\r\n" + entity(depth + 1) + "\r\n";
        }
        e += "--" + boundary + "--\r\n";
        if (pick(2) != 0) {
            e += "epilogue " + text_line() + "\r\n\r\n" + text_line() + "\r\n";
        }
        return e;
    }

    std::mt19937 m_rng;
    bool m_hostile = false;
    int m_n = 0;
};

/** Every leaf's decoded content, in tree order, as GMime reads it. */
void leaves(GMimeObject* object, std::vector<std::string>& out) {
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart* mp = GMIME_MULTIPART(object);
        for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) {
            leaves(g_mime_multipart_get_part(mp, i), out);
        }
    } else if (GMIME_IS_MESSAGE_PART(object)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        if (inner != nullptr && g_mime_message_get_mime_part(inner) != nullptr) {
            leaves(g_mime_message_get_mime_part(inner), out);
        }
    } else if (GMIME_IS_PART(object)) {
        std::string content = smime::mime::decoded_content(GMIME_PART(object));
        // GMime's reader quirk: a quoted-printable part's content keeps the CR of the CRLF
        // before the next boundary (Python's email package reads the same bytes without it).
        if (content == "\r" || (content.size() >= 2 && content.compare(content.size() - 2, 2, "\n\r") == 0)) {
            content.pop_back();
        }
        out.push_back(std::move(content));
    }
}

std::vector<std::string> leaves_of(const std::string& message) {
    auto msg = smime::mime::parse_message(smime::Blob::from(message));
    std::vector<std::string> out;
    if (GMimeObject* body = g_mime_message_get_mime_part(msg.get())) {
        leaves(body, out);
    }
    return out;
}

}  // namespace

namespace {

/**
 * Signs 300 ShapeMaker messages and checks each as a recipient has it: the signature verifies
 * over the CRLF copy, and every part's decoded content is what SMTP carried of the original.
 * A message may only fail as Malformed (its own fault), never as the gateway's.
 * @return how many were Malformed
 */
int sign_shapes(const Fixture& f, bool hostile) {
    int malformed = 0;
    for (unsigned seed = 1; seed <= 300; ++seed) {
        const std::string msg = ShapeMaker(seed, hostile).message();
        INFO("seed " << seed << ":\n" << msg);
        smime::SignedMessage sm;
        try {
            sm = f.sign(msg, f.siti);
        } catch (const smime::Error& e) {
            INFO(e.what());
            CHECK(e.category() == smime::Category::Malformed);  // never "try again" for the message's fault
            ++malformed;
            continue;
        }
        const std::string received = received_copy(sm);
        const auto r = verify_received(f, received);
        CHECK(r.result == smime::AuthResult::Pass);
        CHECK_FALSE(r.lf_normalised);
        const auto got = leaves_of(signed_part(sm));
        const auto want = leaves_of(transported(msg));
        CHECK(got.size() == want.size());
        for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
            const auto at = std::mismatch(want[i].begin(), want[i].end(), got[i].begin(), got[i].end());
            INFO("leaf " << i << ": " << want[i].size() << " octets sent, " << got[i].size()
                         << " signed, first difference at " << (at.first - want[i].begin()));
            CHECK(got[i] == want[i]);
        }
        if (seed % 50 == 0) {
            CHECK(openssl_verifies_received(f, received));
        }
    }
    return malformed;
}

}  // namespace

TEST_CASE("sign: random real-world shapes are signed as received by the recipient, content unchanged",
          "[smime][sign][abuse]") {
    Fixture f;
    CHECK(sign_shapes(f, false) == 0);  // these shapes are all legal mail
}

TEST_CASE("sign: hostile shapes are signed as the recipient receives them, or refused as Malformed",
          "[smime][sign][abuse]") {
    Fixture f;
    CHECK(sign_shapes(f, true) < 150);  // most hostile shapes are still signable (about a quarter are not)
}

TEST_CASE("sign: long header lines keep a transport-safe entity on the sign-as-received path", "[smime][sign]") {
    Fixture f;
    const std::string head = "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\n";
    const std::string entity =
        "Content-Type: multipart/related; boundary=\"----=_rel_0123456789abcdef\"; type=\"multipart/alternative\"; "
        "start=\"<part1@dinas.example.go.id>\"\r\n\r\n------=_rel_0123456789abcdef\r\nContent-Type: text/html\r\n"
        "Content-Disposition: inline; filename=\"" +
        std::string(200, 'f') + ".html\"\r\n\r\n<p>Rapat</p>\r\n------=_rel_0123456789abcdef--";
    const std::string msg = head + entity + "\r\n";
    const std::string body = msg.substr(msg.find("\r\n\r\n", msg.find("Content-Type")) + 4);
    for (const bool scanned_on_arrival : {false, true}) {
        INFO((scanned_on_arrival ? "body scanned as the milter does" : "scanned by sign()"));
        smime::canonical::Scanner arrival(smime::canonical::Layout::EntityBody);
        arrival.feed(body);
        smime::SignOptions o;
        o.now = test::fixed_now();
        o.body_scan = scanned_on_arrival ? &arrival : nullptr;
        const auto sm = smime::sign(smime::Blob::from(msg), f.siti, f.chain(), o);
        CHECK(signed_part(sm) == entity);  // byte for byte as received: no GMime rewrite
        CHECK(sm.rewrite.headers_reencoded == 0);
        CHECK(verify_received(f, received_copy(sm)).result == smime::AuthResult::Pass);
    }
}

TEST_CASE("sign: the opaque format signs the same canonical entity", "[smime][sign]") {
    Fixture f;
    const std::string msg =
        "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        "Preamble one.\r\n\r\nPreamble three.\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\nContent-Description: " +
        std::string(300, 'd') + "\r\n\r\nh\xC3\xA9\r\n--b--\r\n";
    const auto sm = f.sign(msg, f.siti, smime::SignFormat::Opaque);
    const auto der = smime::base64::decode(sm.body.view());
    REQUIRE(der.has_value());
    const auto r = smime::check_cms(*der, std::nullopt, f.trust, test::fixed_now());
    CHECK(r.signature_valid);
    CHECK_FALSE(has_bare_lf(r.content));
    smime::canonical::Scanner s(smime::canonical::Layout::Entity);
    s.feed(r.content);
    const smime::canonical::Hazards h = s.finish();
    CHECK(smime::canonical::wire_problems(h, s.lines()).empty());
    CHECK(verify_received(f, received_copy(sm)).result == smime::AuthResult::Pass);
}
