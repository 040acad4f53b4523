// The bounded MIME readers (smime/mime/structure.h, smime/mime/fields.h): the
// walk over a message's parts, the header splitting it bounds, and the field
// visitor that keeps nothing — on ordinary structure, compared with GMime, and
// on hostile input (deep nesting, 5,000 parameters, missing boundaries,
// LF-only lines, delimiters that look like fields).
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/mime/mime.h"
#include "smime/mime/structure.h"
#include "tests/support/pki.h"
#include "tests/support/reference.h"

#include <catch2/catch.hpp>

using namespace segel;
using smime::mime::Part;

namespace {

const std::string k_head = "From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n";

std::string text_of(const std::string& m, const Part& p) {
    return m.substr(p.begin, p.end - p.begin);
}

}  // namespace

TEST_CASE("structure: parts, numbers and exact bytes of a nested message", "[smime][mime][structure]") {
    const std::string msg = k_head +
                            "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n"
                            "--outer\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
                            "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
                            "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
                            "--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
                            "--inner--\r\ninner epilogue\r\n"
                            "--outer\r\nContent-Type: message/rfc822\r\n\r\n"
                            "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nnot entered\r\n--x--\r\n"
                            "--outer--\r\nepilogue\r\n";
    for (const auto& m : {msg, test::lf_only(msg)}) {
        const auto parts = smime::mime::walk(m, {});
        REQUIRE(parts.size() == 6);
        CHECK(parts[0].number.empty());
        CHECK(parts[0].type.is("multipart", "mixed"));
        CHECK(parts[1].number == "1");
        CHECK(parts[2].number == "2");
        CHECK(parts[3].number == "2.1");
        CHECK(parts[4].number == "2.2");
        CHECK(parts[5].number == "3");
        CHECK(parts[5].type.is("message", "rfc822"));
        CHECK(parts[3].depth == 2);
        const bool crlf = m == msg;
        CHECK(text_of(m, parts[1]) ==
              (crlf ? "Content-Type: text/plain\r\n\r\nfirst" : "Content-Type: text/plain\n\nfirst"));
        CHECK(text_of(m, parts[4]) ==
              (crlf ? "Content-Type: text/html\r\n\r\n<p>html</p>" : "Content-Type: text/html\n\n<p>html</p>"));
        CHECK(m.substr(parts[4].body, parts[4].end - parts[4].body) == "<p>html</p>");
        // The attached message is one part: its own boundary is never looked for.
        CHECK(text_of(m, parts[5]).find("not entered") != std::string::npos);
    }
}

TEST_CASE("structure: the same parts as GMime for ordinary structure", "[smime][mime][structure]") {
    const std::string msg = k_head +
                            "Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\n\r\nx\r\n"
                            "--a\r\nContent-Type: multipart/related; boundary=\"b\"\r\n\r\n--b\r\n\r\ny\r\n--b\r\n"
                            "Content-Type: multipart/alternative; boundary=\"c\"\r\n\r\n--c\r\n\r\nz\r\n--c--\r\n"
                            "--b--\r\n--a\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--a--\r\n";
    std::size_t gmime_parts = 0;
    smime::mime::init();
    auto parsed = smime::mime::parse_message(smime::Blob::from(msg));
    std::vector<GMimeObject*> todo{g_mime_message_get_mime_part(parsed.get())};
    while (!todo.empty()) {
        GMimeObject* o = todo.back();
        todo.pop_back();
        ++gmime_parts;
        if (GMIME_IS_MULTIPART(o)) {
            for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); ++i) {
                todo.push_back(g_mime_multipart_get_part(GMIME_MULTIPART(o), i));
            }
        }
    }
    CHECK(smime::mime::walk(msg, {}).size() == gmime_parts);
}

