// A message that cannot be signed for a cause in itself is answered before any edit exists:
// 554 5.6.0 with the reason, or delivered unsigned where the domain says unsignable: pass.
// Never 451 (retrying cannot help), never half changed.
#include "config/load.h"
#include "engine/gateway.h"
#include "engine/session.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

using namespace segel;

namespace {

engine::Processed submit(const std::shared_ptr<const engine::Gateway>& gw, const std::string& message) {
    engine::Transcript t;
    t.connection.client_ip = "192.0.2.10";
    t.login = "siti@dinas.example.go.id";
    t.mail_from = "siti@dinas.example.go.id";
    t.recipients = {"kepala@mitra.example"};
    return engine::process(gw, t, message, [] { return test::fixed_now(); });
}

/** Siti's message through a Session, with one more header field (@p name, @p raw) as the MTA hands it. */
engine::Edits with_field(const std::shared_ptr<const engine::Gateway>& gw, std::string_view name,
                         std::string_view raw) {
    engine::ConnectionFacts c;
    c.client_ip = "192.0.2.10";
    engine::Session session(gw, c, [] { return test::fixed_now(); });
    session.mail_from("siti@dinas.example.go.id", "siti@dinas.example.go.id");
    session.recipient("kepala@mitra.example");
    session.header("From", " siti@dinas.example.go.id");
    session.header("To", " kepala@mitra.example");
    session.header(name, raw);
    session.header("Content-Type", " text/plain");
    REQUIRE(session.end_of_headers().kind == engine::Reply::Kind::Continue);
    REQUIRE(session.body("isi\r\n").kind == engine::Reply::Kind::Continue);
    return session.end_of_message();
}

}  // namespace

TEST_CASE("session: a message that cannot be signed is refused with 554 5.6.0, or passed by choice",
          "[engine][session]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    const auto gateway = [&, p12 = p12, pass = pass](const std::string& unsignable) {
        return engine::Gateway::load(test::write_signing_config(pki, p12, pass, "segel-" + unsignable + ".yaml",
                                                                "      unsignable: " + unsignable + "\n"));
    };
    // An attachment whose name is one 1,200-octet word: no line of it may exceed 998 octets.
    const std::string msg =
        "From: siti@dinas.example.go.id\r\nTo: kepala@mitra.example\r\nSubject: Lampiran\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nisi\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" +
        std::string(1200, 'n') + ".bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";

    SECTION("reject (the default): permanent, with the reason, nothing changed") {
        const auto out = submit(gateway("reject"), msg);
        CHECK(out.reply.kind == engine::Reply::Kind::Reject);
        CHECK(out.reply.code == "554");
        CHECK(out.reply.xcode == "5.6.0");
        CHECK_THAT(out.reply.text,
                   Catch::StartsWith("message cannot be signed: header field Content-Disposition has a line of 1216 "
                                     "octets with no white space to fold it at (RFC 5322 allows 998)"));
        CHECK(out.outcome.decision == engine::Decision::Refuse);
        CHECK_FALSE(out.outcome.certificate.has_value());
        CHECK_FALSE(out.outcome.error.has_value());  // not an internal error
        CHECK(out.actions.recorded().empty());
    }
    SECTION("pass: delivered unsigned and unchanged, and says why") {
        const auto out = submit(gateway("pass"), msg);
        CHECK(out.reply.kind == engine::Reply::Kind::Accept);
        CHECK(out.outcome.decision == engine::Decision::Pass);
        CHECK_THAT(out.outcome.summary, Catch::StartsWith("pass: cannot be signed (header field Content-Disposition"));
        CHECK_THAT(out.outcome.summary, Catch::EndsWith("sent unsigned (dinas.example.go.id unsignable: pass)"));
        CHECK_FALSE(out.outcome.certificate.has_value());
        CHECK(out.actions.recorded().empty());
    }
    SECTION("the same message with a name that folds is signed") {
        std::string foldable = msg;
        foldable.replace(foldable.find(std::string(1200, 'n')), 1200,
                         std::string(600, 'n') + " " + std::string(600, 'n'));
        const auto out = submit(gateway("reject"), foldable);
        CHECK(out.reply.kind == engine::Reply::Kind::Continue);
        CHECK(out.outcome.decision == engine::Decision::Sign);
        CHECK_THAT(out.actions.message(), Catch::Contains("Content-Type: multipart/signed;"));
    }
}

TEST_CASE("session: a header field the MTA hands over that no reader would read back makes the message unsignable",
          "[engine][session]") {
    // Postfix sends neither, but the milter protocol can: signed, the message would leave with a
    // header no reader can parse, or with a line that ends the header block before the
    // Content-Type: multipart/signed this gateway writes (both found by fuzz_milter:
    // regress-header-name-crlf, regress-date-stray-line).
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto [p12, pass] = pki.pkcs12(siti, "rahasia");
    const auto gw = engine::Gateway::load(test::write_signing_config(pki, p12, pass));
    const auto refused = [](const engine::Edits& e, std::string_view why) {
        CHECK(e.reply.code == "554");
        CHECK(e.reply.xcode == "5.6.0");
        CHECK_THAT(e.reply.text, Catch::Contains(std::string(why)));
        CHECK_FALSE(e.changes_message());
    };
    SECTION("a name that is not RFC 5322 ftext") {
        refused(with_field(gw, "Date\r\n\tn, 1 Jun 2026 08:00:00 +0700", ""),  // what the fuzzer sent
                "header field name \"Date???n, 1 Jun 2026 08:00:00 +0700\" is not a valid field name (RFC 5322 ftext");
    }
    SECTION("a line break in the value that is not a fold") {
        for (const std::string_view date : {" Mon, 1 Jun =\r\n6 08:00:00 +0700",  // what the fuzzer sent
                                            " Mon, 1 Jun 2026\n08:00:00 +0700", " Mon, 1 Jun 2026 08:00:00 +0700\n",
                                            " Mon, 1 Jun 2026\n\n\t08:00:00 +0700"}) {
            INFO(date);
            refused(with_field(gw, "Date", date), "header field \"Date\" has a line break that is not a fold");
        }
    }
    SECTION("folds as libmilter hands them (LF + WSP) and as written (CRLF + WSP) are signed") {
        for (const std::string_view date :
             {" Mon, 1 Jun 2026\n\t08:00:00 +0700", " Mon, 1 Jun 2026\r\n 08:00:00 +0700"}) {
            INFO(date);
            const engine::Edits e = with_field(gw, "Date", date);
            CHECK(e.reply.kind == engine::Reply::Kind::Continue);
            CHECK(e.changes_message());
        }
    }
}
