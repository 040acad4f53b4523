// engine::inbound and the "inbound:" configuration: what the milter applies
// for each verdict (A-R, forged A-R removal, subject tag, sender protection,
// harvesting), without a milter.
#include "config/load.h"
#include "engine/inbound.h"
#include "smime/base64.h"
#include "smime/sign.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace segel;
using smime::AuthResult;
using Disposition = engine::InboundEdits::Disposition;

namespace {

const std::string k_base =
    "trust:\n  anchors: [/nonexistent/root.pem]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n";

std::string error_of(const std::string& yaml) {
    try {
        config::parse(yaml, "segel.yaml");
        return "";
    } catch (const config::ConfigError& e) {
        return e.what();
    }
}

struct Fixture {
    test::TestPki pki;
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    std::string harvest_dir = pki.dir() + "/recipients";

    std::shared_ptr<const engine::Gateway> gateway(const std::string& inbound_yaml) const {
        config::Settings s = config::parse(k_base + inbound_yaml, "segel.yaml");
        s.trust.anchors = {pki.root_file()};
        s.trust.intermediates = {pki.intermediate_file()};
        return engine::Gateway::from_settings(std::move(s));
    }

    /** A message signed (via smime::sign) by @p who, with extra header lines in front. */
    std::string signed_message(const test::Issued& who, const std::string& extra_headers,
                               const std::string& subject = "Undangan") const {
        const std::string from =
            "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: budi@dinas.example.go.id\r\nSubject: " + subject +
            "\r\n";
        const std::string original = from + "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nIsi surat.\r\n";
        std::vector<smime::ossl::Ptr<X509>> chain;
        chain.push_back(smime::ossl::retain(pki.intermediate()));
        smime::SignOptions o;
        o.now = test::fixed_now();
        const auto sm = smime::sign(smime::Blob::from(original), test::credential(who), chain, o);
        std::string msg = extra_headers + from;
        for (const auto& h : sm.headers) {
            std::string v = h.value;
            for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
                v.replace(p, 1, "\r\n");
            }
            msg += h.name + ": " + v + "\r\n";
        }
        return msg + "\r\n" + sm.body.str();
    }
};

policy::Envelope outside(const std::string& from) {
    policy::Envelope env;
    env.client_ip = "192.0.2.10";
    env.mail_from = from;
    env.header_from = {from};
    env.from_headers = 1;
    return env;
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

    CHECK(error_of(k_base + "inbound:\n  sender_protection: drop\n") ==
          "segel.yaml:7:22: inbound.sender_protection: \"drop\" is not one of tag | quarantine | reject");
    CHECK(error_of(k_base + "inbound:\n  authserv_id: \"mx example\"\n")
              .find("inbound.authserv_id: \"mx example\" is not a valid authserv-id") != std::string::npos);
    CHECK(
        error_of(k_base + "inbound:\n  harvest_directory: relative/dir\n").find("must be an absolute directory path") !=
        std::string::npos);
    CHECK(
        error_of(k_base + "inbound:\n  crl_files: [/nonexistent/x.crl]\n").find("inbound.crl_files[0]: cannot read") !=
        std::string::npos);
    CHECK(error_of(k_base + "inbound:\n  certificate_time: whenever\n").find("arrival | signing_time") !=
          std::string::npos);
    CHECK(error_of(k_base + "inbound:\n  colour: blue\n").find("inbound.colour: unknown key") != std::string::npos);
}

