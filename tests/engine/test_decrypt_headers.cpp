// Inbound decryption must not let the sender write the top-level header
// (docs/encryption.md, "Inbound decryption"): anyone holding a staff member's
// public certificate can encrypt an entity whose header says anything. Only
// its Content-* fields may replace the top-level ones, and only when their
// names and values are well formed (RFC 5322 §2.2, §3.6.8). Messages made by
// `openssl cms -encrypt`, as an outside sender would.
#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/gateway.h"
#include "engine/outcome_format.h"
#include "engine/session.h"
#include "smime/base64.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace segel;
using Outcome = engine::InboundDecryption::Outcome;

namespace {

const std::string k_outer =
    "From: Kepala Mitra <kepala@mitra.example.id>\r\nTo: siti@dinas.example.go.id\r\nSubject: Dokumen\r\n"
    "MIME-Version: 1.0\r\n";

struct Fixture {
    test::TestPki pki;
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    std::shared_ptr<const engine::Gateway> gw;

    Fixture() {
        const std::string yaml = "trust:\n  anchors: [" + pki.root_file() + "]\n  intermediates: [" +
                                 pki.intermediate_file() +
                                 "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n"
                                 "credentials:\n  - certificate: " +
                                 siti.cert_file + "\n    key: " + siti.key_file +
                                 "\nencryption:\n  policy: never\ninbound:\n  authserv_id: mx.dinas.example.go.id\n";
        gw = engine::Gateway::from_settings(config::parse(yaml, "segel.yaml"));
    }

    /** The message an outside client sends: @p entity encrypted to Siti by openssl cms -encrypt. */
    std::string encrypted(const std::string& entity) const {
        const std::string plain = test::write_file(pki.dir() + "/plain", entity);
        const std::string der = pki.dir() + "/enc.der";
        const std::string cmd = "openssl cms -encrypt -binary -aes256 -in " + plain + " -outform DER -out " + der +
                                " " + siti.cert_file + " 2>" + pki.dir() + "/err";
        INFO(cmd);
        REQUIRE(std::system(cmd.c_str()) == 0);
        return k_outer +
               "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n" +
               smime::base64::encode_lines(test::read_file(der));
    }

    engine::InboundDecryption decrypt(const std::string& entity) const {
        return engine::decrypt_inbound(*gw, {"<siti@dinas.example.go.id>"}, smime::Blob::from(encrypted(entity)));
    }
};

std::size_t count_fields(const std::string& message, const std::string& name) {
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < message.size();) {
        const std::size_t eol = message.find("\r\n", pos);
        const std::string line = message.substr(pos, eol - pos);
        if (line.empty()) {
            break;
        }
        if (line.size() > name.size() && line.compare(0, name.size() + 1, name + ":") == 0) {
            ++n;
        }
        pos = eol + 2;
    }
    return n;
}

}  // namespace

TEST_CASE("decryption: only the entity's Content-* fields reach the top level", "[engine][decrypt][hostile]") {
    Fixture f;
    const std::string entity =
        "From: Direktur <direktur@dinas.example.go.id>\r\n"
        "Subject: [Tertandatangan: Direktur] Perintah transfer\r\n"
        "X-Segel-Decryption: decrypted; recipient=siti@dinas.example.go.id; forged=yes\r\n"
        "Authentication-Results: mx.dinas.example.go.id;\r\n\tsmime=pass (good signature)\r\n"
        "X-\x01"
        "Bad: a value with a bare \r carriage return\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Transfer segera ke rekening berikut.\r\n";
    const auto r = f.decrypt(entity);
    INFO(r.detail);
    REQUIRE(r.outcome == Outcome::Decrypted);
    REQUIRE(r.entity.headers.size() == 2);
    CHECK(r.entity.headers[0].name == "Content-Type");
    CHECK(r.entity.headers[1].name == "Content-Transfer-Encoding");
    CHECK(r.entity.body == "Transfer segera ke rekening berikut.\r\n");
    CHECK_THAT(r.detail, Catch::Contains("ignored 5 header fields of the decrypted entity"));
    CHECK_THAT(r.detail, Catch::Contains("From, Subject, X-Segel-Decryption, Authentication-Results, X-?Bad"));

    // What the recipient gets: the sender's own From and Subject, once each, and nothing of ours forged.
    const std::string delivered = engine::replace_entity(k_outer, r.entity.headers, r.entity.body);
    CHECK(count_fields(delivered, "From") == 1);
    CHECK(count_fields(delivered, "Subject") == 1);
    CHECK_THAT(delivered, Catch::Contains("Subject: Dokumen\r\n"));
    CHECK(count_fields(delivered, "X-Segel-Decryption") == 0);
    CHECK(count_fields(delivered, "Authentication-Results") == 0);
    CHECK(delivered.find("direktur@") == std::string::npos);
    CHECK(delivered.find('\x01') == std::string::npos);
}

