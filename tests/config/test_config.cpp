#include "config/load.h"

#include <catch2/catch.hpp>

using segel::config::ConfigError;
using segel::config::parse;

namespace {

const std::string k_base = R"(trust:
  anchors: [/etc/segel/root.pem]
signing:
  domains:
    - domain: dinas.example.go.id
)";

/** Parses and returns the error text ("" when valid). */
std::string error_of(const std::string& yaml) {
    try {
        parse(yaml, "segel.yaml");
        return "";
    } catch (const ConfigError& e) {
        return e.what();
    }
}

}  // namespace

TEST_CASE("config: a minimal file gets safe defaults", "[config]") {
    const auto s = parse(k_base, "segel.yaml");
    CHECK(s.milter.on_internal_error == segel::config::OnError::Tempfail);
    CHECK(s.signing.other_senders == segel::config::Action::Reject);
    REQUIRE(s.signing.domains.size() == 1);
    CHECK(s.signing.domains[0].without_certificate == segel::config::Action::Reject);
    CHECK(s.signing.domains[0].unsignable == segel::config::Action::Reject);
    CHECK(s.signing.domains[0].subdomains == false);
    CHECK(s.signing.format == segel::config::SignFormat::Detached);
    CHECK(s.milter.socket_mode == 0660);
    CHECK(s.milter.shutdown_timeout_seconds == 30);
    CHECK(s.milter.timeout_seconds == 300);
    CHECK(s.metrics.file == "/run/segel/segel.prom");
    CHECK(s.metrics.interval_seconds == 15);
    CHECK(s.signing.login_case == segel::config::LoginCase::Exact);
    CHECK(s.signing.domains[0].client_signatures == segel::config::ClientProtected::Reject);
    CHECK(s.signing.domains[0].client_encrypted == segel::config::ClientProtected::Reject);
}

TEST_CASE("config: logins are kept as written unless login_case is insensitive", "[config]") {
    const auto exact = parse(k_base + "  logins:\n    Budi: [budi@dinas.example.go.id]\n", "segel.yaml");
    CHECK(exact.signing.logins.count("Budi") == 1);
    CHECK(exact.signing.logins.count("budi") == 0);
    const auto folded =
        parse(k_base + "  login_case: insensitive\n  logins:\n    Budi: [budi@dinas.example.go.id]\n", "segel.yaml");
    CHECK(folded.signing.login_case == segel::config::LoginCase::Insensitive);
    CHECK(folded.signing.logins.count("budi") == 1);
}

