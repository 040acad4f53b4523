#include "config/load.h"
#include "policy/unsignable.h"

#include <catch2/catch.hpp>

using namespace segel;

TEST_CASE("unsignable: permanent, never 'try again'; the domain may pass it unsigned", "[policy]") {
    const config::Settings s = config::parse(R"(
trust:
  anchors: [root.pem]
signing:
  domains:
    - domain: dinas.example.go.id
    - domain: examplekab.go.id
      subdomains: true
      unsignable: pass
)",
                                             "t.yaml");
    const std::string reason =
        "header field Content-Type has a line of 1212 octets with no white space to fold it at (RFC 5322 allows 998)";
    struct Row {
        const char* sender;
        bool encryption_required;
        policy::Action action;
        const char* text;  ///< in the reply (Reject) or the summary (Pass)
    };
    const std::vector<Row> rows = {
        {"siti@dinas.example.go.id", false, policy::Action::Reject, "correct or remove that part and send again"},
        {"rina@kominfo.examplekab.go.id", false, policy::Action::Pass,
         "sent unsigned (examplekab.go.id unsignable: pass)"},
        {"rina@kominfo.examplekab.go.id", true, policy::Action::Reject, "it must be encrypted"},
    };
    for (const auto& row : rows) {
        INFO(row.sender << (row.encryption_required ? " (encryption required)" : ""));
        policy::Decision d;
        d.action = policy::Action::Sign;
        d.outbound = true;
        d.sender = row.sender;
        d.cert = 0;
        const policy::Decision u = policy::unsignable(s, d, reason, row.encryption_required);
        CHECK(u.action == row.action);
        CHECK(u.sender == row.sender);  // the rest of the decision is kept
        if (row.action == policy::Action::Reject) {
            CHECK(u.reply_code == "554");
            CHECK(u.reply_xcode == "5.6.0");
            CHECK(u.reason_code == "unsignable");
            CHECK_THAT(u.reply_text, Catch::StartsWith("message cannot be signed: " + reason));
            CHECK_THAT(u.reply_text, Catch::Contains(row.text));
        } else {
            CHECK(u.reply_code.empty());
            CHECK_FALSE(u.cert.has_value());
            CHECK_THAT(u.summary, Catch::StartsWith("pass: cannot be signed (" + reason));
            CHECK_THAT(u.summary, Catch::Contains(row.text));
        }
    }
}
