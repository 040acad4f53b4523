#include "config/load.h"
#include "policy/decide.h"

#include <catch2/catch.hpp>

using namespace segel;
using policy::Action;

namespace {

const auto k_now = std::chrono::system_clock::from_time_t(1780272000);  // 2026-06-01
std::chrono::system_clock::time_point day(int d) {
    return k_now + std::chrono::hours(24 * d);
}

config::Settings settings() {
    return config::parse(R"(
milter:
  internal_networks: [10.0.0.0/8, "2001:db8::/32"]
trust:
  anchors: [root.pem]
signing:
  domains:
    - domain: dinas.example.go.id
    - domain: pekalongankab.go.id
      subdomains: true
      without_certificate: pass
    - domain: lama.example.go.id
      local_part_logins: true
  other_domains:
    - domain: partner.example.com
      action: pass
  logins:
    budi: [budi@dinas.example.go.id]
    sekretaris: [sekretariat@dinas.example.go.id]
  systems:
    - name: e-office
      client: 10.1.2.3
      may_send_as: [noreply@dinas.example.go.id]
)",
                         "t.yaml");
}

policy::CertFacts cert(const std::string& address, const std::string& serial, int nb = -100, int na = 600) {
    policy::CertFacts c;
    c.id = serial + ".p12";
    c.addresses = {address};
    c.serial = serial;
    c.not_before = day(nb);
    c.not_after = day(na);
    c.chain_trusted = true;
    return c;
}

std::vector<policy::CertFacts> certs() {
    std::vector<policy::CertFacts> v = {
        cert("siti@dinas.example.go.id", "SITI-OLD", -400, 300),
        cert("siti@dinas.example.go.id", "SITI-NEW", -10, 700),
        cert("budi@dinas.example.go.id", "BUDI"),
        cert("ani@dinas.example.go.id", "ANI", -700, -151),  // expired 2026-01-01
        cert("noreply@dinas.example.go.id", "NOREPLY"),
        cert("sekretariat@dinas.example.go.id", "SEKRET"),
        cert("rina@bapenda.pekalongankab.go.id", "RINA"),
        cert("tari@dinas.example.go.id", "TARI-FUTURE", 10, 700),
        cert("dedi@dinas.example.go.id", "DEDI"),
        cert("eko@dinas.example.go.id", "EKO"),
        cert("fajar@dinas.example.go.id", "FAJAR"),
        cert("wati@lama.example.go.id", "WATI"),
        cert("gita@dinas.example.go.id", "GITA-CA", -10, 700),
    };
    v[8].eku_email = false;
    v[9].chain_trusted = false;
    v[9].chain_error = "unable to get local issuer certificate";
    v[10].key_usage_signs = false;
    v[12].chain_not_after = day(-1);
    return v;
}

struct Row {
    const char* name;
    std::string login;
    std::string client;
    std::string mail_from;
    std::vector<std::string> from;  ///< From field values as received
    Action action;
    std::string expect;  ///< reply text (Reject), chosen serial (Sign) or summary part (Pass)
    std::string word;    ///< Reject: the reason word (docs/refusals.md, "Reason words"); else none
};

}  // namespace

