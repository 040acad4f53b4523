// The certificate lifecycle in policy (pure): revocation before signing (R6),
// fitness for mail (R4), expiry notices (R5). One table row per outcome.
#include "config/load.h"
#include "policy/decide.h"
#include "policy/expiry.h"
#include "policy/fitness.h"

#include <catch2/catch.hpp>

using namespace segel;
using policy::Action;
using State = policy::RevocationFacts::State;

namespace {

const auto k_now = std::chrono::system_clock::from_time_t(1780272000);  // 2026-06-01T00:00:00Z
std::chrono::system_clock::time_point hours(int h) {
    return k_now + std::chrono::hours(h);
}
std::chrono::system_clock::time_point day(int d) {
    return k_now + std::chrono::hours(24 * d);
}

config::Settings settings(const std::string& extra = "") {
    return config::parse(R"(
trust:
  anchors: [root.pem]
signing:
  domains:
    - domain: dinas.example.go.id
    - domain: pdf.example.go.id
      document_signing_certificates: allow
    - domain: lunak.example.go.id
      without_certificate: pass
)" + extra,
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
    c.key_type = "RSA 2048";
    c.usage.key_usage_present = true;
    c.usage.key_usage = {"digitalSignature", "nonRepudiation", "keyEncipherment"};
    c.usage.eku_present = true;
    c.usage.eku = {"1.3.6.1.5.5.7.3.4"};
    c.usage.address_in_san = true;
    return c;
}

policy::RevocationFacts good(int hours_old) {
    policy::RevocationFacts r;
    r.state = State::Good;
    r.obtained = hours(-hours_old);
    r.source = "ocsp";
    r.url = "http://ocsp.example.go.id/";
    r.evidence = "ocsp good, " + std::to_string(hours_old) + " h old";
    return r;
}

policy::Envelope env(const std::string& address) {
    policy::Envelope e;
    e.auth_login = address;
    e.client_ip = "192.0.2.1";
    e.mail_from = address;
    e.from_fields = {" " + address};
    return e;
}

/** The BSrE development certificate's shape (REQUIREMENTS.md). */
policy::CertFacts bsre_development(const std::string& address) {
    policy::CertFacts c = cert(address, "BSRE-DEV");
    c.usage.key_usage = {"digitalSignature", "nonRepudiation"};
    c.usage.eku = {"1.2.840.113583.1.1.5"};
    c.usage.eku_critical = true;
    c.usage.address_in_san = false;
    c.usage.address_in_subject = true;
    c.eku_email = false;
    return c;
}

}  // namespace

