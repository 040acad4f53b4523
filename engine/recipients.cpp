#include "engine/recipients.h"

#include "base/address.h"
#include "base/text.h"
#include "base/time.h"

#include "smime/encrypt.h"
#include "smime/error.h"

#include <ldap.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace segel::engine {

namespace {

using base::lower;

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_secret(const std::string& file) {
    smime::require_private_file(file, "LDAP bind password file");
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string v = ss.str();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) {
        v.pop_back();
    }
    return v;
}

/** Owns an LDAP* handle. */
struct LdapDeleter {
    void operator()(LDAP* ld) const noexcept { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
struct MessageDeleter {
    void operator()(LDAPMessage* m) const noexcept { ldap_msgfree(m); }
};

class LdapDirectory final : public CertificateDirectory {
public:
    explicit LdapDirectory(config::Encryption::Ldap ldap) : m_ldap(std::move(ldap)) {
        if (!m_ldap.bind_password_file.empty()) {
            m_password = read_secret(m_ldap.bind_password_file);  // read once, at load: a bad file fails the load
        }
    }

    [[nodiscard]] std::string name() const override { return "ldap " + m_ldap.uri; }

    std::vector<std::string> search(const std::string& address) const override {
        LDAP* raw = nullptr;
        if (ldap_initialize(&raw, m_ldap.uri.c_str()) != LDAP_SUCCESS || raw == nullptr) {
            throw smime::Error(smime::Category::Io, "cannot use LDAP URI " + m_ldap.uri);
        }
        std::unique_ptr<LDAP, LdapDeleter> ld(raw);
        const int version = LDAP_VERSION3;
        ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
        ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
        timeval tv{m_ldap.timeout_seconds, 0};
        ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);
        ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);

        berval cred{};
        std::string password = m_password;
        cred.bv_val = password.data();
        cred.bv_len = password.size();
        int rc = ldap_sasl_bind_s(ld.get(), m_ldap.bind_dn.empty() ? nullptr : m_ldap.bind_dn.c_str(), LDAP_SASL_SIMPLE,
                                  &cred, nullptr, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
            throw smime::Error(smime::Category::Io, "LDAP bind to " + m_ldap.uri + " failed: " + ldap_err2string(rc));
        }
        std::string filter;
        const std::string escaped = ldap_escape(address);
        for (std::size_t i = 0; i < m_ldap.filter.size(); ++i) {
            if (m_ldap.filter.compare(i, 2, "%s") == 0) {
                filter += escaped;
                ++i;
            } else {
                filter += m_ldap.filter[i];
            }
        }
        char attr_cert[] = "userCertificate";
        char attr_smime[] = "userSMIMECertificate";
        char* attrs[] = {attr_cert, attr_smime, nullptr};
        LDAPMessage* res_raw = nullptr;
        rc = ldap_search_ext_s(ld.get(), m_ldap.base_dn.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0, nullptr,
                               nullptr, &tv, 50, &res_raw);
        std::unique_ptr<LDAPMessage, MessageDeleter> res(res_raw);
        if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && rc != LDAP_NO_SUCH_OBJECT) {
            throw smime::Error(smime::Category::Io, "LDAP search on " + m_ldap.uri + " failed: " + ldap_err2string(rc));
        }
        std::vector<std::string> out;
        for (LDAPMessage* e = ldap_first_entry(ld.get(), res.get()); e != nullptr; e = ldap_next_entry(ld.get(), e)) {
            BerElement* ber = nullptr;
            for (char* a = ldap_first_attribute(ld.get(), e, &ber); a != nullptr;
                 a = ldap_next_attribute(ld.get(), e, ber)) {
                const std::string attr = lower(a);
                if (attr.rfind("usercertificate", 0) == 0 || attr.rfind("usersmimecertificate", 0) == 0) {
                    berval** vals = ldap_get_values_len(ld.get(), e, a);
                    for (int i = 0; vals != nullptr && vals[i] != nullptr; ++i) {
                        out.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
                    }
                    ldap_value_free_len(vals);
                }
                ldap_memfree(a);
            }
            if (ber != nullptr) {
                ber_free(ber, 0);
            }
        }
        return out;
    }

private:
    config::Encryption::Ldap m_ldap;
    std::string m_password;
};

std::vector<smime::ossl::Ptr<X509>> read_file_certs(const std::string& path) {
    return smime::read_pem_certs(path);
}

}  // namespace

std::string ldap_escape(const std::string& value) {
    // libldap's own RFC 4515 escaping (\2a for '*', and so on for ( ) \ NUL).
    berval in{static_cast<ber_len_t>(value.size()), const_cast<char*>(value.data())};
    berval out{0, nullptr};
    if (ldap_bv2escaped_filter_value(&in, &out) != 0 || out.bv_val == nullptr) {
        throw smime::Error(smime::Category::Internal, "cannot escape an LDAP filter value");
    }
    std::string escaped(out.bv_val, out.bv_len);
    ber_memfree(out.bv_val);
    return escaped;
}

std::unique_ptr<CertificateDirectory> make_ldap_directory(const config::Encryption::Ldap& ldap) {
    return std::make_unique<LdapDirectory>(ldap);
}

RecipientStore::RecipientStore(const config::Encryption& enc, std::string harvest_directory, smime::TrustStore trust,
                               std::unique_ptr<CertificateDirectory> directory, RevocationVeto revocation)
    : m_directory(enc.certificate_directory),
      m_harvest(std::move(harvest_directory)),
      m_trust(std::move(trust)),
      m_ldap(std::move(directory)),
      m_revocation(std::move(revocation)),
      m_cache_size(enc.cache_size),
      m_ttl(enc.cache_ttl_seconds),
      m_negative_ttl(enc.negative_ttl_seconds) {}

