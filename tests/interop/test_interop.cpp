// Interop: every message of the shared corpus (/work/shared/interop, via
// $SEGEL_SHARED) gets the result decided for it (MANIFEST.md: "expected
// outcome", mapped to RFC 7281 words — see docs/verification.md), at the
// fixed times the manifest gives; and a copy with one signed byte changed fails.
#include "smime/base64.h"
#include "smime/verify.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace segel;
using smime::AuthResult;
namespace fs = std::filesystem;

namespace {

std::string shared_dir() {
    const char* env = std::getenv("SEGEL_SHARED");
    return env != nullptr ? env : "/work/shared";
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

smime::TimePoint at(long epoch) {
    return std::chrono::system_clock::from_time_t(epoch);
}

struct Expect {
    AuthResult result;
    std::string reason_part;       ///< must occur in the reason
    std::string signer;            ///< body.smime-identifier ("" = not checked)
    bool signature_valid = false;  ///< the CMS signature itself verifies (then a tampered copy must fail)
};

/** One byte of the signed content changed: in the first part of a multipart/signed, or in an opaque eContent. */
std::optional<std::string> tamper(const std::string& msg) {
    const std::size_t ct = msg.find("multipart/signed");
    if (ct != std::string::npos) {
        std::smatch m;
        const std::string tail = msg.substr(ct, 600);
        if (!std::regex_search(tail, m, std::regex("boundary=\"?([^\";\r\n]+)\"?", std::regex::icase))) {
            return std::nullopt;
        }
        const std::string delim = "--" + m[1].str();
        const std::size_t first = msg.find(delim, ct + m.position(0) + m.length(0));
        if (first == std::string::npos) {
            return std::nullopt;
        }
        std::size_t blank = msg.find("\n\n", first);
        const std::size_t blank_crlf = msg.find("\r\n\r\n", first);
        blank = std::min(blank, blank_crlf);
        for (std::size_t i = blank; i < msg.size(); ++i) {
            if (std::isalpha(static_cast<unsigned char>(msg[i])) != 0) {
                std::string out = msg;
                out[i] = static_cast<char>(out[i] ^ 0x20);  // flip the case of one letter
                return out;
            }
        }
        return std::nullopt;
    }
    // Opaque: the encapsulated MIME entity sits in clear inside the DER.
    const std::size_t blank = msg.find("\n\n") == std::string::npos ? msg.find("\r\n\r\n") : msg.find("\n\n");
    auto der = smime::base64::decode(std::string_view(msg).substr(blank));
    if (!der) {
        return std::nullopt;
    }
    const std::size_t inner = der->find("Content-Type");
    if (inner == std::string::npos) {
        return std::nullopt;
    }
    (*der)[inner] = 'c';
    return msg.substr(0, blank) + "\r\n\r\n" + smime::base64::encode_lines(*der);
}

void check_file(const fs::path& file, const smime::TrustStore& trust, const smime::VerifyOptions& o, const Expect& e) {
    const std::string bytes = read(file);
    const auto r = smime::verify(smime::Blob::from(bytes), trust, o);
    INFO(file.filename().string() << ": " << smime::to_string(r.result) << " reason=" << r.reason);
    CHECK(smime::to_string(r.result) == std::string(smime::to_string(e.result)));
    CHECK(r.reason.find(e.reason_part) != std::string::npos);
    if (!e.signer.empty()) {
        CHECK(r.identifier == e.signer);
    }
    CHECK(r.signature_valid == e.signature_valid);
    if (e.signature_valid) {
        const auto changed = tamper(bytes);
        REQUIRE(changed.has_value());
        const auto t = smime::verify(smime::Blob::from(*changed), trust, o);
        INFO("tampered copy: " << smime::to_string(t.result) << " reason=" << t.reason);
        CHECK(t.result == AuthResult::Fail);
        CHECK(t.problem == smime::VerifyResult::Problem::ContentChanged);
    }
}

/** The Thunderbird/NSS matrix: one rule per file-name pattern, every file must match one. */
Expect thunderbird_expectation(const std::string& name) {
    const bool sha1 = name.find("SHA1") != std::string::npos;
    const std::string weak = sha1 ? "weak: SHA-1 digest" : "good signature";
    static const std::map<std::string, Expect> k_special = {
        {"alice.dsig.SHA256.multipart.in.mixed.eml",
         {AuthResult::Neutral, "partially signed: only part 1 is signed (pass", "alice@example.com", true}},
        {"alice.dsig.SHA256.multipart.in.mixed.with.header.eml",
         {AuthResult::Neutral, "partially signed: only part 2 is signed (pass", "alice@example.com", true}},
        {"multipart-alternative.eml", {AuthResult::None, "not signed (holds encrypted parts)", ""}},
        {"nested-sigs.eml", {AuthResult::Fail, "content changed after signing", "kaie@kuix.de"}},
        {"outer-pgp-sig-inner-smime-enc.eml", {AuthResult::None, "application/pgp-signature is not S/MIME", ""}},
        {"outer-pgp-sig-inner-smime-enc-sig.eml", {AuthResult::None, "application/pgp-signature is not S/MIME", ""}},
        {"alice.dsig.SHA256.multipart.env.dsig.eml", {AuthResult::Fail, "content changed after signing", ""}},
        {"alice.env.mixed.dsig.SHA256.multipart.eml", {AuthResult::Fail, "content changed after signing", ""}},
        {"outer-smime-bad-sig-inner-smime-enc-sig.eml", {AuthResult::Fail, "content changed after signing", ""}},
        {"outer-smime-bad-sig-inner-smime-enc.eml", {AuthResult::Fail, "content changed after signing", ""}},
    };
    if (const auto it = k_special.find(name); it != k_special.end()) {
        return it->second;
    }
    if (name.find(".bad.eml") != std::string::npos || name.find("mismatch-econtent") != std::string::npos) {
        return {AuthResult::Fail, "content changed after signing", "alice@example.com"};
    }
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".env.eml") == 0) {
        return {AuthResult::None, "encrypted (enveloped-data)", ""};
    }
    if (name.find(".dave.") != std::string::npos) {
        return {AuthResult::Pass, weak, "dave@example.com", true};
    }
    if (name.rfind("alice.env.dsig.", 0) == 0) {  // NSS signed the LF-only bytes (finding 1)
        return {AuthResult::Pass, "signature computed over LF line ends", "alice@example.com", true};
    }
    return {AuthResult::Pass, weak, "alice@example.com", true};
}

}  // namespace