TEST_CASE("config: every mistake names file, line, column and key path", "[config]") {
    struct Row {
        std::string yaml;
        std::string expected;
    };
    const std::vector<Row> rows = {
        {k_base + "  colour: blue\n", "segel.yaml:6:3: signing.colour: unknown key"},
        {k_base + "    - domain: go.id\n",
         "segel.yaml:6:15: signing.domains[1].domain: \"go.id\" is a public suffix, not a domain this gateway serves"},
        // From the Public Suffix List (libpsl), not a list of our own: every registry's suffixes.
        {k_base + "    - domain: desa.id\n", "\"desa.id\" is a public suffix"},
        {k_base + "    - domain: co.uk\n", "\"co.uk\" is a public suffix"},
        {k_base + "    - domain: github.io\n", "\"github.io\" is a public suffix"},
        {k_base + "      unsignable: sometimes\n",
         "segel.yaml:6:19: signing.domains[0].unsignable: \"sometimes\" is not one of reject | pass"},
        {k_base + "  format: sideways\n",
         "segel.yaml:6:11: signing.format: \"sideways\" is not one of detached | opaque"},
        {k_base + "    - domain: dinas.example.go.id\n", "is listed twice (first at line 5)"},
        {k_base + "  logins:\n    budi: [budi@gmail.example]\n",
         "signing.logins.budi[0]: \"budi@gmail.example\" is not in an official domain"},
        {k_base + "milter:\n  internal_networks: [10.0.0.0/33]\n",
         "milter.internal_networks[0]: \"10.0.0.0/33\" is not an IP address or CIDR network"},
        {k_base + "milter:\n  max_message_size: lots\n", "milter.max_message_size: \"lots\" is not a size"},
        {k_base + "milter:\n  max_message_size: 18014398509481985G\n",
         "milter.max_message_size: \"18014398509481985G\" is not a size"},  // was 1G (wrapped around)
        {k_base + "milter:\n  socket: /tmp/x.sock\n", "milter.socket: \"/tmp/x.sock\" is not a milter socket"},
        {k_base + "credentials:\n  - pkcs12: a.p12\n", "credentials[0].passphrase_file: missing"},
        {k_base + "credentials:\n  - pkcs12: a.p12\n    key: k.pem\n    passphrase_file: p\n", "not several or none"},
        {k_base + "credentials:\n  - pkcs11: pkcs11:token=t;object=o\n",
         "segel.yaml:7:5: credentials[0].module: missing: the PKCS#11 module"},
        {k_base + "credentials:\n  - module: /usr/lib/softhsm/libsofthsm2.so\n",
         "credentials[0].pkcs11: missing: the RFC 7512 URI of the key"},
        {k_base + "credentials:\n  - pkcs11: token=t;object=o\n    module: /m.so\n",
         "segel.yaml:7:13: credentials[0].pkcs11: \"token=t;object=o\" is not a pkcs11: URI"},
        {k_base + "credentials:\n  - pkcs11: pkcs11:token=t;object=o\n    module: libsofthsm2.so\n",
         "segel.yaml:8:13: credentials[0].module: \"libsofthsm2.so\" must be an absolute path"},
        {k_base + "credentials:\n  - pkcs11: pkcs11:token=t;object=o\n    module: /m.so\n    key: k.pem\n",
         "segel.yaml:9:10: credentials[0].key: a pkcs11 credential keeps its key in the token: remove key"},
        {k_base + "credentials:\n  - pkcs11: pkcs11:token=t;object=o\n    module: /m.so\n    passphrase_file: p\n",
         "credentials[0].passphrase_file: a pkcs11 credential keeps its key in the token"},
        {k_base + "credentials:\n  - pin_file: /etc/segel/pin\n", "credentials[0].pkcs11: missing"},
        {k_base + "      seal: sekretariat\n",
         "segel.yaml:6:13: signing.domains[0].seal: \"sekretariat\" is not an e-mail address"},
        {k_base + "      seal: sekretariat@gmail.example\n",
         "signing.domains[0].seal: \"sekretariat@gmail.example\" is not in an official domain"},
        {k_base + "      seal: [a@dinas.example.go.id]\n", "signing.domains[0].seal: must be a single value"},
        {k_base + "      timestamp: bssn\n",
         "segel.yaml:6:18: signing.domains[0].timestamp: \"bssn\" is not a time-stamp authority of "
         "timestamping.authorities (there is no timestamping: section)"},
        {k_base + "      timestamp: [bssn, other]\ntimestamping:\n  authorities:\n    - {name: bssn, url: http://t/}\n",
         "signing.domains[0].timestamp[1]: \"other\" is not a time-stamp authority of timestamping.authorities "
         "(defined: bssn)"},
        {k_base + "      timestamp: []\ntimestamping:\n  authorities:\n    - {name: bssn, url: http://t/}\n",
         "signing.domains[0].timestamp: must name at least one time-stamp authority"},
        {k_base + "timestamping:\n  hash: md5\n  authorities:\n    - {name: a, url: http://t/}\n",
         "timestamping.hash: \"md5\" is not one of sha256 | sha384 | sha512"},
        {k_base + "timestamping:\n  on_failure: maybe\n  authorities:\n    - {name: a, url: http://t/}\n",
         "timestamping.on_failure: \"maybe\" is not one of sign | defer"},
        {k_base + "timestamping:\n  timeout: 0\n  authorities:\n    - {name: a, url: http://t/}\n",
         "timestamping.timeout: \"0\" is not a number of seconds from 1 to 120"},
        {k_base + "timestamping:\n  anchors: [tsa.pem]\n", "timestamping.authorities: missing"},
        {k_base + "timestamping:\n  authorities: []\n", "timestamping.authorities: must list at least one"},
        {k_base + "timestamping:\n  authorities:\n    - {name: a, url: ftp://t/}\n",
         "timestamping.authorities[0].url: \"ftp://t/\" is not an http:// or https:// URL"},
        {k_base + "timestamping:\n  authorities:\n    - {name: a, url: \"https://u:geheim@t/\"}\n",
         "timestamping.authorities[0].url: holds credentials (user:password@); put them in credentials_file"},
        {k_base + "timestamping:\n  authorities:\n    - {name: a, url: http://t/}\n    - {name: a, url: http://u/}\n",
         "timestamping.authorities[1].name: \"a\" is listed twice"},
        {k_base + "timestamping:\n  authorities:\n    - {name: \"b s\", url: http://t/}\n",
         "timestamping.authorities[0].name: \"b s\" is not a name"},
        {k_base + "timestamping:\n  authorities:\n    - {url: http://t/}\n",
         "timestamping.authorities[0]: needs name and url"},
        {k_base + "timestamping:\n  authorities:\n    - {name: a, url: http://t/, password: x}\n",
         "timestamping.authorities[0].password: unknown key"},
        {k_base + "      seal: sekretariat@other.example.go.id\n    - domain: other.example.go.id\n",
         "\"sekretariat@other.example.go.id\" is not an address of dinas.example.go.id (or of a domain above it): a "
         "seal signs only for its own organisation"},
        {k_base + "credentials:\n  - pkcs11: pkcs11:token=t;object=o;pin-value=4321\n    module: /m.so\n",
         "segel.yaml:7:13: credentials[0].pkcs11: holds a PIN (pin-value); the PIN goes in pin_file"},
        {k_base + "credentials:\n  - certificate: c.pem\n", "needs both certificate and key"},
        {k_base + "signing:\n", "segel.yaml:6:1: signing: appears twice (first at line 3)"},
        {"signing:\n  domains: []\n", "trust.anchors: missing"},
        {"trust:\n  anchors: [r.pem]\nsigning:\n  domains: []\n",
         "signing.domains: must list at least one official domain"},
        {"trust: [\n", "not valid YAML"},
        {k_base + "log:\n  level: loud\n", "log.level: \"loud\" is not one of"},
        {k_base + "  systems:\n    - client: 10.1.2.3\n      may_send_as: [noreply@other.example]\n",
         "signing.systems[0].may_send_as[0]: \"noreply@other.example\" is not in an official domain"},
        {k_base + "  other_domains:\n    - domain: dinas.example.go.id\n      action: pass\n",
         "cannot also be an other domain"},
        {k_base + "  login_case: upper\n",
         "segel.yaml:6:15: signing.login_case: \"upper\" is not one of exact | insensitive"},
        {k_base + "  login_case: insensitive\n  logins:\n    Budi: [budi@dinas.example.go.id]\n"
                  "    budi: [budi@dinas.example.go.id]\n",
         "segel.yaml:9:5: signing.logins.budi: the same login as Budi (line 8) when logins are compared ignoring "
         "case (signing.login_case: insensitive); merge the two"},
        {k_base + "      client_signatures: sometimes\n",
         "segel.yaml:6:26: signing.domains[0].client_signatures: \"sometimes\" is not one of reject | wrap | pass"},
        {k_base + "      client_encrypted: maybe\n",
         "segel.yaml:6:25: signing.domains[0].client_encrypted: \"maybe\" is not one of reject | wrap | pass"},
        {k_base + "milter:\n  shutdown_timeout: 0\n",
         "segel.yaml:7:21: milter.shutdown_timeout: \"0\" is not a number of seconds from 1 to 86400"},
        {k_base + "milter:\n  shutdown_timeout: 30s\n", "milter.shutdown_timeout: \"30s\" is not a number of seconds"},
        {k_base + "milter:\n  timeout: -5\n", "milter.timeout: \"-5\" is not a number of seconds from 1 to 86400"},
        {k_base + "metrics:\n  file: segel.prom\n",
         "segel.yaml:7:9: metrics.file: \"segel.prom\" is not an absolute file name"},
        {k_base + "metrics:\n  interval: 0\n", "metrics.interval: \"0\" is not a number of seconds from 1 to 3600"},
        {k_base + "metrics:\n  port: 9100\n", "metrics.port: unknown key (allowed here: file, interval)"},
    };
    for (const auto& row : rows) {
        INFO(row.yaml);
        CHECK_THAT(error_of(row.yaml), Catch::Contains(row.expected));
    }
}

