#pragma once
// A throwaway PKI built in-process for unit tests: root → BSrE-like
// intermediate → end entities, written as PEM/PKCS#12 files in a temp dir.
#include "smime/certificate.h"
#include "smime/sign.h"

#include <chrono>
#include <string>

namespace segel::test {

using smime::ossl::Ptr;
using TimePoint = std::chrono::system_clock::time_point;

/** A fixed "now" for every test: 2026-06-01T00:00:00Z. */
TimePoint fixed_now();
TimePoint days(TimePoint t, int d);

struct Issued {
    Ptr<X509> cert;
    Ptr<EVP_PKEY> key;
    std::string cert_file;  ///< PEM: the certificate, then the intermediate
    std::string key_file;   ///< PEM private key, mode 0600
};

struct LeafSpec {
    std::string name;
    std::string email;  ///< empty: no address at all
    bool ec = false;
    int not_before_days = -30;  ///< relative to fixed_now()
    int not_after_days = 700;
    std::string not_after{};    ///< an ASN.1 time such as "99991231235959Z": overrides not_after_days
    bool sign_usage = true;     ///< digitalSignature + nonRepudiation
    bool email_eku = true;      ///< emailProtection; false: serverAuth only
    bool untrusted = false;     ///< issued by a root that is not an anchor
    bool encrypt_usage = true;  ///< keyEncipherment (RSA) or keyAgreement (EC); false: signing only
};

class TestPki {
public:
    TestPki();
    ~TestPki();
    TestPki(const TestPki&) = delete;
    TestPki& operator=(const TestPki&) = delete;

    Issued issue(const LeafSpec& spec);
    /** A certificate for a key made elsewhere (e.g. in a PKCS#11 token): no key and no key file. */
    Issued issue_for(const LeafSpec& spec, EVP_PKEY* public_key);
    /** Writes a PKCS#12 (and its passphrase file) for an issued leaf. */
    std::pair<std::string, std::string> pkcs12(const Issued& leaf, const std::string& passphrase, bool legacy = false);

    [[nodiscard]] const std::string& dir() const { return m_dir; }
    [[nodiscard]] const std::string& root_file() const { return m_root_file; }
    [[nodiscard]] const std::string& intermediate_file() const { return m_inter_file; }
    smime::TrustStore trust() const;
    X509* intermediate() const { return m_inter.get(); }

private:
    std::string m_dir;
    Ptr<X509> m_root;
    Ptr<EVP_PKEY> m_root_key;
    Ptr<X509> m_inter;
    Ptr<EVP_PKEY> m_inter_key;
    Ptr<X509> m_other_root;
    Ptr<EVP_PKEY> m_other_key;
    std::string m_root_file;
    std::string m_inter_file;
    int m_serial = 100;
};

/** A Credential for a leaf, loaded through the production PEM loader. */
smime::Credential credential(const Issued& leaf);

/** The whole message signing gave: @p head (CRLF fields, no Content-*), the new fields, a blank line, the body. */
std::string signed_message(const std::string& head, const smime::SignedMessage& signed_message);

/** JSON as segel's writer pretty-prints it, without the line breaks and indentation, and "k":v for "k": v. */
std::string compact_json(const std::string& json);

std::string write_file(const std::string& path, const std::string& bytes, unsigned mode = 0600);

/**
 * The smallest signing configuration, written to @p pki's directory as @p name: the PKI's root and
 * intermediate as trust, dinas.example.go.id as the official domain (@p domain_keys: more keys of
 * that rule, each "      key: value\n"), and one PKCS#12 credential. Returns the file's path.
 */
inline std::string write_signing_config(const TestPki& pki, const std::string& p12, const std::string& pass,
                                        const std::string& name = "segel.yaml", const std::string& domain_keys = "") {
    return write_file(pki.dir() + "/" + name,
                      "trust:\n  anchors: [" + pki.root_file() + "]\n  intermediates: [" + pki.intermediate_file() +
                          "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n" + domain_keys +
                          "credentials:\n  - pkcs12: " + p12 + "\n    passphrase_file: " + pass + "\n");
}
/** The whole file ("" when it cannot be read). */
std::string read_file(const std::string& path);
/** @p s with every CRLF made LF: a message as a mailbox file stores it. */
std::string lf_only(const std::string& s);

}  // namespace segel::test