TEST_CASE("structure: delimiters of an outer multipart end the inner ones; odd boundaries",
          "[smime][mime][structure][hostile]") {
    // The inner multipart is never closed: the outer delimiter ends it (as GMime reads it).
    const std::string unclosed = k_head +
                                 "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
                                 "Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nin\r\n"
                                 "--o\r\n\r\nafter\r\n--o--\r\n";
    const auto parts = smime::mime::walk(unclosed, {});
    REQUIRE(parts.size() == 4);
    CHECK(parts[3].number == "2");
    CHECK(text_of(unclosed, parts[2]) == "\r\nin");
    // A boundary with a colon: its delimiter line looks like a header field and must still end a header.
    const std::string colon = k_head +
                              "Content-Type: multipart/mixed; boundary=\"a:b\"\r\n\r\n--a:b\r\n"
                              "Content-Type: text/plain\r\n--a:b\r\n\r\nsecond\r\n--a:b--\r\n";
    const auto c = smime::mime::walk(colon, {});
    REQUIRE(c.size() == 3);
    CHECK(text_of(colon, c[1]) == "Content-Type: text/plain");
    // Transport padding after a delimiter (RFC 2046 §5.1.1), and a boundary that is a prefix of a line.
    const std::string padded = k_head +
                               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \t\r\n\r\nx\r\n--bb\r\n"
                               "--b--  \r\n";
    const auto p = smime::mime::walk(padded, {});
    REQUIRE(p.size() == 2);
    CHECK(text_of(padded, p[1]) == "\r\nx\r\n--bb");
    // No boundary, or one that never comes: the multipart is a leaf / has no parts.
    CHECK(smime::mime::walk(k_head + "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n", {}).size() == 1);
    CHECK(smime::mime::walk(k_head + "Content-Type: multipart/mixed; boundary=z\r\n\r\n--b\r\n\r\nx\r\n", {}).size() ==
          1);
    // No header at all, an empty message.
    CHECK(smime::mime::walk("", {}).size() == 1);
    CHECK(smime::mime::walk("\r\n\r\n", {}).front().type.is("text", "plain"));
}

TEST_CASE("structure: limits stop the walk at the first part over them", "[smime][mime][structure][hostile]") {
    smime::Limits l;
    l.max_parts = 3;
    std::string four = k_head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (int i = 0; i < 4; ++i) {
        four += "--b\r\n\r\n" + std::to_string(i) + "\r\n";
    }
    CHECK_THROWS_WITH(smime::mime::walk(four + "--b--\r\n", l), "more than 3 MIME parts (limit max_parts)");
    l.max_parts = 4;
    CHECK(smime::mime::walk(four + "--b--\r\n", l).size() == 5);
    try {
        std::string params = "text/plain";
        for (int i = 0; i < 5000; ++i) {
            params += "; p" + std::to_string(i) + "=v";
        }
        smime::mime::walk(k_head + "Content-Type: " + params + "\r\n\r\nx\r\n", {});
        FAIL("5,000 parameters were parsed");
    } catch (const smime::Error& e) {
        CHECK(e.category() == smime::Category::Limit);
        CHECK(std::string(e.what()) == "a Content-Type field with more than 100 parameters (limit max_parameters)");
    }
}

TEST_CASE("fields: split_fields bounded and stopped", "[smime][mime][fields]") {
    const std::string head = "A: 1\r\nB: two\r\n\tfolded\r\nc: 3\r\n\r\nbody";
    const auto all = smime::mime::split_fields(head);
    REQUIRE(all.fields.size() == 3);
    CHECK(all.fields[1].raw == " two\n\tfolded");
    CHECK(all.body == head.find("body"));
    // Bounded: the walk stops before the line that passes the bound.
    const auto cut = smime::mime::split_fields(head, 8);
    CHECK(cut.too_large);
    CHECK(cut.fields.size() == 1);
    // Stopped by a predicate (a delimiter line).
    const auto stopped = smime::mime::split_fields("A: 1\r\n--x:y\r\nB: 2\r\n", SIZE_MAX,
                                                   [](std::string_view l) { return l == "--x:y"; });
    CHECK(stopped.fields.size() == 1);
    CHECK(stopped.body == 6);
    // LF-only, a stray line, a fold before any field, an end without a blank line.
    const auto lf = smime::mime::split_fields(test::lf_only(head));
    REQUIRE(lf.fields.size() == 3);
    CHECK(lf.fields[1].raw == all.fields[1].raw);
    const auto stray = smime::mime::split_fields("A: 1\r\nno colon here\r\nB: 2\r\n");
    CHECK(stray.stray_line);
    CHECK(stray.fields.size() == 1);
    const auto fold = smime::mime::split_fields(" fold first\r\nA: 1\r\n");
    CHECK(fold.stray_line);
    CHECK(fold.fields.empty());
    const auto open_end = smime::mime::split_fields("A: 1\r\nB: 2");
    CHECK(open_end.fields.size() == 2);
    CHECK(open_end.body == 10);
}

