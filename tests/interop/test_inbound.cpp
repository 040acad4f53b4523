// Inbound mail through the engine Session and the "inbound:" configuration:
// what the milter applies for each verdict (A-R, forged A-R removal, subject
// tag, sender protection, harvesting) and the Outcome, without a milter.
#include "config/load.h"
#include "engine/inbound.h"
#include "engine/outcome_format.h"
#include "engine/session.h"
#include "smime/base64.h"
#include "smime/sign.h"
#include "tests/support/inbound.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

using namespace segel;
using engine::Decision;
using smime::AuthResult;

namespace {

const std::string& k_base = test::k_inbound_base;
using test::config_error;

struct Fixture : test::InboundFixture {
    std::string harvest_dir = pki.dir() + "/recipients";
};

/** @p message from outside (envelope sender @p from, to budi) through a Session. */
engine::Processed outside(const std::shared_ptr<const engine::Gateway>& gw, const std::string& from,
                          const std::string& message) {
    return test::from_outside(gw, from, "budi@dinas.example.go.id", message);
}

/** The header edits applied with op @p op (e.g. "delete", "insert"). */
std::vector<engine::RecordingActions::Recorded> ops(const engine::Processed& p, const std::string& op) {
    std::vector<engine::RecordingActions::Recorded> out;
    for (const auto& r : p.actions.recorded()) {
        if (r.op == op) {
            out.push_back(r);
        }
    }
    return out;
}

/** The new Subject value, when the Session changed it. */
std::optional<std::string> new_subject(const engine::Processed& p) {
    for (const auto& r : p.actions.recorded()) {
        if ((r.op == "change" || r.op == "add") && r.name == "Subject") {
            return r.value;
        }
    }
    return std::nullopt;
}

AuthResult verdict(const engine::Processed& p) {
    REQUIRE(p.outcome.verification);
    return p.outcome.verification->result;
}

std::string log_line(const engine::Processed& p) {
    const auto lines = engine::log_lines(p.outcome);
    REQUIRE_FALSE(lines.empty());
    return lines.front().text;
}

}  // namespace

TEST_CASE("config: inbound defaults and mistakes", "[config][inbound]") {
    const auto off = config::parse(k_base, "segel.yaml");
    CHECK_FALSE(off.inbound.enabled);
    const auto on = config::parse(k_base + "inbound:\n", "segel.yaml");
    CHECK(on.inbound.enabled);
    CHECK_FALSE(on.inbound.authserv_id.empty());  // the host name
    CHECK(on.inbound.sender_protection == config::Inbound::SenderProtection::Tag);
    CHECK(on.inbound.certificate_time == config::Inbound::CertificateTime::Arrival);
    CHECK(on.inbound.subject_tag.signed_text == "[Tertandatangan: {name}]");
    CHECK(on.inbound.subject_tag.invalid_text == "[TANDA TANGAN TIDAK SAH]");
    const auto en =
        config::parse(k_base + "inbound:\n  subject_tag:\n    language: en\n    invalid: \"[PALSU]\"\n", "segel.yaml");
    CHECK(en.inbound.subject_tag.enabled);
    CHECK(en.inbound.subject_tag.signed_text == "[Signed: {name}]");
    CHECK(en.inbound.subject_tag.invalid_text == "[PALSU]");

    CHECK(config_error(k_base + "inbound:\n  sender_protection: drop\n") ==
          "segel.yaml:7:22: inbound.sender_protection: \"drop\" is not one of tag | quarantine | reject");
    CHECK(config_error(k_base + "inbound:\n  authserv_id: \"mx example\"\n")
              .find("inbound.authserv_id: \"mx example\" is not a valid authserv-id") != std::string::npos);
    CHECK(config_error(k_base + "inbound:\n  harvest_directory: relative/dir\n")
              .find("must be an absolute directory path") != std::string::npos);
    CHECK(config_error(k_base + "inbound:\n  crl_files: [/nonexistent/x.crl]\n")
              .find("inbound.crl_files[0]: cannot read") != std::string::npos);
    CHECK(config_error(k_base + "inbound:\n  certificate_time: whenever\n").find("arrival | signing_time") !=
          std::string::npos);
    CHECK(config_error(k_base + "inbound:\n  colour: blue\n").find("inbound.colour: unknown key") != std::string::npos);
}

