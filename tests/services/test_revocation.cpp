// The revocation service and the checks under it (smime/revocation.h), against
// real OCSP and CRL responders on 127.0.0.1 (integration/responders.py running
// `openssl ocsp -index`) and a PKI made by `openssl ca`
// (integration/make-lifecycle-pki.sh) whose certificates point at them.
#include "base/time.h"
#include "config/load.h"
#include "services/revocation.h"
#include "smime/revocation.h"
#include "tests/support/pki.h"
#include "tests/support/responders.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace segel;
using smime::RevocationState;
using Source = smime::RevocationStatus::Source;

namespace {

using TimePoint = std::chrono::system_clock::time_point;

std::string make_dir() {
    char templ[] = "/tmp/segel-unit-rev-XXXXXX";
    std::string d = mkdtemp(templ);
    std::filesystem::create_directories(d + "/lc/crl");
    return d;
}

/** One lifecycle PKI and its responders for the whole test binary (made once: about 3 s). */
struct Lifecycle {
    std::string dir = make_dir();
    std::string lc = dir + "/lc";
    test::Responders resp{{"--static", "/crl=" + lc + "/crl", "--static", "/files=" + dir, "--ocsp",
                           "/ocsp,index=" + lc + "/int-index.txt,ca=" + lc + "/int.pem,rsigner=" + lc +
                               "/ocsp.pem,rkey=" + lc + "/ocsp.key,ndays=1,unauth_rsigner=" + lc +
                               "/rogue-ocsp.pem,unauth_rkey=" + lc + "/rogue-ocsp.key",
                           "--ocsp",
                           "/ocsp-ca,index=" + lc + "/int-index.txt,ca=" + lc + "/int.pem,rsigner=" + lc +
                               "/int.pem,rkey=" + lc + "/int.key,ndays=1"}};
    Lifecycle() { script("make " + lc + " " + resp.url("")); }
    ~Lifecycle() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    void script(const std::string& args) const {
        const std::string cmd =
            "bash " + std::string(SEGEL_SOURCE_DIR) + "/integration/make-lifecycle-pki.sh " + args + " >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) {
            throw std::runtime_error("make-lifecycle-pki.sh " + args + " failed");
        }
    }
    void revoke(const std::string& name, const std::string& reason = "keyCompromise") const {
        script("revoke " + lc + " " + name + " " + reason);
    }
    smime::ossl::Ptr<X509> cert(const std::string& name) const {
        return std::move(smime::read_pem_certs(lc + "/" + name + ".leaf.pem").front());
    }
    smime::ossl::Ptr<X509> issuer() const { return std::move(smime::read_pem_certs(lc + "/int.pem").front()); }
    /** How many requests for @p path the responders saw. */
    int requests(const std::string& path, const std::string& status = "") const {
        std::istringstream in(resp.log());
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            if (line.find("\"path\": \"" + path + "\"") != std::string::npos &&
                (status.empty() || line.find("\"status\": " + status) != std::string::npos)) {
                ++n;
            }
        }
        return n;
    }
};

Lifecycle& pki() {
    static Lifecycle l;
    return l;
}

config::Revocation settings(const std::string& yaml = "") {
    return config::parse("trust: {anchors: [r.pem]}\nsigning:\n  domains: [{domain: dinas.example.go.id}]\n" + yaml,
                         "t.yaml")
        .revocation;
}

/** A service of its own (not the process-wide one), with @p yaml's revocation: settings. */
std::unique_ptr<services::RevocationService> service(const std::string& yaml =
                                                         "revocation:\n  timeout: 3s\n"
                                                         "  connect_timeout: 2s\n",
                                                     std::vector<services::Watched> watched = {}) {
    auto s = std::make_unique<services::RevocationService>();
    const auto r = settings(yaml);
    s->configure(r, services::load_overrides(r), std::move(watched));
    return s;
}

/** The revocation: section with OCSP only (every certificate's CRL switched off), at @p path. */
std::string ocsp_only(const std::string& path, const std::string& more = "") {
    return "revocation:\n  timeout: 2s\n  connect_timeout: 1s\n" + more +
           "  responders:\n    - ocsp: " + pki().resp.url(path) + "\n      crl: []\n";
}

TimePoint now() {
    return std::chrono::system_clock::now();
}

}  // namespace

