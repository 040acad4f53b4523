// Keys in PKCS#11 tokens (smime/keys.h) against a real SoftHSM2 token made in a
// temp dir, and the RFC 7512 URI parser with hostile input.
#include "engine/gateway.h"
#include "engine/outcome_format.h"
#include "engine/session.h"
#include "smime/certificate.h"
#include "smime/error.h"
#include "smime/keys.h"
#include "smime/pkcs11_uri.h"
#include "smime/sign.h"
#include "smime/verify.h"
#include "tests/support/pki.h"

#include <openssl/pem.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace segel;

namespace {

constexpr const char* k_module = "/usr/lib/softhsm/libsofthsm2.so";

std::string error_of(const std::function<void()>& fn, smime::Category* category = nullptr) {
    try {
        fn();
    } catch (const smime::Error& e) {
        if (category != nullptr) {
            *category = e.category();
        }
        return e.what();
    }
    return "(no error)";
}

/** One SoftHSM2 token "segel" (user PIN 1234) in a directory of its own. */
struct SoftHsm {
    std::string dir;
    std::string tokens;
    std::string pin_file;
    std::string log;

    SoftHsm() {
        char templ[] = "/tmp/segel-unit-hsm-XXXXXX";
        dir = mkdtemp(templ);
        tokens = dir + "/tokens";
        std::filesystem::create_directory(tokens);
        log = dir + "/commands.log";
        test::write_file(dir + "/softhsm2.conf",
                         "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n",
                         0600);
        // Read by the module at C_Initialize; every test process loads SoftHSM only after this.
        ::setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
        run("softhsm2-util --init-token --free --label segel --pin 1234 --so-pin 5678");
        pin_file = test::write_file(dir + "/pin", "1234\n", 0600);
    }
    ~SoftHsm() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    SoftHsm(const SoftHsm&) = delete;
    SoftHsm& operator=(const SoftHsm&) = delete;

    void run(const std::string& command) const {
        const std::string full = command + " >>" + log + " 2>&1";
        if (std::system(full.c_str()) != 0) {
            std::ifstream in(log);
            std::stringstream ss;
            ss << in.rdbuf();
            FAIL("command failed: " << command << "\n" << ss.str());
        }
    }
    /** Imports a PEM private key (it can then never be read back: CKA_SENSITIVE). */
    void import(const std::string& key_file, const std::string& label, const std::string& id_hex) const {
        run("softhsm2-util --import " + key_file + " --token segel --label " + label + " --id " + id_hex +
            " --pin 1234");
    }
    /** Generates a key pair in the token (never extractable) and returns its public key. */
    smime::ossl::Ptr<EVP_PKEY> generate(const std::string& type, const std::string& label,
                                        const std::string& id_hex) const {
        const std::string base =
            std::string("pkcs11-tool --module ") + k_module + " --token-label segel --login --pin 1234";
        run(base + " --keypairgen --key-type " + type + " --id " + id_hex + " --label " + label);
        const std::string out = dir + "/" + label + ".pub.der";
        run(base + " --read-object --type pubkey --id " + id_hex + " -o " + out);
        FILE* f = std::fopen(out.c_str(), "rb");
        REQUIRE(f != nullptr);
        EVP_PKEY* pub = d2i_PUBKEY_fp(f, nullptr);
        std::fclose(f);
        REQUIRE(pub != nullptr);
        return smime::ossl::adopt(pub);
    }
    void store_certificate(X509* cert, const std::string& label, const std::string& id_hex) const {
        const std::string der = dir + "/" + label + ".crt.der";
        FILE* f = std::fopen(der.c_str(), "wb");
        REQUIRE(f != nullptr);
        REQUIRE(i2d_X509_fp(f, cert) == 1);
        std::fclose(f);
        run(std::string("pkcs11-tool --module ") + k_module +
            " --token-label segel --login --pin 1234 --write-object " + der + " --type cert --id " + id_hex +
            " --label " + label);
    }
    smime::TokenKeyRef ref(const std::string& label) const {
        return {"pkcs11:token=segel;object=" + label, k_module, pin_file};
    }
    /** The token goes away, as when it is pulled out (its files are moved). */
    void remove() const { std::filesystem::rename(tokens, tokens + ".away"); }
    void restore() const { std::filesystem::rename(tokens + ".away", tokens); }
};

/** Signs a small message from @p from with @p cred and checks it the way a recipient would. */
smime::VerifyResult sign_and_verify(const test::TestPki& pki, const smime::Credential& cred,
                                    const std::string& from = "siti@dinas.example.go.id") {
    const std::string head = "From: <" + from + ">\r\nTo: kepala@mitra.example\r\nSubject: uji\r\n";
    smime::SignOptions o;
    o.now = test::fixed_now();
    const smime::SignedMessage sm = smime::sign(
        smime::Blob::from(head + "Content-Type: text/plain; charset=us-ascii\r\n\r\nSurat resmi.\r\n"), cred, {}, o);
    const std::string whole = test::signed_message(head, sm);
    smime::VerifyOptions vo;
    vo.now = test::fixed_now();
    return smime::verify(smime::Blob::from(whole), pki.trust(), vo);
}

}  // namespace

