// engine/incidents: the per-login windows behind rules 4-5, with injected time,
// and their memory bound.
#include "engine/incidents.h"

#include <catch2/catch.hpp>

using namespace segel;
using std::chrono::minutes;

namespace {

const auto k_t0 = std::chrono::system_clock::time_point(std::chrono::hours(495000));  // on an hour boundary

engine::Outcome signed_by(const std::string& login, const std::string& ip) {
    engine::Outcome o;
    o.direction = engine::Direction::Outbound;
    o.decision = engine::Decision::Sign;
    o.login = login;
    o.client_ip = ip;
    o.mail_from = login + "@dinas.example.go.id";
    return o;
}

engine::Outcome send_as(const std::string& login) {
    engine::Outcome o = signed_by(login, "127.0.0.1");
    o.decision = engine::Decision::Refuse;
    o.reply_text = "login " + login + " may not send as siti@dinas.example.go.id";
    o.reason_code = "login-not-owner";
    o.mail_from = "siti@dinas.example.go.id";
    return o;
}

std::vector<std::string> kinds(const std::vector<policy::Incident>& v) {
    std::vector<std::string> out;
    for (const auto& i : v) {
        out.push_back(i.kind);
    }
    return out;
}

}  // namespace

TEST_CASE("incident monitor: send-as refusals within the window, once per burst", "[engine][incident]") {
    config::Incidents t;
    t.send_as.refusals = 3;
    t.send_as.within = minutes(10);
    engine::IncidentMonitor m;
    CHECK(m.observe(t, send_as("budi"), k_t0).empty());
    CHECK(m.observe(t, send_as("budi"), k_t0 + minutes(1)).empty());
    CHECK(kinds(m.observe(t, send_as("budi"), k_t0 + minutes(2))) == std::vector<std::string>{"send-as-repeated"});
    CHECK(m.observe(t, send_as("budi"), k_t0 + minutes(3)).empty());   // the same burst
    CHECK(m.observe(t, send_as("other"), k_t0 + minutes(3)).empty());  // another login counts alone
    engine::Outcome not_official = send_as("other");                   // refused, but not an attempt to send as someone
    not_official.reason_code = "not-official";
    CHECK(m.observe(t, not_official, k_t0 + minutes(3)).empty());
    CHECK(m.observe(t, not_official, k_t0 + minutes(4)).empty());
    CHECK(kinds(m.observe(t, send_as("other"), k_t0 + minutes(4))) == std::vector<std::string>{});
    // Spread out: never three within ten minutes.
    engine::IncidentMonitor slow;
    for (int i = 0; i < 10; ++i) {
        CHECK(slow.observe(t, send_as("budi"), k_t0 + minutes(6 * i)).empty());
    }
    // A later burst is reported again.
    CHECK(kinds(m.observe(t, send_as("budi"), k_t0 + minutes(30))).empty());
    CHECK(m.observe(t, send_as("budi"), k_t0 + minutes(31)).empty());
    CHECK(kinds(m.observe(t, send_as("budi"), k_t0 + minutes(32))) == std::vector<std::string>{"send-as-repeated"});
    // A refusal for another reason is not a send-as refusal.
    auto other = send_as("budi");
    other.reply_text = "no valid certificate for budi@dinas.example.go.id: expired 2026-01-01";
    other.reason_code = "certificate-expired";
    CHECK_FALSE(engine::IncidentMonitor::send_as_refusal(other));
}

TEST_CASE("incident monitor: volume against the login's own history", "[engine][incident]") {
    config::Incidents t;
    t.volume.factor = 2;
    t.volume.floor = 5;
    t.volume.history = std::chrono::hours(4);  // a quarter of each hour goes into the baseline
    t.clients.floor = 100;
    engine::IncidentMonitor m;
    // A steady 20 an hour for a day: reported only while the baseline learns it (0, 5, 8.75, 11.6 …).
    std::size_t reported = 0;
    for (int h = 0; h < 24; ++h) {
        for (int i = 0; i < 20; ++i) {
            reported += m.observe(t, signed_by("siti", "127.0.0.1"), k_t0 + std::chrono::hours(h) + minutes(i)).size();
        }
    }
    CHECK(reported == 3);  // hours 0 (floor 5), 1 (limit 2 x 5) and 2 (limit 2 x 8.75 = 17.5)
    // Then three times its usual rate: reported once in that hour.
    std::vector<std::string> burst;
    for (int i = 0; i < 60; ++i) {
        for (auto& k : kinds(m.observe(t, signed_by("siti", "127.0.0.1"),
                                       k_t0 + std::chrono::hours(24) + std::chrono::seconds(i * 50)))) {
            burst.push_back(k);
        }
    }
    CHECK(burst == std::vector<std::string>{"volume-anomaly"});
}

TEST_CASE("incident monitor: client networks, and a replayed history", "[engine][incident]") {
    config::Incidents t;
    t.clients.floor = 2;
    t.clients.factor = 3;
    t.volume.floor = 1000;
    engine::IncidentMonitor m;
    CHECK(m.observe(t, signed_by("siti", "192.0.2.1"), k_t0).empty());
    CHECK(m.observe(t, signed_by("siti", "192.0.2.200"), k_t0 + minutes(1)).empty());  // the same /24
    CHECK(m.observe(t, signed_by("siti", "198.51.100.1"), k_t0 + minutes(2)).empty());
    CHECK(kinds(m.observe(t, signed_by("siti", "203.0.113.1"), k_t0 + minutes(3))) ==
          std::vector<std::string>{"client-anomaly"});
    CHECK(m.observe(t, signed_by("siti", "203.0.114.1"), k_t0 + minutes(4)).empty());  // once per window
    // Replayed events count like live ones, without reporting.
    engine::IncidentMonitor restarted;
    restarted.replay(t, "sign", false, "siti", "192.0.2.1", k_t0);
    restarted.replay(t, "sign", false, "siti", "198.51.100.1", k_t0 + minutes(2));
    CHECK(kinds(restarted.observe(t, signed_by("siti", "203.0.113.1"), k_t0 + minutes(3))) ==
          std::vector<std::string>{"client-anomaly"});
}

TEST_CASE("incident monitor: memory is bounded by max_logins", "[engine][incident]") {
    config::Incidents t;
    t.max_logins = 100;
    engine::IncidentMonitor m;
    for (int i = 0; i < 10000; ++i) {
        m.observe(t, signed_by("user" + std::to_string(i), "10.0." + std::to_string(i % 250) + ".1"), k_t0);
    }
    CHECK(m.logins() == 100);
    // No login, no state.
    engine::IncidentMonitor anon;
    anon.observe(t, signed_by("", "192.0.2.1"), k_t0);
    CHECK(anon.logins() == 0);
}