TEST_CASE("interop: thunderbird-nss corpus, at 2026-06-01 with the NSS Test CA", "[interop]") {
    const fs::path dir = fs::path(shared_dir()) / "interop" / "thunderbird-nss";
    REQUIRE(fs::exists(dir / "smime" / "TestCA.pem"));
    const auto trust = smime::TrustStore::load({(dir / "smime" / "TestCA.pem").string()}, {});
    smime::VerifyOptions o;
    o.now = at(1780272000);
    int files = 0;
    for (const auto& sub : {"smime", "browser-data", "smime-manual"}) {
        for (const auto& entry : fs::directory_iterator(dir / sub)) {
            if (entry.path().extension() != ".eml") {
                continue;
            }
            ++files;
            check_file(entry.path(), trust, o, thunderbird_expectation(entry.path().filename().string()));
        }
    }
    CHECK(files >= 75);
}

TEST_CASE("interop: bouncycastle-mail corpus (real clients 2006-2017), at each message's signingTime", "[interop]") {
    const fs::path dir = fs::path(shared_dir()) / "interop" / "bouncycastle-mail";
    REQUIRE(fs::exists(dir / "validator.root.crt"));
    const auto validator = smime::TrustStore::load({(dir / "validator.root.crt").string()}, {});
    const auto startcom =
        smime::TrustStore::load({(dir / "aux-trust/StartComCertificationAuthority.crt").string()}, {});
    const auto unrelated = smime::TrustStore::load({(dir / "certpath_root.crt").string()}, {});
    const auto fake = smime::TrustStore::load({(dir / "validator.fakeRoot.crt").string()}, {});
    struct Row {
        std::string file;
        long time;
        const smime::TrustStore* trust;
        Expect expect;
    };
    const std::string armin = "arminha@student.ethz.ch";
    const std::vector<Row> rows = {
        {"validator.validMail.eml",
         1157362574,
         &validator,
         {AuthResult::Pass, "weak: SHA-1 digest, RSA-1024 key, MD5-signed certificate", armin, true}},
        {"validator.longValidity.eml", 1157112083, &validator, {AuthResult::Pass, "good signature; weak", armin, true}},
        {"validator.expired.eml",
         1157101715,
         &validator,
         {AuthResult::Fail, "certificate expired on 2006-09-01", armin, true}},
        {"validator.notYetValid.eml",
         1156777441,
         &validator,
         {AuthResult::Fail, "certificate not valid before", armin, true}},
        {"validator.keyUsage.eml",
         1156769558,
         &validator,
         {AuthResult::Fail, "certificate not for signing (key usage)", armin, true}},
        {"validator.extKeyUsage.eml",
         1156777297,
         &validator,
         {AuthResult::Fail, "certificate not for e-mail (extended key usage)", armin, true}},
        {"validator.noEmail.eml",
         1156777376,
         &validator,
         {AuthResult::Policy, "signer certificate has no e-mail address", "", true}},
        {"validator.shortKey.eml",
         1156777526,
         &validator,
         {AuthResult::Fail, "weak algorithm: RSA-512 key", armin, true}},
        // Without the CRL the revoked certificate looks fine; with it, see the next test case.
        {"validator.revoked.eml", 1157107745, &validator, {AuthResult::Pass, "good signature", armin, true}},
        {"3nnn_smime.eml",
         1426081003,
         &startcom,
         {AuthResult::Pass, "good signature; weak: SHA-1-signed certificate", "bruce_hoff@hotmail.com", true}},
        {"circular.eml", 1175583386, &unrelated, {AuthResult::Fail, "untrusted issuer", "armin@privasphere.com", true}},
        {"embeddedmulti.message",
         1169036292,
         &unrelated,
         {AuthResult::Fail, "untrusted issuer", "hauser@acm.org", true}},
        {"extra-nl.eml",
         1780272000,
         &unrelated,
         {AuthResult::Fail, "untrusted issuer: MITM Test CA", "test@example.com", true}},
        {"multi-alternative.eml",
         1207729708,
         &unrelated,
         {AuthResult::Fail, "untrusted issuer", "edifact@landenergie.de", true}},
        {"openssl-signed-sha256-non-default-salt-length.eml",
         1493889455,
         &unrelated,
         {AuthResult::Fail, "untrusted issuer", "test@example.com", true}},
        {"qp-soft-break.eml",
         1183718125,
         &unrelated,
         {AuthResult::Fail, "untrusted issuer", "martijn@izecom.com", true}},
        {"quotable.message", 1155651151, &unrelated, {AuthResult::Fail, "untrusted issuer", armin, true}},
        {"brokenEnv.message", 1780272000, &unrelated, {AuthResult::PermError, "signed content", ""}},
        {"dotnet_encrypted_mail.eml",
         1780272000,
         &unrelated,
         {AuthResult::None, "enveloped-data) although labelled smime-type=signed-data", ""}},
        {"outlook_2010_beta_sime_msg.eml",
         1780272000,
         &unrelated,
         {AuthResult::None, "encrypted (enveloped-data)", ""}},
        {"test128.message", 1780272000, &unrelated, {AuthResult::None, "encrypted (enveloped-data)", ""}},
        {"test192.message", 1780272000, &unrelated, {AuthResult::None, "encrypted (enveloped-data)", ""}},
        {"test256.message", 1780272000, &unrelated, {AuthResult::None, "encrypted (enveloped-data)", ""}},
    };
    std::set<std::string> covered;
    for (const auto& row : rows) {
        smime::VerifyOptions o;
        o.now = at(row.time);
        check_file(dir / row.file, *row.trust, o, row.expect);
        covered.insert(row.file);
    }
    // Every message file of the set has a row (certificates, keys and CRLs are not messages).
    for (const auto& entry : fs::directory_iterator(dir)) {
        const auto ext = entry.path().extension();
        if (ext == ".eml" || ext == ".message") {
            INFO(entry.path().filename().string());
            CHECK(covered.count(entry.path().filename().string()) == 1);
        }
    }
    // A trust store holding a different key under the same root name does not make the chain good.
    smime::VerifyOptions o;
    o.now = at(1157362574);
    check_file(dir / "validator.validMail.eml", fake, o, {AuthResult::Fail, "untrusted issuer", armin, true});
}