TEST_CASE("revocation: the points a certificate names", "[services][revocation]") {
    const auto siti = smime::revocation_points(pki().cert("siti").get());
    CHECK(siti.ocsp == std::vector<std::string>{pki().resp.url("/ocsp")});
    CHECK(siti.crl == std::vector<std::string>{pki().resp.url("/crl/int.crl")});
    CHECK(smime::revocation_points(pki().cert("crlonly").get()).ocsp.empty());
    CHECK(smime::revocation_points(pki().cert("ocsponly").get()).crl.empty());
    const auto plain = smime::revocation_points(pki().cert("plain").get());
    CHECK((plain.ocsp.empty() && plain.crl.empty()));
    const auto s = service();
    const auto st = s->check(pki().cert("plain").get(), pki().issuer().get(), now());
    CHECK(st.state == RevocationState::NotChecked);
    CHECK_THAT(st.detail, Catch::Contains("names no OCSP responder or CRL distribution point"));
}

TEST_CASE("revocation: OCSP good from a delegated responder, then revoked at the CA", "[services][revocation]") {
    const auto cert = pki().cert("cabut");
    const auto s = service(ocsp_only("/ocsp"));
    const auto good = s->check(cert.get(), pki().issuer().get(), now());
    REQUIRE(good.state == RevocationState::Good);
    CHECK(good.source == Source::Ocsp);
    CHECK(good.url == pki().resp.url("/ocsp"));
    CHECK_THAT(good.responder, Catch::Contains("CN=BSrE Lifecycle OCSP Responder"));
    REQUIRE(good.next_update.has_value());
    CHECK(smime::evidence(good, good.obtained) == "ocsp good, just now");
    CHECK(smime::evidence(good, good.obtained + std::chrono::hours(2)) == "ocsp good, 2 h old");
    REQUIRE(s->responder_certificates().size() == 1);

    pki().revoke("cabut", "keyCompromise");
    const auto fresh = service(ocsp_only("/ocsp"));
    const auto revoked = fresh->check(cert.get(), pki().issuer().get(), now());
    REQUIRE(revoked.state == RevocationState::Revoked);
    CHECK(revoked.reason == "keyCompromise");
    CHECK(base::format_date(revoked.revoked_at) == base::format_date(now()));
    CHECK_THAT(smime::evidence(revoked, revoked.obtained), Catch::StartsWith("ocsp revoked on "));
    // An answer signed by the CA itself is authorised too.
    const auto by_ca = service(ocsp_only("/ocsp-ca"))->check(cert.get(), pki().issuer().get(), now());
    CHECK(by_ca.state == RevocationState::Revoked);
    CHECK_THAT(by_ca.responder, Catch::Contains("CN=BSrE Lifecycle Intermediate CA"));
}

TEST_CASE("revocation: OCSP answers that must not be believed", "[services][revocation]") {
    const auto cert = pki().cert("ocsponly");
    struct Row {
        const char* mode;
        std::string extra;
        RevocationState state;
        std::string detail;
    };
    const std::vector<Row> rows = {
        {"wrong-nonce", "", RevocationState::Unknown, "the answer carries another request's nonce (a replayed answer)"},
        {"unauthorized", "", RevocationState::Unknown, "which lacks the id-kp-OCSPSigning extended key usage"},
        {"garbage", "", RevocationState::Unknown, "the answer is not an OCSP response (512 bytes)"},
        {"http500", "", RevocationState::Unknown, "/ocsp: HTTP 500"},
        {"slow:3", "", RevocationState::Unknown, "Timeout was reached"},
        {"no-nonce", "", RevocationState::Good, "the answer has no nonce (pre-produced)"},
        {"no-nonce", "  require_nonce: true\n", RevocationState::Unknown,
         "the answer has no nonce (revocation.require_nonce: true)"},
    };
    for (const auto& row : rows) {
        SECTION(std::string(row.mode) + (row.extra.empty() ? "" : " (require_nonce)")) {
            pki().resp.fault("/ocsp", row.mode);
            const auto st = service(ocsp_only("/ocsp", row.extra))->check(cert.get(), pki().issuer().get(), now());
            pki().resp.fault("/ocsp", "ok");
            CHECK(st.state == row.state);
            CHECK_THAT(st.detail, Catch::Contains(row.detail));
        }
    }
    SECTION("an answer judged at a time past its nextUpdate is out of date") {
        const auto st =
            service(ocsp_only("/ocsp"))->check(cert.get(), pki().issuer().get(), now() + std::chrono::hours(49));
        CHECK(st.state == RevocationState::Unknown);
        CHECK_THAT(st.detail, Catch::Contains("the answer is out of date (nextUpdate"));
    }
    SECTION("an answer for another CA's certificate does not cover this one") {
        test::TestPki other;
        const auto foreign = other.issue({"Foreign", "x@dinas.example.go.id"});
        const auto st = service(ocsp_only("/ocsp"))->check(foreign.cert.get(), other.intermediate(), now());
        CHECK(st.state == RevocationState::Unknown);
    }
}