TEST_CASE("config: signing.domains[].unsignable", "[config]") {
    const auto s = parse(k_base + "      unsignable: pass\n    - domain: examplekab.go.id\n", "segel.yaml");
    REQUIRE(s.signing.domains.size() == 2);
    CHECK(s.signing.domains[0].unsignable == segel::config::Action::Pass);
    CHECK(s.signing.domains[1].unsignable == segel::config::Action::Reject);
}

TEST_CASE("config: time-stamp authorities and the organisation seal", "[config][keys]") {
    const auto s = parse(k_base + R"(      seal: sekretariat@dinas.example.go.id
      timestamp: [bssn, backup]
    - domain: bapenda.examplekab.go.id
      seal: sekretariat@examplekab.go.id
      timestamp: backup
    - domain: examplekab.go.id
timestamping:
  authorities:
    - name: bssn
      url: https://tsa.example.go.id/tsa
      credentials_file: /etc/segel/tsa-bssn.credentials
      timeout: 20
    - name: backup
      url: http://127.0.0.1:8080/tsa
  anchors: [/etc/segel/trust/tsa-root.pem]
  hash: sha384
  on_failure: defer
)",
                         "segel.yaml");
    CHECK(s.signing.domains[0].seal == "sekretariat@dinas.example.go.id");
    CHECK(s.signing.domains[0].timestamp == std::vector<std::string>{"bssn", "backup"});
    CHECK(s.signing.domains[1].seal == "sekretariat@examplekab.go.id");  // a parent domain's seal
    CHECK(s.signing.domains[1].timestamp == std::vector<std::string>{"backup"});
    CHECK(s.signing.domains[2].timestamp.empty());
    const auto& ts = s.timestamping;
    CHECK(ts.present);
    REQUIRE(ts.authorities.size() == 2);
    CHECK(ts.authorities[0].timeout_seconds == 20);
    CHECK(ts.authorities[1].timeout_seconds == 0);  // the section's (10)
    CHECK(ts.timeout_seconds == 10);
    CHECK(ts.authorities[0].credentials_file == "/etc/segel/tsa-bssn.credentials");
    CHECK(ts.hash == segel::config::Timestamping::Hash::Sha384);
    CHECK(ts.on_failure == segel::config::Timestamping::OnFailure::Defer);
    // Off by default: no seal, no time-stamps; a failed time-stamp signs without one.
    const auto plain = parse(k_base, "segel.yaml");
    CHECK(plain.signing.domains[0].seal.empty());
    CHECK(plain.signing.domains[0].timestamp.empty());
    CHECK(plain.timestamping.on_failure == segel::config::Timestamping::OnFailure::Sign);
}