TEST_CASE("pkcs11 URI: what is accepted and how it is decoded", "[keys][uri]") {
    const auto u = smime::parse_pkcs11_uri("pkcs11:token=Segel%20HSM;object=siti;id=%01%a0;type=private;serial=42");
    CHECK(u.token == "Segel HSM");
    CHECK(u.object == "siti");
    CHECK(u.id == std::string("\x01\xa0"));
    CHECK(u.type == "private");
    CHECK(u.serial == "42");
    CHECK_FALSE(u.manufacturer);
    CHECK(smime::parse_pkcs11_uri("PKCS11:slot-id=7;id=%02").slot_id == 7UL);
    CHECK(smime::parse_pkcs11_uri("pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2;token=a;object=b:c@d")
              .object == "b:c@d");
    CHECK(smime::pkcs11_uri_escape("Siti Rahma/kunci") == "Siti%20Rahma%2Fkunci");
    CHECK(smime::parse_pkcs11_uri("pkcs11:token=t;object=" + smime::pkcs11_uri_escape("a;b?c%d é")).object ==
          "a;b?c%d é");
}

TEST_CASE("pkcs11 URI: hostile and mistaken input is refused with the fix", "[keys][uri]") {
    const auto [uri, fix] = GENERATE(table<std::string, std::string>({
        {"", "does not start with pkcs11:"},
        {"pkcs1", "does not start with pkcs11:"},
        {"file:/etc/key.pem", "does not start with pkcs11:"},
        {"pkcs11:", "names nothing"},
        {"pkcs11:token=segel;object=siti;pin-value=1234", "the PIN goes in pin_file"},
        {"pkcs11:token=segel;object=siti?pin-source=file:/etc/pin", "the PIN goes in pin_file"},
        {"pkcs11:token=segel;object=siti?module-path=/usr/lib/x.so", "module: key"},
        {"pkcs11:token=segel;object=siti?foo=bar", "query attributes"},
        {"pkcs11:token=segel", "does not name the key"},
        {"pkcs11:object=siti", "does not name the token"},
        {"pkcs11:token=segel;object=siti;object=budi", "object is given twice"},
        {"pkcs11:token=segel;;object=siti", "empty attribute"},
        {"pkcs11:token=segel;object=siti;", "empty attribute"},
        {"pkcs11:token=segel;object", "is not name=value"},
        {"pkcs11:token=segel;=siti", "is not name=value"},
        {"pkcs11:token=segel;object=si%2", "two hex digits"},
        {"pkcs11:token=segel;object=si%zz", "two hex digits"},
        {"pkcs11:token=segel;object=%", "two hex digits"},
        {"pkcs11:token=Segel HSM;object=siti", "space must be written %20"},
        {"pkcs11:token=segel;object=sit\xc3\xa9", "must be percent-encoded"},
        {std::string("pkcs11:token=segel;object=si\0ti", 32), "must be percent-encoded"},
        {"pkcs11:token=segel;object=si\"ti", "must be percent-encoded"},
        {"pkcs11:token=segel;object=siti;type=cert", "does not name a private key"},
        {"pkcs11:token=segel;object=siti;type=public", "does not name a private key"},
        {"pkcs11:slot-id=x;object=siti", "decimal number"},
        {"pkcs11:slot-id=99999999999999999999;object=siti", "decimal number"},
        {"pkcs11:token=segel;object=siti;library-description=x", "not used to select keys"},
        {"pkcs11:token=segel;object=siti;x-vendor=1", "not used to select keys"},
        {"pkcs11:token=segel;object=siti;colour=red", "unknown attribute \"colour\""},
        {"pkcs11:token=segel;object=" + std::string(5000, 'a'), "longer than 4096"},
    }));
    CAPTURE(uri);
    smime::Category category = smime::Category::Internal;
    const std::string what = error_of([&, uri = uri] { (void)smime::parse_pkcs11_uri(uri); }, &category);
    CHECK(category == smime::Category::Credential);
    CHECK_THAT(what, Catch::Contains(fix));
    CHECK_THAT(what, !Catch::Contains("1234"));  // a PIN never appears in a message
}