TEST_CASE("inbound: forged A-R fields claiming our authserv-id are removed, foreign ones kept", "[engine][inbound]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  authserv_id: mx.dinas.example.go.id\n");
    const std::string msg =
        f.signed_message(f.siti,
                         "Received: from x\r\nAuthentication-Results: other.example; spf=pass\r\n"
                         "Authentication-Results: mx.dinas.example.go.id; smime=pass\r\n"
                         "authentication-results: (x)\r\n MX.DINAS.EXAMPLE.GO.ID;\r\n smime=pass\r\n");
    const auto e = outside(gw, "siti@dinas.example.go.id", msg);
    const auto removed = ops(e, "delete");
    REQUIRE(removed.size() == 2);  // highest index first, so the other does not shift
    CHECK(removed[0].name == "authentication-results");
    CHECK(removed[0].index == 3);
    CHECK(removed[1].name == "Authentication-Results");
    CHECK(removed[1].index == 2);
    const auto added = ops(e, "insert");
    REQUIRE(added.size() == 1);
    CHECK(added[0].name == "Authentication-Results");
    CHECK(added[0].index == 0);
    CHECK(
        added[0].value.rfind(
            "mx.dinas.example.go.id;\n\tsmime=pass (good signature)\n\tbody.smime-identifier=siti@dinas.example.go.id",
            0) == 0);
    CHECK(e.outcome.decision == Decision::Deliver);
    CHECK(e.outcome.incidents.empty());
    CHECK_FALSE(new_subject(e));  // subject tags are off by default
    CHECK(log_line(e).find("verify smime=pass signer=siti@dinas.example.go.id") == 0);
    CHECK(log_line(e).find("removed_forged_ar=2") != std::string::npos);
    CHECK(e.outcome.content_sha256.size() == 64);
    // What the recipient gets: ours on top, the foreign result kept, the forged ones gone.
    const std::string delivered = e.actions.message();
    CHECK(delivered.rfind("Authentication-Results: mx.dinas.example.go.id;\r\n\tsmime=pass", 0) == 0);
    CHECK(delivered.find("Authentication-Results: other.example; spf=pass") != std::string::npos);
    CHECK(delivered.find("MX.DINAS.EXAMPLE.GO.ID") == std::string::npos);
}

TEST_CASE("inbound: the Outcome's summary describes the verdict, not the end of headers", "[engine][inbound]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n");
    const auto good = outside(gw, "siti@dinas.example.go.id", f.signed_message(f.siti, ""));
    CHECK(verdict(good) == AuthResult::Pass);
    CHECK(good.outcome.summary == "deliver: smime=pass (good signature) signer siti@dinas.example.go.id");
    CHECK_THAT(engine::to_json(good.outcome, false), Catch::Contains("\"deliver: smime=pass (good signature) signer"));

    std::string bad = f.signed_message(f.siti, "");
    bad[bad.find("Isi surat")] = 'i';
    const auto fail = outside(gw, "siti@dinas.example.go.id", bad);
    CHECK(verdict(fail) == AuthResult::Fail);
    CHECK_THAT(fail.outcome.summary, Catch::StartsWith("tag: smime=fail ("));
    CHECK(fail.outcome.summary.find("not signed") == std::string::npos);

    const auto none = outside(gw, "a@mitra.example", "From: a@mitra.example\r\nSubject: Halo\r\n\r\nhalo\r\n");
    CHECK(verdict(none) == AuthResult::None);
    CHECK_THAT(none.outcome.summary, Catch::StartsWith("deliver: smime=none"));
}

TEST_CASE("inbound: subject tags, and forged tags removed", "[engine][inbound]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  subject_tag:\n    enabled: true\n");
    const auto good =
        outside(gw, "siti@dinas.example.go.id", f.signed_message(f.siti, "", "[Tertandatangan: Presiden] Undangan"));
    REQUIRE(new_subject(good));
    CHECK(*new_subject(good) == "[Tertandatangan: Siti Rahma] Undangan");

    std::string bad = f.signed_message(f.siti, "");
    bad[bad.find("Isi surat")] = 'i';
    const auto fail = outside(gw, "siti@dinas.example.go.id", bad);
    CHECK(verdict(fail) == AuthResult::Fail);
    REQUIRE(new_subject(fail));
    CHECK(*new_subject(fail) == "[TANDA TANGAN TIDAK SAH] Undangan");

    const auto policy =
        outside(gw, "budi@mitra.example", f.signed_message(f.siti, "", "Undangan", "budi@mitra.example"));
    CHECK(verdict(policy) == AuthResult::Policy);
    REQUIRE(new_subject(policy));
    CHECK(*new_subject(policy) == "[PENANDA TANGAN BUKAN PENGIRIM] Undangan");

    // Unsigned partner mail: no tag of its own, but a fake "signed" tag is removed.
    const std::string plain =
        "From: a@mitra.example\r\nSubject: =?utf-8?Q?=5BTertandatangan=3A_Menteri=5D_Penting?=\r\n\r\nhalo\r\n";
    const auto none = outside(gw, "a@mitra.example", plain);
    CHECK(verdict(none) == AuthResult::None);
    REQUIRE(new_subject(none));
    CHECK(*new_subject(none) == "Penting");
    // The tag function alone: non-ASCII names are RFC 2047-encoded.
    config::Inbound::SubjectTag tags = config::parse(k_base + "inbound:\n", "segel.yaml").inbound.subject_tag;
    const auto encoded = engine::tag_subject(std::string("Rapat"), "[Tertandatangan: Dwi Ayu Ningsih \xc3\xa9]", tags);
    REQUIRE(encoded);
    CHECK(encoded->find("=?") != std::string::npos);
    CHECK_FALSE(engine::tag_subject(std::string("Rapat"), "", tags));  // nothing to add or remove
}

