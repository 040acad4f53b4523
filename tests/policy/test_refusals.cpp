// The refusals that moved into policy/ with the message pipeline: one wording
// each, temporary where the cause may go away.
#include "config/load.h"
#include "policy/decide.h"
#include "policy/inbound.h"

#include <catch2/catch.hpp>

using namespace segel;
using policy::Verdict;

namespace {

config::Settings settings(const std::string& extra = {}) {
    return config::parse(
        "trust:\n  anchors: [/x]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n      subdomains: true\n" +
            extra,
        "segel.yaml");
}

policy::Decision outbound_pass() {
    policy::Decision d;
    d.outbound = true;
    return policy::pass(d, "a@other.example is not an official address; sent unsigned");
}

}  // namespace

TEST_CASE("policy: reject is permanent, defer temporary", "[policy]") {
    const auto r = policy::reject({}, "no");
    CHECK(r.action == policy::Action::Reject);
    CHECK(r.reply_code == "550");
    CHECK(r.reply_xcode == "5.7.1");
    CHECK(r.summary == "reject: no");
    CHECK(r.reason_code == "refused");  // nobody named it: a word still, never the SMTP code
    CHECK(policy::reject(policy::because({}, "too-large"), "no").reason_code == "too-large");
    const auto d = policy::defer({}, "the OCSP responder is down", "4.7.5");
    CHECK(d.action == policy::Action::Reject);
    CHECK(d.reply_code == "451");
    CHECK(d.reply_xcode == "4.7.5");
    CHECK(d.summary == "defer: the OCSP responder is down");
    CHECK(d.reason_code == "deferred");
}

TEST_CASE("policy: mail that cannot be signed is refused when encryption is required", "[policy]") {
    policy::EncryptDecision enc;
    CHECK_FALSE(policy::refuse_unsignable(outbound_pass(), enc));  // not required: sent unsigned
    enc.required = true;
    enc.action = policy::EncryptAction::Encrypt;
    const auto r = policy::refuse_unsignable(outbound_pass(), enc);
    REQUIRE(r);
    CHECK(r->reply_code == "550");
    CHECK(r->reason_code == "encryption-unsignable");
    CHECK(r->reply_text.rfind("encryption is required but the gateway cannot sign for this sender (pass: ", 0) == 0);
    // When the encryption rules refuse anyway, their words are the ones the sender reads.
    enc.action = policy::EncryptAction::Reject;
    enc.reply_code = "451";
    enc.reply_xcode = "4.7.1";
    enc.reply_text = "the certificate directory cannot be reached";
    enc.reason_code = "encryption-lookup-failed";
    const auto t = policy::refuse_unsignable(outbound_pass(), enc);
    REQUIRE(t);
    CHECK(t->reply_code == "451");
    CHECK(t->reply_text == "the certificate directory cannot be reached");
    CHECK(t->reason_code == "encryption-lookup-failed");
    // Inbound mail and signed mail are never refused by it.
    policy::Decision inbound = outbound_pass();
    inbound.outbound = false;
    CHECK_FALSE(policy::refuse_unsignable(inbound, enc));
}

TEST_CASE("policy: outbound mail over max_message_size is refused with 552, inbound never", "[policy]") {
    const auto s = settings("milter:\n  max_message_size: 2M\n");
    policy::Decision d;
    d.outbound = true;
    CHECK_FALSE(policy::refuse_too_large(s, d, 2 * 1024 * 1024));
    const auto r = policy::refuse_too_large(s, d, 2 * 1024 * 1024 + 1);
    REQUIRE(r);
    CHECK(r->reply_code == "552");
    CHECK(r->reply_xcode == "5.3.4");
    CHECK(r->reason_code == "too-large");
    CHECK(r->reply_text == "message too large for signing: more than 2 MB (the gateway's milter.max_message_size)");
    d.outbound = false;
    CHECK_FALSE(policy::refuse_too_large(s, d, 100 * 1024 * 1024));
}

TEST_CASE("policy: government sender protection by verdict and setting", "[policy][inbound]") {
    struct Row {
        const char* protection;
        const char* from;
        Verdict verdict;
        policy::InboundDecision::Disposition disposition;
        const char* action;
        const char* tag;
        bool incident;
    };
    using D = policy::InboundDecision::Disposition;
    const Row row = GENERATE(values<Row>({
        {"tag", "kepala@dinas.example.go.id", Verdict::None, D::Deliver, "tag", "[TIDAK TERTANDATANGAN]", true},
        {"tag", "kepala@dinas.example.go.id", Verdict::TempError, D::Deliver, "tag", "[TIDAK TERTANDATANGAN]", true},
        {"tag", "kepala@dinas.example.go.id", Verdict::Fail, D::Deliver, "tag", "[TANDA TANGAN TIDAK SAH]", true},
        {"tag", "kepala@dinas.example.go.id", Verdict::Policy, D::Deliver, "tag", "[PENANDA TANGAN BUKAN PENGIRIM]",
         true},
        {"tag", "kepala@bapenda.dinas.example.go.id", Verdict::PermError, D::Deliver, "tag", "[TANDA TANGAN TIDAK SAH]",
         true},
        {"tag", "kepala@dinas.example.go.id", Verdict::Pass, D::Deliver, "deliver", "", false},
        {"quarantine", "Kepala@DINAS.example.go.id", Verdict::None, D::Quarantine, "quarantine", "", true},
        {"reject", "kepala@dinas.example.go.id", Verdict::Neutral, D::Reject, "reject", "", true},
        {"reject", "a@mitra.example", Verdict::None, D::Deliver, "deliver", "", false},
        {"reject", "a@mitra.example", Verdict::Fail, D::Deliver, "deliver", "", false},
    }));
    INFO(row.protection << " " << row.from << " " << policy::to_string(row.verdict));
    const auto s = settings(std::string("inbound:\n  sender_protection: ") + row.protection + "\n");
    const auto d = policy::decide_inbound(s, {row.from}, row.verdict, false, "why", "192.0.2.1");
    CHECK(d.disposition == row.disposition);
    CHECK(d.action == row.action);
    CHECK(d.tag == row.tag);
    CHECK(d.incident.empty() != row.incident);
    if (row.incident) {
        CHECK_THAT(d.incident, Catch::Contains("(client 192.0.2.1) without a valid signature: smime=" +
                                               std::string(policy::to_string(row.verdict)) + " (why)"));
    }
    if (row.disposition == D::Reject) {
        CHECK(d.reply_code == "550");
        CHECK(d.reply_text ==
              "message claims to be from kepala@dinas.example.go.id but carries no valid S/MIME "
              "signature of that sender (why)");
    }
}