TEST_CASE("pkcs11 URI: a thousand attributes and every byte value do not break the parser", "[keys][uri]") {
    std::string many = "pkcs11:token=t;object=o";
    for (int i = 0; i < 1000; ++i) {
        many += ";id=%0" + std::to_string(i % 10);
    }
    CHECK_THAT(error_of([&] { (void)smime::parse_pkcs11_uri(many); }), Catch::Contains("longer than 4096"));
    for (int b = 0; b < 256; ++b) {
        const std::string uri = "pkcs11:token=t;object=a" + std::string(1, static_cast<char>(b)) + "b";
        try {
            const auto u = smime::parse_pkcs11_uri(uri);
            // Accepted bytes are exactly the unescaped ones RFC 7512 allows (';' ends the value).
            CHECK((u.object == "a" + std::string(1, static_cast<char>(b)) + "b" || b == ';'));
        } catch (const smime::Error& e) {
            CHECK(e.category() == smime::Category::Credential);
        }
    }
}

TEST_CASE("pkcs11: RSA key imported into a SoftHSM token signs; certificate from a file", "[keys][softhsm]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto leaf = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    hsm.import(leaf.key_file, "siti", "01");
    const smime::Credential cred = smime::load_pkcs11(hsm.ref("siti"), leaf.cert_file);
    CHECK(cred.key->in_token());
    CHECK(cred.key->describe() == "pkcs11:token=segel;object=siti");
    CHECK(cred.source == "pkcs11:token=segel;object=siti");
    CHECK(cred.info.addresses == std::vector<std::string>{"siti@dinas.example.go.id"});
    CHECK(cred.chain.size() == 1);  // the intermediate after the certificate in the file
    const auto r = sign_and_verify(pki, cred);
    CHECK(r.result == smime::AuthResult::Pass);
    CHECK(r.serial == cred.info.serial);
}

TEST_CASE("pkcs11: EC P-256 key generated in the token, certificate stored in the token", "[keys][softhsm]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto pub = hsm.generate("EC:prime256v1", "budi", "02");
    const auto issued = pki.issue_for({"Budi", "budi@dinas.example.go.id", true}, pub.get());
    hsm.store_certificate(issued.cert.get(), "budi", "02");
    const smime::Credential cred = smime::load_pkcs11({"pkcs11:token=segel;id=%02", k_module, hsm.pin_file});
    CHECK(X509_cmp(cred.cert.get(), issued.cert.get()) == 0);
    CHECK(cred.info.key_type == "EC P-256");
    const auto r = sign_and_verify(pki, cred, "budi@dinas.example.go.id");
    CHECK(r.result == smime::AuthResult::Pass);
    CHECK(r.identifier == "budi@dinas.example.go.id");
}

