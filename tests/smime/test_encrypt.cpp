// Encryption and decryption: round trips through our own code, through
// `openssl cms`, and the encrypted messages of the shared interop corpus
// (NSS/Thunderbird, OpenSSL, Outlook 2010, DIRECT project).
#include "smime/base64.h"
#include "smime/decrypt.h"
#include "smime/encrypt.h"
#include "smime/error.h"
#include "smime/mime/mime.h"
#include "smime/ossl/der.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace segel;

namespace {

const std::string k_entity =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Rapat koordinasi anggaran, Senin 09.00 WIB. Rahasia.\r\n";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string shared_dir() {
    const char* env = std::getenv("SEGEL_SHARED");
    return env != nullptr ? env : "/work/shared";
}

/** The whole message as a mail client would receive it. */
std::string assemble(const smime::EncryptedMessage& m) {
    std::string out = "From: siti@dinas.example.go.id\r\nTo: budi@dinas.example.go.id\r\nSubject: t\r\n";
    for (const auto& h : m.headers) {
        out += h.name + ": " + h.value + "\r\n";
    }
    return out + "\r\n" + std::string(m.body.view());
}

std::vector<smime::ossl::Ptr<X509>> certs(std::initializer_list<X509*> list) {
    std::vector<smime::ossl::Ptr<X509>> out;
    for (X509* c : list) {
        out.push_back(smime::ossl::retain(c));
    }
    return out;
}

smime::EncryptedContent parse_message(const std::string& message) {
    const auto der = smime::pkcs7_mime_der(smime::Blob::from(message));
    REQUIRE(der);
    auto ec = smime::EncryptedContent::parse(*der);
    REQUIRE(ec);
    return std::move(*ec);
}

struct Fixture {
    test::TestPki pki;
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    test::Issued budi_ec = pki.issue({"Budi", "budi@dinas.example.go.id", true});
    test::Issued eve = pki.issue({"Eve", "eve@dinas.example.go.id"});
};

/** A key from the corpus: PKCS#12 copied to a private file (load_pkcs12 refuses readable keys). */
smime::Credential corpus_key(const test::TestPki& pki, const std::string& rel, const std::string& pass) {
    const std::string name = std::filesystem::path(rel).filename().string();
    const std::string p12 = test::write_file(pki.dir() + "/" + name, slurp(shared_dir() + "/interop/" + rel));
    const std::string pf = test::write_file(pki.dir() + "/" + name + ".pass", pass);
    return smime::load_pkcs12(p12, pf);
}

}  // namespace

TEST_CASE("encrypt: round trip for RSA and EC recipients, every cipher", "[encrypt]") {
    Fixture f;
    const auto [cipher, type, name] =
        GENERATE(std::make_tuple(smime::ContentCipher::Aes256Cbc, "enveloped-data", "aes-256-cbc"),
                 std::make_tuple(smime::ContentCipher::Aes128Gcm, "authEnveloped-data", "aes-128-gcm"),
                 std::make_tuple(smime::ContentCipher::Aes256Gcm, "authEnveloped-data", "aes-256-gcm"));
    smime::EncryptOptions o;
    o.cipher = cipher;
    const auto m = smime::encrypt_entity(k_entity, certs({f.siti.cert.get(), f.budi_ec.cert.get()}), o);
    CHECK(m.recipient_count == 2);
    const std::string msg = assemble(m);
    CHECK(msg.find(std::string("smime-type=") + type) != std::string::npos);
    auto ec = parse_message(msg);
    CHECK(ec.smime_type() == type);
    CHECK(ec.cipher() == name);
    CHECK(ec.recipient_count() == 2);
    CHECK(ec.addressed_to(f.siti.cert.get()));
    CHECK(ec.addressed_to(f.budi_ec.cert.get()));
    CHECK_FALSE(ec.addressed_to(f.eve.cert.get()));

    const auto as_siti = ec.decrypt(f.siti.cert.get(), f.siti.key.get());
    REQUIRE(as_siti.status == smime::DecryptStatus::Decrypted);
    CHECK(as_siti.entity == k_entity);
    auto again = parse_message(msg);
    const auto as_budi = again.decrypt(f.budi_ec.cert.get(), f.budi_ec.key.get());
    REQUIRE(as_budi.status == smime::DecryptStatus::Decrypted);
    CHECK(as_budi.entity == k_entity);
}

