// The supervision report (docs/reports.md) on a real SQLite trail with signed
// checkpoints: its numbers are an exact count over the events the checkpoint
// covers (those after it are left out), and every recorded value is escaped.
#include "audit/sqlite_store.h"
#include "audit/trail.h"
#include "report/report.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace segel;
namespace au = segel::audit;

namespace {

struct Fixture {
    test::TestPki pki;
    std::shared_ptr<au::Seal> seal = std::make_shared<au::Seal>();
    std::string dir;
    std::uint64_t clock_us = 1767225600000000ULL;  // 2026-01-01T00:00:00Z

    Fixture() {
        seal->credential = test::credential(pki.issue({.name = "Segel Audit Seal", .email = "seal@example.go.id"}));
        char tmpl[] = "/tmp/segel-report-test.XXXXXX";
        dir = mkdtemp(tmpl);
    }
    ~Fixture() { std::filesystem::remove_all(dir); }

    au::TrailOptions options() {
        au::TrailOptions o;
        o.path = dir + "/audit.db";
        o.node = "mx1";
        o.seal = seal;
        o.sync = au::Sync::Normal;
        o.checkpoint_events = 1000000;
        o.checkpoint_interval = std::chrono::hours(24);
        o.clock = [this] { return au::from_micros(clock_us); };
        return o;
    }

    au::Event ev(const std::string& kind, const std::string& unit, int day, const std::string& reason = {},
                 const std::string& verdict = {}) {
        au::Event e;
        e.time = au::from_micros(clock_us + static_cast<std::uint64_t>(day) * 86400000000ULL);
        e.kind = kind;
        e.unit = unit;
        e.sender = "siti@" + unit;
        e.reason_code = reason;
        if (!verdict.empty()) {
            e.verdicts = {verdict + " signer=siti@" + unit};
        }
        return e;
    }
};

report::Report compute(const std::string& path, const std::string& from, const std::string& to,
                       const std::string& unit = {}) {
    auto store = au::open_reader("sqlite:" + path);
    report::Options o;
    o.period = report::period(from, to);
    o.unit = unit;
    return report::compute(*store, o, "2026-07-01T00:00:00Z");
}

}  // namespace

TEST_CASE("report: dates are whole UTC days, both inclusive, real dates only", "[report]") {
    const auto p = report::period("2026-01-01", "2026-06-30");
    CHECK(p.first_hour == 1767225600 / 3600);
    CHECK(p.end_hour == 1782864000 / 3600);  // 2026-07-01T00:00:00Z
    for (const char* bad : {"2026-02-30", "2026-13-01", "26-01-01", "2026-1-01", "2026-01-01T00:00:00Z", ""}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(report::period(bad, "2026-06-30"), std::invalid_argument);
    }
    CHECK_THROWS_AS(report::period("2026-06-30", "2026-01-01"), std::invalid_argument);
}

