// The "revocation:" and "notices:" sections and the document-signing switch:
// defaults, a full section, and refusals that point at the line.
#include "config/load.h"
#include "tests/support/config.h"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace segel;
using std::chrono::hours;
using std::chrono::seconds;

namespace {

const std::string& k_base = test::k_config_base;
using test::parse_config;
using test::refusal;

}  // namespace

TEST_CASE("config revocation: on by default, defer beyond 24 h", "[config][revocation]") {
    const auto s = parse_config("");
    const auto& r = s.revocation;
    CHECK(r.enabled);
    CHECK(r.cache_directory.empty());
    CHECK(r.signing.grace == hours(24));
    CHECK(r.signing.unknown == config::Revocation::SigningUnknown::Defer);
    CHECK(r.verify_unknown == config::Revocation::VerifyUnknown::Note);
    CHECK(r.encrypt_unknown == config::Revocation::EncryptUnknown::Encrypt);
    CHECK(r.check_interval == hours(1));
    CHECK(r.timeout == seconds(10));
    CHECK(r.proxy.empty());
    CHECK_FALSE(s.notices.present);
    CHECK_FALSE(s.signing.domains[0].document_signing_certificates);
}

TEST_CASE("config revocation: a full section", "[config][revocation]") {
    const std::string dir = "/tmp";
    const auto s = parse_config("revocation:\n  cache_directory: " + dir +
                                "\n  check_interval: 30m\n  retry_interval: 90s\n  timeout: 4s\n"
                                "  connect_timeout: 2\n  max_crl_size: 5M\n  proxy: http://proxy.example.go.id:3128\n"
                                "  require_nonce: yes\n  max_age: 2d\n"
                                "  signing:\n    grace: 48h\n    unknown: sign\n  verify:\n    unknown: temperror\n"
                                "  encryption:\n    unknown: skip\n"
                                "  responders:\n    - ocsp: http://ocsp.example.go.id/\n      crl: []\n"
                                "    - issuer: /etc/hostname\n      ocsp: [http://a.example/, https://b.example/x]\n");
    const auto& r = s.revocation;
    CHECK(r.cache_directory == dir);
    CHECK(r.check_interval == seconds(1800));
    CHECK(r.retry_interval == seconds(90));
    CHECK(r.timeout == seconds(4));
    CHECK(r.connect_timeout == seconds(2));
    CHECK(r.max_crl_size == 5u * 1024 * 1024);
    CHECK(r.require_nonce);
    CHECK(r.max_age == hours(48));
    CHECK(r.signing.grace == hours(48));
    CHECK(r.signing.unknown == config::Revocation::SigningUnknown::Sign);
    CHECK(r.verify_unknown == config::Revocation::VerifyUnknown::TempError);
    CHECK(r.encrypt_unknown == config::Revocation::EncryptUnknown::Skip);
    REQUIRE(r.responders.size() == 2);
    CHECK(r.responders[0].issuer.empty());
    CHECK(r.responders[0].ocsp == std::vector<std::string>{"http://ocsp.example.go.id/"});
    CHECK(r.responders[0].has_crl);
    CHECK(r.responders[0].crl.empty());  // [] = no CRL for these certificates
    CHECK(r.responders[1].ocsp.size() == 2);
    CHECK_FALSE(r.responders[1].has_crl);
}

TEST_CASE("config revocation: mistakes are refused at their line", "[config][revocation]") {
    const auto [yaml, expected] = GENERATE(table<std::string, std::string>({
        {"revocation:\n  grace: 24h\n", "segel.yaml:7:3: revocation.grace: unknown key"},
        {"revocation:\n  signing:\n    unknown: maybe\n",
         "segel.yaml:8:14: revocation.signing.unknown: \"maybe\" is not one of defer | sign"},
        {"revocation:\n  signing:\n    grace: tomorrow\n", "revocation.signing.grace: \"tomorrow\" is not a duration"},
        {"revocation:\n  check_interval: 5s\n", "is not a duration of at least 60 s"},
        {"revocation:\n  timeout: 2s\n  connect_timeout: 5s\n", "is longer than revocation.timeout"},
        {"revocation:\n  verify:\n    unknown: fail\n", "is not one of note | temperror"},
        {"revocation:\n  encryption:\n    unknown: never\n", "is not one of encrypt | skip"},
        {"revocation:\n  cache_directory: relative/dir\n", "must be an absolute directory path"},
        {"revocation:\n  cache_directory: /nonexistent/segel\n", "cannot write to /nonexistent/segel"},
        {"revocation:\n  max_crl_size: 10\n", "is not a size of at least 1K"},
        {"revocation:\n  proxy: proxy:3128\n", "is not a proxy URL"},
        {"revocation:\n  responders:\n    - ocsp: ftp://x/\n",
         "segel.yaml:8:13: revocation.responders[0].ocsp: \"ftp://x/\" is not an http:// or https:// URL"},
        {"revocation:\n  responders:\n    - ocsp: [http://ok/, \"http://bad url/\"]\n",
         "revocation.responders[0].ocsp[1]: \"http://bad url/\" is not an http"},
        {"revocation:\n  responders:\n    - issuer: /nonexistent.pem\n      ocsp: http://x/\n",
         "cannot read /nonexistent.pem"},
        {"revocation:\n  responders:\n    - issuer: /etc/hostname\n", "needs ocsp: and/or crl:"},
        {"revocation:\n  responders:\n    - ocsp: http://a/\n    - crl: http://b/\n",
         "a second entry without issuer (first at line 8)"},
    }));
    INFO(yaml);
    CHECK_THAT(refusal(yaml), Catch::Contains(expected));
}