TEST_CASE("decide: the official-account rule, one row per outcome", "[policy]") {
    const auto s = settings();
    const auto cs = certs();
    const std::vector<Row> rows = {
        {"owner signs, newest certificate wins",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Sign,
         "SITI-NEW",
         ""},
        {"address comparison ignores case",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "<SITI@dinas.example.go.id>",
         {"siti@DINAS.example.go.id"},
         Action::Sign,
         "SITI-NEW",
         ""},
        {"login map",
         "budi",
         "192.0.2.1",
         "budi@dinas.example.go.id",
         {"budi@dinas.example.go.id"},
         Action::Sign,
         "BUDI",
         ""},
        {"role mailbox via login map",
         "sekretaris",
         "192.0.2.1",
         "sekretariat@dinas.example.go.id",
         {"sekretariat@dinas.example.go.id"},
         Action::Sign,
         "SEKRET",
         ""},
        {"local_part_logins",
         "wati",
         "192.0.2.1",
         "wati@lama.example.go.id",
         {"wati@lama.example.go.id"},
         Action::Sign,
         "WATI",
         ""},
        {"a login is compared exactly: WATI is another SASL account than wati",
         "WATI",
         "192.0.2.1",
         "wati@lama.example.go.id",
         {"wati@lama.example.go.id"},
         Action::Reject,
         "login WATI may not send as wati@lama.example.go.id",
         "login-not-owner"},
        {"a login is compared exactly: the map names budi, not Budi",
         "Budi",
         "192.0.2.1",
         "budi@dinas.example.go.id",
         {"budi@dinas.example.go.id"},
         Action::Reject,
         "login Budi may not send as budi@dinas.example.go.id",
         "login-not-owner"},
        {"a login is compared exactly: an address login in other case is another account",
         "Siti@Dinas.Example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "login Siti@Dinas.Example.go.id may not send as siti@dinas.example.go.id",
         "login-not-owner"},
        {"a login keeps its white space: it is not trimmed into another",
         " budi",
         "192.0.2.1",
         "budi@dinas.example.go.id",
         {"budi@dinas.example.go.id"},
         Action::Reject,
         "may not send as budi@dinas.example.go.id",
         "login-not-owner"},
        {"local part alone is not enough elsewhere",
         "siti",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "login siti may not send as siti@dinas.example.go.id",
         "login-not-owner"},
        {"send-as someone else",
         "budi",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "login budi may not send as siti@dinas.example.go.id",
         "login-not-owner"},
        {"envelope differs from header From",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"budi@dinas.example.go.id"},
         Action::Reject,
         "envelope sender siti@dinas.example.go.id differs from header From budi@dinas.example.go.id",
         "envelope-mismatch"},
        {"two From fields",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id", "budi@dinas.example.go.id"},
         Action::Reject,
         "header From must name exactly one address",
         "from-not-one-address"},
        {"no From at all",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {},
         Action::Reject,
         "header From must name exactly one address",
         "from-not-one-address"},
        {"null sender with official From",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "envelope sender <> differs from header From siti@dinas.example.go.id",
         "envelope-mismatch"},
        {"expired certificate",
         "ani@dinas.example.go.id",
         "192.0.2.1",
         "ani@dinas.example.go.id",
         {"ani@dinas.example.go.id"},
         Action::Reject,
         "no valid certificate for ani@dinas.example.go.id: expired 2026-01-01",
         "certificate-expired"},
        {"not yet valid",
         "tari@dinas.example.go.id",
         "192.0.2.1",
         "tari@dinas.example.go.id",
         {"tari@dinas.example.go.id"},
         Action::Reject,
         "no valid certificate for tari@dinas.example.go.id: not valid before 2026-06-11",
         "certificate-not-yet-valid"},
        {"wrong EKU",
         "dedi@dinas.example.go.id",
         "192.0.2.1",
         "dedi@dinas.example.go.id",
         {"dedi@dinas.example.go.id"},
         Action::Reject,
         "no valid certificate for dedi@dinas.example.go.id: extended key usage does not include emailProtection",
         "certificate-eku"},
        {"untrusted issuer",
         "eko@dinas.example.go.id",
         "192.0.2.1",
         "eko@dinas.example.go.id",
         {"eko@dinas.example.go.id"},
         Action::Reject,
         "no valid certificate for eko@dinas.example.go.id: does not chain to a trust anchor",
         "certificate-untrusted"},
        {"key usage cannot sign",
         "fajar@dinas.example.go.id",
         "192.0.2.1",
         "fajar@dinas.example.go.id",
         {"fajar@dinas.example.go.id"},
         Action::Reject,
         "key usage does not allow signing",
         "certificate-key-usage"},
        {"expired intermediate",
         "gita@dinas.example.go.id",
         "192.0.2.1",
         "gita@dinas.example.go.id",
         {"gita@dinas.example.go.id"},
         Action::Reject,
         "an issuing CA certificate expired 2026-05-31",
         "certificate-ca-expired"},
        {"no certificate, domain rejects",
         "tono@dinas.example.go.id",
         "192.0.2.1",
         "tono@dinas.example.go.id",
         {"tono@dinas.example.go.id"},
         Action::Reject,
         "no certificate for tono@dinas.example.go.id is installed on this gateway",
         "no-certificate"},
        {"no certificate, domain passes",
         "joko@kominfo.pekalongankab.go.id",
         "192.0.2.1",
         "joko@kominfo.pekalongankab.go.id",
         {"joko@kominfo.pekalongankab.go.id"},
         Action::Pass,
         "sent unsigned",
         ""},
        {"subdomain rule signs",
         "rina@bapenda.pekalongankab.go.id",
         "192.0.2.1",
         "rina@bapenda.pekalongankab.go.id",
         {"rina@bapenda.pekalongankab.go.id"},
         Action::Sign,
         "RINA",
         ""},
        {"non-official sender, default reject",
         "someone@gmail.example",
         "192.0.2.1",
         "someone@gmail.example",
         {"someone@gmail.example"},
         Action::Reject,
         "someone@gmail.example is not an official address of this gateway",
         "not-official"},
        {"non-official sender, partner domain passes",
         "x@partner.example.com",
         "192.0.2.1",
         "x@partner.example.com",
         {"x@partner.example.com"},
         Action::Pass,
         "signing.other_domains: partner.example.com",
         ""},
        {"non-official envelope, official From",
         "someone@gmail.example",
         "192.0.2.1",
         "someone@gmail.example",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "envelope sender someone@gmail.example differs from header From",
         "envelope-mismatch"},
        {"system sender may send as its address",
         "",
         "10.1.2.3",
         "noreply@dinas.example.go.id",
         {"noreply@dinas.example.go.id"},
         Action::Sign,
         "NOREPLY",
         ""},
        {"system sender may not send as staff",
         "",
         "10.1.2.3",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "unauthenticated client 10.1.2.3 may not send as siti@dinas.example.go.id",
         "client-not-allowed"},
        {"internal network without AUTH",
         "",
         "10.9.9.9",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "unauthenticated client 10.9.9.9 may not send as siti@dinas.example.go.id",
         "client-not-allowed"},
        {"internal IPv6 network without AUTH",
         "",
         "2001:db8::5",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Reject,
         "unauthenticated client 2001:db8::5",
         "client-not-allowed"},
        {"From: an address as an unquoted display name (readers disagree)",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"budi@dinas.example.go.id <siti@dinas.example.go.id>"},
         Action::Reject,
         "header From cannot be signed: the display name contains '@' outside double quotes",
         "from-unreadable"},
        {"From: ';' between two addresses",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id; budi@dinas.example.go.id"},
         Action::Reject,
         "header From cannot be signed: ';' separates two addresses",
         "from-unreadable"},
        {"From: the display name shows another address",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"=?utf-8?q?budi=40dinas.example.go.id?= <siti@dinas.example.go.id>"},
         Action::Reject,
         "header From cannot be signed: the display name shows another address (budi@dinas.example.go.id) than the "
         "sender's (siti@dinas.example.go.id); remove it from the name",
         "from-shows-other-address"},
        {"From: a comment shows another address",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id (budi@dinas.example.go.id)"},
         Action::Reject,
         "header From cannot be signed: a comment shows another address (budi@dinas.example.go.id)",
         "from-shows-other-address"},
        {"From: the display name may show the sender's own address",
         "siti@dinas.example.go.id",
         "192.0.2.1",
         "siti@dinas.example.go.id",
         {" \"SITI@dinas.example.go.id\"\r\n <siti@dinas.example.go.id>"},
         Action::Sign,
         "SITI-NEW",
         ""},
        {"From: an unreadable From naming an official address is official mail",
         "someone@gmail.example",
         "192.0.2.1",
         "someone@gmail.example",
         {"someone@gmail.example <siti@dinas.example.go.id"},
         Action::Reject,
         "header From cannot be signed: '<' and '>' do not pair up",
         "from-unreadable"},
        {"From: an unreadable From of a partner is passed unsigned",
         "x@partner.example.com",
         "192.0.2.1",
         "x@partner.example.com",
         {"Partner (x@partner.example.com"},
         Action::Pass,
         "x@partner.example.com is not an official address",
         ""},
        {"From: an official address only inside an encoded name of a partner's From is never signed",
         "x@partner.example.com",
         "192.0.2.1",
         "x@partner.example.com",
         {"=?utf-8?q?siti=40dinas.example.go.id?= <x@partner.example.com>"},
         Action::Pass,
         "signing.other_domains: partner.example.com",
         ""},
        {"inbound is not signed",
         "",
         "198.51.100.7",
         "siti@dinas.example.go.id",
         {"siti@dinas.example.go.id"},
         Action::Pass,
         "inbound mail is not signed",
         ""},
    };
    for (const auto& row : rows) {
        INFO(row.name);
        policy::Envelope env;
        env.auth_login = row.login;
        env.client_ip = row.client;
        env.mail_from = row.mail_from;
        env.from_fields = row.from;
        const auto d = policy::decide(s, env, cs, k_now);
        CHECK(d.action == row.action);
        switch (row.action) {
            case Action::Sign:
                REQUIRE(d.cert.has_value());
                CHECK(cs[*d.cert].serial == row.expect);
                break;
            case Action::Reject:
                CHECK(d.reply_code == "550");
                CHECK(d.reply_xcode == "5.7.1");
                CHECK_THAT(d.reply_text, Catch::Contains(row.expect));
                CHECK(d.reason_code == row.word);
                break;
            case Action::Pass:
                CHECK_THAT(d.summary, Catch::Contains(row.expect));
                CHECK(d.reason_code.empty());
                break;
        }
        CHECK_FALSE(d.reasons.empty());
    }
}