TEST_CASE("decide: revocation before signing, one row per outcome (R6)", "[policy][revocation]") {
    struct Row {
        const char* name;
        std::string extra;  ///< revocation: settings
        policy::RevocationFacts revocation;
        Action action;
        std::string code;    ///< reply code (Reject)
        std::string expect;  ///< reply text prefix (Reject) or the revocation note (Sign)
    };
    policy::RevocationFacts revoked;
    revoked.state = State::Revoked;
    revoked.obtained = hours(-1);
    revoked.revoked_at = day(-3);
    revoked.reason = "keyCompromise";
    revoked.source = "crl";
    revoked.evidence = "crl revoked on 2026-05-29 (keyCompromise), 1 h old";
    policy::RevocationFacts never;
    never.state = State::Unknown;
    never.problem = "POST http://ocsp.example.go.id/: Couldn't connect to server";
    policy::RevocationFacts stale = good(30);
    stale.problem = "POST http://ocsp.example.go.id/: Timeout was reached";
    policy::RevocationFacts unchecked;
    unchecked.evidence = "not checked: the certificate names no OCSP responder or CRL distribution point";
    const std::vector<Row> rows = {
        {"fresh good answer signs", "", good(2), Action::Sign, "", "ocsp good, 2 h old"},
        {"revoked is refused, permanently", "", revoked, Action::Reject, "550",
         "certificate 1004 of cabut@dinas.example.go.id was revoked on 2026-05-29 (keyCompromise)"},
        {"an old good answer within the grace signs", "", good(23), Action::Sign, "", "ocsp good, 23 h old"},
        {"beyond the grace: deferred", "", stale, Action::Reject, "451",
         "certificate 1004 of cabut@dinas.example.go.id: revocation status unknown: the last good answer is 30 h "
         "old, beyond revocation.signing.grace (24 h), and the latest check failed (POST "
         "http://ocsp.example.go.id/: Timeout was reached); try again later"},
        {"a longer grace keeps signing", "revocation:\n  signing:\n    grace: 48h\n", stale, Action::Sign, "",
         "ocsp good, 30 h old"},
        {"never answered: deferred", "", never, Action::Reject, "451",
         "certificate 1004 of cabut@dinas.example.go.id: revocation status unknown (POST http://ocsp.example.go.id/: "
         "Couldn't connect to server); try again later"},
        {"unknown: sign, with a note", "revocation:\n  signing:\n    unknown: sign\n", never, Action::Sign, "",
         "revocation status unknown (POST http://ocsp.example.go.id/: Couldn't connect to server); signed anyway "
         "(revocation.signing.unknown: sign)"},
        {"revoked even with unknown: sign", "revocation:\n  signing:\n    unknown: sign\n", revoked, Action::Reject,
         "550", "certificate 1004 of cabut@dinas.example.go.id was revoked"},
        {"nothing to check: signs with the note", "", unchecked, Action::Sign, "",
         "not checked: the certificate names no OCSP responder or CRL distribution point"},
    };
    for (const auto& row : rows) {
        SECTION(row.name) {
            const auto s = settings(row.extra);
            auto c = cert("cabut@dinas.example.go.id", "1004");
            c.revocation = row.revocation;
            const policy::Decision d = policy::decide(s, env("cabut@dinas.example.go.id"), {c}, k_now);
            REQUIRE(d.action == row.action);
            // The record (engine Outcome, audit): which certificate, in which state, from where.
            REQUIRE(d.revocation_used);
            CHECK(d.revocation_used->serial == "1004");
            CHECK(d.revocation_used->facts.state == row.revocation.state);
            CHECK(d.revocation_used->facts.reason == row.revocation.reason);
            CHECK(d.revocation_used->facts.source == row.revocation.source);
            CHECK(d.revocation_used->note == (row.action == Action::Sign ? d.revocation : row.revocation.evidence));
            if (row.action == Action::Reject) {
                CHECK(d.reply_code == row.code);
                CHECK(d.reply_xcode == (row.code == "451" ? "4.7.0" : "5.7.1"));
                CHECK_THAT(d.reply_text, Catch::StartsWith(row.expect));
                CHECK(d.incident.has_value() == (row.revocation.state == State::Revoked));
                CHECK(d.reason_code == (row.code == "451" ? "revocation-unknown" : "certificate-revoked"));
            } else {
                CHECK(d.revocation == row.expect);
                CHECK_FALSE(d.incident);
            }
        }
    }
}

TEST_CASE("decide: a revoked certificate is an incident, and never 'pass unsigned'", "[policy][revocation]") {
    const auto s = settings();
    auto c = cert("ani@lunak.example.go.id", "A1");
    c.revocation.state = State::Revoked;
    c.revocation.revoked_at = day(-1);
    c.revocation.reason = "affiliationChanged";
    const auto d = policy::decide(s, env("ani@lunak.example.go.id"), {c}, k_now);
    REQUIRE(d.action == Action::Reject);  // without_certificate: pass does not apply to a revoked certificate
    REQUIRE(d.revocation_used);
    CHECK(d.revocation_used->serial == "A1");
    CHECK(d.revocation_used->facts.state == State::Revoked);
    CHECK(d.reply_code == "550");
    REQUIRE(d.incident);
    CHECK(d.incident->kind == "sign-revoked");
    CHECK(d.incident->address == "ani@lunak.example.go.id");
    CHECK(d.incident->serial == "A1");
    CHECK_THAT(d.incident->detail, Catch::Contains("(affiliationChanged)"));
}

TEST_CASE("decide: a renewed certificate signs when the old one is revoked", "[policy][revocation]") {
    const auto s = settings();
    auto old_cert = cert("siti@dinas.example.go.id", "OLD", -400, 300);
    auto new_cert = cert("siti@dinas.example.go.id", "NEW", -10, 700);
    new_cert.revocation.state = State::Revoked;  // the new key was lost; the old one is still good
    new_cert.revocation.revoked_at = day(-1);
    new_cert.revocation.reason = "keyCompromise";
    old_cert.revocation = good(1);
    const auto d = policy::decide(s, env("siti@dinas.example.go.id"), {old_cert, new_cert}, k_now);
    REQUIRE(d.action == Action::Sign);
    CHECK(*d.cert == 0);
    CHECK_FALSE(d.incident);
    REQUIRE(d.revocation_used);
    CHECK(d.revocation_used->serial == "OLD");  // the one it signs with, not the revoked one
    CHECK(d.revocation_used->facts.state == State::Good);
}