TEST_CASE("config notices: a full section, and its defaults", "[config][notices]") {
    const auto s = parse_config(
        "notices:\n  sign_as: NoReply@Dinas.Example.go.id\n  relay: 127.0.0.1:2525\n  days: [7, 30, 0]\n"
        "  state_file: /var/lib/segel/n.sqlite\n  administrators: [kominfo@examplekab.go.id]\n"
        "  notify_owners: false\n  domains:\n    - domain: dinas.example.go.id\n      subdomains: true\n"
        "      administrators: [admin@dinas.example.go.id]\n");
    const auto& n = s.notices;
    CHECK(n.present);
    CHECK(n.sign_as == "noreply@dinas.example.go.id");
    CHECK(n.from == "noreply@dinas.example.go.id");
    CHECK(n.relay == "127.0.0.1:2525");
    CHECK(n.days == std::vector<int>{30, 7, 0});
    CHECK(n.state_file == "/var/lib/segel/n.sqlite");
    CHECK_FALSE(n.notify_owners);
    REQUIRE(n.domains.size() == 1);
    CHECK(n.domains[0].subdomains);
    CHECK(n.domains[0].to == std::vector<std::string>{"admin@dinas.example.go.id"});
    const auto d = parse_config("notices:\n  sign_as: noreply@dinas.example.go.id\n").notices;
    CHECK(d.days == std::vector<int>{90, 60, 30, 14, 7, 1, 0});
    CHECK(d.relay == "127.0.0.1:25");
    CHECK(d.state_file == "/var/lib/segel/notices.sqlite");
}

TEST_CASE("config notices and the compatibility switch: mistakes are refused at their line", "[config][notices]") {
    const auto [yaml, expected] = GENERATE(table<std::string, std::string>({
        {"notices:\n  administrators: [kominfo@examplekab.go.id]\n", "segel.yaml:7:3: notices.sign_as: missing"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  relay: 127.0.0.1\n",
         "segel.yaml:8:10: notices.relay: \"127.0.0.1\" is not HOST:PORT"},
        {"notices:\n  sign_as: noreply@gmail.example\n", "is not in an official domain (signing.domains)"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  days: [30, 30]\n", "30 is listed twice"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  days: [-1]\n", "must be a number of days"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  state_file: notices.sqlite\n",
         "must be an absolute file path"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  administrators: [not-an-address]\n",
         "notices.administrators[0]: \"not-an-address\" is not an e-mail address"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  domains:\n    - domain: dinas.example.go.id\n",
         "needs domain and administrators"},
        {"notices:\n  sign_as: noreply@dinas.example.go.id\n  every: day\n", "notices.every: unknown key"},
    }));
    INFO(yaml);
    CHECK_THAT(refusal(yaml), Catch::Contains(expected));
    const std::string compat =
        "trust:\n  anchors: [/r.pem]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n"
        "      document_signing_certificates: yes\n";
    try {
        config::parse(compat, "segel.yaml");
        FAIL("accepted");
    } catch (const config::ConfigError& e) {
        CHECK_THAT(e.what(), Catch::Contains("segel.yaml:6:38: signing.domains[0].document_signing_certificates: "
                                             "\"yes\" is not one of refuse | allow"));
    }
    CHECK(config::parse(compat.substr(0, compat.size() - 4) + "allow\n", "segel.yaml")
              .signing.domains[0]
              .document_signing_certificates);
}

TEST_CASE("config: durations", "[config]") {
    seconds s{};
    CHECK(config::parse_duration("90", s));
    CHECK(s == seconds(90));
    CHECK(config::parse_duration("15m", s));
    CHECK(s == seconds(900));
    CHECK(config::parse_duration("24H", s));
    CHECK(s == hours(24));
    CHECK(config::parse_duration("7d", s));
    CHECK(s == hours(168));
    for (const char* bad : {"", "h", "1.5h", "-1s", "10 s", "1w", "99999999999999s"}) {
        INFO(bad);
        CHECK_FALSE(config::parse_duration(bad, s));
    }
}