TEST_CASE("decide: explains why each certificate was or was not chosen", "[policy]") {
    policy::Envelope env;
    env.auth_login = "siti@dinas.example.go.id";
    env.client_ip = "192.0.2.1";
    env.mail_from = "siti@dinas.example.go.id";
    env.from_fields = {"siti@dinas.example.go.id"};
    const auto cs = certs();
    const auto d = policy::decide(settings(), env, cs, k_now);
    REQUIRE(d.considered.size() == 2);
    for (const auto& v : d.considered) {
        if (cs[v.index].serial == "SITI-OLD") {
            CHECK_THAT(v.why, Catch::StartsWith("not chosen: a newer valid certificate exists"));
        } else {
            CHECK_THAT(v.why, Catch::StartsWith("chosen: newest valid certificate"));
        }
    }
}

TEST_CASE("decide: the most specific domain rule wins", "[policy]") {
    auto s = config::parse(R"(
trust: {anchors: [r.pem]}
signing:
  domains:
    - domain: examplekab.go.id
      subdomains: true
      without_certificate: pass
    - domain: rsud.examplekab.go.id
      without_certificate: reject
)",
                           "t.yaml");
    REQUIRE(policy::official_rule(s, "a@rsud.examplekab.go.id") != nullptr);
    CHECK(policy::official_rule(s, "a@rsud.examplekab.go.id")->domain == "rsud.examplekab.go.id");
    CHECK(policy::official_rule(s, "a@dinkes.examplekab.go.id")->domain == "examplekab.go.id");
    CHECK(policy::official_rule(s, "a@notexamplekab.go.id") == nullptr);
    CHECK(policy::official_rule(s, "a@examplekab.go.id.evil.example") == nullptr);
}