TEST_CASE("pkcs11: configuration mistakes are refused at load, naming the fix", "[keys][softhsm]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const auto other = pki.issue({"Budi", "budi@dinas.example.go.id"});
    hsm.import(siti.key_file, "siti", "01");
    hsm.import(other.key_file, "twin", "07");
    hsm.import(other.key_file, "twin", "08");
    auto load = [&](smime::TokenKeyRef ref, const std::string& cert = {}) {
        smime::Category c = smime::Category::Internal;
        const std::string what = error_of([&] { (void)smime::load_pkcs11(ref, cert); }, &c);
        CHECK(c == smime::Category::Credential);
        return what;
    };
    CHECK_THAT(load(hsm.ref("nobody"), siti.cert_file),
               Catch::Contains("no such private key in token \"segel\"") && Catch::Contains("\"siti\" id=%01"));
    CHECK_THAT(load({"pkcs11:token=elsewhere;object=siti", k_module, hsm.pin_file}, siti.cert_file),
               Catch::Contains("no such token") && Catch::Contains("tokens present: \"segel\""));
    CHECK_THAT(load(hsm.ref("twin"), other.cert_file),
               Catch::Contains("2 private keys match") && Catch::Contains("add id="));
    CHECK_THAT(load(hsm.ref("siti"), other.cert_file), Catch::Contains("does not sign for the certificate"));
    CHECK_THAT(load(hsm.ref("siti")), Catch::Contains("holds no certificate for this key"));
    CHECK_THAT(load({"pkcs11:token=segel;object=siti", "/nonexistent/module.so", hsm.pin_file}, siti.cert_file),
               Catch::Contains("cannot read PKCS#11 module /nonexistent/module.so"));
    CHECK_THAT(load({"pkcs11:token=segel;object=siti", "libsofthsm2.so", hsm.pin_file}, siti.cert_file),
               Catch::Contains("must be an absolute path"));
    CHECK_THAT(load({"pkcs11:token=segel;object=siti", k_module, ""}, siti.cert_file),
               Catch::Contains("requires a PIN: give the credential a pin_file"));
    const std::string open_pin = test::write_file(hsm.dir + "/pin.open", "1234", 0644);
    CHECK_THAT(load({"pkcs11:token=segel;object=siti", k_module, open_pin}, siti.cert_file),
               Catch::Contains("may be read by other users (mode 0644): run chmod 600"));
}

TEST_CASE("pkcs11: a wrong PIN is not tried again until the PIN file changes", "[keys][softhsm]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    hsm.import(siti.key_file, "siti", "01");
    const std::string wrong = test::write_file(hsm.dir + "/pin.wrong", "9999\n", 0600);
    const smime::TokenKeyRef ref{"pkcs11:token=segel;object=siti", k_module, wrong};
    CHECK_THAT(error_of([&] { (void)smime::load_pkcs11(ref, siti.cert_file); }),
               Catch::Contains("refused the PIN in " + wrong) && Catch::Contains("wrong PIN (CKR_PIN_INCORRECT)") &&
                   !Catch::Contains("9999"));
    CHECK_THAT(error_of([&] { (void)smime::load_pkcs11(ref, siti.cert_file); }),
               Catch::Contains("it is not tried again until that file changes"));
    test::write_file(wrong, "1234\n", 0600);  // corrected (a new inode or mtime)
    const auto cred = smime::load_pkcs11(ref, siti.cert_file);
    CHECK(sign_and_verify(pki, cred).result == smime::AuthResult::Pass);
}

TEST_CASE("pkcs11: a token that goes away fails as unavailable and recovers by itself", "[keys][softhsm]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    hsm.import(siti.key_file, "siti", "01");
    const auto cred = smime::load_pkcs11(hsm.ref("siti"), siti.cert_file);
    REQUIRE(sign_and_verify(pki, cred).result == smime::AuthResult::Pass);

    hsm.remove();
    smime::Category category = smime::Category::Internal;
    std::string what = error_of([&] { (void)sign_and_verify(pki, cred); }, &category);
    CHECK(category == smime::Category::Unavailable);
    CHECK_THAT(what, Catch::Contains("signing with the key pkcs11:token=segel;object=siti") &&
                         Catch::Contains("reconnected at the next message"));
    // Still away: the reconnect fails, and says why.
    what = error_of([&] { (void)sign_and_verify(pki, cred); }, &category);
    CHECK(category == smime::Category::Unavailable);
    CHECK_THAT(what, Catch::Contains("tried again at the next message"));

    hsm.restore();
    CHECK(sign_and_verify(pki, cred).result == smime::AuthResult::Pass);
    CHECK(sign_and_verify(pki, cred).result == smime::AuthResult::Pass);
}