TEST_CASE("config: sizes and networks", "[config]") {
    std::size_t n = 0;
    CHECK(segel::config::parse_size("1M", n));
    CHECK(n == 1048576);
    CHECK(segel::config::parse_size("512K", n));
    CHECK(n == 524288);
    CHECK(segel::config::parse_size("2GiB", n));
    CHECK(n == 2ULL << 30U);
    CHECK_FALSE(segel::config::parse_size("1X", n));
    CHECK_FALSE(segel::config::parse_size("", n));
    // Found by fuzz_config: a size too large for size_t wrapped around silently
    // (99999999999999999999 became 7766279631452241919, 16777216T..., 17179869184G became 0).
    CHECK(segel::config::parse_size("18446744073709551615", n));
    CHECK(n == 18446744073709551615ULL);
    CHECK_FALSE(segel::config::parse_size("18446744073709551616", n));
    CHECK_FALSE(segel::config::parse_size("99999999999999999999", n));
    CHECK_FALSE(segel::config::parse_size("17179869184G", n));
    CHECK_FALSE(segel::config::parse_size("000000000000000000000000000099999999999999999999M", n));
    CHECK(segel::config::parse_size("00000000000000000000000000001M", n));
    CHECK(n == 1048576);
    segel::config::Network net;
    CHECK(segel::config::parse_network("10.0.0.0/8", net));
    CHECK(net.prefix == 8);
    CHECK(segel::config::parse_network("::1", net));
    CHECK(net.v6);
    CHECK(net.prefix == 128);
    CHECK_FALSE(segel::config::parse_network("10.0.0.0/x", net));
    CHECK_FALSE(segel::config::parse_network("example.org", net));
}