TEST_CASE("decryption: a malformed Content-* field in the entity is refused, the message kept as it arrived",
          "[engine][decrypt][hostile]") {
    Fixture f;
    struct Row {
        const char* name;
        std::string field;
        const char* reason;
    };
    const std::vector<Row> rows = {
        {"bare CR", "Content-Type: text/plain\rX-Injected: yes", "bare CR"},
        {"NUL", std::string("Content-Type: text/plain; name=\"a") + '\0' + "b\"", "control character"},
        {"control byte in the name",
         "Content-Typ\x01"
         "e: text/plain",
         "not a valid field name"},
        {"DEL", "Content-Type: text/plain\x7f", "control character"},
        {"whitespace-only fold", "Content-Type: text/plain;\r\n \r\n charset=us-ascii", "only white space"},
        {"line over 998 octets", "Content-Disposition: attachment; filename=\"" + std::string(1000, 'x') + "\"",
         "longer than 998"},
    };
    for (const auto& row : rows) {
        const auto r = f.decrypt(row.field + "\r\n\r\nisi\r\n");
        INFO(row.name << ": " << r.detail);
        CHECK(r.outcome == Outcome::Failed);
        CHECK_THAT(r.detail, Catch::StartsWith("malformed: "));
        CHECK_THAT(r.detail, Catch::Contains(row.reason));
        CHECK_THAT(r.header, Catch::StartsWith("failed; recipient=siti@dinas.example.go.id; reason=\"malformed: "));
        CHECK(r.header.find_first_of(std::string("\r\n\0\x01\x7f", 5)) == std::string::npos);
    }
    // Folding as CRLF + WSP and 8-bit file names are fine.
    const auto ok = f.decrypt(
        "Content-Type: text/plain;\r\n\tcharset=utf-8\r\nContent-Disposition: attachment;\r\n filename=\"laporan "
        "\xC3\xA9.txt\"\r\n\r\nisi\r\n");
    INFO(ok.detail);
    REQUIRE(ok.outcome == Outcome::Decrypted);
    CHECK(ok.entity.headers.at(0).value == "text/plain;\n\tcharset=utf-8");
}

TEST_CASE("decryption: the entity's dropped fields are a warning line of their own, verified or not",
          "[engine][decrypt][hostile]") {
    // With inbound verification on, the decision line's reason is the verdict's: what the
    // sender hid inside the encryption must still reach the log (docs/operations.md).
    Fixture f;
    engine::Transcript t;
    t.connection.client_ip = "192.0.2.10";
    t.mail_from = "kepala@mitra.example.id";
    t.recipients = {"siti@dinas.example.go.id"};
    const std::string entity =
        "From: Direktur <direktur@dinas.example.go.id>\r\nSubject: [Tertandatangan: Direktur] Perintah\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nTransfer segera.\r\n";
    const auto out = engine::process(f.gw, t, f.encrypted(entity), [] { return test::fixed_now(); });
    REQUIRE(out.outcome.decryption);
    CHECK(out.outcome.decryption->result == engine::DecryptionFacts::Result::Decrypted);
    REQUIRE(out.outcome.verification);
    bool warned = false;
    for (const auto& l : engine::log_lines(out.outcome)) {
        if (l.level == engine::LogLine::Level::Warning &&
            l.text ==
                "decrypt: ignored 2 header fields of the decrypted entity that are not Content-*: From, Subject") {
            warned = true;
        }
    }
    CHECK(warned);
}