namespace {

/** The DER of @p m's body, changed by @p change, written back as the body (what a fault would leave). */
template <typename F>
void damage(smime::EncryptedMessage& m, F change) {
    auto der = smime::base64::decode(m.body.view());
    REQUIRE(der);
    change(*der);
    m.body = smime::Blob::from(smime::base64::encode_lines(*der));
}

/** The version INTEGER of an (Auth)EnvelopedData: ContentInfo → [0] → SEQUENCE { version, … }. */
int envelope_version(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    smime::ossl::Tlv ci, type, explicit0, env, version;
    REQUIRE(smime::ossl::read_tlv(p, p + der.size(), ci));
    const unsigned char* c = ci.content;
    REQUIRE((smime::ossl::read_tlv(c, ci.end, type) && smime::ossl::read_tlv(c, ci.end, explicit0)));
    const unsigned char* e = explicit0.content;
    REQUIRE(smime::ossl::read_tlv(e, explicit0.end, env));
    const unsigned char* v = env.content;
    REQUIRE(smime::ossl::read_tlv(v, env.end, version));
    REQUIRE(version.end - version.content == 1);
    return version.content[0];
}

const auto k_ciphers = {smime::ContentCipher::Aes256Cbc, smime::ContentCipher::Aes128Gcm,
                        smime::ContentCipher::Aes256Gcm};

/** Options for each cipher of k_ciphers (a Catch2 generator). */
smime::EncryptOptions each_cipher() {
    smime::EncryptOptions o;
    o.cipher = GENERATE(values(k_ciphers));
    return o;
}

}  // namespace

TEST_CASE("encrypt: the self-check opens what was made, with no private key, once", "[encrypt]") {
    Fixture f;
    const smime::EncryptOptions o = each_cipher();
    const auto to = certs({f.siti.cert.get(), f.budi_ec.cert.get()});
    auto m = smime::encrypt_entity(k_entity, to, o);
    REQUIRE(m.witness);
    CHECK(smime::check_encrypted(m, k_entity, to).empty());
    CHECK_FALSE(m.witness);  // consumed: nothing proves a second message with it
    CHECK_FALSE(smime::check_encrypted(m, k_entity, to).empty());
    // The witness is in no byte that leaves: exactly the two recipients' RecipientInfos.
    CHECK(parse_message(assemble(m)).recipient_count() == 2);
}

TEST_CASE("encrypt: the self-check compares a content of many pieces to its last byte", "[encrypt]") {
    Fixture f;
    const smime::EncryptOptions o = each_cipher();
    const auto to = certs({f.siti.cert.get()});
    std::string big;
    for (int i = 0; big.size() < 200 * 1024; ++i) {
        big += "line " + std::to_string(i) + " of a long signed entity\r\n";
    }
    auto m = smime::encrypt_entity(big, to, o);
    CHECK(smime::check_encrypted(m, big, to).empty());
    std::string last_differs = big;
    last_differs.back() = 'x';
    auto a = smime::encrypt_entity(big, to, o);
    CHECK(smime::check_encrypted(a, last_differs, to) ==
          "the content decrypts to something other than the signed entity");
    auto b = smime::encrypt_entity(big, to, o);
    CHECK(smime::check_encrypted(b, big.substr(0, big.size() - 1), to) ==
          "the content decrypts to something other than the signed entity");
    auto c = smime::encrypt_entity(big, to, o);
    CHECK(smime::check_encrypted(c, big + "\r\n", to) ==
          "the content decrypts to something other than the signed entity");
    // The check reads in pieces sized by the entity it expects: a short entity against a long
    // content takes many small reads, and still sees the difference.
    auto d = smime::encrypt_entity(big, to, o);
    CHECK(smime::check_encrypted(d, big.substr(0, 10), to) ==
          "the content decrypts to something other than the signed entity");
    const std::string small = "Content-Type: text/plain\r\n\r\nsmall\r\n";
    auto e = smime::encrypt_entity(small, to, o);
    CHECK(smime::check_encrypted(e, small, to).empty());
}