TEST_CASE("decide: a temporary problem wins over a permanent one for the reply code", "[policy][revocation]") {
    const auto s = settings();
    auto older = cert("siti@dinas.example.go.id", "OLD", -400, 300);
    older.revocation.state = State::Unknown;
    older.revocation.problem = "responder down";
    auto newer = cert("siti@dinas.example.go.id", "NEW", -10, 700);
    newer.chain_trusted = false;
    newer.chain_error = "unable to get local issuer certificate";
    const auto d = policy::decide(s, env("siti@dinas.example.go.id"), {older, newer}, k_now);
    REQUIRE(d.action == Action::Reject);
    CHECK(d.reply_code == "451");  // the older one may sign within minutes: never a permanent "no"
    CHECK(d.reason_code == "revocation-unknown");
    CHECK_THAT(d.reply_text,
               Catch::StartsWith("certificate OLD of siti@dinas.example.go.id: revocation status unknown"));
}

TEST_CASE("certificate_state: revocation in segelctl's and the log's words", "[policy][revocation]") {
    const auto s = settings();
    auto c = cert("siti@dinas.example.go.id", "S1");
    c.revocation = good(2);
    CHECK(policy::certificate_state(c, k_now, s) == "usable; revocation: ocsp good, 2 h old");
    c.revocation.state = State::Revoked;
    c.revocation.revoked_at = day(-2);
    c.revocation.reason = "superseded";
    CHECK(policy::certificate_state(c, k_now, s) ==
          "certificate S1 of siti@dinas.example.go.id was revoked on 2026-05-30 (superseded)");
    CHECK(policy::certificate_state(c, k_now).rfind("usable", 0) == 0);  // without settings: no revocation rule
}

TEST_CASE("fitness: the BSrE development certificate, explained in both languages (R4)", "[policy][fitness]") {
    const auto s = settings();
    const auto c = bsre_development("bsredev@dinas.example.go.id");
    const policy::Fitness f = policy::fitness(c, s);
    REQUIRE_FALSE(f.can_sign());
    REQUIRE_FALSE(f.can_receive());
    REQUIRE(f.signing.size() == 1);
    CHECK(f.signing[0].code == "eku");
    CHECK_THAT(f.signing[0].en,
               Catch::Contains("(marked critical) lists only 1.2.840.113583.1.1.5 (Adobe PDF signing)"));
    CHECK_THAT(f.signing[0].en, Catch::Contains("emailProtection (1.3.6.1.5.5.7.3.4)"));
    CHECK_THAT(f.signing[0].id, Catch::Contains("(ditandai kritis) hanya berisi 1.2.840.113583.1.1.5"));
    CHECK_THAT(f.signing[0].ask_en, Catch::Contains("not only document (PDF) signing"));
    CHECK_THAT(f.signing[0].ask_id, Catch::Contains("bukan hanya untuk penandatanganan dokumen (PDF)"));
    // Nobody can encrypt to it: no keyEncipherment, no emailProtection.
    REQUIRE(f.encryption.size() == 2);
    CHECK(f.encryption[0].code == "key-usage");
    CHECK_THAT(f.encryption[0].en, Catch::Contains("lacks keyEncipherment"));
    CHECK_THAT(f.encryption[0].id, Catch::Contains("tidak memuat keyEncipherment"));
    // The address only in the subject is accepted, with a note.
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].code == "subject-address");
    const auto lines = policy::explain(f);
    REQUIRE(lines.size() >= 4);
    CHECK_THAT(lines[0], Catch::StartsWith("tidak dapat menandatangani e-mail: "));
    CHECK_THAT(lines[1], Catch::StartsWith("  cannot sign mail: "));
    CHECK_THAT(lines[2], Catch::StartsWith("  minta kepada RA (Dinas Kominfo): "));
    CHECK_THAT(lines[3], Catch::StartsWith("  ask the RA (Dinas Kominfo) for: "));

    // The refusal says the same, short, in both languages.
    const auto d = policy::decide(s, env("bsredev@dinas.example.go.id"), {c}, k_now);
    REQUIRE(d.action == Action::Reject);
    CHECK(d.reply_text ==
          "no valid certificate for bsredev@dinas.example.go.id: extended key usage does not include emailProtection "
          "(1.3.6.1.5.5.7.3.4); it has only 1.2.840.113583.1.1.5 (Adobe PDF signing), critical; ask the RA (Dinas "
          "Kominfo) for an e-mail (S/MIME) certificate / sertifikat ini bukan untuk e-mail (tanpa emailProtection): "
          "mintalah sertifikat e-mail (S/MIME) kepada RA (Dinas Kominfo)");
}

