// The encryption policy table: per-domain and per-recipient rules, the subject
// trigger, and what one encryption for all recipients implies.
#include "policy/encrypt.h"

#include <catch2/catch.hpp>

using namespace segel;
using Policy = config::Encryption::Policy;
using Cipher = config::Encryption::Cipher;
using policy::EncryptAction;

namespace {

config::Encryption settings() {
    config::Encryption e;
    e.policy = Policy::Opportunistic;
    config::Encryption::Rule mitra;
    mitra.match = "mitra.example.id";
    mitra.subdomains = true;
    mitra.has_policy = true;
    mitra.policy = Policy::Required;
    mitra.has_cipher = true;
    mitra.cipher = Cipher::Aes128Gcm;
    config::Encryption::Rule legacy;
    legacy.match = "lama.example.id";
    legacy.has_policy = true;
    legacy.policy = Policy::Never;
    config::Encryption::Rule boss;
    boss.match = "kepala@mitra.example.id";
    boss.has_policy = true;
    boss.policy = Policy::Opportunistic;
    boss.has_cipher = true;
    boss.cipher = Cipher::Aes256Gcm;
    e.domains = {mitra, legacy};
    e.recipients = {boss};
    return e;
}

std::vector<policy::RecipientCertificate> certs(std::initializer_list<bool> usable) {
    std::vector<policy::RecipientCertificate> out;
    for (const bool u : usable) {
        policy::RecipientCertificate c;
        c.usable = u;
        c.why = u ? "directory: serial 01" : "no certificate found";
        out.push_back(c);
    }
    return out;
}

}  // namespace

TEST_CASE("encryption policy: recipient rule > most specific domain rule > default", "[policy][encrypt]") {
    const auto e = settings();
    CHECK(policy::policy_for(e, "staf@mitra.example.id").policy == Policy::Required);
    CHECK(policy::policy_for(e, "staf@bagian.mitra.example.id").policy == Policy::Required);
    CHECK(policy::policy_for(e, "Kepala@Mitra.Example.ID").policy == Policy::Opportunistic);
    CHECK(policy::policy_for(e, "Kepala@Mitra.Example.ID").cipher == Cipher::Aes256Gcm);
    CHECK(policy::policy_for(e, "x@lama.example.id").policy == Policy::Never);
    CHECK(policy::policy_for(e, "x@xmitra.example.id").policy == Policy::Opportunistic);
    CHECK(policy::policy_for(e, "x@other.example").rule == "encryption.policy");
}

TEST_CASE("encryption policy: the decision table", "[policy][encrypt]") {
    const auto e = settings();
    struct Row {
        std::vector<std::string> to;
        bool trigger;
        std::vector<bool> usable;
        EncryptAction action;
        std::string code;
    };
    const std::vector<Row> rows = {
        // opportunistic: all have certificates → encrypt; one lacks → sign only
        {{"a@other.example", "b@other.example"}, false, {true, true}, EncryptAction::Encrypt, ""},
        {{"a@other.example", "b@other.example"}, false, {true, false}, EncryptAction::SignOnly, ""},
        // required by domain: lacking → 550
        {{"staf@mitra.example.id"}, false, {false}, EncryptAction::Reject, "550"},
        {{"staf@mitra.example.id", "a@other.example"}, false, {true, true}, EncryptAction::Encrypt, ""},
        {{"staf@mitra.example.id", "a@other.example"}, false, {true, false}, EncryptAction::Reject, "550"},
        // never wins for opportunistic, conflicts with required
        {{"a@other.example", "x@lama.example.id"}, false, {true, true}, EncryptAction::SignOnly, ""},
        {{"staf@mitra.example.id", "x@lama.example.id"}, false, {true, true}, EncryptAction::Reject, "550"},
        // the trigger makes anything required
        {{"x@lama.example.id"}, true, {true}, EncryptAction::Encrypt, ""},
        {{"x@lama.example.id"}, true, {false}, EncryptAction::Reject, "550"},
        {{"a@other.example"}, true, {false}, EncryptAction::Reject, "550"},
        {{"a@other.example"}, true, {true}, EncryptAction::Encrypt, ""},
    };
    int i = 0;
    for (const auto& row : rows) {
        INFO("row " << i++);
        std::vector<policy::RecipientCertificate> c;
        for (std::size_t k = 0; k < row.usable.size(); ++k) {
            policy::RecipientCertificate rc;
            rc.address = row.to[k];
            rc.usable = row.usable[k];
            c.push_back(rc);
        }
        const auto d = policy::decide_encryption(e, row.to, row.trigger, c);
        CHECK(d.action == row.action);
        CHECK(d.reply_code == row.code);
        if (d.action == EncryptAction::Reject) {
            CHECK(d.reply_xcode == "5.7.1");
            CHECK_FALSE(d.reply_text.empty());
            CHECK((d.reason_code == "encryption-no-certificate" || d.reason_code == "encryption-conflict"));
        }
    }
}