TEST_CASE("decide: network matching", "[policy]") {
    config::Network n;
    REQUIRE(config::parse_network("192.168.10.0/23", n));
    CHECK(policy::in_network("192.168.11.200", n));
    CHECK_FALSE(policy::in_network("192.168.12.1", n));
    CHECK(policy::in_network("::ffff:192.168.10.1", n));
    CHECK(policy::in_network("IPv6:::ffff:192.168.10.1", n));
    CHECK_FALSE(policy::in_network("not an ip", n));
    REQUIRE(config::parse_network("0.0.0.0/0", n));
    CHECK(policy::in_network("203.0.113.9", n));
}

TEST_CASE("certificate_state: one wording for the milter log and segelctl", "[policy]") {
    const auto cs = certs();
    CHECK(policy::certificate_state(cs[1], k_now) == "usable");
    CHECK(policy::certificate_state(cs[3], k_now) == "expired 2026-01-01");
    CHECK(policy::certificate_state(cs[8], k_now) ==
          "extended key usage does not include emailProtection (1.3.6.1.5.5.7.3.4)");
    CHECK_THAT(policy::certificate_state(cs[9], k_now), Catch::StartsWith("does not chain to a trust anchor"));
    // R5: warn 90 days ahead of expiry.
    CHECK(policy::certificate_state(cs[0], day(240)) == "usable, expires in 60 days: renew now");
}