TEST_CASE("interop: revocation by CRL (validator.revoked + validator.revoked.crl)", "[interop]") {
    const fs::path dir = fs::path(shared_dir()) / "interop" / "bouncycastle-mail";
    const auto trust = smime::TrustStore::load({(dir / "validator.root.crt").string()}, {});
    auto crls = smime::load_crls((dir / "validator.revoked.crl").string());
    smime::VerifyOptions o;
    o.now = at(1157107745);
    for (const auto& c : crls) {
        o.crls.push_back(c.get());
    }
    check_file(dir / "validator.revoked.eml", trust, o,
               {AuthResult::Fail, "certificate revoked", "arminha@student.ethz.ch", true});
    // The record (Outcome, log line) learns the entry's date and that a CRL file said so (R6).
    const auto r = smime::verify(smime::Blob::from(read(dir / "validator.revoked.eml")), trust, o);
    CHECK(r.revocation.state == smime::RevocationState::Revoked);
    CHECK(r.revocation.source == smime::RevocationStatus::Source::CrlFile);
    CHECK(r.revocation.revoked_at != smime::TimePoint{});
    CHECK(r.revocation.revoked_at <= o.now);
    CHECK_FALSE(r.revocation.reason.empty());
    // The CRL does not list the valid mail's signer.
    o.now = at(1157362574);
    check_file(dir / "validator.validMail.eml", trust, o, {AuthResult::Pass, "good signature", "", true});
}