TEST_CASE("encrypt: the self-check catches a damaged ciphertext or body", "[encrypt]") {
    Fixture f;
    const auto cipher = GENERATE(values(k_ciphers));
    // From the end: inside the last CBC block; inside the GCM ciphertext (before the 16-byte tag).
    const std::size_t from_end = GENERATE(as<std::size_t>{}, 5, 40);
    smime::EncryptOptions o;
    o.cipher = cipher;
    const auto to = certs({f.siti.cert.get()});
    auto m = smime::encrypt_entity(k_entity, to, o);
    damage(m, [&](std::string& der) {
        char& byte = der[der.size() - from_end];
        byte = static_cast<char>(byte ^ 0x01);
    });
    CHECK_FALSE(smime::check_encrypted(m, k_entity, to).empty());

    auto broken = smime::encrypt_entity(k_entity, to, o);
    broken.body = smime::Blob::from("this is not base64 at all!\r\n");
    CHECK(smime::check_encrypted(broken, k_entity, to) == "the encrypted body is not base64");
}

TEST_CASE("encrypt: the self-check catches a content key that is not this message's", "[encrypt]") {
    Fixture f;
    const smime::EncryptOptions o = each_cipher();
    const auto to = certs({f.siti.cert.get()});
    auto a = smime::encrypt_entity(k_entity, to, o);
    auto b = smime::encrypt_entity(k_entity, to, o);
    std::swap(a.witness, b.witness);  // each now holds the other message's key
    CHECK_FALSE(smime::check_encrypted(a, k_entity, to).empty());
    CHECK_FALSE(smime::check_encrypted(b, k_entity, to).empty());
    auto c = smime::encrypt_entity(k_entity, to, o);
    CHECK(smime::check_encrypted(c, k_entity + "x", to) ==
          "the content decrypts to something other than the signed entity");
}

TEST_CASE("encrypt: the self-check requires a RecipientInfo for exactly the recipients", "[encrypt]") {
    Fixture f;
    const auto to = certs({f.siti.cert.get(), f.budi_ec.cert.get()});
    auto fewer = smime::encrypt_entity(k_entity, to, {});
    CHECK_FALSE(smime::check_encrypted(fewer, k_entity, certs({f.siti.cert.get()})).empty());
    auto other = smime::encrypt_entity(k_entity, to, {});
    CHECK_FALSE(smime::check_encrypted(other, k_entity, certs({f.siti.cert.get(), f.eve.cert.get()})).empty());
    auto more = smime::encrypt_entity(k_entity, to, {});
    CHECK_FALSE(
        smime::check_encrypted(more, k_entity, certs({f.siti.cert.get(), f.budi_ec.cert.get(), f.eve.cert.get()}))
            .empty());
}

TEST_CASE("encrypt: the EnvelopedData version is what openssl cms -encrypt writes (RFC 5652 §6.1)",
          "[encrypt][interop]") {
    Fixture f;
    const auto [ec_recipient, version] = GENERATE(std::make_tuple(false, 0), std::make_tuple(true, 2));
    const test::Issued& second = ec_recipient ? f.budi_ec : f.eve;
    const auto m = smime::encrypt_entity(k_entity, certs({f.siti.cert.get(), second.cert.get()}), {});
    const auto ours = smime::base64::decode(m.body.view());
    REQUIRE(ours);
    CHECK(envelope_version(*ours) == version);

    const std::string plain = test::write_file(f.pki.dir() + "/plain.txt", k_entity);
    const std::string out = f.pki.dir() + "/theirs.der";
    const std::string cmd = "openssl cms -encrypt -binary -aes-256-cbc -outform DER -in " + plain + " -out " + out +
                            " " + f.siti.cert_file + " " + second.cert_file + " 2>" + f.pki.dir() + "/err.txt";
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(envelope_version(slurp(out)) == version);
}