TEST_CASE("revocation: a responder that is down is not asked again before retry_interval", "[services][revocation]") {
    const auto cert = pki().cert("ocsponly");
    const auto s = service(ocsp_only("/ocsp"));
    pki().resp.fault("/ocsp", "down");
    const int before = pki().requests("/ocsp");
    const auto first = s->check(cert.get(), pki().issuer().get(), now());
    const auto second = s->check(cert.get(), pki().issuer().get(), now());
    pki().resp.fault("/ocsp", "ok");
    CHECK(first.state == RevocationState::Unknown);
    CHECK_THAT(first.detail, Catch::StartsWith("POST " + pki().resp.url("/ocsp") + ": "));
    CHECK(second.state == RevocationState::Unknown);
    CHECK_THAT(second.detail, Catch::Contains("not asked again before"));
    CHECK(pki().requests("/ocsp") == before + 1);
    // A connection refused is the same: nobody listens there.
    const std::string dead = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/ocsp";
    const auto refused = service("revocation:\n  responders:\n    - ocsp: " + dead + "\n      crl: []\n")
                             ->check(cert.get(), pki().issuer().get(), now());
    CHECK_THAT(refused.detail, Catch::Contains("Couldn't connect to server"));
}

TEST_CASE("revocation: CRLs are fetched once per URL, revalidated with a conditional GET", "[services][revocation]") {
    auto crl_settings = std::string("revocation:\n  timeout: 3s\n  connect_timeout: 2s\n");
    std::vector<services::Watched> watched;
    watched.push_back({pki().cert("crlonly"), pki().issuer()});
    const auto s = service(crl_settings, std::move(watched));
    const int before = pki().requests("/crl/int.crl");
    const auto a = s->check(pki().cert("crlonly").get(), pki().issuer().get(), now());
    const auto b = s->check(pki().cert("segera").get(), pki().issuer().get(), now());  // CRL first for any certificate
    REQUIRE(a.state == RevocationState::Good);
    CHECK(a.source == Source::Crl);
    CHECK(a.url == pki().resp.url("/crl/int.crl"));
    CHECK(b.state == RevocationState::Good);
    CHECK(b.source == Source::Crl);
    CHECK(pki().requests("/crl/int.crl") == before + 1);
    // A forced refresh asks again: the CRL did not change, so the answer is 304 and the copy stays.
    s->refresh(true, now());
    CHECK(pki().requests("/crl/int.crl", "304") >= 1);
    CHECK(s->status(pki().cert("crlonly").get()).evidence.state == RevocationState::Good);
    // Judged after its nextUpdate (7 days), the CRL says nothing: crlonly names no OCSP responder.
    // (A service that does not watch crlonly: a watched certificate's evidence is its own.)
    const auto late =
        service(crl_settings)
            ->check(pki().cert("crlonly").get(), pki().issuer().get(), now() + std::chrono::hours(24 * 8));
    CHECK(late.state == RevocationState::Unknown);
    CHECK_THAT(late.detail, Catch::Contains("the CRL expired on"));
}

TEST_CASE("revocation: a certificate in the CRL is revoked, with its reason", "[services][revocation]") {
    pki().revoke("mitra", "affiliationChanged");
    const auto st = service()->check(pki().cert("mitra").get(), pki().issuer().get(), now());
    REQUIRE(st.state == RevocationState::Revoked);
    CHECK(st.source == Source::Crl);
    CHECK(st.reason == "affiliationChanged");
}

TEST_CASE("revocation: forged, oversized and garbage CRLs are refused", "[services][revocation]") {
    const auto cert = pki().cert("crlonly");
    auto with_crl = [](const std::string& url, const std::string& more = "") {
        return "revocation:\n  timeout: 2s\n  connect_timeout: 1s\n" + more + "  responders:\n    - crl: " + url +
               "\n      ocsp: []\n";
    };
    const auto forged =
        service(with_crl(pki().resp.url("/crl/forged.crl")))->check(cert.get(), pki().issuer().get(), now());
    CHECK(forged.state == RevocationState::Unknown);
    CHECK_THAT(forged.detail, Catch::Contains("the CRL's signature does not verify with the issuing CA's key"));
    test::write_file(pki().dir + "/big.crl", std::string(8192, 'x'), 0644);
    const auto big = service(with_crl(pki().resp.url("/files/big.crl"), "  max_crl_size: 1K\n"))
                         ->check(cert.get(), pki().issuer().get(), now());
    CHECK_THAT(big.detail, Catch::Contains("larger than 1024 bytes"));
    const auto junk =
        service(with_crl(pki().resp.url("/files/big.crl")))->check(cert.get(), pki().issuer().get(), now());
    CHECK_THAT(junk.detail, Catch::Contains("not a CRL (neither DER nor PEM"));
    const auto missing =
        service(with_crl(pki().resp.url("/crl/missing.crl")))->check(cert.get(), pki().issuer().get(), now());
    CHECK_THAT(missing.detail, Catch::Contains("HTTP 404"));
}