TEST_CASE("report: the numbers are a count over exactly the events the checkpoint covers", "[report]") {
    Fixture f;
    const std::string a = "dinas.example.go.id";
    const std::string b = "bapenda.example.go.id";
    {
        au::Trail t(f.options());
        t.append(f.ev(au::kind::k_sign, a, 1));
        t.append(f.ev(au::kind::k_sign, a, 40));  // February
        t.append(f.ev(au::kind::k_sign_encrypt, a, 2));
        t.append(f.ev(au::kind::k_refuse, a, 3, "login-not-owner"));
        t.append(f.ev(au::kind::k_refuse, b, 3, "certificate-expired"));
        t.append(f.ev(au::kind::k_refuse, b, 4, "certificate-expired"));
        t.append(f.ev(au::kind::k_verify, b, 5, "", "pass"));
        t.append(f.ev(au::kind::k_verify, b, 5, "", "fail"));
        t.append(f.ev(au::kind::k_decrypt, b, 6, "", "pass"));
        t.append(f.ev(au::kind::k_incident, a, 6, "forged-official-sender"));
        t.append(f.ev(au::kind::k_sign, a, 200));  // July: outside the period
        au::Event start = f.ev(au::kind::k_start, "", 0);
        start.credentials = {
            "serial=1 sha256=aa address=siti@" + a + " not_before=2026-02-01 not_after=2028-02-01 state=usable",
            "serial=2 sha256=bb address=rina@" + b + " not_before=2024-01-01 not_after=2026-03-31 state=usable",
            "serial=3 sha256=cc address=budi@" + a +
                " not_before=2024-07-01 not_after=2026-08-15 state=usable, "
                "expires in 40 days: renew now"};
        t.append(start);
        au::Event revoked = f.ev(au::kind::k_certificate_state, "", 10);
        revoked.cert_fingerprint = au::sha256("x");
        revoked.state = "certificate 4 of ani@" + a + " was revoked on 2026-01-10 (keyCompromise)";
        revoked.notes = {"address=ani@" + a};
        t.append(revoked);
        REQUIRE(t.checkpoint());
        // After the checkpoint: not signed yet, so not counted.
        t.append(f.ev(au::kind::k_sign, a, 7));
        t.append(f.ev(au::kind::k_refuse, a, 7, "no-certificate"));
        // close() would sign a checkpoint over these; the report must not see them either way.
    }
    // The trail closed with a last checkpoint; read with the one before it.
    auto store = au::open_reader("sqlite:" + f.dir + "/audit.db");
    report::Options o;
    o.period = report::period("2026-01-01", "2026-06-30");
    o.node = "mx1";
    o.sequence = 0;
    const report::Report r = report::compute(*store, o, "now");
    REQUIRE(r.checkpoints.size() == 1);
    CHECK(r.checkpoints[0].sequence == 0);
    CHECK(r.checkpoints[0].size == 13);
    CHECK(r.checkpoints[0].events_after >= 3);  // its record and the two events after it

    CHECK(r.total.signed_only == 2);
    CHECK(r.total.sign_encrypt == 1);
    CHECK(r.total.refused == std::map<std::string, std::int64_t>{{"certificate-expired", 2}, {"login-not-owner", 1}});
    CHECK(r.total.verified == std::map<std::string, std::int64_t>{{"fail", 1}, {"pass", 2}});
    CHECK(r.total.decrypted == 1);
    CHECK(r.total.incidents == std::map<std::string, std::int64_t>{{"forged-official-sender", 1}});
    CHECK(r.units.at(a).signed_only == 2);
    CHECK(r.units.at(a).refused_total() == 1);
    CHECK(r.units.at(b).refused_total() == 2);
    CHECK(r.units.at(b).verified_total() == 3);
    // Certificates: 1 issued in the period (aa), 1 expired in it (bb), 1 expiring within 90 days after (cc),
    // 1 revoked in it (the certificate-state event).
    CHECK(r.total.certs_issued == 1);
    CHECK(r.total.certs_expired == 1);
    CHECK(r.total.certs_expiring == 1);
    CHECK(r.total.certs_revoked == 1);
    CHECK(r.units.at(a).certs_revoked == 1);
    CHECK(r.units.at(b).certs_expired == 1);
    CHECK(r.months.at("2026-01").signed_only == 1);
    CHECK(r.months.at("2026-02").signed_only == 1);
    CHECK(r.months.count("2026-07") == 0);

    // The latest checkpoint (made by close()) covers the two later events too.
    const report::Report latest = compute(f.dir + "/audit.db", "2026-01-01", "2026-06-30");
    CHECK(latest.total.signed_only == 3);
    CHECK(latest.total.refused.at("no-certificate") == 1);
    // One unit only.
    const report::Report only_b = compute(f.dir + "/audit.db", "2026-01-01", "2026-06-30", b);
    CHECK(only_b.units.size() == 1);
    CHECK(only_b.total.signed_only == 0);
    CHECK(only_b.total.refused_total() == 2);
    // The formats carry the same numbers.
    const std::string csv = report::to_csv(r);
    CHECK(csv.find("\"" + b + "\",\"refused\",\"certificate-expired\",2\r\n") != std::string::npos);
    CHECK(csv.find("\"(total)\",\"signed\",\"\",2\r\n") != std::string::npos);
    const std::string json = report::to_json(r);
    INFO(json);
    CHECK(json.find("\"certificate-expired\": 2") != std::string::npos);
    CHECK(json.find("\"login-not-owner\": 1") != std::string::npos);
    CHECK(json.find("\"signed\": 2,") != std::string::npos);
}