TEST_CASE("inbound: forged A-R fields claiming our authserv-id are removed, foreign ones kept", "[engine][inbound]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  authserv_id: mx.dinas.example.go.id\n");
    const std::string msg =
        f.signed_message(f.siti,
                         "Received: from x\r\nAuthentication-Results: other.example; spf=pass\r\n"
                         "Authentication-Results: mx.dinas.example.go.id; smime=pass\r\n"
                         "authentication-results: (x)\r\n MX.DINAS.EXAMPLE.GO.ID;\r\n smime=pass\r\n");
    const auto e = engine::inbound(*gw, outside("siti@dinas.example.go.id"), smime::Blob::from(msg), test::fixed_now());
    REQUIRE(e.remove.size() == 2);
    CHECK(e.remove[0] == std::make_pair(std::string("Authentication-Results"), 2));
    CHECK(e.remove[1] == std::make_pair(std::string("authentication-results"), 3));
    REQUIRE(e.add.size() == 1);
    CHECK(e.add[0].name == "Authentication-Results");
    CHECK(
        e.add[0].value.rfind(
            "mx.dinas.example.go.id;\n\tsmime=pass (good signature)\n\tbody.smime-identifier=siti@dinas.example.go.id",
            0) == 0);
    CHECK(e.disposition == Disposition::Deliver);
    CHECK(e.incident.empty());
    CHECK_FALSE(e.new_subject);  // subject tags are off by default
    CHECK(e.summary.find("verify smime=pass signer=siti@dinas.example.go.id") == 0);
    CHECK(e.summary.find("removed_forged_ar=2") != std::string::npos);
}

