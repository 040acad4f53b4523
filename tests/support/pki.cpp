#include "tests/support/pki.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace segel::test {

namespace {

void ok(bool b, const char* what) {
    if (!b) {
        throw std::runtime_error(smime::ossl::drain_errors(what));
    }
}

Ptr<EVP_PKEY> make_key(bool ec) {
    EVP_PKEY* k = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    ok(k != nullptr, "keygen");
    return smime::ossl::adopt(k);
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ok(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

Ptr<X509> make_cert(const std::string& cn, const std::string& email, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                    int serial, TimePoint nb, TimePoint na, bool ca, const LeafSpec* leaf) {
    auto cert = smime::ossl::adopt(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, nullptr);
    ASN1_TIME_set(X509_getm_notBefore(cert.get()), std::chrono::system_clock::to_time_t(nb));
    ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(na));
    if (leaf != nullptr && !leaf->not_after.empty()) {  // beyond what a TimePoint holds (RFC 5280 §4.1.2.5)
        ok(ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), leaf->not_after.c_str()) == 1, "notAfter");
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ID"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
    X509_set_pubkey(cert.get(), key);
    X509* iss = issuer != nullptr ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(iss));
    add_ext(cert.get(), iss, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) {
        add_ext(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
    }
    if (ca) {
        add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), iss, NID_basic_constraints, "CA:FALSE");
        add_ext(cert.get(), iss, NID_key_usage,
                !leaf->encrypt_usage ? "critical,digitalSignature,nonRepudiation"
                : leaf->sign_usage   ? (leaf->ec ? "critical,digitalSignature,nonRepudiation,keyAgreement"
                                                 : "critical,digitalSignature,nonRepudiation,keyEncipherment")
                                     : "critical,keyEncipherment");
        add_ext(cert.get(), iss, NID_ext_key_usage, leaf->email_eku ? "emailProtection" : "serverAuth");
        if (!email.empty()) {
            add_ext(cert.get(), iss, NID_subject_alt_name, ("email:" + email).c_str());
        }
    }
    ok(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

std::string pem_of(X509* c) {
    auto bio = smime::ossl::adopt(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), c);
    return smime::ossl::bio_to_string(bio.get());
}

}  // namespace

TimePoint fixed_now() {
    return std::chrono::system_clock::from_time_t(1780272000);
}  // 2026-06-01T00:00:00Z
TimePoint days(TimePoint t, int d) {
    return t + std::chrono::hours(24 * d);
}

std::string write_file(const std::string& path, const std::string& bytes, unsigned mode) {
    std::ofstream(path, std::ios::binary) << bytes;
    ::chmod(path.c_str(), mode);
    return path;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string lf_only(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) {
            out += s[i];
        }
    }
    return out;
}

TestPki::TestPki() {
    smime::ossl::init_providers();
    char templ[] = "/tmp/segel-unit-pki-XXXXXX";
    m_dir = mkdtemp(templ);
    const TimePoint now = fixed_now();
    m_root_key = make_key(false);
    m_root = make_cert("Segel Unit Root CA", "", m_root_key.get(), nullptr, nullptr, 1, days(now, -3650),
                       days(now, 3650), true, nullptr);
    m_inter_key = make_key(false);
    m_inter = make_cert("BSrE Unit Intermediate CA", "", m_inter_key.get(), m_root.get(), m_root_key.get(), 2,
                        days(now, -1000), days(now, 2000), true, nullptr);
    m_other_key = make_key(false);
    m_other_root = make_cert("Untrusted Unit Root", "", m_other_key.get(), nullptr, nullptr, 3, days(now, -1000),
                             days(now, 2000), true, nullptr);
    m_root_file = write_file(m_dir + "/root.pem", pem_of(m_root.get()), 0644);
    m_inter_file = write_file(m_dir + "/intermediate.pem", pem_of(m_inter.get()), 0644);
}

TestPki::~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

smime::TrustStore TestPki::trust() const {
    return smime::TrustStore::load({m_root_file}, {m_inter_file});
}

Issued TestPki::issue(const LeafSpec& spec) {
    auto key = make_key(spec.ec);
    Issued out = issue_for(spec, key.get());
    out.key = std::move(key);
    auto bio = smime::ossl::adopt(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), out.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    out.key_file =
        write_file(m_dir + "/" + std::to_string(m_serial) + ".key", smime::ossl::bio_to_string(bio.get()), 0600);
    return out;
}

Issued TestPki::issue_for(const LeafSpec& spec, EVP_PKEY* public_key) {
    Issued out;
    const TimePoint now = fixed_now();
    X509* issuer = spec.untrusted ? m_other_root.get() : m_inter.get();
    EVP_PKEY* issuer_key = spec.untrusted ? m_other_key.get() : m_inter_key.get();
    out.cert = make_cert(spec.name, spec.email, public_key, issuer, issuer_key, ++m_serial,
                         days(now, spec.not_before_days), days(now, spec.not_after_days), false, &spec);
    out.cert_file =
        write_file(m_dir + "/" + std::to_string(m_serial) + ".crt", pem_of(out.cert.get()) + pem_of(issuer), 0644);
    return out;
}

std::pair<std::string, std::string> TestPki::pkcs12(const Issued& leaf, const std::string& passphrase, bool legacy) {
    auto ca = smime::ossl::make_stack({});
    X509_up_ref(m_inter.get());
    sk_X509_push(ca.get(), m_inter.get());
    const int nid_key = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : 0;
    const int nid_cert = legacy ? NID_pbe_WithSHA1And40BitRC2_CBC : 0;
    PKCS12* p12 = PKCS12_create(passphrase.c_str(), "unit", leaf.key.get(), leaf.cert.get(), ca.get(), nid_key,
                                nid_cert, 0, 0, 0);
    ok(p12 != nullptr, "PKCS12_create");
    auto owned = smime::ossl::adopt(p12);
    auto bio = smime::ossl::adopt(BIO_new(BIO_s_mem()));
    i2d_PKCS12_bio(bio.get(), owned.get());
    const std::string base = m_dir + "/" + std::to_string(++m_serial);
    write_file(base + ".p12", smime::ossl::bio_to_string(bio.get()), 0600);
    write_file(base + ".pass", passphrase + "\n", 0600);
    return {base + ".p12", base + ".pass"};
}

std::string signed_message(const std::string& head, const smime::SignedMessage& sm) {
    std::string whole = head;
    for (const auto& h : sm.headers) {
        std::string v = h.value;  // folds are "\n\t": the wire has CRLF
        for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
            v.replace(p, 1, "\r\n");
        }
        whole += h.name + ": " + v + "\r\n";
    }
    return whole + "\r\n" + std::string(sm.body.view());
}

std::string compact_json(const std::string& json) {
    std::string out;
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < json.size()) {
                out += json[++i];
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
            out += c;
        } else if (c != ' ' && c != '\n') {
            out += c;
        }
    }
    return out;
}

smime::Credential credential(const Issued& leaf) {
    return smime::load_pem(leaf.cert_file, leaf.key_file);
}

}  // namespace segel::test
