// Recipient certificate lookup (order, usability, newest wins, cache) and the
// engine's encryption path: plan, encrypt after signing, strict decryption.
#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/gateway.h"
#include "engine/recipients.h"
#include "smime/error.h"
#include "tests/support/pki.h"

#include <openssl/pem.h>
#include <catch2/catch.hpp>

#include <filesystem>

using namespace segel;

namespace {

std::string pem(X509* cert) {
    auto bio = smime::ossl::adopt(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return smime::ossl::bio_to_string(bio.get());
}

std::string der(X509* cert) {
    unsigned char* out = nullptr;
    const int len = i2d_X509(cert, &out);
    std::string s(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
    return s;
}

/** An LDAP stand-in that counts its calls and can be down. */
class FakeDirectory final : public engine::CertificateDirectory {
public:
    std::map<std::string, std::vector<std::string>> entries;
    bool down = false;
    mutable int calls = 0;
    std::vector<std::string> search(const std::string& address) const override {
        ++calls;
        if (down) {
            throw smime::Error(smime::Category::Io, "LDAP search on ldap://fake failed: Can't contact LDAP server");
        }
        const auto it = entries.find(address);
        return it == entries.end() ? std::vector<std::string>{} : it->second;
    }
    [[nodiscard]] std::string name() const override { return "ldap ldap://fake"; }
};

struct StoreFixture {
    test::TestPki pki;
    std::string local = pki.dir() + "/local";
    std::string harvest = pki.dir() + "/harvest";
    config::Settings settings;
    FakeDirectory* ldap = nullptr;
    std::unique_ptr<engine::RecipientStore> store;

    StoreFixture() {
        std::filesystem::create_directories(local);
        std::filesystem::create_directories(harvest);
        settings.trust.anchors = {pki.root_file()};
        settings.trust.intermediates = {pki.intermediate_file()};
        settings.encryption.certificate_directory = local;
        settings.encryption.cache_size = 2;
        settings.encryption.cache_ttl_seconds = 600;
        settings.encryption.negative_ttl_seconds = 60;
    }
    void open() {
        auto dir = std::make_unique<FakeDirectory>();
        ldap = dir.get();
        store = std::make_unique<engine::RecipientStore>(settings.encryption, harvest,
                                                         engine::RecipientStore::load_trust(settings), std::move(dir));
    }
    void put(const std::string& dir, const std::string& address, const std::vector<const test::Issued*>& leaves) {
        std::string text;
        for (const auto* l : leaves) {
            text += pem(l->cert.get());
        }
        test::write_file(dir + "/" + address + ".pem", text, 0644);
    }
};

}  // namespace

TEST_CASE("recipients: local store, then harvest, then LDAP; the newest usable wins", "[recipients]") {
    StoreFixture f;
    const auto old_cert = f.pki.issue({.name = "Kepala", .email = "kepala@mitra.example.id", .not_before_days = -300});
    const auto new_cert = f.pki.issue({.name = "Kepala", .email = "kepala@mitra.example.id", .not_before_days = -10});
    const auto harvested = f.pki.issue({.name = "Kepala", .email = "kepala@mitra.example.id", .not_before_days = -1});
    f.put(f.local, "kepala@mitra.example.id", {&old_cert, &new_cert});
    f.put(f.harvest, "kepala@mitra.example.id", {&harvested});
    f.open();
    f.ldap->entries["kepala@mitra.example.id"] = {der(harvested.cert.get())};

    const auto r = f.store->lookup("Kepala@Mitra.Example.ID", test::fixed_now());
    REQUIRE(r.found);
    CHECK(X509_cmp(r.found->cert.get(), new_cert.cert.get()) == 0);  // local store first; newest within it
    CHECK_THAT(r.found->source, Catch::StartsWith("directory "));
    CHECK(f.ldap->calls == 0);

    // Only in the harvest directory, then only in LDAP.
    const auto h = f.pki.issue({.name = "H", .email = "h@mitra.example.id"});
    f.put(f.harvest, "h@mitra.example.id", {&h});
    const auto l = f.pki.issue({.name = "L", .email = "l@mitra.example.id", .ec = true});
    f.ldap->entries["l@mitra.example.id"] = {der(l.cert.get())};
    CHECK_THAT(f.store->lookup("h@mitra.example.id", test::fixed_now()).found->source, Catch::StartsWith("harvest "));
    CHECK(f.store->lookup("l@mitra.example.id", test::fixed_now()).found->source == "ldap ldap://fake");
}

TEST_CASE("recipients: unusable certificates are named with the reason", "[recipients]") {
    StoreFixture f;
    f.open();
    struct Row {
        test::LeafSpec spec;
        std::string reason;
    };
    const std::vector<Row> rows = {
        {{.name = "Expired", .email = "x@mitra.example.id", .not_before_days = -400, .not_after_days = -1}, "expired"},
        {{.name = "Future", .email = "x@mitra.example.id", .not_before_days = 5}, "not valid before"},
        {{.name = "SignOnly", .email = "x@mitra.example.id", .encrypt_usage = false}, "keyEncipherment"},
        {{.name = "SignOnlyEc", .email = "x@mitra.example.id", .ec = true, .encrypt_usage = false}, "keyAgreement"},
        {{.name = "Tls", .email = "x@mitra.example.id", .email_eku = false}, "emailProtection"},
        {{.name = "Stranger", .email = "x@mitra.example.id", .untrusted = true}, "does not chain"},
    };
    for (const auto& row : rows) {
        INFO(row.spec.name);
        const auto leaf = f.pki.issue(row.spec);
        const std::string why = f.store->unusable(leaf.cert.get(), {}, "x@mitra.example.id", test::fixed_now());
        CHECK_THAT(why, Catch::Contains(row.reason));
    }
    const auto other = f.pki.issue({.name = "Other", .email = "other@mitra.example.id"});
    CHECK_THAT(f.store->unusable(other.cert.get(), {}, "x@mitra.example.id", test::fixed_now()),
               Catch::Contains("does not name"));
    // A lookup that finds only unusable certificates says why.
    const auto expired =
        f.pki.issue({.name = "E", .email = "e@mitra.example.id", .not_before_days = -400, .not_after_days = -1});
    f.put(f.local, "e@mitra.example.id", {&expired});
    const auto r = f.store->lookup("e@mitra.example.id", test::fixed_now());
    CHECK_FALSE(r.found);
    CHECK_THAT(r.why, Catch::Contains("expired"));
    // Path tricks never reach the file system.
    CHECK_FALSE(f.store->lookup("../../etc/passwd@x", test::fixed_now()).found);
}

TEST_CASE("recipients: the cache is bounded in size and time; failures are not cached", "[recipients]") {
    StoreFixture f;
    f.open();
    const auto a = f.pki.issue({.name = "A", .email = "a@mitra.example.id"});
    f.ldap->entries["a@mitra.example.id"] = {der(a.cert.get())};
    const auto now = test::fixed_now();
    CHECK(f.store->lookup("a@mitra.example.id", now).found);
    CHECK(f.store->lookup("a@mitra.example.id", now + std::chrono::seconds(599)).cached);
    CHECK(f.ldap->calls == 1);
    CHECK_FALSE(f.store->lookup("a@mitra.example.id", now + std::chrono::seconds(601)).cached);
    CHECK(f.ldap->calls == 2);
    // Negative answers live shorter.
    CHECK_FALSE(f.store->lookup("nobody@mitra.example.id", now).found);
    CHECK(f.store->lookup("nobody@mitra.example.id", now + std::chrono::seconds(59)).cached);
    CHECK_FALSE(f.store->lookup("nobody@mitra.example.id", now + std::chrono::seconds(61)).cached);
    // At most cache_size (2) entries.
    f.store->lookup("c@mitra.example.id", now);
    f.store->lookup("d@mitra.example.id", now);
    CHECK(f.store->cache_entries() == 2);
    // LDAP down: a temporary failure, asked again next time.
    f.ldap->down = true;
    const int before = f.ldap->calls;
    const auto down = f.store->lookup("z@mitra.example.id", now);
    CHECK(down.lookup_failed);
    CHECK_THAT(down.why, Catch::Contains("Can't contact LDAP server"));
    f.store->lookup("z@mitra.example.id", now);
    CHECK(f.ldap->calls == before + 2);
}

TEST_CASE("recipients: LDAP filter values are escaped (RFC 4515)", "[recipients]") {
    // libldap's escaping (RFC 4515 allows either case of hex digits).
    CHECK(engine::ldap_escape("a*)(uid=*)@x") == "a\\2A\\29\\28uid=\\2A\\29@x");
    CHECK(engine::ldap_escape(std::string("a\\\0b", 4)) == "a\\5C\\00b");
    CHECK(engine::ldap_escape("plain@example.id") == "plain@example.id");
}

namespace {

struct GatewayFixture {
    test::TestPki pki;
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    test::Issued budi = pki.issue({.name = "Budi", .email = "budi@dinas.example.go.id", .ec = true});
    test::Issued mitra = pki.issue({"Kepala Mitra", "kepala@mitra.example.id"});
    std::shared_ptr<const engine::Gateway> gw;

    explicit GatewayFixture(const std::string& encryption) {
        std::filesystem::create_directories(pki.dir() + "/recipients");
        test::write_file(pki.dir() + "/recipients/kepala@mitra.example.id.pem", pem(mitra.cert.get()), 0644);
        const std::string yaml = "trust:\n  anchors: [" + pki.root_file() + "]\n  intermediates: [" +
                                 pki.intermediate_file() +
                                 "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n  logins:\n    siti: "
                                 "[siti@dinas.example.go.id]\n"
                                 "credentials:\n  - certificate: " +
                                 siti.cert_file + "\n    key: " + siti.key_file +
                                 "\n  - certificate: " + budi.cert_file + "\n    key: " + budi.key_file +
                                 "\nencryption:\n  certificate_directory: " + pki.dir() + "/recipients\n" + encryption;
        gw = engine::Gateway::load(test::write_file(pki.dir() + "/segel.yaml", yaml));
    }
};

const std::string k_msg =
    "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: kepala@mitra.example.id\r\nSubject: [RAHASIA] Rapat\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n\r\nRapat besok pukul 09.00.\r\n";

policy::Envelope envelope() {
    policy::Envelope env;
    env.auth_login = "siti";
    env.client_ip = "192.0.2.10";
    env.mail_from = "siti@dinas.example.go.id";
    engine::read_from_headers(env, k_msg);
    return env;
}

}  // namespace

TEST_CASE("engine: opportunistic encrypts only when every recipient has a certificate", "[engine][encrypt]") {
    GatewayFixture f("  policy: opportunistic\n");
    const auto all = engine::plan_outbound(*f.gw, {"<kepala@mitra.example.id>", "budi@dinas.example.go.id"},
                                           std::string(" Rapat"), test::fixed_now());
    CHECK(all.decision.action == policy::EncryptAction::SignOnly);  // budi has no published certificate
    CHECK(all.decision.lacking == std::vector<std::string>{"budi@dinas.example.go.id"});
    const auto one =
        engine::plan_outbound(*f.gw, {"kepala@mitra.example.id"}, std::string(" Rapat"), test::fixed_now());
    REQUIRE(one.decision.action == policy::EncryptAction::Encrypt);
    CHECK_FALSE(one.new_subject);
}

TEST_CASE("engine: sign, then encrypt to the recipient and the sender; the recipient decrypts", "[engine][encrypt]") {
    GatewayFixture f("  policy: never\n");
    // The trigger makes it required although the policy is never; it is removed from the subject.
    const auto plan =
        engine::plan_outbound(*f.gw, {"kepala@mitra.example.id"}, std::string(" [RAHASIA] Rapat"), test::fixed_now());
    REQUIRE(plan.decision.action == policy::EncryptAction::Encrypt);
    CHECK(plan.decision.triggered);
    REQUIRE(plan.new_subject);
    CHECK(*plan.new_subject == " Rapat");

    const auto decision = f.gw->decide(envelope(), test::fixed_now());
    REQUIRE(decision.action == policy::Action::Sign);
    const auto signed_message = f.gw->sign(decision, smime::Blob::from(k_msg), test::fixed_now());
    const auto enc = engine::encrypt_outbound(*f.gw, decision, plan, signed_message);
    CHECK(enc.recipient_count == 2);  // kepala + the sender
    const std::string wire = engine::replace_entity(k_msg, enc.headers, enc.body.view());
    CHECK_THAT(wire, Catch::Contains("smime-type=enveloped-data"));
    CHECK(wire.find("Rapat besok") == std::string::npos);

    auto content = smime::EncryptedContent::parse(*smime::pkcs7_mime_der(smime::Blob::from(wire)));
    REQUIRE(content);
    CHECK(content->addressed_to(f.mitra.cert.get()));
    CHECK(content->addressed_to(f.siti.cert.get()));
    const auto opened = content->decrypt(f.mitra.cert.get(), f.mitra.key.get());
    REQUIRE(opened.status == smime::DecryptStatus::Decrypted);
    CHECK_THAT(opened.entity, Catch::StartsWith("Content-Type: multipart/signed;"));
}

TEST_CASE("engine: required refuses naming the recipients without a certificate", "[engine][encrypt]") {
    GatewayFixture f("  domains:\n    - domain: mitra.example.id\n      policy: required\n      cipher: aes-256-gcm\n");
    const auto plan = engine::plan_outbound(*f.gw, {"kepala@mitra.example.id", "staf@mitra.example.id"}, std::nullopt,
                                            test::fixed_now());
    REQUIRE(plan.decision.action == policy::EncryptAction::Reject);
    CHECK(plan.decision.reply_code == "550");
    CHECK(plan.decision.reply_xcode == "5.7.1");
    CHECK_THAT(plan.decision.reply_text, Catch::Contains("staf@mitra.example.id"));
    CHECK_THAT(plan.decision.reply_text, !Catch::Contains("kepala@"));
    const auto ok = engine::plan_outbound(*f.gw, {"kepala@mitra.example.id"}, std::nullopt, test::fixed_now());
    CHECK(ok.decision.action == policy::EncryptAction::Encrypt);
    CHECK(ok.decision.cipher == config::Encryption::Cipher::Aes256Gcm);
}

TEST_CASE("engine: inbound decryption is strict about whose key opens what", "[engine][decrypt]") {
    GatewayFixture f("");
    const std::string entity = "Content-Type: text/plain\r\n\r\nUndangan rapat.\r\n";
    auto encrypted_to = [&](std::initializer_list<X509*> to) {
        std::vector<smime::ossl::Ptr<X509>> certs;
        for (X509* c : to) {
            certs.push_back(smime::ossl::retain(c));
        }
        const auto m = smime::encrypt_entity(entity, certs, {});
        return engine::replace_entity("From: a@mitra.example.id\r\nTo: siti@dinas.example.go.id\r\nSubject: x\r\n",
                                      m.headers, m.body.view());
    };
    using Outcome = engine::InboundDecryption::Outcome;

    const std::string to_siti = encrypted_to({f.siti.cert.get()});
    const auto ok = engine::decrypt_inbound(*f.gw, {"<siti@dinas.example.go.id>"}, smime::Blob::from(to_siti));
    REQUIRE(ok.outcome == Outcome::Decrypted);
    CHECK(ok.key_owner == "siti@dinas.example.go.id");
    CHECK(ok.entity.body == "Undangan rapat.\r\n");
    CHECK_THAT(ok.header, Catch::StartsWith("decrypted; recipient=siti@dinas.example.go.id"));

    // Re-sent to another mailbox whose key we hold: Budi's key is not a recipient → unchanged.
    const auto resent = engine::decrypt_inbound(*f.gw, {"budi@dinas.example.go.id"}, smime::Blob::from(to_siti));
    CHECK(resent.outcome == Outcome::NotOurs);
    // Siti plus a mailbox that cannot read it: decrypting would leak it to the other → unchanged.
    const auto mixed = engine::decrypt_inbound(*f.gw, {"siti@dinas.example.go.id", "lurah@dinas.example.go.id"},
                                               smime::Blob::from(to_siti));
    CHECK(mixed.outcome == Outcome::NotOurs);
    CHECK_THAT(mixed.detail, Catch::Contains("lurah@dinas.example.go.id"));
    // EC recipient (ECDH).
    const std::string to_both = encrypted_to({f.siti.cert.get(), f.budi.cert.get()});
    CHECK(engine::decrypt_inbound(*f.gw, {"budi@dinas.example.go.id", "siti@dinas.example.go.id"},
                                  smime::Blob::from(to_both))
              .outcome == Outcome::Decrypted);
    // Plain mail is not touched.
    CHECK(engine::decrypt_inbound(*f.gw, {"siti@dinas.example.go.id"}, smime::Blob::from(k_msg)).outcome ==
          Outcome::NotEncrypted);
    // Truncated in transit: a failure with a reason, and the message is not lost (the caller keeps it).
    const std::string broken = to_siti.substr(0, to_siti.size() - 200) + "\r\n";
    const auto bad = engine::decrypt_inbound(*f.gw, {"siti@dinas.example.go.id"}, smime::Blob::from(broken));
    CHECK(bad.outcome == Outcome::Failed);
    CHECK_THAT(bad.header, Catch::StartsWith("failed;"));
}
