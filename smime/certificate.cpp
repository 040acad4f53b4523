#include "smime/certificate.h"

#include "base/text.h"
#include "base/time.h"

#include "smime/error.h"

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace segel::smime {

namespace {

using base::lower;

std::string name_line(X509_NAME* name) {
    auto bio = ossl::adopt(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return ossl::bio_to_string(bio.get());
}

std::string read_file(const std::string& file, const char* what) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(Category::Credential,
                    std::string("cannot read ") + what + " " + file + ": " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string read_passphrase(const std::string& file) {
    require_private_file(file, "passphrase file");
    std::string pass = read_file(file, "passphrase file");
    if (!pass.empty() && pass.back() == '\n') {
        pass.pop_back();
        if (!pass.empty() && pass.back() == '\r') {
            pass.pop_back();
        }
    }
    return pass;
}

void wipe(std::string& s) {
    OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

/** DER of an ESS signing-certificate-v2 value (RFC 5035) naming @p cert by its SHA-256 hash. */
std::string ess_signing_certificate_v2(X509* cert) {
    ESS_SIGNING_CERT_V2* ess = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, nullptr, 0);
    ossl::check(ess != nullptr, "ESS signing-certificate-v2");
    unsigned char* der = nullptr;
    const int len = i2d_ESS_SIGNING_CERT_V2(ess, &der);
    ESS_SIGNING_CERT_V2_free(ess);
    ossl::check(len > 0, "encode ESS signing-certificate-v2");
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

/** Completes a credential whose key is in memory: the key must be the certificate's. */
void finish(Credential& cred, ossl::Ptr<EVP_PKEY> key) {
    if (!cred.cert || !key) {
        throw Error(Category::Credential, cred.source + ": holds no certificate with its private key");
    }
    if (X509_check_private_key(cred.cert.get(), key.get()) != 1) {
        ERR_clear_error();
        throw Error(Category::Credential, cred.source + ": the private key does not belong to the certificate");
    }
    cred.key = key_in_memory(std::move(key), cred.source);
    cred.info = inspect(cred.cert.get());
    cred.ess_v2 = ess_signing_certificate_v2(cred.cert.get());
}

}  // namespace

std::optional<TimePoint> asn1_time(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return std::nullopt;
    }
    // Days from the civil date (C++20 calendar), not timegm(): exact for years 0001..9999.
    using namespace std::chrono;
    const sys_days day = year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)} /
                         std::chrono::day{static_cast<unsigned>(tm.tm_mday)};
    const std::int64_t secs = std::int64_t{day.time_since_epoch().count()} * 86400 + std::int64_t{tm.tm_hour} * 3600 +
                              std::int64_t{tm.tm_min} * 60 + tm.tm_sec;
    return base::time_from_unix(secs);
}

TimePoint to_time_point(const ASN1_TIME* t) {
    return asn1_time(t).value_or(TimePoint{});
}

CertInfo inspect(X509* cert) {
    CertInfo info;
    info.subject = name_line(X509_get_subject_name(cert));
    info.fingerprint = ossl::fingerprint_sha256(cert);
    info.issuer = name_line(X509_get_issuer_name(cert));
    {
        char cn[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
            info.common_name = cn;
        }
    }
    {
        auto bn = ossl::adopt(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
        if (bn) {
            char* hex = BN_bn2hex(bn.get());
            info.serial = hex != nullptr ? hex : "";
            OPENSSL_free(hex);
        }
    }
    info.not_before = to_time_point(X509_get0_notBefore(cert));
    info.not_after = to_time_point(X509_get0_notAfter(cert));

    // Addresses: subjectAltName rfc822Name first, then subject emailAddress (RFC 8550 §3).
    auto sans =
        ossl::adopt(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
            if (gn->type == GEN_EMAIL) {
                const ASN1_IA5STRING* s = gn->d.rfc822Name;
                info.addresses.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                           static_cast<std::size_t>(ASN1_STRING_length(s)))));
            }
        }
    }
    X509_NAME* subj = X509_get_subject_name(cert);
    for (int idx = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, -1); idx >= 0;
         idx = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, idx)) {
        const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        std::string a = lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                          static_cast<std::size_t>(ASN1_STRING_length(s))));
        if (std::find(info.addresses.begin(), info.addresses.end(), a) == info.addresses.end()) {
            info.addresses.push_back(a);
        }
    }

    // Key usage: RFC 8550 §4.4.2 — signing needs digitalSignature or nonRepudiation.
    const uint32_t ku = X509_get_key_usage(cert);
    info.key_usage_present = (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0;
    info.key_usage_signs = !info.key_usage_present || (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
    const uint32_t xku = X509_get_extended_key_usage(cert);
    info.eku_present = (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0;
    info.eku_email = !info.eku_present || (xku & (XKU_SMIME | XKU_ANYEKU)) != 0;

    EVP_PKEY* pub = X509_get0_pubkey(cert);
    if (pub != nullptr) {
        info.key_bits = EVP_PKEY_get_bits(pub);
        if (EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS")) {
            info.key_type = "RSA";
        } else if (EVP_PKEY_is_a(pub, "EC")) {
            char group[64] = {};
            size_t len = 0;
            EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &len);
            const int nid = OBJ_sn2nid(group);
            const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
            info.key_type = std::string("EC ") + (nist != nullptr ? nist : group);
        } else {
            info.key_type = EVP_PKEY_get0_type_name(pub) != nullptr ? EVP_PKEY_get0_type_name(pub) : "unknown";
        }
    }
    return info;
}

std::vector<ossl::Ptr<X509>> read_pem_certs(const std::string& file) {
    const std::string pem = read_file(file, "certificate file");
    auto bio = ossl::mem_bio(pem.data(), pem.size());
    std::vector<ossl::Ptr<X509>> certs;
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        certs.push_back(ossl::adopt(x));
    }
    ERR_clear_error();  // the loop ends on "no start line"
    if (certs.empty()) {
        throw Error(Category::Credential, file + ": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
    }
    return certs;
}

TrustStore TrustStore::load(const std::vector<std::string>& anchor_files,
                            const std::vector<std::string>& intermediate_files) {
    TrustStore ts;
    ts.m_store = std::shared_ptr<X509_STORE>(X509_STORE_new(), X509_STORE_free);
    ossl::check(ts.m_store != nullptr, "X509_STORE_new");
    for (const auto& file : anchor_files) {
        for (auto& cert : read_pem_certs(file)) {
            ossl::check(X509_STORE_add_cert(ts.m_store.get(), cert.get()) == 1, "X509_STORE_add_cert");
            ++ts.m_anchor_count;
        }
    }
    for (const auto& file : intermediate_files) {
        for (auto& cert : read_pem_certs(file)) {
            ts.m_intermediates.push_back(std::move(cert));
        }
    }
    return ts;
}

ChainCheck TrustStore::check(X509* leaf, const std::vector<ossl::Ptr<X509>>& untrusted,
                             std::optional<TimePoint> at) const {
    ChainCheck result;
    if (!m_store) {
        result.error = "no trust anchors configured";
        return result;
    }
    std::vector<ossl::Ptr<X509>> all;
    for (const auto& c : untrusted) {
        all.push_back(ossl::retain(c.get()));
    }
    for (const auto& c : m_intermediates) {
        all.push_back(ossl::retain(c.get()));
    }
    auto stack = ossl::make_stack(all);
    auto ctx = ossl::adopt(X509_STORE_CTX_new());
    ossl::check(ctx != nullptr, "X509_STORE_CTX_new");
    ossl::check(X509_STORE_CTX_init(ctx.get(), m_store.get(), leaf, stack.get()) == 1, "X509_STORE_CTX_init");
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    if (at) {
        X509_VERIFY_PARAM_set_time(param, Clock::to_time_t(*at));
    } else {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
    }
    const int ok = X509_verify_cert(ctx.get());
    if (ok == 1) {
        result.trusted = true;
        STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
        result.earliest_not_after = TimePoint::max();
        for (int i = 0; i < sk_X509_num(chain); ++i) {
            X509* c = sk_X509_value(chain, i);
            result.path.push_back(ossl::retain(c));
            result.earliest_not_after = std::min(result.earliest_not_after, to_time_point(X509_get0_notAfter(c)));
        }
    } else {
        const int err = X509_STORE_CTX_get_error(ctx.get());
        result.error = X509_verify_cert_error_string(err);
    }
    ERR_clear_error();
    return result;
}

void require_private_file(const std::string& file, const char* what) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        throw Error(Category::Credential,
                    std::string("cannot read ") + what + " " + file + ": " + std::strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw Error(Category::Credential, std::string(what) + " " + file + " may be read by other users (mode " + mode +
                                              "): run chmod 600 " + file);
    }
}