TEST_CASE("inbound: government sender protection (tag, quarantine, reject) with an incident line",
          "[engine][inbound]") {
    Fixture f;
    const std::string unsigned_official =
        "From: Kepala <kepala@dinas.example.go.id>\r\nSubject: Transfer dana\r\n\r\nsegera\r\n";
    const std::string kepala = "kepala@dinas.example.go.id";
    {
        const auto gw = f.gateway("inbound:\n  sender_protection: tag\n");
        const auto e = outside(gw, kepala, unsigned_official);
        CHECK(verdict(e) == AuthResult::None);
        CHECK(e.outcome.decision == Decision::Deliver);
        REQUIRE(new_subject(e));
        CHECK(*new_subject(e) == "[TIDAK TERTANDATANGAN] Transfer dana");
        REQUIRE(e.outcome.incidents.size() == 1);
        CHECK(e.outcome.incidents[0].kind == "forged-official-sender");
        CHECK(e.outcome.incidents[0].address == "kepala@dinas.example.go.id");
        CHECK(e.outcome.incidents[0].detail.find(
                  "official sender <kepala@dinas.example.go.id> from outside (client 192.0.2.10)") == 0);
        CHECK(log_line(e).find("action=tag") != std::string::npos);
        const auto lines = engine::log_lines(e.outcome);
        CHECK(std::any_of(lines.begin(), lines.end(), [](const engine::LogLine& l) {
            return l.level == engine::LogLine::Level::Warning &&
                   l.text.rfind(
                       "incident kind=forged-official-sender address=<kepala@dinas.example.go.id> "
                       "client=192.0.2.10 detail=\"official sender",
                       0) == 0;
        }));
    }
    {
        const auto gw = f.gateway("inbound:\n  sender_protection: quarantine\n");
        const auto e = outside(gw, kepala, unsigned_official);
        CHECK(e.outcome.decision == Decision::Quarantine);
        REQUIRE(e.actions.quarantined());
        CHECK(e.actions.quarantined()->find("kepala@dinas.example.go.id") != std::string::npos);
        CHECK_FALSE(e.outcome.incidents.empty());
    }
    {
        const auto gw = f.gateway("inbound:\n  sender_protection: reject\n");
        const auto e = outside(gw, kepala, unsigned_official);
        CHECK(e.outcome.decision == Decision::Refuse);
        CHECK(e.reply.kind == engine::Reply::Kind::Reject);
        CHECK(e.reply.code == "550");
        CHECK(e.reply.xcode == "5.7.1");
        CHECK(e.actions.recorded().empty());  // a refused message is not edited
        // A valid signature of the official sender is not an incident.
        const auto good = outside(gw, "siti@dinas.example.go.id", f.signed_message(f.siti, ""));
        CHECK(good.outcome.decision == Decision::Deliver);
        CHECK(good.outcome.incidents.empty());
        // Partner domains are never subject to it.
        const auto partner = outside(gw, "a@mitra.example", "From: a@mitra.example\r\n\r\nx\r\n");
        CHECK(partner.outcome.decision == Decision::Deliver);
    }
}