TEST_CASE("decide: signing.login_case: insensitive folds logins, and says so", "[policy]") {
    const auto s = config::parse(R"(
trust: {anchors: [root.pem]}
signing:
  login_case: insensitive
  domains:
    - domain: dinas.example.go.id
    - domain: lama.example.go.id
      local_part_logins: true
  logins:
    Budi: [budi@dinas.example.go.id]
)",
                                 "t.yaml");
    const auto cs = certs();
    struct LoginRow {
        std::string login;
        std::string from;
        std::string serial;
    };
    for (const auto& row :
         std::vector<LoginRow>{{"BUDI", "budi@dinas.example.go.id", "BUDI"},
                               {"budi", "budi@dinas.example.go.id", "BUDI"},
                               {"WATI", "wati@lama.example.go.id", "WATI"},
                               {"Siti@Dinas.Example.go.id", "siti@dinas.example.go.id", "SITI-NEW"}}) {
        INFO(row.login);
        policy::Envelope env;
        env.auth_login = row.login;
        env.client_ip = "192.0.2.1";
        env.mail_from = row.from;
        env.from_fields = {row.from};
        const auto d = policy::decide(s, env, cs, k_now);
        REQUIRE(d.action == Action::Sign);
        CHECK(cs[*d.cert].serial == row.serial);
        bool said = false;
        for (const auto& r : d.reasons) {
            said = said || r.find("signing.login_case: insensitive") != std::string::npos;
        }
        CHECK(said);
    }
}

namespace {

config::Settings protection_settings() {
    return config::parse(R"(
trust: {anchors: [root.pem]}
signing:
  domains:
    - domain: dinas.example.go.id
    - domain: wrap.example.go.id
      client_signatures: wrap
      client_encrypted: wrap
    - domain: pass.example.go.id
      client_signatures: pass
      client_encrypted: pass
)",
                         "t.yaml");
}

policy::Decision sign_decision(const std::string& sender) {
    policy::Decision d;
    d.action = Action::Sign;
    d.outbound = true;
    d.sender = sender;
    d.cert = 0;
    d.summary = "sign as " + sender + " with certificate S1";
    d.reasons = {"(decide's reasons)"};
    return d;
}

policy::ClientProtection signature(std::vector<std::string> signers, bool intact = true, bool trusted = true,
                                   const std::string& detail = "good signature") {
    policy::ClientProtection p;
    p.kind = policy::ClientProtection::Kind::Signed;
    p.content_intact = intact;
    p.certificate_trusted = trusted;
    p.signer_addresses = std::move(signers);
    p.serial = "C0FFEE";
    p.detail = detail;
    return p;
}

policy::ClientProtection encrypted() {
    policy::ClientProtection p;
    p.kind = policy::ClientProtection::Kind::Encrypted;
    return p;
}

}  // namespace

