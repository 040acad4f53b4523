#include "fuzz/support/fuzz.h"

#include "smime/verify.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace segel::fuzz {

namespace {

bool exists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec);
}

template <typename T, typename Reader>
smime::ossl::Ptr<T> read_pem(const std::string& path, Reader reader) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        return nullptr;
    }
    smime::ossl::Ptr<T> out(reader(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return out;
}

void add_pem(std::vector<Key>& out, const std::string& name, const std::string& cert, const std::string& key) {
    Key k{name, read_pem<X509>(cert, PEM_read_X509), read_pem<EVP_PKEY>(key, PEM_read_PrivateKey)};
    if (k.cert && k.key) {
        out.push_back(std::move(k));
    }
    ERR_clear_error();
}

void add_pkcs12(std::vector<Key>& out, const std::string& name, const std::string& file, const char* pass) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (f == nullptr) {
        return;
    }
    smime::ossl::Ptr<PKCS12> p12(d2i_PKCS12_fp(f, nullptr));
    std::fclose(f);
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    if (p12 && PKCS12_parse(p12.get(), pass, &key, &cert, nullptr) == 1) {
        out.push_back({name, smime::ossl::Ptr<X509>(cert), smime::ossl::Ptr<EVP_PKEY>(key)});
    }
    ERR_clear_error();
}

}  // namespace

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "segel fuzz: property violated: %s\n", what);
        std::abort();
    }
}

smime::TimePoint now() {
    return std::chrono::system_clock::from_time_t(1780272000);  // 2026-06-01T00:00:00Z
}

smime::Blob spooled(std::string_view bytes) {
    static const std::string k_dir = [] {
        char tmpl[] = "/tmp/segel-fuzz-spool.XXXXXX";
        require(::mkdtemp(tmpl) != nullptr, "mkdtemp for the spool directory");
        return std::string(tmpl);
    }();
    smime::Blob b(64, k_dir);
    b.append(bytes.substr(0, bytes.size() / 2));  // two appends: the second goes to the file
    b.append(bytes.substr(bytes.size() / 2));
    return b;
}

std::string pki_file(const std::string& name) {
    return std::string(SEGEL_FUZZ_PKI_DIR) + "/" + name;
}

std::string shared_file(const std::string& relative) {
    const char* env = std::getenv("SEGEL_SHARED");
    const std::string path = std::string(env != nullptr ? env : SEGEL_SHARED_DIR) + "/" + relative;
    return exists(path) ? path : "";
}

const std::vector<Key>& keys() {
    static const std::vector<Key> k_keys = [] {
        smime::ossl::init_providers();
        std::vector<Key> out;
        add_pem(out, "fuzz-rsa", pki_file("rsa.pem"), pki_file("rsa.key"));
        add_pem(out, "fuzz-ec", pki_file("ec.pem"), pki_file("ec.key"));
        for (const char* name : {"Alice", "Alice-ec", "Bob", "Fran", "Fran-ec"}) {
            if (const auto f = shared_file(std::string("interop/thunderbird-nss/smime/") + name + ".p12"); !f.empty()) {
                add_pkcs12(out, name, f, "nss");
            }
        }
        if (const auto c = shared_file("interop/bouncycastle-mail/cert.pem"); !c.empty()) {
            add_pem(out, "bouncycastle", c, shared_file("interop/bouncycastle-mail/key.pem"));
        }
        require(out.size() >= 2, "tests/fuzz-pki/rsa and ec load");
        return out;
    }();
    return k_keys;
}

const smime::TrustStore& trust() {
    static const smime::TrustStore k_trust = [] {
        std::vector<std::string> anchors{pki_file("root.pem")};
        for (const char* f :
             {"interop/thunderbird-nss/smime/TestCA.pem", "interop/bouncycastle-mail/validator.root.crt",
              "interop/bouncycastle-mail/certpath_root.crt"}) {
            if (const auto path = shared_file(f); !path.empty()) {
                anchors.push_back(path);
            }
        }
        return smime::TrustStore::load(anchors, {pki_file("intermediate.pem")});
    }();
    return k_trust;
}

const std::vector<smime::ossl::Ptr<X509_CRL>>& crls() {
    static const std::vector<smime::ossl::Ptr<X509_CRL>> k_crls = [] {
        const auto f = shared_file("interop/bouncycastle-mail/validator.revoked.crl");
        return f.empty() ? std::vector<smime::ossl::Ptr<X509_CRL>>{} : smime::load_crls(f);
    }();
    return k_crls;
}

}  // namespace segel::fuzz
