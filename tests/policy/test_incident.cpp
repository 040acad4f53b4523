// policy/incident: the rules of docs/incidents.md, one table row per outcome.
#include "config/load.h"
#include "policy/incident.h"

#include <catch2/catch.hpp>

using namespace segel;
using policy::Verdict;

namespace {

config::Settings settings() {
    return config::parse(
        "trust:\n  anchors: [/r.pem]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n"
        "    - domain: pemda.example.id\n",
        "segel.yaml");
}

std::string kind_of(const policy::Finding& f) {
    return f.incident ? f.incident->kind : "";
}

}  // namespace

TEST_CASE("incident: the kind words are the ten of docs/incidents.md", "[policy][incident]") {
    CHECK(policy::incident_kinds().size() == 10);
    CHECK(policy::is_incident_kind("forged-official-sender"));
    CHECK(policy::is_incident_kind("checkpoint-gap"));
    CHECK_FALSE(policy::is_incident_kind("incident"));
    // Rule 4 counts refusals by their reason word (docs/refusals.md), not by the reply's text.
    for (const char* w : {"login-not-owner", "envelope-mismatch", "from-shows-other-address"}) {
        CHECK(policy::is_send_as_refusal(w));
    }
    for (const char* w : {"not-official", "client-not-allowed", "certificate-expired", "refused", ""}) {
        CHECK_FALSE(policy::is_send_as_refusal(w));
    }
    CHECK_FALSE(policy::is_incident_kind("revoked-certificate"));
}

TEST_CASE("incident: inbound rules 1-3", "[policy][incident]") {
    const auto s = settings();
    struct Row {
        Verdict verdict;
        std::string signer;
        bool revoked;
        std::string forged;
        std::string kind;
    };
    const auto row = GENERATE(values<Row>({
        {Verdict::Fail, "siti@dinas.example.go.id", true, "", "revoked-signer"},
        {Verdict::Fail, "kepala@kominfo.lain.go.id", true, "", "revoked-signer"},  // any go.id signer
        {Verdict::Fail, "a@mitra.example", true, "", ""},                          // not a government signer
        {Verdict::Fail, "siti@dinas.example.go.id", false, "", "invalid-signature"},
        {Verdict::PermError, "x@pemda.example.id", false, "", "invalid-signature"},  // an official domain
        {Verdict::Fail, "siti@dinas.example.go.id", false, "official sender …", "invalid-signature"},
        {Verdict::Fail, "a@xgo.id", false, "", ""},  // not under go.id
        {Verdict::Policy, "siti@dinas.example.go.id", false, "", ""},
        {Verdict::None, "", false, "official sender <kepala@dinas.example.go.id> …", "forged-official-sender"},
        {Verdict::Fail, "a@mitra.example", false, "official sender …", "forged-official-sender"},
        {Verdict::Pass, "siti@dinas.example.go.id", false, "", ""},
        {Verdict::None, "", false, "", ""},
    }));
    policy::InboundIncidentFacts f;
    f.verdict = row.verdict;
    f.signer = row.signer;
    f.signer_revoked = row.revoked;
    f.forged = row.forged;
    f.official_sender = row.forged.empty() ? "" : "kepala@dinas.example.go.id";
    f.client = "192.0.2.10";
    f.serial = "AB12";
    const auto found = policy::inbound_incident(s, f);
    INFO(row.signer << " " << row.forged);
    CHECK(kind_of(found) == row.kind);
    CHECK_FALSE(found.reasons.empty());
    if (found.incident) {
        CHECK(found.incident->client == "192.0.2.10");
        CHECK_FALSE(found.incident->detail.empty());
    }
}

TEST_CASE("incident: rule 4, send-as refusals, once per burst", "[policy][incident]") {
    config::Incidents t;
    t.send_as.refusals = 3;
    const auto [count, kind] = GENERATE(table<std::size_t, std::string>({
        {1, ""}, {2, ""}, {3, "send-as-repeated"}, {4, ""},  // the window owner keeps one more: no repeat
    }));
    const auto f = policy::send_as_rule(t, count, "budi", "siti@dinas.example.go.id", "192.0.2.1");
    CHECK(kind_of(f) == kind);
    if (f.incident) {
        CHECK(f.incident->login == "budi");
        CHECK(f.incident->address == "siti@dinas.example.go.id");
        CHECK(f.incident->detail == "3 send-as refusals within 10 min, the last as siti@dinas.example.go.id");
    }
}