TEST_CASE("decide_protected: mail the client already signed or encrypted, one row per outcome", "[policy]") {
    const auto s = protection_settings();
    const std::string siti = "siti@dinas.example.go.id";
    policy::ClientProtection pgp = signature({});
    pgp.smime = false;
    pgp.content_intact = false;
    pgp.certificate_trusted = false;
    struct ProtRow {
        const char* name;
        std::string sender;
        policy::ClientProtection found;
        Action action;
        std::string expect;  ///< reply text (Reject) or summary part (Pass, Sign)
    };
    const std::vector<ProtRow> rows = {
        {"the sender's own valid signature passes unchanged", siti, signature({siti}), Action::Pass,
         "pass: already signed by the sender siti@dinas.example.go.id (certificate C0FFEE): verified, left unchanged"},
        {"signer addresses compare ignoring case", siti, signature({"SITI@Dinas.example.go.id"}), Action::Pass,
         "already signed by the sender"},
        {"any of the signer's addresses", siti, signature({"kepala@dinas.example.go.id", siti}), Action::Pass,
         "already signed by the sender"},
        {"another staff member's valid signature", siti, signature({"budi@dinas.example.go.id"}), Action::Reject,
         "the message is already signed by budi@dinas.example.go.id, not by the sender siti@dinas.example.go.id; "
         "send it unsigned: segel signs it with your certificate"},
        {"a certificate without an address", siti, signature({}), Action::Reject,
         "the message is already signed by a certificate without an e-mail address, not by the sender"},
        {"an untrusted CA's certificate claiming the sender's address", siti,
         signature({siti}, true, false, "certificate does not chain to a trust anchor"), Action::Reject,
         "the message is already signed, but the signature cannot be trusted (certificate does not chain to a trust "
         "anchor)"},
        {"the sender's signature over changed content", siti,
         signature({siti}, false, false, "content changed after signing"), Action::Reject,
         "the message is already signed, but the signature does not match the content (content changed after "
         "signing)"},
        {"an OpenPGP signature", siti, pgp, Action::Reject,
         "the message is already signed, but not with S/MIME, so segel cannot check the signature"},
        {"what the certificate says reaches the reply as printable ASCII only", siti,
         signature({"budi@dinas.example.go.id\r\n250 ok"}, true, false, "untrusted issuer: \xC3\x9Cntrusted\x01 CA"),
         Action::Reject,
         "the message is already signed, but the signature cannot be trusted (untrusted issuer: ??ntrusted? CA)"},
        {"a certificate's other address, sanitised", siti, signature({"budi@dinas.example.go.id\r\n250 ok"}),
         Action::Reject, "the message is already signed by budi@dinas.example.go.id??250 ok, not by the sender"},
        {"client-encrypted mail", siti, encrypted(), Action::Reject,
         "the message is already encrypted by the mail program, so segel cannot check that it is the sender's; send "
         "it unencrypted: segel signs it, and encrypts it when encryption applies"},
        {"client_signatures: wrap signs over someone else's signature", "ani@wrap.example.go.id",
         signature({"budi@dinas.example.go.id"}), Action::Sign,
         "the message is already signed by budi@dinas.example.go.id, not by the sender ani@wrap.example.go.id: "
         "signed over it as ani@wrap.example.go.id (wrap.example.go.id client_signatures: wrap)"},
        {"client_signatures: wrap leaves the sender's own signature alone", "ani@wrap.example.go.id",
         signature({"ani@wrap.example.go.id"}), Action::Pass, "already signed by the sender ani@wrap.example.go.id"},
        {"client_encrypted: wrap signs over it", "ani@wrap.example.go.id", encrypted(), Action::Sign,
         "(wrap.example.go.id client_encrypted: wrap)"},
        {"client_signatures: pass lets a changed signature through, and says so", "ani@pass.example.go.id",
         signature({"ani@pass.example.go.id"}, false, false, "content changed after signing"), Action::Pass,
         "pass: the message is already signed, but the signature does not match the content (content changed after "
         "signing): left unchanged (pass.example.go.id client_signatures: pass)"},
        {"client_encrypted: pass", "ani@pass.example.go.id", encrypted(), Action::Pass,
         "left unchanged (pass.example.go.id client_encrypted: pass)"},
    };
    for (const auto& row : rows) {
        INFO(row.name);
        const auto d = policy::decide_protected(s, sign_decision(row.sender), row.found);
        CHECK(d.action == row.action);
        CHECK_FALSE(d.client_protection.empty());
        switch (row.action) {
            case Action::Reject:
                CHECK(d.reply_code == "550");
                CHECK(d.reply_xcode == "5.7.1");
                CHECK_THAT(d.reply_text, Catch::StartsWith(row.expect));
                CHECK(d.reason_code == (row.found.kind == policy::ClientProtection::Kind::Encrypted ? "client-encrypted"
                                                                                                    : "client-signed"));
                CHECK_FALSE(d.cert.has_value());
                break;
            case Action::Pass:
                CHECK_THAT(d.summary, Catch::Contains(row.expect));
                CHECK_FALSE(d.cert.has_value());
                break;
            case Action::Sign:
                CHECK_THAT(d.summary, Catch::Contains(row.expect));
                CHECK_THAT(d.reasons.back(), Catch::Contains(row.expect));
                CHECK(d.cert == std::optional<std::size_t>(0));
                break;
        }
    }
}