TEST_CASE("encryption policy: the refusal names exactly the recipients without a certificate", "[policy][encrypt]") {
    const auto e = settings();
    const auto d = policy::decide_encryption(e, {"staf@mitra.example.id", "a@other.example", "b@other.example"}, false,
                                             certs({false, true, false}));
    REQUIRE(d.action == EncryptAction::Reject);
    CHECK_THAT(d.reply_text, Catch::Contains("staf@mitra.example.id, b@other.example"));
    CHECK_THAT(d.reply_text, !Catch::Contains("a@other.example"));
}

TEST_CASE("encryption policy: a recipient with a line break stays on one line in reasons and replies",
          "[policy][encrypt]") {
    // RCPT TO is the client's text: found by the milter fuzzer (fuzz/corpus/milter/regress-rcpt-crlf).
    const std::string hostile = "staf@mitra.e\r\nxample.id";
    for (const bool usable : {false, true}) {
        INFO("usable " << usable);
        const auto d =
            policy::decide_encryption(settings(), {hostile, "kepala@mitra.example.id"}, true, certs({usable, false}));
        REQUIRE_FALSE(d.reasons.empty());
        for (const auto& r : d.reasons) {
            INFO(r);
            CHECK(r.find_first_of("\r\n") == std::string::npos);
        }
        CHECK(d.reply_text.find_first_of("\r\n") == std::string::npos);
        CHECK(d.summary.find_first_of("\r\n") == std::string::npos);
    }
    // A plain address reads as before.
    const auto plain = policy::decide_encryption(settings(), {"staf@mitra.example.id"}, false, certs({false}));
    CHECK_THAT(plain.reasons.front(), Catch::StartsWith("recipient <staf@mitra.example.id>: "));
}

TEST_CASE("encryption policy: a directory outage is a temporary refusal", "[policy][encrypt]") {
    auto c = certs({false});
    c[0].lookup_failed = true;
    const auto d = policy::decide_encryption(settings(), {"staf@mitra.example.id"}, false, c);
    CHECK(d.reply_code == "451");
    CHECK(d.reply_xcode == "4.7.1");
    CHECK(d.reason_code == "encryption-lookup-failed");
}

TEST_CASE("encryption policy: GCM only when every recipient opted in", "[policy][encrypt]") {
    const auto e = settings();
    CHECK(policy::decide_encryption(e, {"staf@mitra.example.id"}, false, certs({true})).cipher == Cipher::Aes128Gcm);
    CHECK(policy::decide_encryption(e, {"staf@mitra.example.id", "kepala@mitra.example.id"}, false, certs({true, true}))
              .cipher == Cipher::Aes256Gcm);
    CHECK(
        policy::decide_encryption(e, {"staf@mitra.example.id", "a@other.example"}, false, certs({true, true})).cipher ==
        Cipher::Aes256Cbc);
}

TEST_CASE("encryption policy: the subject trigger", "[policy][encrypt]") {
    CHECK(policy::has_trigger(" [rahasia] Rapat", "[RAHASIA]"));
    CHECK_FALSE(policy::has_trigger(" Rapat", "[RAHASIA]"));
    CHECK_FALSE(policy::has_trigger(" [RAHASIA]", ""));
    CHECK(policy::remove_trigger(" [RAHASIA] Rapat", "[RAHASIA]") == " Rapat");
    CHECK(policy::remove_trigger(" Re: [RAHASIA] Rapat", "[RAHASIA]") == " Re: Rapat");
    CHECK(policy::remove_trigger(" Rapat [RAHASIA]", "[RAHASIA]") == " Rapat");
    CHECK(policy::remove_trigger("Rapat", "[RAHASIA]") == "Rapat");
    CHECK_FALSE(policy::wants_encryption(config::Encryption{}, {"a@b.example"}, false));
    CHECK(policy::wants_encryption(config::Encryption{}, {"a@b.example"}, true));
}