Credential load_pkcs12(const std::string& file, const std::string& passphrase_file) {
    ossl::init_providers();
    require_private_file(file, "key file");
    Credential cred;
    cred.source = file;
    const std::string der = read_file(file, "key file");
    auto bio = ossl::mem_bio(der.data(), der.size());
    auto p12 = ossl::adopt(d2i_PKCS12_bio(bio.get(), nullptr));
    if (!p12) {
        ERR_clear_error();
        throw Error(Category::Credential, file + ": not a PKCS#12 file");
    }
    std::string pass = passphrase_file.empty() ? std::string() : read_passphrase(passphrase_file);
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    const int ok = PKCS12_parse(p12.get(), pass.c_str(), &key, &cert, &ca);
    wipe(pass);
    if (ok != 1) {
        const unsigned long code = ERR_peek_last_error();
        ERR_clear_error();
        const bool mac = ERR_GET_REASON(code) == PKCS12_R_MAC_VERIFY_FAILURE;
        throw Error(Category::Credential,
                    file + (mac ? ": wrong passphrase (check " + passphrase_file + ")"
                                : ": cannot decrypt the PKCS#12 file (unsupported algorithm or damaged file)"));
    }
    auto owned_key = ossl::adopt(key);
    cred.cert = ossl::adopt(cert);
    if (ca != nullptr) {
        while (sk_X509_num(ca) > 0) {
            cred.chain.push_back(ossl::adopt(sk_X509_shift(ca)));
        }
        sk_X509_free(ca);
    }
    finish(cred, std::move(owned_key));
    return cred;
}