TEST_CASE("config: the documented example parses", "[config]") {
    const char* shared = std::getenv("SEGEL_SOURCE_DIR");
    const std::string path = std::string(shared != nullptr ? shared : SEGEL_SOURCE_DIR) + "/docs/segel.example.yaml";
    const auto s = segel::config::load(path);
    CHECK_FALSE(s.signing.domains.empty());
    CHECK_FALSE(s.credentials.empty());
}

TEST_CASE("config: one run reports every mistake, in file order", "[config]") {
    const std::string yaml = R"(milter:
  socket_mode: "0999"
  colour: blue
  timeout: soon
log:
  level: loud
trust:
  anchors: [/etc/segel/root.pem]
signing:
  format: sideways
  domains:
    - domain: go.id
    - domain: dinas.example.go.id
      subdomains: maybe
  logins:
    budi: [budi@gmail.example]
credentials:
  - pkcs12: a.p12
  - certificate: c.pem
)";
    std::vector<std::string> lines;
    try {
        parse(yaml, "segel.yaml");
    } catch (const ConfigError& e) {
        lines = e.lines;
        CHECK(e.origin.line == 2);  // the first one's position
    }
    const std::vector<std::string> expected = {
        "segel.yaml:2:16: milter.socket_mode: \"0999\" is not an octal file mode",
        "segel.yaml:3:3: milter.colour: unknown key",
        "segel.yaml:4:12: milter.timeout: \"soon\" is not a number of seconds",
        "segel.yaml:6:10: log.level: \"loud\" is not one of",
        "segel.yaml:10:11: signing.format: \"sideways\" is not one of detached | opaque",
        "segel.yaml:12:15: signing.domains[0].domain: \"go.id\" is a public suffix",
        "segel.yaml:14:19: signing.domains[1].subdomains: \"maybe\" is not true or false",
        "segel.yaml:18:5: credentials[0].passphrase_file: missing",
        "segel.yaml:19:5: credentials[1]: a PEM credential needs both certificate and key",
    };
    REQUIRE(lines.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO(lines[i]);
        CHECK_THAT(lines[i], Catch::StartsWith(expected[i]));
    }
    // With a mistake among the official domains, "is not in an official domain" would only repeat it.
    for (const auto& l : lines) {
        CHECK_THAT(l, !Catch::Contains("budi@gmail.example"));
    }
}

TEST_CASE("config: load_partial returns what it could read and every mistake", "[config]") {
    const std::string path = "/nonexistent/segel.yaml";
    std::vector<ConfigError> errors;
    (void)segel::config::load_partial(path, errors);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0].what(), Catch::Contains("cannot open the configuration file: No such file or directory"));
}
