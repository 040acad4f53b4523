// The "encryption:" section: defaults, rules, and refusals that point at the line.
#include "config/load.h"
#include "tests/support/config.h"

#include <catch2/catch.hpp>

using namespace segel;

namespace {

const std::string& k_base = test::k_config_base;
using test::parse_config;
using test::refusal;

}  // namespace

TEST_CASE("config encryption: absent section means never, trigger on, decrypt on", "[config][encrypt]") {
    const auto s = config::parse(k_base, "segel.yaml");
    CHECK_FALSE(s.encryption.present);
    CHECK(s.encryption.policy == config::Encryption::Policy::Never);
    CHECK(s.encryption.subject_trigger == "[RAHASIA]");
    CHECK(s.encryption.decrypt_inbound);
}

TEST_CASE("config encryption: a full section", "[config][encrypt]") {
    const auto s = parse_config(
        "encryption:\n  policy: opportunistic\n  cipher: aes-128-gcm\n  subject_trigger: \"[SECRET]\"\n"
        "  domains:\n    - domain: Mitra.Example.ID\n      subdomains: true\n      policy: required\n"
        "  recipients:\n    - address: kepala@mitra.example.id\n      cipher: aes-256-gcm\n"
        "  certificate_directory: /etc/segel/recipients\n  system_trust: yes\n"
        "  ldap:\n    uri: ldap://127.0.0.1:389/\n    base_dn: dc=x\n    filter: (mail=%s)\n    timeout: 2\n"
        "  cache_size: 5\n  cache_ttl: 60\n  negative_ttl: 0\n");
    const auto& e = s.encryption;
    CHECK(e.present);
    CHECK(e.policy == config::Encryption::Policy::Opportunistic);
    CHECK(e.cipher == config::Encryption::Cipher::Aes128Gcm);
    CHECK(e.subject_trigger == "[SECRET]");
    REQUIRE(e.domains.size() == 1);
    CHECK(e.domains[0].match == "mitra.example.id");
    CHECK(e.domains[0].subdomains);
    CHECK(e.recipients[0].has_cipher);
    CHECK_FALSE(e.recipients[0].has_policy);
    CHECK(e.system_trust);
    CHECK(e.ldap.timeout_seconds == 2);
    CHECK(e.cache_size == 5);
    CHECK(e.negative_ttl_seconds == 0);
}

TEST_CASE("config encryption: mistakes are refused at their line", "[config][encrypt]") {
    const auto [yaml, expected] = GENERATE(table<std::string, std::string>({
        {"encryption:\n  policy: sometimes\n", "segel.yaml:7:11: encryption.policy: \"sometimes\" is not one of never"},
        {"encryption:\n  cipher: des\n", "encryption.cipher: \"des\" is not one of aes-256-cbc"},
        {"encryption:\n  polcy: never\n", "encryption.polcy: unknown key"},
        {"encryption:\n  domains:\n    - domain: mitra.example.id\n", "sets nothing"},
        {"encryption:\n  recipients:\n    - address: not-an-address\n      policy: never\n",
         "is not an e-mail address"},
        {"encryption:\n  ldap:\n    uri: http://x/\n    base_dn: dc=x\n", "is not an LDAP URI"},
        {"encryption:\n  ldap:\n    uri: ldap://x/\n    base_dn: dc=x\n    filter: (mail=x)\n",
         "with %s where the address goes"},
        {"encryption:\n  ldap:\n    uri: ldap://x/\n    base_dn: dc=x\n    bind_dn: cn=a\n", "go together"},
        {"encryption:\n  cache_ttl: soon\n", "encryption.cache_ttl: \"soon\" is not a number of seconds"},
    }));
    INFO(yaml);
    CHECK_THAT(refusal(yaml), Catch::Contains(expected));
}