TEST_CASE("fitness: address, domain and key usage problems", "[policy][fitness]") {
    const auto s = settings();
    SECTION("no address at all") {
        auto c = cert("x@dinas.example.go.id", "N1");
        c.addresses.clear();
        c.usage.address_in_san = false;
        const auto f = policy::fitness(c, s);
        REQUIRE(f.signing.size() == 1);
        CHECK(f.signing[0].code == "no-address");
        CHECK_THAT(f.signing[0].id, Catch::Contains("tidak memuat alamat e-mail"));
    }
    SECTION("an address outside the official domains") {
        const auto f = policy::fitness(cert("budi@gmail.example", "G1"), s);
        REQUIRE(f.signing.size() == 1);
        CHECK(f.signing[0].code == "not-official");
        CHECK_THAT(f.signing[0].en, Catch::Contains("budi@gmail.example is not in an official domain"));
        CHECK(f.can_receive());
    }
    SECTION("encryption only") {
        auto c = cert("enc@dinas.example.go.id", "E1");
        c.usage.key_usage = {"keyEncipherment"};
        const auto f = policy::fitness(c, s);
        REQUIRE(f.signing.size() == 1);
        CHECK(f.signing[0].code == "key-usage");
        CHECK_THAT(f.signing[0].en, Catch::Contains("(keyEncipherment) does not allow signing"));
        CHECK(f.can_receive());
    }
    SECTION("an EC key needs keyAgreement to receive") {
        auto c = cert("ec@dinas.example.go.id", "EC1");
        c.key_type = "EC P-256";
        c.usage.key_usage = {"digitalSignature"};
        const auto f = policy::fitness(c, s);
        CHECK(f.can_sign());
        REQUIRE(f.encryption.size() == 1);
        CHECK_THAT(f.encryption[0].en, Catch::Contains("lacks keyAgreement"));
    }
    SECTION("a fit certificate") {
        const auto f = policy::fitness(cert("siti@dinas.example.go.id", "S1"), s);
        CHECK(f.can_sign());
        CHECK(f.can_receive());
        CHECK(f.notes.empty());
        CHECK(policy::explain(f).empty());
    }
}

TEST_CASE("decide: the document-signing compatibility switch is per domain, off by default, visible",
          "[policy][fitness]") {
    const auto s = settings();
    // Off (dinas.example.go.id): refused.
    const auto off =
        policy::decide(s, env("a@dinas.example.go.id"), {bsre_development("a@dinas.example.go.id")}, k_now);
    CHECK(off.action == Action::Reject);
    // On (pdf.example.go.id): signs, and says so in the decision, its summary and the certificate's state.
    auto c = bsre_development("b@pdf.example.go.id");
    const auto on = policy::decide(s, env("b@pdf.example.go.id"), {c}, k_now);
    REQUIRE(on.action == Action::Sign);
    CHECK_THAT(on.compatibility, Catch::Contains("pdf.example.go.id document_signing_certificates: allow"));
    CHECK_THAT(on.compatibility, Catch::Contains("recipients' mail programs may warn"));
    CHECK_THAT(on.summary, Catch::Contains("(compatibility: document-signing certificate"));
    CHECK_THAT(policy::certificate_state(c, k_now, s), Catch::Contains("document_signing_certificates: allow"));
    const auto f = policy::fitness(c, s);
    CHECK(f.can_sign());
    CHECK(
        std::any_of(f.notes.begin(), f.notes.end(), [](const policy::Unfit& u) { return u.code == "compatibility"; }));
    // A server certificate is not a document-signing one: the switch does not help it.
    auto tls = c;
    tls.usage.eku = {"1.3.6.1.5.5.7.3.1"};
    CHECK(policy::decide(s, env("b@pdf.example.go.id"), {tls}, k_now).action == Action::Reject);
}

