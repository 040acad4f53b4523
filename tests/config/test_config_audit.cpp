// The "audit:" section: defaults, a full section, and refusals that point at the line.
#include "config/load.h"
#include "tests/support/config.h"

#include <catch2/catch.hpp>

using namespace segel;

namespace {

const std::string& k_base = test::k_config_base;
const std::string k_seal =
    "  seal:\n    pkcs12: /etc/segel/keys/seal.p12\n    passphrase_file: /etc/segel/keys/seal.pass\n";
using test::parse_config;
using test::refusal;

}  // namespace

TEST_CASE("config audit: absent means no trail, and the defaults", "[config][audit]") {
    const auto s = parse_config("");
    CHECK_FALSE(s.audit.enabled);
    const auto t = parse_config("audit:\n" + k_seal);
    const auto& a = t.audit;
    CHECK(a.enabled);
    CHECK(a.store == "sqlite:/var/lib/segel/audit.db");
    CHECK(a.local == "/var/lib/segel/audit.db");
    CHECK_FALSE(a.node.empty());
    CHECK(a.seal.pkcs12 == "/etc/segel/keys/seal.p12");
    CHECK(a.checkpoint_events == 1000);
    CHECK(a.checkpoint_minutes == 10);
    CHECK(a.on_failure == config::Audit::OnFailure::Tempfail);
    CHECK(a.sync == config::Audit::Sync::Full);
    CHECK(a.witness_smtp == "127.0.0.1:25");
}

TEST_CASE("config audit: a full section for a node of several", "[config][audit]") {
    const auto s = parse_config(
        "audit:\n  store: postgresql://segel@db.dinas.example.go.id/segel_audit\n"
        "  local: /srv/segel/audit.db\n  node: mx2.dinas.example.go.id\n" +
        k_seal +
        "  checkpoint: {events: 50, minutes: 5}\n"
        "  witnesses: [Inspektorat@ExampleKab.go.id, arsip@dinas.example.go.id]\n"
        "  witness_from: segel-audit@dinas.example.go.id\n  witness_smtp: 127.0.0.1:2525\n"
        "  on_failure: accept\n  sync: normal\n");
    const auto& a = s.audit;
    CHECK(a.store == "postgresql://segel@db.dinas.example.go.id/segel_audit");
    CHECK(a.local == "/srv/segel/audit.db");
    CHECK(a.node == "mx2.dinas.example.go.id");
    CHECK(a.checkpoint_events == 50);
    CHECK(a.checkpoint_minutes == 5);
    CHECK(a.witnesses == std::vector<std::string>{"inspektorat@examplekab.go.id", "arsip@dinas.example.go.id"});
    CHECK(a.witness_from == "segel-audit@dinas.example.go.id");
    CHECK(a.on_failure == config::Audit::OnFailure::Accept);
    CHECK(a.sync == config::Audit::Sync::Normal);
    CHECK(a.field_origins.at("store").line == 7);
    CHECK(parse_config("audit:\n  enabled: false\n").audit.enabled == false);  // off needs no seal
}

TEST_CASE("config audit: mistakes are refused at their line", "[config][audit]") {
    const auto [yaml, expected] = GENERATE(table<std::string, std::string>({
        {"audit:\n", "segel.yaml:6:1: audit.seal: missing: the seal credential"},
        {"audit:\n  node: mx1\n", "segel.yaml:7:3: audit.seal: missing"},
        {"audit:\n  stor: sqlite:/x\n" + k_seal, "segel.yaml:7:3: audit.stor: unknown key"},
        {"audit:\n  store: /var/lib/segel/audit.db\n" + k_seal,
         "segel.yaml:7:10: audit.store: \"/var/lib/segel/audit.db\" is not an audit store"},
        {"audit:\n  store: sqlite:audit.db\n" + k_seal, "audit.store: \"sqlite:audit.db\": give an absolute path"},
        {"audit:\n  store: postgresql://segel:geheim@db/segel\n" + k_seal, "the URL holds a password"},
        {"audit:\n  store: postgresql://db/segel?password=geheim\n" + k_seal, "the URL holds a password"},
        {"audit:\n  local: /srv/a.db\n" + k_seal, "audit.local: only with a postgresql store"},
        {"audit:\n  store: postgresql://db/x\n  local: a.db\n" + k_seal, "audit.local: \"a.db\" must be an absolute"},
        {"audit:\n  node: mx 1\n" + k_seal, "audit.node: \"mx 1\" is not a node name"},
        {"audit:\n  seal:\n    pkcs12: /k.p12\n", "audit.seal.passphrase_file: missing"},
        {"audit:\n  seal:\n    key: /k.pem\n", "a PEM credential needs both certificate and key"},
        {"audit:\n" + k_seal + "  checkpoint: {events: 0}\n", "audit.checkpoint.events: \"0\" is not a number from 1"},
        {"audit:\n" + k_seal + "  checkpoint: {minutes: -5}\n", "audit.checkpoint.minutes: \"-5\" is not a number"},
        {"audit:\n" + k_seal + "  checkpoint: {hours: 1}\n", "audit.checkpoint.hours: unknown key"},
        {"audit:\n" + k_seal + "  witnesses: [inspektorat]\n", "audit.witnesses[0]: \"inspektorat\" is not an e-mail"},
        {"audit:\n" + k_seal + "  witness_from: nobody\n", "audit.witness_from: \"nobody\" is not an e-mail"},
        {"audit:\n" + k_seal + "  witness_smtp: localhost\n", "audit.witness_smtp: \"localhost\" is not HOST:PORT"},
        {"audit:\n" + k_seal + "  witness_smtp: 127.0.0.1:99999\n", "is not HOST:PORT"},
        {"audit:\n" + k_seal + "  on_failure: ignore\n",
         "audit.on_failure: \"ignore\" is not one of tempfail | accept"},
        {"audit:\n" + k_seal + "  sync: sometimes\n", "audit.sync: \"sometimes\" is not one of full | normal"},
        {"audit:\n" + k_seal + "  seal_certificates: [/nonexistent/mx2.pem]\n", "cannot read /nonexistent/mx2.pem"},
    }));
    INFO(yaml);
    CHECK_THAT(refusal(yaml), Catch::Contains(expected));
}