TEST_CASE("report: a store without a checkpoint gives no report", "[report]") {
    Fixture f;
    {
        au::TrailOptions o = f.options();
        o.seal = nullptr;  // no checkpoints at all
        au::Trail t(o);
        t.append(f.ev(au::kind::k_sign, "dinas.example.go.id", 1));
    }
    CHECK_THROWS_WITH(compute(f.dir + "/audit.db", "2026-01-01", "2026-06-30"),
                      Catch::Contains("has no signed checkpoint yet"));
}

TEST_CASE("report: recorded values are escaped in HTML and quoted in CSV", "[report]") {
    CHECK(report::html_escape("<script>alert('x')</script>") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    CHECK(report::html_escape("a\"b&c") == "a&quot;b&amp;c");
    CHECK(report::html_escape("bapenda.kab.go.id") == "bapenda.kab.go.id");
    CHECK(report::html_escape("Dinas Perhubungan — ok") == "Dinas Perhubungan — ok");  // UTF-8 kept
    // Not UTF-8: a lone continuation byte, an overlong '<', a truncated sequence, NUL and ESC.
    CHECK(report::html_escape(std::string("\x80x\xC0\xBCy\xE2\x82", 7)) ==
          "\xEF\xBF\xBDx\xEF\xBF\xBD\xEF\xBF\xBDy"
          "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(report::html_escape(std::string("a\0b\x1b", 4)) ==
          "a\xEF\xBF\xBD"
          "b\xEF\xBF\xBD");
    CHECK(report::csv_field("a\"b,c\r\nd") == "\"a\"\"b,c\r\nd\"");

    report::Report r;
    r.period = report::period("2026-01-01", "2026-06-30");
    r.store = "sqlite:/x<y>.db";
    const std::string hostile = "<script>alert(1)</script>\"'&\xff.go.id";
    report::Measures m;
    m.signed_only = 3;
    m.refused["<img src=x onerror=alert(1)>"] = 1;
    r.units[hostile] = m;
    r.total = m;
    r.checkpoints.push_back({"mx1\"><script>", 0, 1, "00", "t", "00", 0});
    for (const auto lang : {report::Lang::Id, report::Lang::En}) {
        const std::string html = report::to_html(r, lang);
        CHECK(html.find("<script") == std::string::npos);
        CHECK(html.find("<img") == std::string::npos);
        CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;\xEF\xBF\xBD.go.id") !=
              std::string::npos);
        CHECK(html.find("\xff") == std::string::npos);
        CHECK(html.find("<svg") != std::string::npos);
    }
    CHECK(report::to_html(r, report::Lang::Id).find("Ditandatangani") != std::string::npos);
    CHECK(report::to_html(r, report::Lang::En).find("Signed") != std::string::npos);
    const std::string csv = report::to_csv(r);
    CHECK(csv.find("\xff") == std::string::npos);  // column_safe: U+FFFD
    CHECK(csv.find("\"<script>alert(1)</script>\"\"'&\xEF\xBF\xBD.go.id\",\"signed\",\"\",3\r\n") != std::string::npos);
}

TEST_CASE("report: credential lines of start and reload events", "[report]") {
    const auto c = report::parse_credential(
        "serial=1004 sha256=ab address=siti@dinas.example.go.id,x@y.go.id "
        "not_before=2026-01-02 not_after=2028-01-02 state=usable, expires in 40 "
        "days: renew now");
    REQUIRE(c);
    CHECK(c->serial == "1004");
    CHECK(c->sha256 == "ab");
    CHECK(c->unit == "dinas.example.go.id");
    CHECK(c->not_before == "2026-01-02");
    CHECK(c->not_after == "2028-01-02");
    // A line written before not_before/not_after were recorded still reads; it counts for nothing dated.
    const auto old = report::parse_credential("serial=1 sha256=cd address=a@b.go.id state=usable");
    REQUIRE(old);
    CHECK(old->not_after.empty());
    CHECK_FALSE(report::parse_credential("garbage"));
}