TEST_CASE("encrypt: the body is 7-bit base64 in lines of at most 76", "[encrypt]") {
    Fixture f;
    const auto m = smime::encrypt_entity(k_entity, certs({f.siti.cert.get()}), {});
    std::istringstream lines{std::string(m.body.view())};
    for (std::string line; std::getline(lines, line);) {
        REQUIRE(line.back() == '\r');
        CHECK(line.size() <= 77);
    }
}

TEST_CASE("decrypt: a key that is not a recipient is never tried", "[decrypt]") {
    Fixture f;
    const auto m = smime::encrypt_entity(k_entity, certs({f.siti.cert.get()}), {});
    auto ec = parse_message(assemble(m));
    // Eve's certificate is not addressed; and Siti's certificate with Eve's key fails, never "succeeds".
    CHECK(ec.decrypt(f.eve.cert.get(), f.eve.key.get()).status == smime::DecryptStatus::NotAddressed);
    CHECK(ec.decrypt(f.siti.cert.get(), f.eve.key.get()).status == smime::DecryptStatus::Failed);
}

TEST_CASE("decrypt: altered GCM ciphertext fails the tag check", "[decrypt]") {
    Fixture f;
    smime::EncryptOptions o;
    o.cipher = smime::ContentCipher::Aes256Gcm;
    const auto m = smime::encrypt_entity(k_entity, certs({f.siti.cert.get()}), o);
    auto der = smime::base64::decode(m.body.view());
    REQUIRE(der);
    // The ciphertext sits just before the 16-byte tag at the end; flip one byte of it.
    (*der)[der->size() - 40] = static_cast<char>((*der)[der->size() - 40] ^ 0x01);
    auto ec = smime::EncryptedContent::parse(*der);
    REQUIRE(ec);
    const auto r = ec->decrypt(f.siti.cert.get(), f.siti.key.get());
    CHECK(r.status == smime::DecryptStatus::Failed);
    CHECK(r.entity.empty());
}

TEST_CASE("decrypt: what is not encrypted is recognised", "[decrypt]") {
    CHECK_FALSE(smime::pkcs7_mime_der(smime::Blob::from("Subject: x\r\nContent-Type: text/plain\r\n\r\nhi\r\n")));
    CHECK_THROWS_AS(smime::EncryptedContent::parse("not der at all"), smime::Error);
}

TEST_CASE("decrypt: pkcs7_mime_der gives GMime's bytes when the base64 ends in a partial quantum", "[decrypt]") {
    // Found by fuzz_pkcs7_mime: the shortcut that decodes the body straight from the spool
    // turned a last quantum of two or three characters (no padding, or too little) into its
    // one or two bytes, where GMime, which the rest of the gateway reads the message with,
    // drops it: the DER differed by up to two bytes at its end.
    smime::mime::init();
    for (const std::string tail : {"QUJDRA", "QUJDREU", "QUJDRA=", "QUJDRA==", "QUJDREU=", "QUJD"}) {
        INFO(tail);
        const auto blob = smime::Blob::from(
            "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; "
            "smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB" +
            tail + "\r\n");
        const auto msg = smime::mime::parse_message(blob);
        GMimeObject* part = g_mime_message_get_mime_part(msg.get());
        REQUIRE(GMIME_IS_PART(part));
        CHECK(smime::pkcs7_mime_der(blob) == smime::mime::decoded_content(GMIME_PART(part)));
    }
}