Credential load_pem(const std::string& cert_file, const std::string& key_file, const std::string& passphrase_file) {
    ossl::init_providers();
    require_private_file(key_file, "key file");
    Credential cred;
    cred.source = key_file;
    auto certs = read_pem_certs(cert_file);
    cred.cert = std::move(certs.front());
    for (std::size_t i = 1; i < certs.size(); ++i) {
        cred.chain.push_back(std::move(certs[i]));
    }
    const std::string pem = read_file(key_file, "key file");
    auto bio = ossl::mem_bio(pem.data(), pem.size());
    std::string pass = passphrase_file.empty() ? std::string() : read_passphrase(passphrase_file);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, pass.empty() ? nullptr : pass.data());
    wipe(pass);
    if (key == nullptr) {
        ERR_clear_error();
        throw Error(Category::Credential,
                    key_file + ": cannot read the private key (not PEM, or encrypted and " +
                        (passphrase_file.empty() ? "no passphrase_file given)" : "the passphrase is wrong)"));
    }
    finish(cred, ossl::adopt(key));
    return cred;
}

Credential load_pkcs11(const TokenKeyRef& ref, const std::string& certificate_file) {
    Credential cred;
    cred.source = ref.uri;
    std::vector<ossl::Ptr<X509>> certs;
    if (!certificate_file.empty()) {
        certs = read_pem_certs(certificate_file);
    }
    TokenKey token = open_token_key(ref, certs.empty() ? nullptr : certs.front().get());
    cred.cert = std::move(token.certificate);
    cred.key = std::move(token.key);
    for (std::size_t i = 1; i < certs.size(); ++i) {
        cred.chain.push_back(std::move(certs[i]));
    }
    cred.info = inspect(cred.cert.get());
    cred.ess_v2 = ess_signing_certificate_v2(cred.cert.get());
    return cred;
}

}  // namespace segel::smime