TEST_CASE("incident: rule 5a, volume against the login's own baseline", "[policy][incident]") {
    config::Incidents t;
    t.volume.factor = 10;
    t.volume.floor = 60;
    const auto [count, baseline, kind] = GENERATE(table<std::uint64_t, double, std::string>({
        {60, 0, ""},                    // at the floor
        {61, 0, "volume-anomaly"},      // over the floor with no history
        {62, 0, ""},                    // already reported this hour
        {61, 7.5, ""},                  // 10 x 7.5 = 75 is the limit
        {76, 7.5, "volume-anomaly"},    // over it
        {1001, 100, "volume-anomaly"},  // a busy login: 10 x 100
        {999, 100, ""},
    }));
    const auto f = policy::volume_rule(t, count, baseline, "siti", "127.0.0.1");
    INFO(count << " " << baseline);
    CHECK(kind_of(f) == kind);
    CHECK(policy::volume_fires(t, count, baseline) == !kind.empty());  // the monitor's shortcut agrees
    CHECK_THAT(f.reasons.front(), Catch::Contains(std::to_string(count) + " signed this hour"));
}

TEST_CASE("incident: rule 5b, client networks against the login's baseline", "[policy][incident]") {
    config::Incidents t;
    t.clients.factor = 3;
    t.clients.floor = 4;
    const auto [networks, baseline, kind] = GENERATE(table<std::size_t, double, std::string>({
        {4, 0, ""},
        {5, 0, "client-anomaly"},
        {6, 0, ""},
        {5, 2, ""},
        {7, 2, "client-anomaly"},
    }));
    CHECK(kind_of(policy::client_rule(t, networks, baseline, "siti", "198.51.100.7")) == kind);
}

TEST_CASE("incident: client networks by prefix, hostile text kept as it is", "[policy][incident]") {
    config::Incidents t;
    const auto [ip, net] = GENERATE(table<std::string, std::string>({
        {"192.0.2.77", "192.0.2.0/24"},
        {"10.1.255.255", "10.1.255.0/24"},
        {"2001:db8:1:2::5", "2001:db8:1::/48"},
        {"::1", "::/48"},
        {"not an address", "not an address"},
        {"", ""},
    }));
    CHECK(policy::client_network(t, ip) == net);
    t.clients.ipv4_prefix = 20;
    CHECK(policy::client_network(t, "192.0.31.9") == "192.0.16.0/20");
}

TEST_CASE("incident: rule 6, the audit store", "[policy][incident]") {
    const auto f = policy::audit_store_rule("database is locked", "4XyZ1");
    REQUIRE(f.incident);
    CHECK(f.incident->kind == "audit-store-failure");
    CHECK(f.incident->detail == "4XyZ1: database is locked");
}

TEST_CASE("incident: rule 7, checkpoint gaps", "[policy][incident]") {
    using std::chrono::minutes;
    config::Incidents t;
    t.checkpoint_gap.factor = 3;
    const auto now = std::chrono::system_clock::time_point(std::chrono::hours(500000));
    using Opt = std::optional<std::chrono::system_clock::time_point>;
    struct Row {
        std::vector<std::uint64_t> sequences;
        Opt last;
        Opt uncovered;
        std::string kind;
    };
    const auto row = GENERATE_COPY(values<Row>({
        {{0, 1, 2}, now - minutes(5), std::nullopt, ""},
        {{0, 1, 2}, now - minutes(5), now - minutes(29), ""},  // within 10 x 3 min
        {{0, 1, 2}, now - minutes(40), now - minutes(31), "checkpoint-gap"},
        {{}, std::nullopt, now - minutes(31), "checkpoint-gap"},  // events and never a checkpoint
        {{}, std::nullopt, std::nullopt, ""},                     // an empty log
        {{0, 1, 3}, now, std::nullopt, "checkpoint-gap"},         // checkpoint 2 is missing
        {{4, 5}, now, std::nullopt, ""},                          // a log read from checkpoint 4 on
    }));
    const auto f = policy::checkpoint_rule(t, 10, row.last, row.uncovered, row.sequences, now);
    CHECK(kind_of(f) == row.kind);
}