TEST_CASE("decrypt: pkcs7_mime_der does not open a damaged head that speaks of pkcs7; other mail is not its business",
          "[decrypt]") {
    // Found by fuzz_pkcs7_mime (fuzz/corpus/pkcs7_mime/regress-*): GMime and the head-only reading
    // took such heads apart differently and decoded different bytes, or disagreed that the message
    // is pkcs7-mime at all. Readers disagree there, so it is not opened, like a head with two
    // Content-Type fields.
    smime::mime::init();
    const auto damaged = [](std::string message) {
        try {
            static_cast<void>(smime::pkcs7_mime_der(smime::Blob::from(message)));
        } catch (const smime::Error& e) {
            CHECK(e.category() == smime::Category::Malformed);
            return std::string(e.what());
        }
        return std::string("not refused");
    };
    const std::string nul_name("Content-Transfer-Encoding\0\0: base64\n", 37);
    // regress-stray-line: a line that is no field, and no blank line before the body.
    CHECK(damaged("From: a@example.org\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
                  "Content-Transfer-Encoding: base64\nContent-DescMIIBQUJD\nQUJDREU=\n") ==
          "the message header is damaged (a line that is no field, with no blank line before the body)");
    // regress-bare-cr: a CR that does not end a line, in the Content-Transfer-Encoding field.
    CHECK(damaged("From: a@example.org\r\nContent-Type: application/pkcs7-mime\r\n"
                  "Content-Transfer-Encoding: base64\r\xd0\n\r\nMIIBQUJD\r\n") ==
          "the message header is damaged (it holds a CR that does not end a line)");
    // regress-nul-name: NUL bytes after a field name (GMime reads the name up to them).
    CHECK(damaged("From: a@example.org\nContent-Type: application/pkcs7-mime\n" + nul_name + "\nMIIBQUJD\n") ==
          "the message header is damaged (it holds a NUL byte)");
    // regress-bare-cr-type: a CR inside the word (GMime still reads application/pkcs7-mime).
    CHECK(damaged("From: a@example.org\r\nContent-Type: application/pkcs\r7-mime\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\nMIIBQUJD\r\n") ==
          "the message header is damaged (it holds a CR that does not end a line)");
    // The same damage in mail that says nothing of pkcs7: not an encrypted message, nothing refused.
    for (const std::string& plain :
         std::vector<std::string>{"From: a@example.org\nContent-Type: text/plain\nno field\nbody\n",
                                  "From: a@example.org\r\nSubject: a\rb\r\nContent-Type: text/plain\r\n\r\nbody\r\n",
                                  "From: a@example.org\nContent-Type: text/plain\n" + nul_name + "\nbody\n"}) {
        CHECK(damaged(plain) == "not refused");
        CHECK_FALSE(smime::pkcs7_mime_der(smime::Blob::from(plain)));
    }
}

TEST_CASE("decrypt: split_entity keeps folding and makes CRLF", "[decrypt]") {
    const auto e = smime::split_entity("Content-Type: multipart/mixed;\n\tboundary=\"b\"\nX: y\n\nline 1\nline 2\n");
    REQUIRE(e.headers.size() == 1);  // X is not a Content-* field: never applied
    CHECK(e.headers[0].value == "multipart/mixed;\n\tboundary=\"b\"");
    CHECK(e.ignored == std::vector<std::string>{"X"});
    CHECK(e.body == "line 1\r\nline 2\r\n");
    const auto bare = smime::split_entity("no header here\nat all\n");
    CHECK(bare.headers.empty());
    CHECK(bare.body == "no header here\r\nat all\r\n");
    CHECK_THROWS_AS(smime::split_entity("Content-Type: text/plain\r\nnot a field\r\n\r\nbody"), smime::Error);
}

