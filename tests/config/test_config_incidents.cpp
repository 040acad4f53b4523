// The "incidents:" section (docs/incidents.md): defaults, a full section, and
// each rule refusing to start with the line and the fix.
#include "config/load.h"

#include <catch2/catch.hpp>

using namespace segel;

namespace {

const std::string k_base =
    "trust:\n  anchors: [/etc/segel/root.pem]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n";
const std::string k_audit =
    "audit:\n  seal:\n    pkcs12: /etc/segel/keys/seal.p12\n"
    "    passphrase_file: /etc/segel/keys/seal.pass\n";

config::Settings parse(const std::string& yaml) {
    return config::parse(k_base + yaml, "segel.yaml");
}

std::string refusal(const std::string& yaml) {
    try {
        parse(yaml);
    } catch (const config::ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("config incidents: absent means detection with the defaults and no mail", "[config][incidents]") {
    const auto s = parse("");
    const auto& i = s.incidents;
    CHECK_FALSE(i.notify.enabled);
    CHECK(i.send_as.refusals == 5);
    CHECK(i.send_as.within == std::chrono::minutes(10));
    CHECK(i.volume.factor == 10);
    CHECK(i.volume.floor == 60);
    CHECK(i.volume.history == std::chrono::hours(24 * 7));
    CHECK(i.clients.factor == 3);
    CHECK(i.clients.floor == 4);
    CHECK(i.clients.within == std::chrono::hours(1));
    CHECK(i.clients.ipv4_prefix == 24);
    CHECK(i.clients.ipv6_prefix == 48);
    CHECK(i.checkpoint_gap.factor == 3);
    CHECK(i.max_logins == 10000);
    CHECK(parse("incidents:\n").incidents.send_as.refusals == 5);
}

TEST_CASE("config incidents: a full section", "[config][incidents]") {
    const auto s = parse(k_audit +
                         "incidents:\n  notify:\n    relay: 127.0.0.1:2525\n    from: NoReply@Dinas.Example.go.id\n"
                         "    csirt: [CSIRT@examplekab.go.id]\n    administrators: [kominfo@examplekab.go.id]\n"
                         "    domains:\n      - domain: dinas.example.go.id\n        subdomains: true\n"
                         "        administrators: [admin@dinas.example.go.id]\n    period: 30m\n    queue: 10\n"
                         "  send_as: {refusals: 3, within: 5m}\n  volume: {factor: 2.5, floor: 10, history: 3d}\n"
                         "  clients: {factor: 2, floor: 3, within: 30m, ipv4_prefix: 16, ipv6_prefix: 64}\n"
                         "  checkpoint_gap: {factor: 6}\n  max_logins: 500\n");
    const auto& i = s.incidents;
    CHECK(i.notify.enabled);
    CHECK(i.notify.relay == "127.0.0.1:2525");
    CHECK(i.notify.from == "noreply@dinas.example.go.id");
    CHECK(i.notify.csirt == std::vector<std::string>{"csirt@examplekab.go.id"});
    CHECK(i.notify.administrators == std::vector<std::string>{"kominfo@examplekab.go.id"});
    REQUIRE(i.notify.domains.size() == 1);
    CHECK(i.notify.domains[0].subdomains);
    CHECK(i.notify.domains[0].to == std::vector<std::string>{"admin@dinas.example.go.id"});
    CHECK(i.notify.period == std::chrono::minutes(30));
    CHECK(i.notify.queue == 10);
    CHECK(i.send_as.refusals == 3);
    CHECK(i.send_as.within == std::chrono::minutes(5));
    CHECK(i.volume.factor == 2.5);
    CHECK(i.volume.floor == 10);
    CHECK(i.volume.history == std::chrono::hours(72));
    CHECK(i.clients.ipv4_prefix == 16);
    CHECK(i.clients.ipv6_prefix == 64);
    CHECK(i.checkpoint_gap.factor == 6);
    CHECK(i.max_logins == 500);
}

TEST_CASE("config incidents: mistakes are refused at their line", "[config][incidents]") {
    const std::string notify = "incidents:\n  notify:\n    csirt: [csirt@examplekab.go.id]\n";
    const auto [yaml, expected] = GENERATE_COPY(table<std::string, std::string>({
        {"incidents:\n  sendas: {}\n", "segel.yaml:7:3: incidents.sendas: unknown key"},
        {notify, "segel.yaml:8:5: incidents.notify: needs the audit: section"},
        {k_audit + "incidents:\n  notify:\n    relay: 127.0.0.1:25\n", "incidents.notify: names no one"},
        {k_audit + notify + "    relay: localhost\n", "incidents.notify.relay: \"localhost\" is not HOST:PORT"},
        {k_audit + notify + "    from: nobody\n", "incidents.notify.from: \"nobody\" is not an e-mail address"},
        {k_audit + notify + "    bcc: [a@b.example]\n", "incidents.notify.bcc: unknown key"},
        {k_audit + "incidents:\n  notify:\n    csirt: [csirt]\n",
         "incidents.notify.csirt[0]: \"csirt\" is not an e-mail"},
        {k_audit + notify + "    domains:\n      - domain: dinas.example.go.id\n", "needs domain and administrators"},
        {k_audit + notify + "    period: soon\n", "incidents.notify.period: \"soon\" is not a duration"},
        {k_audit + notify + "    queue: 0\n", "incidents.notify.queue: \"0\" is not a whole number from 1"},
        {"incidents:\n  send_as: {refusals: 0}\n", "incidents.send_as.refusals: \"0\" is not a whole number from 1"},
        {"incidents:\n  send_as: {within: 10s}\n", "incidents.send_as.within: \"10s\" is not a duration from 60s"},
        {"incidents:\n  volume: {factor: 0.5}\n", "incidents.volume.factor: \"0.5\" is not a factor from 1"},
        {"incidents:\n  volume: {floor: -3}\n", "incidents.volume.floor: \"-3\" is not a whole number"},
        {"incidents:\n  volume: {history: 10m}\n", "incidents.volume.history: \"10m\" is not a duration"},
        {"incidents:\n  clients: {floor: 1000}\n",
         "incidents.clients.floor: \"1000\" is not a whole number from 1 to 200"},
        {"incidents:\n  clients: {ipv4_prefix: 33}\n", "incidents.clients.ipv4_prefix: \"33\" is not a whole number"},
        {"incidents:\n  clients: {ipv6_prefix: 8}\n", "incidents.clients.ipv6_prefix: \"8\" is not a whole number"},
        {"incidents:\n  clients: {window: 1h}\n", "incidents.clients.window: unknown key"},
        {"incidents:\n  checkpoint_gap: {factor: 1}\n",
         "incidents.checkpoint_gap.factor: \"1\" is not a whole number from 2"},
        {"incidents:\n  max_logins: lots\n", "incidents.max_logins: \"lots\" is not a whole number"},
    }));
    INFO(yaml);
    CHECK_THAT(refusal(yaml), Catch::Contains(expected));
}