TEST_CASE("inbound: certificates are harvested only from trusted good signatures; newest wins", "[engine][inbound]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  harvest_directory: " + f.harvest_dir + "\n");
    const std::string file = f.harvest_dir + "/siti@dinas.example.go.id.pem";

    // An untrusted signer's certificate is never stored.
    const auto eko = f.pki.issue({.name = "Eko", .email = "siti@dinas.example.go.id", .untrusted = true});
    std::string untrusted_msg;
    {
        // smime::sign refuses untrusted signers, so build this one by hand through CMS.
        const std::string entity = "Content-Type: text/plain\r\n\r\nx\r\n";
        auto cms =
            smime::ossl::adopt(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_BINARY | CMS_PARTIAL | CMS_DETACHED));
        REQUIRE(CMS_add1_signer(cms.get(), eko.cert.get(), eko.key.get(), EVP_sha256(),
                                CMS_BINARY | CMS_PARTIAL | CMS_DETACHED));
        auto in = smime::ossl::mem_bio(entity.data(), entity.size());
        REQUIRE(CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY | CMS_DETACHED) == 1);
        auto out = smime::ossl::adopt(BIO_new(BIO_s_mem()));
        REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
        untrusted_msg =
            "From: siti@dinas.example.go.id\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; "
            "protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n" +
            entity +
            "\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            smime::base64::encode_lines(smime::ossl::bio_to_string(out.get())) + "--b--\r\n";
    }
    const auto u = outside(gw, "siti@dinas.example.go.id", untrusted_msg);
    CHECK(verdict(u) == AuthResult::Fail);
    CHECK(u.outcome.verification->harvested.empty());
    CHECK_FALSE(std::filesystem::exists(file));

    // A good signature: stored.
    const auto e = outside(gw, "siti@dinas.example.go.id", f.signed_message(f.siti, ""));
    CHECK(e.outcome.verification->harvested == file);
    REQUIRE(std::filesystem::exists(file));
    CHECK(smime::read_pem_certs(file).size() == 1);
    // The same certificate again: nothing written (de-duplicated).
    const auto again = outside(gw, "siti@dinas.example.go.id", f.signed_message(f.siti, ""));
    CHECK(again.outcome.verification->harvested.empty());

    // A newer certificate replaces it; an older one does not.
    const auto newer = f.pki.issue({.name = "Siti Rahma", .email = "siti@dinas.example.go.id", .not_before_days = -1});
    outside(gw, "siti@dinas.example.go.id", f.signed_message(newer, ""));
    CHECK(X509_cmp(smime::read_pem_certs(file).front().get(), newer.cert.get()) == 0);
    const auto older =
        f.pki.issue({.name = "Siti Rahma", .email = "siti@dinas.example.go.id", .not_before_days = -300});
    const auto o = outside(gw, "siti@dinas.example.go.id", f.signed_message(older, ""));
    CHECK(verdict(o) == AuthResult::Pass);
    CHECK(o.outcome.verification->harvested.empty());
    CHECK(X509_cmp(smime::read_pem_certs(file).front().get(), newer.cert.get()) == 0);

    // Signer is not the sender (policy): the certificate is still a good one for its own address.
    const auto p = outside(gw, "budi@mitra.example", f.signed_message(newer, "", "Undangan", "budi@mitra.example"));
    CHECK(verdict(p) == AuthResult::Policy);
}

TEST_CASE("inbound: temperror when revocation data is unavailable or the message is not verified",
          "[engine][inbound]") {
    Fixture f;
    const std::string crl = f.pki.dir() + "/gone.crl";
    test::write_file(crl, "not a crl", 0644);
    const auto gw = f.gateway("inbound:\n  crl_files: [" + crl + "]\n");
    const auto e = outside(gw, "siti@dinas.example.go.id", f.signed_message(f.siti, ""));
    CHECK(verdict(e) == AuthResult::TempError);
    CHECK(e.outcome.verification->reason.find("revocation data unavailable") == 0);
    CHECK(ops(e, "insert").at(0).value.find("smime=temperror (revocation data unavailable") != std::string::npos);

    // Larger than milter.max_message_size: delivered, not verified, never refused.
    config::Settings s = config::parse(k_base + "milter:\n  max_message_size: 1K\ninbound:\n", "segel.yaml");
    s.trust.anchors = {f.pki.root_file()};
    const auto gw2 = engine::Gateway::from_settings(std::move(s));
    const auto big = outside(gw2, "a@mitra.example", "From: a@mitra.example\r\n\r\n" + std::string(4096, 'x') + "\r\n");
    CHECK(big.reply.kind == engine::Reply::Kind::Continue);
    CHECK(verdict(big) == AuthResult::TempError);
    CHECK(ops(big, "insert").at(0).value ==
          gw2->settings().inbound.authserv_id +
              ";\n\tsmime=temperror (larger than milter.max_message_size: not verified)");
}