TEST_CASE("encrypt: openssl cms -decrypt reads what we write (RSA, EC; CBC, GCM)", "[encrypt][interop]") {
    Fixture f;
    const auto [cipher, ec_recipient] = GENERATE(std::make_tuple(smime::ContentCipher::Aes256Cbc, false),
                                                 std::make_tuple(smime::ContentCipher::Aes256Cbc, true),
                                                 std::make_tuple(smime::ContentCipher::Aes128Gcm, false),
                                                 std::make_tuple(smime::ContentCipher::Aes256Gcm, true));
    smime::EncryptOptions o;
    o.cipher = cipher;
    const test::Issued& who = ec_recipient ? f.budi_ec : f.siti;
    const auto m = smime::encrypt_entity(k_entity, certs({f.eve.cert.get(), who.cert.get()}), o);
    const std::string in = test::write_file(f.pki.dir() + "/enc.eml", assemble(m));
    const std::string out = f.pki.dir() + "/dec.txt";
    const std::string cmd = "openssl cms -decrypt -binary -in " + in + " -inkey " + who.key_file + " -recip " +
                            who.cert_file + " -out " + out + " 2>" + f.pki.dir() + "/err.txt";
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(slurp(out) == k_entity);
}

TEST_CASE("encrypt: we read what openssl cms -encrypt writes (RSA, EC; CBC, GCM)", "[decrypt][interop]") {
    Fixture f;
    const auto [cipher, ec_recipient] =
        GENERATE(std::make_tuple("-aes-128-cbc", false), std::make_tuple("-aes-256-cbc", true),
                 std::make_tuple("-aes-256-gcm", false), std::make_tuple("-aes-128-gcm", true));
    const test::Issued& who = ec_recipient ? f.budi_ec : f.siti;
    const std::string plain = test::write_file(f.pki.dir() + "/plain.txt", k_entity);
    const std::string out = f.pki.dir() + "/enc.eml";
    const std::string cmd = std::string("openssl cms -encrypt -binary ") + cipher + " -in " + plain + " -out " + out +
                            " " + who.cert_file + " 2>" + f.pki.dir() + "/err.txt";
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto ec = parse_message(slurp(out));
    const auto r = ec.decrypt(who.cert.get(), who.key.get());
    REQUIRE(r.status == smime::DecryptStatus::Decrypted);
    CHECK(r.entity == k_entity);
}

TEST_CASE("decrypt: the interop corpus decrypts as MANIFEST.md says", "[decrypt][interop]") {
    test::TestPki pki;  // for its private temp dir
    struct Row {
        std::string message;
        std::string p12;
        std::string pass;
        smime::DecryptStatus expected;
        std::string needle;  ///< expected in the plaintext
        std::string cipher;
    };
    const std::vector<Row> rows = {
        {"thunderbird-nss/smime/alice.env.eml", "thunderbird-nss/smime/Bob.p12", "nss", smime::DecryptStatus::Decrypted,
         "This is a test message from Alice to Bob.", "aes-128-cbc"},
        {"thunderbird-nss/smime/alice.dsig.SHA256.multipart.env.eml", "thunderbird-nss/smime/Bob.p12", "nss",
         smime::DecryptStatus::Decrypted, "multipart/signed", "aes-128-cbc"},
        {"thunderbird-nss/smime/alice.sig.SHA512.opaque.env.eml", "thunderbird-nss/smime/Bob.p12", "nss",
         smime::DecryptStatus::Decrypted, "signed-data", "aes-128-cbc"},
        {"thunderbird-nss/smime-interop/fran-oaep_ossl.env", "thunderbird-nss/smime/Fran.p12", "nss",
         smime::DecryptStatus::Decrypted, "This is a test message to Fran.", "des-ede3-cbc"},
        {"thunderbird-nss/smime-interop/fran-oaep-label_ossl.env", "thunderbird-nss/smime/Fran.p12", "nss",
         smime::DecryptStatus::Decrypted, "This is a test message to Fran.", "aes-256-cbc"},
        {"thunderbird-nss/smime-interop/fran-oaep-sha256hash_ossl.env", "thunderbird-nss/smime/Fran.p12", "nss",
         smime::DecryptStatus::Decrypted, "This is a test message to Fran.", "aes-128-cbc"},
        {"thunderbird-nss/smime-interop/fran-oaep-sha256hash-sha256mgf_ossl.env", "thunderbird-nss/smime/Fran.p12",
         "nss", smime::DecryptStatus::Decrypted, "This is a test message to Fran.", "aes-256-cbc"},
        {"thunderbird-nss/smime-interop/fran-ec_ossl-aes128-sha256.env", "thunderbird-nss/smime/Fran-ec.p12", "nss",
         smime::DecryptStatus::Decrypted, "This is a test message to Fran.", "aes-128-cbc"},
        {"thunderbird-nss/smime-interop/fran-ec_ossl-aes256-sha512.env", "thunderbird-nss/smime/Fran-ec.p12", "nss",
         smime::DecryptStatus::Decrypted, "This is a test message to Fran.", "aes-256-cbc"},
        {"bouncycastle-mail/outlook_2010_beta_sime_msg.eml", "bouncycastle-mail/johndoe.p12", "",
         smime::DecryptStatus::Decrypted, "Created with Outlook 2010 Beta", "des-ede3-cbc"},
    };
    for (const auto& row : rows) {
        INFO(row.message);
        const auto key = corpus_key(pki, row.p12, row.pass);
        auto ec = parse_message(slurp(shared_dir() + "/interop/" + row.message));
        CHECK(ec.cipher() == row.cipher);
        const auto r = ec.decrypt(key.cert.get(), key.key->use().get());
        INFO(r.detail);
        REQUIRE(r.status == row.expected);
        CHECK(r.entity.find(row.needle) != std::string::npos);
        CHECK_NOTHROW(smime::split_entity(r.entity));
    }
}