TEST_CASE("decide_protected: nothing to decide for unprotected mail or a decision that does not sign", "[policy]") {
    const auto s = protection_settings();
    const auto d = policy::decide_protected(s, sign_decision("siti@dinas.example.go.id"), policy::ClientProtection{});
    CHECK(d.action == Action::Sign);
    CHECK(d.client_protection.empty());
    CHECK(d.summary == "sign as siti@dinas.example.go.id with certificate S1");
    policy::Decision refused = sign_decision("siti@dinas.example.go.id");
    refused.action = Action::Reject;
    refused.reply_text = "login budi may not send as siti@dinas.example.go.id";
    const auto r = policy::decide_protected(s, refused, signature({"budi@dinas.example.go.id"}));
    CHECK(r.action == Action::Reject);
    CHECK(r.reply_text == "login budi may not send as siti@dinas.example.go.id");
}

TEST_CASE("decide: the organisation seal (R7), one row per outcome", "[policy][seal]") {
    const auto s = config::parse(R"(
milter:
  internal_networks: [10.0.0.0/8]
trust: {anchors: [r.pem]}
signing:
  domains:
    - domain: dinas.example.go.id
      seal: sekretariat@dinas.example.go.id
    - domain: kominfo.example.go.id
      seal: sekretariat@kominfo.example.go.id
      without_certificate: pass
    - domain: lain.example.go.id
  logins:
    budi: [budi@dinas.example.go.id]
  systems:
    - name: e-office
      client: 10.1.2.3
      may_send_as: [noreply@dinas.example.go.id]
)",
                                 "t.yaml");
    std::vector<policy::CertFacts> cs = {
        cert("sekretariat@dinas.example.go.id", "SEAL"),
        cert("sekretariat@kominfo.example.go.id", "SEAL-EXPIRED", -700, -151),
        cert("ani@dinas.example.go.id", "ANI-EXPIRED", -700, -151),
        cert("dedi@dinas.example.go.id", "DEDI-PDF-ONLY"),  // a BSrE certificate unfit for mail
        cert("budi@dinas.example.go.id", "BUDI"),
    };
    cs[3].eku_email = false;
    struct SealRow {
        const char* name;
        std::string login;
        std::string client;
        std::string from;
        Action action;
        std::string serial;     ///< chosen certificate (Sign)
        std::string sealed_by;  ///< "" when not sealed
        std::string text;       ///< in the summary or reply
    };
    const std::vector<SealRow> rows = {
        {"no certificate at all: sealed", "siti@dinas.example.go.id", "192.0.2.1", "siti@dinas.example.go.id",
         Action::Sign, "SEAL", "sekretariat@dinas.example.go.id",
         "sealed by sekretariat@dinas.example.go.id for siti@dinas.example.go.id"},
        {"an expired certificate: sealed", "ani@dinas.example.go.id", "192.0.2.1", "ani@dinas.example.go.id",
         Action::Sign, "SEAL", "sekretariat@dinas.example.go.id", "for ani@dinas.example.go.id"},
        {"a certificate unfit for mail: sealed", "dedi@dinas.example.go.id", "192.0.2.1", "dedi@dinas.example.go.id",
         Action::Sign, "SEAL", "sekretariat@dinas.example.go.id", "for dedi@dinas.example.go.id"},
        {"a usable personal certificate wins over the seal", "budi", "192.0.2.1", "budi@dinas.example.go.id",
         Action::Sign, "BUDI", "", "sign as budi@dinas.example.go.id"},
        {"the identity gate comes first: no seal for someone else's address", "budi", "192.0.2.1",
         "siti@dinas.example.go.id", Action::Reject, "", "", "login budi may not send as siti@dinas.example.go.id"},
        {"a system sender is not sealed", "", "10.1.2.3", "noreply@dinas.example.go.id", Action::Reject, "", "",
         "no certificate for noreply@dinas.example.go.id"},
        {"a seal that cannot sign: refused, both problems named", "rudi@kominfo.example.go.id", "192.0.2.1",
         "rudi@kominfo.example.go.id", Action::Pass, "", "",
         "the seal sekretariat@kominfo.example.go.id cannot sign either: no valid certificate for "
         "sekretariat@kominfo.example.go.id: expired 2026-01-01"},
        {"a domain without a seal: as before", "tono@lain.example.go.id", "192.0.2.1", "tono@lain.example.go.id",
         Action::Reject, "", "", "no certificate for tono@lain.example.go.id is installed"},
    };
    for (const auto& row : rows) {
        INFO(row.name);
        policy::Envelope env;
        env.auth_login = row.login;
        env.client_ip = row.client;
        env.mail_from = row.from;
        env.from_fields = {" " + row.from};
        const auto d = policy::decide(s, env, cs, k_now);
        CHECK(d.action == row.action);
        CHECK(d.sealed_by == row.sealed_by);
        if (row.action == Action::Sign) {
            REQUIRE(d.cert);
            CHECK(cs[*d.cert].serial == row.serial);
            CHECK(d.sender == row.from);  // From stays the person
            CHECK_THAT(d.summary, Catch::Contains(row.text));
        } else {
            CHECK_THAT(row.action == Action::Reject ? d.reply_text : d.summary, Catch::Contains(row.text));
        }
    }
    policy::Envelope sys;
    sys.client_ip = "10.1.2.3";
    sys.mail_from = "noreply@dinas.example.go.id";
    sys.from_fields = {" " + sys.mail_from};
    const auto d = policy::decide(s, sys, cs, k_now);
    CHECK(std::find_if(d.reasons.begin(), d.reasons.end(), [](const std::string& r) {
              return r.find("seal sekretariat@dinas.example.go.id not used: it signs for authenticated staff") !=
                     std::string::npos;
          }) != d.reasons.end());
}