TEST_CASE("expiry: which notice is due (R5)", "[policy][expiry]") {
    const std::vector<int> t = {90, 60, 30, 14, 7, 1, 0};
    struct Row {
        double days_left;
        std::optional<int> due;
    };
    const std::vector<Row> rows = {{200, std::nullopt},
                                   {90.5, std::nullopt},
                                   {90, 90},
                                   {89.9, 90},
                                   {61, 90},
                                   {60, 60},
                                   {45, 60},
                                   {30, 30},
                                   {14, 14},
                                   {8, 14},
                                   {7, 7},
                                   {1.5, 7},
                                   {1, 1},
                                   {0.2, 1},
                                   {0, 0},
                                   {-400, 0}};
    for (const auto& r : rows) {
        const auto na = k_now + std::chrono::seconds(static_cast<long long>(r.days_left * 86400));
        INFO("days left " << r.days_left);
        CHECK(policy::due_threshold(na, k_now, t) == r.due);
    }
    CHECK(policy::due_threshold(day(-1), k_now, {90, 30}) == std::nullopt);  // no "on expiry" threshold configured
    CHECK(policy::days_left(day(10) + std::chrono::hours(5), k_now) == 10);
    CHECK(policy::days_left(day(-1) + std::chrono::hours(5), k_now) == -1);
}

TEST_CASE("expiry: renewed, revoked and future certificates get no notice; recipients", "[policy][expiry]") {
    auto make = [](const std::string& kind, const std::string& serial, int nb, int na, std::vector<std::string> a) {
        policy::Expiring e;
        e.key = serial;
        e.kind = kind;
        e.serial = serial;
        e.common_name = serial;
        e.not_before = day(nb);
        e.not_after = day(na);
        e.addresses = std::move(a);
        return e;
    };
    std::vector<policy::Expiring> certs = {
        make("signing", "OLD", -700, 20, {"siti@dinas.example.go.id"}),
        make("signing", "NEW", -5, 720, {"siti@dinas.example.go.id"}),
        make("signing", "BUDI", -700, 20, {"budi@bapenda.dinas.example.go.id"}),
        make("signing", "REVOKED", -700, 10, {"cabut@dinas.example.go.id"}),
        make("signing", "FUTURE", 5, 30, {"tari@dinas.example.go.id"}),
        make("intermediate", "INT", -2000, 50, {}),
    };
    certs[3].revoked = true;
    std::vector<std::string> skipped;
    const auto due = policy::due_notices(certs, k_now, {90, 60, 30, 14, 7, 1, 0}, &skipped);
    REQUIRE(due.size() == 2);
    CHECK(certs[due[0].index].serial == "BUDI");
    CHECK(due[0].threshold == 30);
    CHECK(certs[due[1].index].serial == "INT");
    CHECK(due[1].threshold == 60);
    REQUIRE(skipped.size() == 3);
    CHECK_THAT(skipped[0], Catch::Contains("OLD") && Catch::Contains("renewed"));
    CHECK_THAT(skipped[1], Catch::Contains("REVOKED") && Catch::Contains("revoked"));
    CHECK_THAT(skipped[2], Catch::Contains("FUTURE") && Catch::Contains("not valid yet"));

    config::Notices n;
    n.administrators = {"kominfo@examplekab.go.id"};
    n.domains = {{"dinas.example.go.id", true, {"admin@dinas.example.go.id"}, {}},
                 {"bapenda.dinas.example.go.id", false, {"admin@bapenda.dinas.example.go.id"}, {}}};
    CHECK(policy::notice_recipients(n, certs[2]) == std::vector<std::string>{"budi@bapenda.dinas.example.go.id",
                                                                             "admin@bapenda.dinas.example.go.id",
                                                                             "kominfo@examplekab.go.id"});
    CHECK(policy::notice_recipients(n, certs[5]) == std::vector<std::string>{"kominfo@examplekab.go.id"});
    n.administrators.clear();
    n.notify_owners = false;
    CHECK(policy::notice_recipients(n, certs[0]) == std::vector<std::string>{"admin@dinas.example.go.id"});
    CHECK(policy::notice_recipients(n, certs[5]) ==
          std::vector<std::string>{"admin@dinas.example.go.id", "admin@bapenda.dinas.example.go.id"});
}
