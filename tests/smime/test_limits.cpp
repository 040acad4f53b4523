// Inbound mail from anyone must cost bounded time and memory (smime/limits.h,
// docs/verification.md "Limits"): part bombs, parameter bombs, deep nesting,
// huge headers, and CMS structures with too many signers, certificates,
// recipients or elements are permerror with the limit named, never parsed to
// the end. These tests assert verdicts and reasons only; what the bombs cost
// is measured by scripts/bench --only hostile.
#include "smime/base64.h"
#include "smime/cms_load.h"
#include "smime/decrypt.h"
#include "smime/error.h"
#include "smime/verify.h"
#include "tests/support/pki.h"

#include <openssl/cms.h>
#include <catch2/catch.hpp>

#include <random>

using namespace segel;
using smime::AuthResult;
using Problem = smime::VerifyResult::Problem;

namespace {

const std::string k_head =
    "From: Mitra <kepala@mitra.example>\r\nTo: siti@dinas.example.go.id\r\nSubject: Uji\r\nMIME-Version: 1.0\r\n";

smime::VerifyResult verify(const std::string& msg, const smime::Limits& limits = {}) {
    static test::TestPki pki;
    static const smime::TrustStore trust = pki.trust();
    smime::VerifyOptions o;
    o.now = test::fixed_now();
    o.limits = limits;
    return smime::verify(smime::Blob::from(msg), trust, o);
}

/** multipart/mixed of @p n empty parts ("--b" CRLF CRLF each). */
std::string part_bomb(std::size_t n) {
    std::string m = k_head + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
    for (std::size_t i = 0; i < n; ++i) {
        m += "--b\r\n\r\n";
    }
    return m + "--b--\r\n";
}

/** A Content-Type value with @p n parameters, folded. */
std::string many_parameters(std::size_t n) {
    std::string v = "text/plain";
    for (std::size_t i = 0; i < n; ++i) {
        v += (i % 10 == 0 ? ";\r\n a" : "; a") + std::to_string(i) + "=b";
    }
    return v;
}

void check_permerror(const smime::VerifyResult& r, const std::string& reason) {
    INFO(r.reason);
    CHECK(r.result == AuthResult::PermError);
    CHECK(r.problem == Problem::Malformed);
    CHECK(r.reason == reason);
}

}  // namespace

TEST_CASE("limits: a part bomb is permerror at the first part over max_parts", "[smime][verify][hostile][limits]") {
    check_permerror(verify(part_bomb(5000)), "more than 1000 MIME parts (limit max_parts)");
    check_permerror(verify(test::lf_only(part_bomb(5000))), "more than 1000 MIME parts (limit max_parts)");
    // Within the limit it is an ordinary unsigned message; the limit is the configured one.
    CHECK(verify(part_bomb(999)).result == AuthResult::None);
    smime::Limits small;
    small.max_parts = 10;
    check_permerror(verify(part_bomb(11), small), "more than 10 MIME parts (limit max_parts)");
    CHECK(verify(part_bomb(10), small).result == AuthResult::None);
    // Parts nested one below the other count too.
    std::string nested = k_head + "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n";
    for (int i = 0; i < 6; ++i) {
        nested += "--o\r\nContent-Type: multipart/mixed; boundary=\"i" + std::to_string(i) + "\"\r\n\r\n--i" +
                  std::to_string(i) + "\r\n\r\nx\r\n--i" + std::to_string(i) + "--\r\n";
    }
    check_permerror(verify(nested + "--o--\r\n", small), "more than 10 MIME parts (limit max_parts)");
}

TEST_CASE("limits: 5,000 parameters in a Content-Type are permerror, at the top or in a part",
          "[smime][verify][hostile][limits]") {
    const std::string reason = "a Content-Type field with more than 100 parameters (limit max_parameters)";
    check_permerror(verify(k_head + "Content-Type: " + many_parameters(5000) + "\r\n\r\nx\r\n"), reason);
    const std::string in_part =
        k_head + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: " + many_parameters(5000) +
        "\r\n\r\nx\r\n--b--\r\n";
    check_permerror(verify(in_part), reason);
    check_permerror(verify(test::lf_only(in_part)), reason);
    const std::string disposition = k_head +
                                    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
                                    "Content-Disposition: attachment; filename=x" +
                                    many_parameters(200).substr(10) + "\r\n\r\nx\r\n--b--\r\n";
    check_permerror(verify(disposition),
                    "a Content-Disposition field with more than 100 parameters (limit max_parameters)");
    // RFC 2231 continuations of a long file name are ordinary: 20 of them are fine.
    CHECK(verify(k_head + "Content-Type: " + many_parameters(20) + "\r\n\r\nx\r\n").result == AuthResult::None);
}