TEST_CASE("inbound: subject tags, and forged tags removed", "[engine][inbound]") {
    Fixture f;
    const auto gw = f.gateway("inbound:\n  subject_tag:\n    enabled: true\n");
    const auto good = engine::inbound(
        *gw, outside("siti@dinas.example.go.id"),
        smime::Blob::from(f.signed_message(f.siti, "", "[Tertandatangan: Presiden] Undangan")), test::fixed_now());
    REQUIRE(good.new_subject);
    CHECK(*good.new_subject == "[Tertandatangan: Siti Rahma] Undangan");

    std::string bad = f.signed_message(f.siti, "");
    bad[bad.find("Isi surat")] = 'i';
    const auto fail =
        engine::inbound(*gw, outside("siti@dinas.example.go.id"), smime::Blob::from(bad), test::fixed_now());
    CHECK(fail.result.result == AuthResult::Fail);
    REQUIRE(fail.new_subject);
    CHECK(*fail.new_subject == "[TANDA TANGAN TIDAK SAH] Undangan");

    const auto policy = engine::inbound(*gw, outside("budi@mitra.example"),
                                        smime::Blob::from(f.signed_message(f.siti, "")), test::fixed_now());
    CHECK(policy.result.result == AuthResult::Policy);
    REQUIRE(policy.new_subject);
    CHECK(*policy.new_subject == "[PENANDA TANGAN BUKAN PENGIRIM] Undangan");

    // Unsigned partner mail: no tag of its own, but a fake "signed" tag is removed.
    const std::string plain =
        "From: a@mitra.example\r\nSubject: =?utf-8?Q?=5BTertandatangan=3A_Menteri=5D_Penting?=\r\n\r\nhalo\r\n";
    const auto none = engine::inbound(*gw, outside("a@mitra.example"), smime::Blob::from(plain), test::fixed_now());
    CHECK(none.result.result == AuthResult::None);
    REQUIRE(none.new_subject);
    CHECK(*none.new_subject == "Penting");
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
    const auto env = outside("kepala@dinas.example.go.id");
    {
        const auto gw = f.gateway("inbound:\n  sender_protection: tag\n");
        const auto e = engine::inbound(*gw, env, smime::Blob::from(unsigned_official), test::fixed_now());
        CHECK(e.result.result == AuthResult::None);
        CHECK(e.disposition == Disposition::Deliver);
        REQUIRE(e.new_subject);
        CHECK(*e.new_subject == "[TIDAK TERTANDATANGAN] Transfer dana");
        CHECK(e.incident.find("official sender <kepala@dinas.example.go.id> from outside (client 192.0.2.10)") == 0);
        CHECK(e.summary.find("action=tag") != std::string::npos);
    }
    {
        const auto gw = f.gateway("inbound:\n  sender_protection: quarantine\n");
        const auto e = engine::inbound(*gw, env, smime::Blob::from(unsigned_official), test::fixed_now());
        CHECK(e.disposition == Disposition::Quarantine);
        CHECK(e.reply_text.find("kepala@dinas.example.go.id") != std::string::npos);
        CHECK_FALSE(e.incident.empty());
    }
    {
        const auto gw = f.gateway("inbound:\n  sender_protection: reject\n");
        const auto e = engine::inbound(*gw, env, smime::Blob::from(unsigned_official), test::fixed_now());
        CHECK(e.disposition == Disposition::Reject);
        CHECK(e.reply_code == "550");
        CHECK(e.reply_xcode == "5.7.1");
        // A valid signature of the official sender is not an incident.
        const auto good = engine::inbound(*gw, outside("siti@dinas.example.go.id"),
                                          smime::Blob::from(f.signed_message(f.siti, "")), test::fixed_now());
        CHECK(good.disposition == Disposition::Deliver);
        CHECK(good.incident.empty());
        // Partner domains are never subject to it.
        const auto partner =
            engine::inbound(*gw, outside("a@mitra.example"), smime::Blob::from("From: a@mitra.example\r\n\r\nx\r\n"),
                            test::fixed_now());
        CHECK(partner.disposition == Disposition::Deliver);
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
    const auto u =
        engine::inbound(*gw, outside("siti@dinas.example.go.id"), smime::Blob::from(untrusted_msg), test::fixed_now());
    CHECK(u.result.result == AuthResult::Fail);
    CHECK(u.harvested.empty());
    CHECK_FALSE(std::filesystem::exists(file));

    // A good signature: stored.
    const auto e = engine::inbound(*gw, outside("siti@dinas.example.go.id"),
                                   smime::Blob::from(f.signed_message(f.siti, "")), test::fixed_now());
    CHECK(e.harvested == file);
    REQUIRE(std::filesystem::exists(file));
    CHECK(smime::read_pem_certs(file).size() == 1);
    // The same certificate again: nothing written (de-duplicated).
    const auto again = engine::inbound(*gw, outside("siti@dinas.example.go.id"),
                                       smime::Blob::from(f.signed_message(f.siti, "")), test::fixed_now());
    CHECK(again.harvested.empty());

    // A newer certificate replaces it; an older one does not.
    const auto newer = f.pki.issue({.name = "Siti Rahma", .email = "siti@dinas.example.go.id", .not_before_days = -1});
    engine::inbound(*gw, outside("siti@dinas.example.go.id"), smime::Blob::from(f.signed_message(newer, "")),
                    test::fixed_now());
    CHECK(X509_cmp(smime::read_pem_certs(file).front().get(), newer.cert.get()) == 0);
    const auto older =
        f.pki.issue({.name = "Siti Rahma", .email = "siti@dinas.example.go.id", .not_before_days = -300});
    const auto o = engine::inbound(*gw, outside("siti@dinas.example.go.id"),
                                   smime::Blob::from(f.signed_message(older, "")), test::fixed_now());
    CHECK(o.result.result == AuthResult::Pass);
    CHECK(o.harvested.empty());
    CHECK(X509_cmp(smime::read_pem_certs(file).front().get(), newer.cert.get()) == 0);

    // Signer is not the sender (policy): the certificate is still a good one for its own address.
    const auto p = engine::inbound(*gw, outside("budi@mitra.example"), smime::Blob::from(f.signed_message(newer, "")),
                                   test::fixed_now());
    CHECK(p.result.result == AuthResult::Policy);
}

TEST_CASE("inbound: temperror when revocation data is unavailable or the message is not verified",
          "[engine][inbound]") {
    Fixture f;
    const std::string crl = f.pki.dir() + "/gone.crl";
    test::write_file(crl, "not a crl", 0644);
    const auto gw = f.gateway("inbound:\n  crl_files: [" + crl + "]\n");
    const auto e = engine::inbound(*gw, outside("siti@dinas.example.go.id"),
                                   smime::Blob::from(f.signed_message(f.siti, "")), test::fixed_now());
    CHECK(e.result.result == AuthResult::TempError);
    CHECK(e.result.reason.find("revocation data unavailable") == 0);
    CHECK(e.add.at(0).value.find("smime=temperror (revocation data unavailable") != std::string::npos);

    const auto gw2 = f.gateway("inbound:\n");
    const auto big =
        engine::inbound(*gw2, outside("a@mitra.example"), smime::Blob::from("From: a@mitra.example\r\n\r\n"),
                        test::fixed_now(), "larger than milter.max_message_size: not verified");
    CHECK(big.result.result == AuthResult::TempError);
    CHECK(big.add.at(0).value == gw2->settings().inbound.authserv_id +
                                     ";\n\tsmime=temperror (larger than milter.max_message_size: not verified)");
}