smime::TrustStore RecipientStore::load_trust(const config::Settings& s) {
    std::vector<std::string> anchors = s.trust.anchors;
    anchors.insert(anchors.end(), s.encryption.extra_anchors.begin(), s.encryption.extra_anchors.end());
    if (s.encryption.system_trust) {
        anchors.push_back(s.encryption.system_bundle);
    }
    return smime::TrustStore::load(anchors, s.trust.intermediates);
}

std::string RecipientStore::unusable(X509* cert, const std::vector<smime::ossl::Ptr<X509>>& chain,
                                     const std::string& address, TimePoint now) const {
    const smime::CertInfo info = smime::inspect(cert);
    if (std::find(info.addresses.begin(), info.addresses.end(), address) == info.addresses.end()) {
        return "does not name " + base::kv_value(address);  // the client's RCPT TO: one line
    }
    if (now < info.not_before) {
        return "not valid before " + base::format_date(info.not_before);
    }
    if (now >= info.not_after) {
        return "expired " + base::format_date(info.not_after);
    }
    if (const std::string why = smime::cannot_receive(cert); !why.empty()) {
        return why;
    }
    const smime::ChainCheck chain_check = m_trust.check(cert, chain, now);
    if (!chain_check.trusted) {
        return "does not chain to a trusted anchor (" + chain_check.error + ")";
    }
    if (m_revocation && chain_check.path.size() >= 2) {  // never encrypt to a certificate known revoked (R6)
        return m_revocation(cert, chain_check.path[1].get(), now);
    }
    return {};
}

RecipientLookup RecipientStore::choose(const std::string& address, const std::string& source,
                                       std::vector<smime::ossl::Ptr<X509>> certs, TimePoint now,
                                       std::string& rejected) const {
    RecipientLookup out;
    std::shared_ptr<RecipientCertificate> best;
    for (const auto& c : certs) {
        const std::string why = unusable(c.get(), certs, address, now);
        smime::CertInfo info = smime::inspect(c.get());
        if (!why.empty()) {
            if (std::find(info.addresses.begin(), info.addresses.end(), address) != info.addresses.end()) {
                rejected += (rejected.empty() ? "" : "; ") + source + ": serial " + info.serial + " " + why;
            }
            continue;
        }
        // Among several usable certificates, the newest (latest notBefore) wins.
        if (!best || info.not_before > best->info.not_before) {
            best = std::make_shared<RecipientCertificate>();
            best->cert = smime::ossl::retain(c.get());
            best->source = source;
            best->info = std::move(info);
        }
    }
    if (best) {
        out.why = source + ": serial " + best->info.serial + ", valid to " + base::format_date(best->info.not_after);
        out.found = std::move(best);
    }
    return out;
}

RecipientLookup RecipientStore::search(const std::string& address, TimePoint now) const {
    std::string rejected;
    for (const auto& [kind, dir] :
         {std::pair<std::string, std::string>{"directory", m_directory}, {"harvest", m_harvest}}) {
        if (dir.empty() || !base::file_safe_address(address)) {
            continue;
        }
        const std::string path = dir + "/" + address + ".pem";
        if (!exists(path)) {
            continue;
        }
        try {
            RecipientLookup r = choose(address, kind + " " + path, read_file_certs(path), now, rejected);
            if (r.found) {
                return r;
            }
        } catch (const smime::Error& e) {
            rejected += (rejected.empty() ? "" : "; ") + kind + " " + path + ": " + e.what();
        }
    }
    RecipientLookup out;
    if (m_ldap) {
        try {
            std::vector<smime::ossl::Ptr<X509>> certs;
            for (const auto& der : m_ldap->search(address)) {
                for (auto& c : smime::certificates_from_der(der)) {
                    certs.push_back(std::move(c));
                }
            }
            RecipientLookup r = choose(address, m_ldap->name(), std::move(certs), now, rejected);
            if (r.found) {
                return r;
            }
        } catch (const std::exception& e) {
            out.lookup_failed = true;
            rejected += (rejected.empty() ? "" : "; ") + std::string(e.what());
        }
    }
    out.why = rejected.empty() ? "no certificate found" : "no usable certificate (" + rejected + ")";
    return out;
}

RecipientLookup RecipientStore::lookup(const std::string& raw_address, TimePoint now) const {
    const std::string address = lower(raw_address);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto it = m_cache.find(address);
        if (it != m_cache.end()) {
            const bool still_valid = !it->second.answer.found || now < it->second.answer.found->info.not_after;
            if (now < it->second.expires && still_valid) {
                m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
                RecipientLookup hit = it->second.answer;
                hit.cached = true;
                return hit;
            }
            m_lru.erase(it->second.lru);
            m_cache.erase(it);
        }
    }
    // Searched outside the lock: a slow directory must not stall other threads' cache hits.
    RecipientLookup answer = search(address, now);
    if (answer.lookup_failed || m_cache_size == 0) {
        return answer;  // a temporary failure is asked again next time
    }
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_cache.count(address) == 0) {
        while (m_cache.size() >= m_cache_size && !m_lru.empty()) {
            m_cache.erase(m_lru.back());
            m_lru.pop_back();
        }
        m_lru.push_front(address);
        m_cache[address] = Entry{answer, now + (answer.found ? m_ttl : m_negative_ttl), m_lru.begin()};
    }
    return answer;
}

std::size_t RecipientStore::cache_entries() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_cache.size();
}

}  // namespace segel::engine
