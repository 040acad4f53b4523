// smime::load_cms (certificates from a per-process cache) must give exactly the
// structure a plain d2i_CMS gives, for every CMS structure in the shared corpus
// (signatures and encrypted bodies from Thunderbird/NSS and Bouncy Castle: DER
// and BER, one to several certificates).
#include "smime/base64.h"
#include "smime/cms_load.h"
#include "smime/decrypt.h"
#include "smime/error.h"
#include "smime/mime/mime.h"
#include "tests/support/reference.h"

#include <catch2/catch.hpp>

#include <openssl/err.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace segel;
namespace fs = std::filesystem;

namespace {

std::string shared_dir() {
    const char* env = std::getenv("SEGEL_SHARED");
    return env != nullptr ? env : "/work/shared";
}

/** Every file of the shared corpus: its name and its bytes. */
std::vector<std::pair<std::string, std::string>> corpus() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& entry : fs::recursive_directory_iterator(shared_dir() + "/interop")) {
        if (!entry.is_regular_file()) {
            continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        out.emplace_back(entry.path().filename().string(), ss.str());
    }
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/** The base64 body after every header block whose Content-Type names pkcs7 (signature or mime), decoded. */
std::vector<std::string> cms_blobs(const std::string& msg) {
    std::vector<std::string> out;
    const std::string low = lower(msg);
    for (std::size_t at = low.find("content-type: application/"); at != std::string::npos;
         at = low.find("content-type: application/", at + 1)) {
        const std::size_t eol = low.find('\n', at);
        if (low.compare(at, eol - at, "pkcs7") == 0 || low.substr(at, eol - at).find("pkcs7") == std::string::npos) {
            continue;
        }
        std::size_t body = low.find("\n\n", at);
        const std::size_t body_crlf = low.find("\r\n\r\n", at);
        body = std::min(body == std::string::npos ? body : body + 2,
                        body_crlf == std::string::npos ? body_crlf : body_crlf + 4);
        if (body == std::string::npos) {
            continue;
        }
        std::string text;
        for (std::size_t p = body; p < msg.size();) {
            std::size_t e = msg.find('\n', p);
            if (e == std::string::npos) {
                e = msg.size();
            }
            std::string line = msg.substr(p, e - p);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (line.empty() || line.rfind("--", 0) == 0) {
                break;
            }
            text += line;
            p = e + 1;
        }
        if (auto der = smime::base64::decode(text); der && !der->empty()) {
            out.push_back(std::move(*der));
        }
    }
    return out;
}

std::string i2d(CMS_ContentInfo* cms) {
    unsigned char* der = nullptr;
    const int n = i2d_CMS_ContentInfo(cms, &der);
    REQUIRE(n > 0);
    std::string s(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return s;
}

std::vector<X509*> certs_of(CMS_ContentInfo* cms) {
    std::vector<X509*> out;
    STACK_OF(X509)* certs = CMS_get1_certs(cms);
    for (int i = 0; certs != nullptr && i < sk_X509_num(certs); ++i) {
        out.push_back(sk_X509_value(certs, i));
    }
    sk_X509_pop_free(certs, X509_free);  // the CMS structure still holds its references
    return out;
}

}  // namespace

TEST_CASE("load_cms: the same structure as d2i_CMS for every CMS in the corpus; certificates decoded once",
          "[interop][cms]") {
    std::size_t blobs = 0;
    std::size_t shared = 0;
    for (const auto& [name, bytes] : corpus()) {
        for (const auto& der : cms_blobs(bytes)) {
            INFO(name);
            auto bio = smime::ossl::mem_bio(der.data(), der.size());
            smime::ossl::Ptr<CMS_ContentInfo> plain(d2i_CMS_bio(bio.get(), nullptr));
            ERR_clear_error();
            const auto first = smime::load_cms(der);
            const auto again = smime::load_cms(der);
            REQUIRE(static_cast<bool>(plain) == static_cast<bool>(first));
            if (!plain) {
                continue;
            }
            ++blobs;
            CHECK(i2d(first.get()) == i2d(plain.get()));
            CHECK(i2d(again.get()) == i2d(plain.get()));
            const auto a = certs_of(first.get());
            const auto b = certs_of(again.get());
            CHECK(a.size() == certs_of(plain.get()).size());
            if (!a.empty() && a == b) {
                ++shared;  // the second decode took the first one's certificates from the cache
            }
        }
    }
    CHECK(blobs >= 20);   // the corpus was found and read
    CHECK(shared >= 60);  // of the 115 structures, 78 carry certificates (the rest: enveloped data)
    CHECK(smime::cms_certificate_cache_size() > 0);
    // Not a CMS structure, and a truncated one: nothing, as with d2i_CMS.
    CHECK_FALSE(smime::load_cms("not DER at all"));
    ERR_clear_error();
}

TEST_CASE("EncryptedContent: the cipher read from the bytes as received is the one their DER re-encoding names",
          "[interop][cms]") {
    // content_cipher walks the bytes it was given, BER included, instead of re-encoding them:
    // for every enveloped structure of the corpus the name must be what the walk over OpenSSL's
    // DER re-encoding (the reading before) finds.
    std::size_t enveloped = 0;
    std::size_t ber = 0;
    const smime::Limits limits;
    for (const auto& [name, bytes] : corpus()) {
        for (const auto& der : cms_blobs(bytes)) {
            INFO(name);
            std::optional<smime::EncryptedContent> as_received;
            try {
                as_received = smime::EncryptedContent::parse(der, limits);
            } catch (const smime::Error&) {
                continue;  // not a CMS structure at all
            }
            if (!as_received) {
                continue;  // signed data
            }
            auto bio = smime::ossl::mem_bio(der.data(), der.size());
            smime::ossl::Ptr<CMS_ContentInfo> plain(d2i_CMS_bio(bio.get(), nullptr));
            REQUIRE(plain);
            const std::string reencoded = i2d(plain.get());
            ber += reencoded != der ? 1 : 0;
            const auto from_der = smime::EncryptedContent::parse(reencoded, limits);
            REQUIRE(from_der);
            CHECK(as_received->cipher() == from_der->cipher());
            CHECK(as_received->cipher() != "unknown");
            ++enveloped;
        }
    }
    CHECK(enveloped >= 10);
    CHECK(ber >= 1);  // NSS writes BER: the walk over indefinite lengths is exercised
}

TEST_CASE("certificate_info: what inspect() says of each certificate, worked out once for the cached ones",
          "[interop][cms]") {
    // Every certificate of the corpus (several senders, intermediates and roots): a cache that
    // gave one certificate another's facts (addresses, fingerprint, validity) fails here.
    const auto same = [](const smime::CertInfo& a, const smime::CertInfo& b) {
        CHECK(a.fingerprint == b.fingerprint);
        CHECK(a.subject == b.subject);
        CHECK(a.issuer == b.issuer);
        CHECK(a.serial == b.serial);
        CHECK(a.addresses == b.addresses);
        CHECK(a.not_before == b.not_before);
        CHECK(a.not_after == b.not_after);
        CHECK(a.key_type == b.key_type);
        CHECK(a.key_usage_signs == b.key_usage_signs);
        CHECK(a.eku_email == b.eku_email);
    };
    std::set<std::string> fingerprints;
    for (const auto& [name, bytes] : corpus()) {
        for (const auto& der : cms_blobs(bytes)) {
            INFO(name);
            const auto cms = smime::load_cms(der);
            if (!cms) {
                continue;
            }
            for (X509* cert : certs_of(cms.get())) {
                const smime::CertInfo fresh = smime::inspect(cert);
                same(smime::certificate_info(cert), fresh);  // the first time: worked out and kept
                same(smime::certificate_info(cert), fresh);  // then: the kept one
                fingerprints.insert(fresh.fingerprint);
            }
            auto bio = smime::ossl::mem_bio(der.data(), der.size());
            smime::ossl::Ptr<CMS_ContentInfo> plain(d2i_CMS_bio(bio.get(), nullptr));
            for (X509* cert : certs_of(plain.get())) {  // not from the cache: inspected as it is
                same(smime::certificate_info(cert), smime::inspect(cert));
            }
        }
    }
    CHECK(fingerprints.size() >= 10);  // many different certificates went through the same cache
}

TEST_CASE("load_cms: truncated and corrupted structures get what d2i_CMS gives", "[interop][cms]") {
    std::uint64_t state = 0xC3511;
    auto next = [&state] {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<std::size_t>(state >> 33U);
    };
    std::size_t tried = 0;
    std::size_t decoded = 0;
    for (const auto& [name, bytes] : corpus()) {
        for (const auto& der : cms_blobs(bytes)) {
            for (int k = 0; k < 12; ++k) {
                std::string bad = der;
                if (k < 4) {
                    bad.resize(next() % der.size());  // cut anywhere
                } else {
                    bad[next() % bad.size()] ^= static_cast<char>(1U << (next() % 8));  // one bit anywhere
                }
                INFO(name << " mutation " << k);
                auto bio = smime::ossl::mem_bio(bad.data(), bad.size());
                smime::ossl::Ptr<CMS_ContentInfo> plain(d2i_CMS_bio(bio.get(), nullptr));
                const auto ours = smime::load_cms(bad);
                ERR_clear_error();
                ++tried;
                REQUIRE(static_cast<bool>(plain) == static_cast<bool>(ours));
                if (plain) {
                    ++decoded;
                    CHECK(i2d(ours.get()) == i2d(plain.get()));
                }
            }
        }
    }
    CHECK(tried >= 1000);
    CHECK(decoded >= 100);  // flipped bits inside signatures and certificates still decode
}

TEST_CASE("pkcs7_mime_der: straight from the spool, the same bytes GMime decodes", "[interop][cms]") {
    std::size_t encrypted = 0;
    for (const auto& [name, bytes] : corpus()) {
        const auto blob = smime::Blob::from(bytes);
        INFO(name);
        // The reference: GMime's parse, the top-level part's decoded content.
        std::optional<std::string> expected;
        try {
            expected = test::gmime_pkcs7_mime(blob);
        } catch (const smime::Error&) {
            continue;  // not mail (certificates, keys, manifests)
        }
        std::optional<std::string> got;
        try {
            got = smime::pkcs7_mime_der(blob);
        } catch (const smime::Error&) {
            got = std::string();  // an empty part: GMime decodes nothing either
        }
        CHECK(got == expected);
        encrypted += expected ? 1 : 0;
    }
    CHECK(encrypted >= 20);
}