TEST_CASE("pkcs11: a key added to the token is found by a later load while the first stays in use", "[keys][softhsm]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    hsm.import(siti.key_file, "siti", "01");
    const auto first = smime::load_pkcs11(hsm.ref("siti"), siti.cert_file);
    // A renewal: a new key put in the token while the milter runs, then a reload.
    const auto renewed = pki.issue({"Siti Rahma", "siti@dinas.example.go.id", false, -1});
    hsm.import(renewed.key_file, "siti-2027", "02");
    const auto second = smime::load_pkcs11(hsm.ref("siti-2027"), renewed.cert_file);
    CHECK(sign_and_verify(pki, second).serial == second.info.serial);
    CHECK(sign_and_verify(pki, first).serial == first.info.serial);
}

TEST_CASE("pkcs11: through a Session the Outcome names a key in a token; a token away defers, then recovers",
          "[keys][softhsm][engine]") {
    test::TestPki pki;
    SoftHsm hsm;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    hsm.import(siti.key_file, "siti", "01");
    const std::string cfg = "milter:\n  internal_networks: [10.0.0.0/8]\ntrust:\n  anchors: [" + pki.root_file() +
                            "]\n  intermediates: [" + pki.intermediate_file() +
                            "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\ncredentials:\n"
                            "  - pkcs11: \"pkcs11:token=segel;object=siti\"\n    module: " +
                            std::string(k_module) + "\n    pin_file: " + hsm.pin_file +
                            "\n    certificate: " + siti.cert_file + "\n";
    const auto gw = engine::Gateway::load(test::write_file(pki.dir() + "/segel.yaml", cfg));
    engine::Transcript t;
    t.connection.client_ip = "192.0.2.10";
    t.login = "siti@dinas.example.go.id";
    t.mail_from = "siti@dinas.example.go.id";
    t.recipients = {"a@example.org"};
    const std::string msg = "From: <siti@dinas.example.go.id>\r\nTo: a@example.org\r\nSubject: uji\r\n\r\nIsi.\r\n";
    auto submit = [&] { return engine::process(gw, t, msg, [] { return test::fixed_now(); }); };

    const auto signed_ = submit();
    REQUIRE(signed_.outcome.decision == engine::Decision::Sign);
    REQUIRE(signed_.outcome.certificate);
    CHECK(signed_.outcome.certificate->key_store == "pkcs11");
    CHECK(signed_.outcome.certificate->source == "pkcs11:token=segel;object=siti");
    CHECK_THAT(engine::log_lines(signed_.outcome).at(0).text, Catch::Contains(" key=pkcs11 "));
    CHECK_THAT(test::compact_json(engine::to_json(signed_.outcome, false)),
               Catch::Contains("\"key_store\":\"pkcs11\""));
    CHECK_FALSE(signed_.outcome.time_stamp);  // the domain asks for none

    hsm.remove();
    const auto away = submit();
    CHECK(away.outcome.decision == engine::Decision::Defer);
    CHECK(away.reply.code == "451");
    CHECK(away.outcome.reply_xcode == "4.3.0");
    CHECK_FALSE(away.outcome.error);  // a deferral, not an internal error
    REQUIRE_FALSE(away.outcome.notes.empty());
    CHECK_THAT(away.outcome.notes.back(),
               Catch::StartsWith("eom: unavailable: signing with the key pkcs11:token=segel;object=siti"));
    CHECK(away.actions.message().find("application/pkcs7-signature") == std::string::npos);

    hsm.restore();
    CHECK(submit().outcome.decision == engine::Decision::Sign);
}
