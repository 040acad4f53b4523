// Several SignerInfos in one signature (docs/verification.md, "Several
// signers"): every one is evaluated, tampering shown by any one fails the
// message, pass needs a fully verified signer who is the sender, and a signer
// that cannot be checked is reported but never improves the verdict.
// Signatures come from `openssl cms -sign -signer A -signer B` and from
// hand-edited DER (a SignerInfo appended, the content changed).
#include "smime/base64.h"
#include "smime/ossl/der.h"
#include "smime/verify.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace segel;
using smime::AuthResult;
using Problem = smime::VerifyResult::Problem;

namespace {

const std::string k_entity =
    "Content-Type: text/plain; charset=us-ascii\r\n\r\nNota dinas, ditandatangani dua pejabat.\r\n";

struct Fixture {
    test::TestPki pki;
    smime::TrustStore trust = pki.trust();
    test::Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    test::Issued budi = pki.issue({"Budi Santoso", "budi@dinas.example.go.id", true});
    test::Issued eko = pki.issue({.name = "Eko", .email = "eko@dinas.example.go.id", .untrusted = true});
    test::Issued ani =
        pki.issue({.name = "Ani", .email = "ani@dinas.example.go.id", .not_before_days = -800, .not_after_days = -1});

    /** DER of `openssl cms -sign` (detached, SHA-256) by each of @p signers, in this order. */
    std::string openssl_sign(std::initializer_list<const test::Issued*> signers, const std::string& extra = "") const {
        const std::string in = test::write_file(pki.dir() + "/entity", k_entity, 0644);
        const std::string out = pki.dir() + "/sig.der";
        std::string cmd = "openssl cms -sign -binary -md sha256 -outform DER -in " + in + " -out " + out +
                          " -certfile " + pki.intermediate_file() + " " + extra;
        for (const auto* s : signers) {
            cmd += " -signer " + s->cert_file + " -inkey " + s->key_file;
        }
        cmd += " 2>" + pki.dir() + "/err.txt";
        INFO(cmd);
        REQUIRE(std::system(cmd.c_str()) == 0);
        return test::read_file(out);
    }

    smime::VerifyResult verify(const std::string& der, const std::string& entity = k_entity,
                               const std::string& from = "siti@dinas.example.go.id") const {
        const std::string msg = "From: " + from +
                                "\r\nTo: kepala@mitra.example\r\nSubject: Nota\r\nMIME-Version: 1.0\r\n"
                                "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
                                "micalg=sha-256; boundary=\"b1\"\r\n\r\n--b1\r\n" +
                                entity +
                                "\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
                                "Content-Transfer-Encoding: base64\r\n\r\n" +
                                smime::base64::encode_lines(der) + "--b1--\r\n";
        smime::VerifyOptions o;
        o.now = test::fixed_now();
        return smime::verify(smime::Blob::from(msg), trust, o);
    }
};

/** DER, by hand: one element's tag and length octets for @p content. */
std::string element(unsigned char tag, const std::string& content) {
    std::string len;
    if (content.size() < 0x80) {
        len = std::string(1, static_cast<char>(content.size()));
    } else {
        std::string digits;
        for (std::size_t v = content.size(); v > 0; v >>= 8U) {
            digits.insert(digits.begin(), static_cast<char>(v & 0xFFU));
        }
        len = std::string(1, static_cast<char>(0x80U | digits.size())) + digits;
    }
    return std::string(1, static_cast<char>(tag)) + len + content;
}

/** The children of the element @p der (whole elements, as written). */
std::vector<std::string> children(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    smime::ossl::Tlv t;
    REQUIRE(smime::ossl::read_tlv(p, p + der.size(), t));
    std::vector<std::string> out;
    for (const unsigned char* q = t.content; q < t.end;) {
        smime::ossl::Tlv c;
        REQUIRE(smime::ossl::read_tlv(q, t.end, c));
        out.emplace_back(c.bytes());
    }
    return out;
}

/** ContentInfo → [0] → SignedData: its elements (version … signerInfos). */
struct SignedData {
    std::string oid;
    std::vector<std::string> fields;

    explicit SignedData(const std::string& der) {
        const auto top = children(der);
        oid = top.at(0);
        fields = children(children(top.at(1)).at(0));
    }
    [[nodiscard]] std::vector<std::string> signer_infos() const { return children(fields.back()); }
    void set_signer_infos(const std::vector<std::string>& infos) {
        std::string set;
        for (const auto& i : infos) {
            set += i;
        }
        fields.back() = element(0x31, set);
    }
    [[nodiscard]] std::string der() const {
        std::string sd;
        for (const auto& f : fields) {
            sd += f;
        }
        return element(0x30, oid + element(0xA0, element(0x30, sd)));
    }
};

std::string tampered(std::string entity) {
    entity.replace(entity.find("dua"), 3, "tga");
    return entity;
}

}  // namespace

TEST_CASE("signers: two good signatures pass as the sender, in either order", "[smime][verify][signers]") {
    Fixture f;
    for (const auto& der : {f.openssl_sign({&f.siti, &f.budi}), f.openssl_sign({&f.budi, &f.siti})}) {
        const auto r = f.verify(der);
        INFO(r.reason);
        CHECK(r.result == AuthResult::Pass);
        CHECK(r.identifier == "siti@dinas.example.go.id");
        CHECK(r.signer_name == "Siti Rahma");
        CHECK_THAT(r.reason, Catch::StartsWith("good signature"));
        CHECK_THAT(r.reason, Catch::Contains("also signed by budi@dinas.example.go.id"));
    }
    // Neither is the sender: policy, naming the first signer.
    const auto other = f.verify(f.openssl_sign({&f.budi, &f.siti}), k_entity, "kepala@mitra.example");
    CHECK(other.result == AuthResult::Policy);
    CHECK(other.identifier == "budi@dinas.example.go.id");
}