TEST_CASE("revocation: watched certificates, the listener, and the cache directory across a restart",
          "[services][revocation]") {
    const std::string cache = pki().dir + "/cache";
    std::filesystem::create_directories(cache);
    const std::string yaml = "revocation:\n  cache_directory: " + cache + "\n  timeout: 3s\n  connect_timeout: 2s\n";
    const auto siti = pki().cert("siti");
    TimePoint obtained;
    {
        std::vector<services::Watched> watched;
        watched.push_back({smime::ossl::retain(siti.get()), pki().issuer()});
        watched.push_back({pki().cert("plain"), pki().issuer()});
        const auto s = service(yaml, std::move(watched));
        CHECK(s->status(siti.get()).evidence.state == RevocationState::Unknown);  // not checked yet
        CHECK(s->status(pki().cert("plain").get()).evidence.state == RevocationState::NotChecked);
        int changes = 0;
        s->start([&](X509*, const services::CertificateStatus& before, const services::CertificateStatus& after) {
            CHECK(before.evidence.state != after.evidence.state);
            ++changes;
        });
        s->stop();
        CHECK(changes == 1);  // siti: unknown → good (plain has nothing to ask)
        const auto st = s->status(siti.get());
        REQUIRE(st.evidence.state == RevocationState::Good);
        CHECK(st.evidence.source == Source::Ocsp);
        CHECK(st.problem.empty());
        obtained = st.evidence.obtained;
        // By fingerprint (what the gateway asks per message): the same answer.
        const auto by_fp = s->status_of(smime::ossl::fingerprint_sha256(siti.get()));
        CHECK(by_fp.evidence.state == RevocationState::Good);
        CHECK(by_fp.evidence.obtained == obtained);
        CHECK(s->status_of(smime::ossl::fingerprint_sha256(pki().cert("plain").get())).evidence.state ==
              RevocationState::NotChecked);
        CHECK(s->status_of("").evidence.detail == "not a loaded signing certificate");
    }
    // A restart with every responder down: the answer comes back from the cache directory.
    pki().resp.fault("/ocsp", "down");
    pki().resp.fault("/crl", "down");
    std::vector<services::Watched> watched;
    watched.push_back({smime::ossl::retain(siti.get()), pki().issuer()});
    const auto again = service(yaml, std::move(watched));
    const auto st = again->status(siti.get());
    CHECK(st.evidence.state == RevocationState::Good);
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(st.evidence.obtained - obtained).count() == 0);
    CHECK_FALSE(again->responder_certificates().empty());  // read back from the cache directory
    // The check fails now; the answer stays and the failure is recorded next to it.
    again->refresh(true, now());
    const auto after = again->status(siti.get());
    CHECK(after.evidence.state == RevocationState::Good);
    CHECK_THAT(after.problem, Catch::Contains("POST " + pki().resp.url("/ocsp")));
    pki().resp.fault("/ocsp", "ok");
    pki().resp.fault("/crl", "ok");
}

TEST_CASE("revocation: switched off, nothing is asked", "[services][revocation]") {
    const int before = pki().requests("/ocsp");
    const auto s = service("revocation:\n  enabled: false\n");
    const auto st = s->check(pki().cert("siti").get(), pki().issuer().get(), now());
    CHECK(st.state == RevocationState::NotChecked);
    CHECK_THAT(st.detail, Catch::Contains("revocation.enabled is false"));
    CHECK(pki().requests("/ocsp") == before);
}

TEST_CASE("revocation: hostile bytes never throw", "[services][revocation]") {
    const auto cert = pki().cert("siti");
    const auto issuer = pki().issuer();
    smime::OcspPolicy p;
    p.now = now();
    const std::vector<std::string> hostile = {std::string(), std::string("\x30", 1),
                                              std::string("\x30\x03\x0a\x01\x00", 5),
                                              std::string("\x30\x03\x0a\x01\x03", 5), std::string(4096, '\xff')};
    for (const auto& bytes : hostile) {
        const auto st = smime::check_ocsp(bytes, cert.get(), issuer.get(), "", p);
        CHECK(st.state == RevocationState::Unknown);
    }
    CHECK_FALSE(smime::parse_crl(std::string("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")));
    CHECK_FALSE(smime::parse_crl(std::string(100, '\0')));
}