TEST_CASE("decrypt: DIRECT-project messages: AES-192 decrypts, 24-byte keys for AES-128/256 are malformed",
          "[decrypt][interop]") {
    test::TestPki pki;
    const std::string dir = shared_dir() + "/interop/bouncycastle-mail/";
    const std::string key_file = test::write_file(pki.dir() + "/key.pem", slurp(dir + "key.pem"));
    const auto key = smime::load_pem(dir + "cert.pem", key_file);
    const auto [file, expected] = GENERATE(std::make_tuple("test192.message", smime::DecryptStatus::Decrypted),
                                           std::make_tuple("test128.message", smime::DecryptStatus::Malformed),
                                           std::make_tuple("test256.message", smime::DecryptStatus::Malformed));
    INFO(file);
    auto ec = parse_message(slurp(dir + file));
    const auto r = ec.decrypt(key.cert.get(), key.key->use().get());
    INFO(r.detail);
    CHECK(r.status == expected);
    if (expected == smime::DecryptStatus::Decrypted) {
        CHECK(r.entity.find("Ciao from vienna") != std::string::npos);
    } else {
        CHECK(r.entity.empty());
        CHECK(r.detail.find("does not fit") != std::string::npos);
    }
}

TEST_CASE("decrypt: a mislabelled EnvelopedData is found by its CMS type; no key, not addressed",
          "[decrypt][interop]") {
    test::TestPki pki;
    const std::string dir = shared_dir() + "/interop/bouncycastle-mail/";
    // .NET labels it smime-type=signed-data; the CMS says EnvelopedData (MANIFEST finding 4).
    auto ec = parse_message(slurp(dir + "dotnet_encrypted_mail.eml"));
    CHECK(ec.smime_type() == "enveloped-data");
    CHECK(ec.cipher() == "des-ede3-cbc");
    const auto key = corpus_key(pki, "thunderbird-nss/smime/Bob.p12", "nss");
    CHECK(ec.decrypt(key.cert.get(), key.key->use().get()).status == smime::DecryptStatus::NotAddressed);
    // brokenEnv.message: pkcs7 content that is no enveloped structure; must not crash.
    CHECK_NOTHROW([&] {
        try {
            const auto der = smime::pkcs7_mime_der(smime::Blob::from(slurp(dir + "brokenEnv.message")));
            if (der) {
                (void)smime::EncryptedContent::parse(*der);
            }
        } catch (const smime::Error&) {
        }
    }());
}