TEST_CASE("signers: changed content fails whatever the other signers are", "[smime][verify][signers]") {
    Fixture f;
    const auto r = f.verify(f.openssl_sign({&f.siti, &f.budi}), tampered(k_entity));
    CHECK(r.result == AuthResult::Fail);
    CHECK(r.problem == Problem::ContentChanged);
    CHECK_THAT(r.reason, Catch::StartsWith("content changed after signing"));
}

TEST_CASE("signers: an appended SignerInfo for a certificate the message does not carry never softens a failure",
          "[smime][verify][signers]") {
    Fixture f;
    // Budi's SignerInfo, from a signature that carries no certificate, appended to Siti's signature.
    SignedData sd(f.openssl_sign({&f.siti}));
    const std::string stranger = SignedData(f.openssl_sign({&f.budi}, "-nocerts")).signer_infos().at(0);
    sd.set_signer_infos({sd.signer_infos().at(0), stranger});
    const std::string der = sd.der();

    const auto changed = f.verify(der, tampered(k_entity));
    INFO(changed.reason);
    CHECK(changed.result == AuthResult::Fail);  // was neutral ("signature cannot be checked")
    CHECK(changed.problem == Problem::ContentChanged);

    // Unchanged content: Siti's signature decides; the stranger is reported, and changes nothing.
    const auto intact = f.verify(der);
    INFO(intact.reason);
    CHECK(intact.result == AuthResult::Pass);
    CHECK(intact.identifier == "siti@dinas.example.go.id");
    CHECK_THAT(intact.reason, Catch::Contains("signer 2 not checked: its certificate is not in the message"));

    // In front of Siti's it is the same.
    sd.set_signer_infos({stranger, SignedData(f.openssl_sign({&f.siti})).signer_infos().at(0)});
    CHECK(f.verify(sd.der(), tampered(k_entity)).result == AuthResult::Fail);
    const auto first = f.verify(sd.der());
    CHECK(first.result == AuthResult::Pass);
    CHECK(first.identifier == "siti@dinas.example.go.id");

    // Only strangers: nobody can be checked, as for a lone signer without its certificate.
    SignedData alone(f.openssl_sign({&f.budi}, "-nocerts"));
    const auto nobody = f.verify(alone.der());
    CHECK(nobody.result == AuthResult::Fail);
    CHECK(nobody.reason == "the signer's certificate is not in the message");
    CHECK(f.verify(alone.der(), tampered(k_entity)).result == AuthResult::Fail);
}

TEST_CASE("signers: a signature that does not verify with its own certificate is tampering",
          "[smime][verify][signers]") {
    Fixture f;
    SignedData sd(f.openssl_sign({&f.siti, &f.budi}));
    auto infos = sd.signer_infos();
    // Budi's signature value is the last OCTET STRING of his SignerInfo: change one of its bytes.
    infos.at(1)[infos.at(1).size() - 5] ^= 0x01;
    sd.set_signer_infos(infos);
    const auto r = f.verify(sd.der());
    INFO(r.reason);
    CHECK(r.result == AuthResult::Fail);
    CHECK(r.problem == Problem::ContentChanged);
    CHECK_THAT(r.reason, Catch::Contains("signer 2"));
}

TEST_CASE("signers: without a passing sender, the worst verified signer decides", "[smime][verify][signers]") {
    Fixture f;
    // The sender's certificate has expired; Budi's signature is good but Budi is not the sender.
    for (const auto& der : {f.openssl_sign({&f.ani, &f.budi}), f.openssl_sign({&f.budi, &f.ani})}) {
        const auto r = f.verify(der, k_entity, "ani@dinas.example.go.id");
        INFO(r.reason);
        CHECK(r.result == AuthResult::Fail);  // never policy: another signer cannot soften it
        CHECK(r.problem == Problem::Expired);
        CHECK(r.identifier == "ani@dinas.example.go.id");
    }
    // An untrusted extra signer next to the passing sender is reported; the sender's pass stands.
    const auto r = f.verify(f.openssl_sign({&f.siti, &f.eko}));
    INFO(r.reason);
    CHECK(r.result == AuthResult::Pass);
    CHECK_THAT(r.reason, Catch::Contains("eko@dinas.example.go.id (untrusted issuer"));
}

TEST_CASE("signers: more SignerInfos than the limit is permerror, unevaluated", "[smime][verify][signers][hostile]") {
    Fixture f;
    SignedData sd(f.openssl_sign({&f.siti}));
    const std::string one = sd.signer_infos().at(0);
    sd.set_signer_infos(std::vector<std::string>(9, one));
    const auto r = f.verify(sd.der());
    CHECK(r.result == AuthResult::PermError);
    CHECK(r.problem == Problem::Malformed);
    CHECK(r.reason == "the signature has more than 8 signers (limit max_signers)");
    sd.set_signer_infos(std::vector<std::string>(8, one));
    CHECK(f.verify(sd.der()).result == AuthResult::Pass);
}