TEST_CASE("fields: plain Content-Type and Content-Disposition values are read as GMime reads them",
          "[smime][mime][fields]") {
    using smime::mime::plain_content_type;
    using smime::mime::plain_disposition;
    // What clients write: read without GMime, and the same reading GMime gives.
    const std::vector<std::string> plain = {
        "text/plain",
        "text/plain; charset=us-ascii",
        "TEXT/Plain; Charset=\"UTF-8\"; format=flowed",
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"----=_Part_1_2.3\"",
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\tboundary=\"b\"",
        "multipart/mixed;boundary=simple",
        "  application/pkcs7-mime ; smime-type=enveloped-data; name=\"smime.p7m\"  ",
        "multipart/alternative; boundary=\"=_a b;c,d\"",
        "application/x-pkcs7-mime; smime-type=signed-data; name=smime.p7m",
    };
    for (const auto& v : plain) {
        INFO(v);
        CHECK(plain_content_type(v).has_value());
        CHECK(test::plain_value_disagreement(v, true).empty());
    }
    const auto signed_ct = plain_content_type(plain[3]);
    REQUIRE(signed_ct);
    CHECK(signed_ct->is("Multipart", "SIGNED"));
    CHECK(signed_ct->is("multipart", "*"));
    CHECK_FALSE(signed_ct->is("multipart", "mixed"));
    CHECK(signed_ct->param("BOUNDARY") == "----=_Part_1_2.3");
    CHECK(signed_ct->param("protocol") == "application/pkcs7-signature");
    CHECK_FALSE(signed_ct->param("charset"));
    for (const std::string v : {"attachment; filename=\"report 2026.pdf\"", "inline", "attachment;filename=a.p7s"}) {
        INFO(v);
        CHECK(plain_disposition(v).has_value());
        CHECK(test::plain_value_disagreement(v, false).empty());
    }
    CHECK(plain_disposition("attachment; filename=\"report 2026.pdf\"")->param("filename") == "report 2026.pdf");
    // Everything else is GMime's to read: comments, escapes, RFC 2231 and RFC 2047 parameters,
    // 8-bit, controls, a name twice, an empty or unterminated quote, stray syntax.
    const std::vector<std::string> gmime = {
        "text/plain (a comment)",
        "text/(c)plain",
        "text / plain",
        "text/plain; charset = us-ascii",
        "text/plain; name=\"a\\\"b\"",
        "application/octet-stream; name*=utf-8''%E2%82%AC.txt",
        "application/octet-stream; name*0=a; name*1=b",
        "application/octet-stream; name=\"=?utf-8?q?a?=\"",
        "text/plain; name=\"caf\xc3\xa9\"",
        "text/plain; name=\"a\tb\"",
        "multipart/mixed; boundary=a; boundary=b",
        "multipart/mixed; boundary=\"\"",
        "multipart/mixed; boundary=\"open",
        "multipart/mixed; boundary=",
        "multipart/mixed;",
        "multipart/mixed; boundary=a b",
        "text",
        "text/",
        "/plain",
        "text/plain;; charset=x",
        std::string("text/plain; charset=a\0b", 23),
        "text/plain; a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8; i=9; j=10; k=11; l=12; m=13",
    };
    for (const auto& v : gmime) {
        INFO(v);
        CHECK_FALSE(plain_content_type(v).has_value());
    }
    CHECK_FALSE(plain_disposition("attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf").has_value());
    CHECK_FALSE(plain_disposition("attachment/x").has_value());
    // Both readings give media_type the same answer, so callers see no difference.
    const smime::Limits limits;
    const auto a = smime::mime::media_type(std::string(plain[3]), std::nullopt, limits);
    CHECK(a.is("multipart", "signed"));
    CHECK(a.boundary == "----=_Part_1_2.3");
    CHECK(a.protocol == "application/pkcs7-signature");
    const auto b = smime::mime::media_type(std::string("Multipart/Signed; protocol=\"application/pkcs7-signature\" "
                                                       "(c); boundary=\"----=_Part_1_2.3\""),
                                           std::string("attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"), limits);
    CHECK(b.is("multipart", "signed"));
    CHECK(b.boundary == "----=_Part_1_2.3");
    CHECK(b.name == "r\xc3\xa9sum\xc3\xa9.pdf");
}

TEST_CASE("fields: crlf_to_lf removes the CR of each CRLF and keeps lone ones", "[smime][mime][fields]") {
    for (const std::string v : {"", "a", "\r", "\n", "\r\n", "a\r\nb", "a\r\r\nb\r", "\r\r\r\n\n\r", "x\n\ty\r\n\tz",
                                "no line ends at all"}) {
        INFO(v);
        CHECK(smime::mime::crlf_to_lf(v) == test::crlf_to_lf(v));
    }
    CHECK(smime::mime::crlf_to_lf("a\r\r\nb\r") == "a\r\nb\r");
}