TEST_CASE("limits: deep nesting is permerror beyond max_depth, whatever the depth",
          "[smime][verify][hostile][limits]") {
    auto nest = [](int levels) {
        std::string msg = k_head;
        std::string tail;
        for (int i = 0; i < levels; ++i) {
            const std::string b = "n" + std::to_string(i);
            msg += "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n";
            tail = "\r\n--" + b + "--\r\n" + tail;
        }
        return msg + "Content-Type: text/plain\r\n\r\ndeep" + tail;
    };
    check_permerror(verify(nest(100000)), "MIME nesting deeper than 64 levels (limit max_depth)");
    check_permerror(verify(nest(65)), "MIME nesting deeper than 64 levels (limit max_depth)");
    CHECK(verify(nest(64)).result == AuthResult::None);
    smime::Limits shallow;
    shallow.max_depth = 3;
    check_permerror(verify(nest(4), shallow), "MIME nesting deeper than 3 levels (limit max_depth)");
    CHECK(verify(nest(3), shallow).result == AuthResult::None);
}

TEST_CASE("limits: a header block over max_header_bytes is permerror, at the top or in a part",
          "[smime][verify][hostile][limits]") {
    const std::string reason = "a header block larger than 256 KB (limit max_header_bytes)";
    std::string huge = "X-Huge: start";
    while (huge.size() < 300 * 1024) {
        huge += "\r\n\t" + std::string(76, 'x');
    }
    check_permerror(verify(k_head + huge + "\r\nContent-Type: text/plain\r\n\r\nx\r\n"), reason);
    const std::string in_part =
        k_head + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n" + huge + "\r\n\r\nx\r\n--b--\r\n";
    check_permerror(verify(in_part), reason);
    std::string fields;
    for (int i = 0; fields.size() < 300 * 1024; ++i) {
        fields += "X" + std::to_string(i) + ": y\r\n";
    }
    check_permerror(
        verify(k_head + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n" + fields + "\r\nx\r\n--b--\r\n"),
        reason);
    // A part whose header never ends is bounded the same way.
    check_permerror(verify(k_head + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n" + fields), reason);
    smime::Limits small;
    small.max_header_bytes = 1024;
    check_permerror(verify(k_head + "X-Long: " + std::string(2000, 'y') + "\r\n\r\nx\r\n", small),
                    "a header block larger than 1 KB (limit max_header_bytes)");
}

TEST_CASE("limits: hostile structure that stays within the limits is read as usual",
          "[smime][verify][hostile][limits]") {
    // A missing closing boundary, a boundary that never comes, no boundary at all, LF-only lines.
    const std::vector<std::string> rows = {
        k_head + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n",
        k_head + "Content-Type: multipart/mixed; boundary=\"never\"\r\n\r\n--b\r\n\r\nx\r\n",
        k_head + "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
        test::lf_only(part_bomb(50)),
        k_head + "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n" +
            part_bomb(5000) + "--o--\r\n",  // an attached message is another message: not entered
    };
    for (const auto& m : rows) {
        const auto r = verify(m);
        INFO(r.reason);
        CHECK(r.result == AuthResult::None);
    }
}

TEST_CASE("limits: CMS structures are counted from their encoding before they are decoded",
          "[smime][verify][decrypt][hostile][limits]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const std::string content = "Content-Type: text/plain\r\n\r\nx\r\n";
    auto sign = [&](int extra_certs) {
        const unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_DETACHED;
        auto cms = smime::ossl::adopt(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
        REQUIRE(CMS_add1_signer(cms.get(), siti.cert.get(), siti.key.get(), EVP_sha256(), flags) != nullptr);
        for (int i = 0; i < extra_certs; ++i) {
            const auto other = pki.issue({"Stranger " + std::to_string(i), ""});
            REQUIRE(CMS_add1_cert(cms.get(), other.cert.get()) == 1);
        }
        auto in = smime::ossl::mem_bio(content.data(), content.size());
        REQUIRE(CMS_final(cms.get(), in.get(), nullptr, flags) == 1);
        auto out = smime::ossl::adopt(BIO_new(BIO_s_mem()));
        REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
        return smime::ossl::bio_to_string(out.get());
    };
    auto detached = [&](const std::string& der) {
        return "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; "
               "protocol=\"application/pkcs7-signature\"; boundary=\"b1\"\r\n\r\n--b1\r\n" +
               content +
               "\r\n--b1\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: "
               "base64\r\n\r\n" +
               smime::base64::encode_lines(der) + "--b1--\r\n";
    };
    smime::Limits few;
    few.max_certificates = 3;
    const std::string four = sign(3);  // the signer's and three more
    check_permerror(verify(detached(four), few),
                    "the signature carries more than 3 certificates and CRLs (limit max_certificates)");
    few.max_certificates = 4;
    CHECK(verify(detached(four), few).result != AuthResult::PermError);

    // Far more ASN.1 elements than any real structure: refused before OpenSSL builds them.
    std::string nulls;
    for (std::size_t i = 0; i <= smime::k_max_cms_elements; ++i) {
        nulls += std::string("\x05\x00", 2);
    }
    auto wrap = [](unsigned char tag, const std::string& c) {
        std::string len;
        for (std::size_t v = c.size(); v > 0; v >>= 8U) {
            len.insert(len.begin(), static_cast<char>(v & 0xFFU));
        }
        return std::string(1, static_cast<char>(tag)) + static_cast<char>(0x80U | len.size()) + len + c;
    };
    const std::string oid("\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", 11);
    check_permerror(verify(detached(wrap(0x30, oid + wrap(0xA0, wrap(0x30, nulls))))),
                    "the signature has more than 100000 ASN.1 elements");
}

TEST_CASE("limits: an encrypted body is decoded piece by piece, with the whole decoding's result",
          "[smime][decrypt][limits]") {
    // pkcs7_mime_der reads the spool in 256 KB pieces and never holds the whole base64 text:
    // the result must be exactly base64::decode of all of it, whatever the line length and
    // wherever a piece ends (inside a quantum, inside the padding, in trailing white space).
    std::mt19937 rng(20261201);
    for (const std::size_t size : {std::size_t{10}, std::size_t{196607}, std::size_t{196608}, std::size_t{196609},
                                   std::size_t{500000}, std::size_t{1 << 20}}) {
        std::string raw(size, '\0');
        for (auto& c : raw) {
            c = static_cast<char>(rng() & 0xFFU);
        }
        std::string text = smime::base64::encode_lines(raw);
        if (size % 3 == 1) {
            text += std::string(262144 - (text.size() + 200) % 262144, '\n');  // padding near a piece's end
        }
        const std::string msg = k_head +
                                "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
                                "Content-Transfer-Encoding: base64\r\n\r\n" +
                                text;
        INFO(size);
        const auto der = smime::pkcs7_mime_der(smime::Blob::from(msg));  // in memory: one pass
        REQUIRE(der.has_value());
        CHECK(*der == raw);
        smime::Blob spooled(0);  // spilled to a file at once: read and decoded piece by piece
        spooled.append(msg);
        REQUIRE(spooled.on_disk());
        const auto der_spooled = smime::pkcs7_mime_der(spooled);
        REQUIRE(der_spooled.has_value());
        CHECK(*der_spooled == raw);
    }
}

TEST_CASE("several Content-Type fields: no reader's choice is taken, for verification or decryption",
          "[smime][limits][content-type]") {
    // RFC 2045 allows one. GMime (and so the rest of the gateway) takes the last, Python's email
    // the first: a multipart/signed first and a text/plain second would be verified as one thing
    // and shown as another (its preamble, invisible in the multipart, visible as text).
    const std::string signed_first =
        k_head +
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"s\"\r\n"
        "Content-Type: text/plain\r\n\r\nTransfer ke rekening 123.\r\n--s\r\nContent-Type: text/plain\r\n\r\nhalo\r\n"
        "--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--s--\r\n";
    const auto r = verify(signed_first);
    CHECK(r.result == AuthResult::PermError);
    CHECK(r.reason == "a header block with 2 Content-Type fields");
    // Inside a part, the same.
    const auto part = verify(k_head +
                             "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
                             "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n--b--\r\n");
    CHECK(part.result == AuthResult::PermError);
    CHECK(part.reason == "a header block with 2 Content-Type fields");
    // One is fine, as before.
    CHECK(verify(k_head + "Content-Type: text/plain\r\n\r\nx\r\n").result == AuthResult::None);

    // Decryption: not opened when either field is doubled; a message that is not pkcs7-mime at all
    // is left alone.
    const std::string enc = "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n";
    auto refused = [](const std::string& m) {
        try {
            (void)smime::pkcs7_mime_der(smime::Blob::from(m));
            return std::string("opened");
        } catch (const smime::Error& e) {
            return std::string(e.what());
        }
    };
    CHECK(refused(k_head + enc + "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB\r\n") ==
          "a header block with 2 Content-Type fields");
    CHECK(refused(k_head + "Content-Type: text/plain\r\n" + enc +
                  "Content-Transfer-Encoding: base64\r\n\r\nMIIB\r\n") == "a header block with 2 Content-Type fields");
    CHECK(refused(k_head + enc +
                  "Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: 7bit\r\n\r\nMIIB\r\n") ==
          "a header block with 2 Content-Transfer-Encoding fields");
    CHECK_FALSE(smime::pkcs7_mime_der(
        smime::Blob::from(k_head + "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n")));
}