TEST_CASE("decide: a login or client with line breaks cannot break a reason or a reply onto a new line", "[policy]") {
    // Found by fuzz_milter (fuzz/corpus/milter/regress-login-crlf): the SMTP AUTH login comes from
    // the MTA as it is, and reasons are logged at debug and replies go back over SMTP.
    for (const std::string from : {"siti@dinas.example.go.id", "budi@dinas.example.go.id", "x@luar.example"}) {
        policy::Envelope env;
        env.auth_login = "fu\r\nX-Injected: yes";
        env.client_ip = "192.0.2.1\r\n";
        env.mail_from = from;
        env.from_fields = {from};
        const auto d = policy::decide(settings(), env, certs(), k_now);
        for (const auto& r : d.reasons) {
            CHECK(r.find_first_of("\r\n") == std::string::npos);
        }
        CHECK(d.reply_text.find_first_of("\r\n") == std::string::npos);
        CHECK(d.summary.find_first_of("\r\n") == std::string::npos);
    }
    for (const std::string mail_from : {"siti@dinas.example.go.id\r\nX-Injected: yes", "luar\r\n@luar.example"}) {
        policy::Envelope e;  // the envelope sender comes from the MTA as it is, too
        e.auth_login = "siti@dinas.example.go.id";
        e.client_ip = "192.0.2.1";
        e.mail_from = mail_from;
        e.from_fields = {mail_from == "luar\r\n@luar.example" ? "x@luar.example" : "siti@dinas.example.go.id"};
        const auto m = policy::decide(settings(), e, certs(), k_now);
        CAPTURE(m.reply_text);
        CHECK(m.action == policy::Action::Reject);
        CHECK(m.reply_text.find_first_of("\r\n") == std::string::npos);
        for (const auto& r : m.reasons) {
            CHECK(r.find_first_of("\r\n") == std::string::npos);
        }
    }
    policy::Envelope env;  // no login: the client's address is named instead (inbound here)
    env.client_ip = "192.0.2.9\r\nX-Injected: yes";
    env.mail_from = "siti@dinas.example.go.id";
    env.from_fields = {"siti@dinas.example.go.id"};
    const auto d = policy::decide(settings(), env, certs(), k_now);
    CHECK_FALSE(d.reasons.empty());
    CHECK(d.reply_text.find_first_of("\r\n") == std::string::npos);
    for (const auto& r : d.reasons) {
        CHECK(r.find_first_of("\r\n") == std::string::npos);
    }
}
