#pragma once
// Internal to config/: the YAML walker that remembers key paths, and the
// validation helpers every section parser shares. Each feature parses its own
// section in its own file (inbound.cpp, encryption.cpp, ...).
#include "base/address.h"
#include "base/text.h"
#include "config/load.h"

#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace segel::config::detail {

using base::lower;

/** This host's name (the default authserv-id and audit node); "localhost" when it has none. */
inline std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
        return "localhost";
    }
    return buf;
}

inline bool valid_domain(const std::string& d) {
    if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') {
        return false;
    }
    std::size_t label = 0;
    for (const char c : d) {
        if (c == '.') {
            if (label == 0) {
                return false;
            }
            label = 0;
            continue;
        }
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-') || ++label > 63) {
            return false;
        }
    }
    return label > 0 && d.find('.') != std::string::npos;
}

inline bool valid_address(const std::string& a) {
    const auto at = a.rfind('@');
    return at != std::string::npos && at > 0 && valid_domain(a.substr(at + 1)) &&
           a.find_first_of(" \t<>\"") == std::string::npos;
}

using base::domain_of;

inline bool covered(const std::vector<DomainRule>& domains, const std::string& domain) {
    return std::any_of(domains.begin(), domains.end(),
                       [&](const DomainRule& r) { return base::domain_matches(domain, r.domain, r.subdomains); });
}

inline Origin origin_of(const YAML::Node& n) {
    const YAML::Mark m = n.Mark();
    return {m.line + 1, m.column + 1};
}

/**
 * Walks the YAML tree, remembering the key path for messages. fail() throws;
 * part() runs one independent piece of the file and keeps what it threw, so
 * the reading goes on and one run reports every mistake (errors()).
 */
class Reader {
public:
    explicit Reader(std::string file) : m_file(std::move(file)) {}

    [[noreturn]] void fail(const YAML::Node& n, const std::string& path, const std::string& msg) const {
        throw ConfigError(m_file, origin_of(n), path, msg);
    }

    /**
     * Runs @p fn; a ConfigError (or a yaml-cpp error) it throws is kept and
     * reading continues. Use it around each key of a section and each list
     * entry whose check does not depend on the others.
     * @return true when @p fn found nothing wrong
     */
    template <typename F>
    bool part(F&& fn) const {
        try {
            fn();
            return true;
        } catch (const ConfigError& e) {
            m_errors.push_back(e);
        } catch (const YAML::Exception& e) {
            m_errors.emplace_back(m_file, Origin{e.mark.line + 1, e.mark.column + 1}, "", e.msg);
        }
        return false;
    }

    /** What part() and require_map() kept, in the order found. */
    const std::vector<ConfigError>& errors() const { return m_errors; }

    /**
     * @p n must be a mapping with keys from @p allowed only. Unknown and
     * duplicate keys are kept as errors (every one of them); the known keys are
     * still read. Throws only when @p n is not a mapping at all.
     */
    void require_map(const YAML::Node& n, const std::string& path, const std::set<std::string>& allowed) const {
        if (!n.IsMap()) {
            fail(n, path, "must be a mapping of keys to values");
        }
        std::map<std::string, int> seen;
        for (const auto& kv : n) {
            const std::string key = kv.first.as<std::string>();
            const auto [it, fresh] = seen.emplace(key, kv.first.Mark().line + 1);
            if (!fresh) {
                m_errors.emplace_back(
                    m_file, origin_of(kv.first), join(path, key),
                    "appears twice (first at line " + std::to_string(it->second) + "); merge the two");
            } else if (allowed.count(key) == 0) {
                std::string list;
                for (const auto& a : allowed) {
                    list += (list.empty() ? "" : ", ") + a;
                }
                m_errors.emplace_back(m_file, origin_of(kv.first), join(path, key),
                                      "unknown key (allowed here: " + list + ")");
            }
        }
    }

    std::string scalar(const YAML::Node& n, const std::string& path) const {
        if (!n.IsScalar()) {
            fail(n, path, "must be a single value");
        }
        return n.Scalar();
    }

    bool boolean(const YAML::Node& n, const std::string& path) const {
        const std::string v = lower(scalar(n, path));
        if (v == "true" || v == "yes" || v == "on") {
            return true;
        }
        if (v == "false" || v == "no" || v == "off") {
            return false;
        }
        fail(n, path, "\"" + n.Scalar() + "\" is not true or false");
    }

    template <typename E>
    E choice(const YAML::Node& n, const std::string& path,
             const std::vector<std::pair<std::string, E>>& options) const {
        const std::string v = lower(scalar(n, path));
        std::string list;
        for (const auto& [name, value] : options) {
            if (v == name) {
                return value;
            }
            list += (list.empty() ? "" : " | ") + name;
        }
        fail(n, path, "\"" + n.Scalar() + "\" is not one of " + list);
    }

    std::vector<YAML::Node> sequence(const YAML::Node& n, const std::string& path) const {
        if (!n.IsSequence()) {
            fail(n, path, "must be a list (- item, or [a, b])");
        }
        std::vector<YAML::Node> out;
        for (const auto& item : n) {
            out.push_back(item);
        }
        return out;
    }

    std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const {
        std::vector<std::string> out;
        int i = 0;
        for (const auto& item : sequence(n, path)) {
            out.push_back(scalar(item, index(path, i++)));
        }
        return out;
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }
    static std::string index(const std::string& path, int i) { return path + "[" + std::to_string(i) + "]"; }

    const std::string& file() const { return m_file; }

private:
    std::string m_file;
    mutable std::vector<ConfigError> m_errors;
};

/** A list of e-mail addresses (lower-cased), each checked. */
inline std::vector<std::string> addresses(const Reader& r, const YAML::Node& n, const std::string& path) {
    std::vector<std::string> out;
    int i = 0;
    for (const auto& item : r.sequence(n, path)) {
        const std::string ipath = Reader::index(path, i++);
        const std::string a = lower(r.scalar(item, ipath));
        if (!valid_address(a)) {
            r.fail(item, ipath, "\"" + a + "\" is not an e-mail address");
        }
        out.push_back(a);
    }
    return out;
}

/** One {domain, subdomains, administrators: [addresses]} entry at @p path. */
inline DomainAdministrators domain_administrators(const Reader& r, const YAML::Node& item, const std::string& path) {
    r.require_map(item, path, {"domain", "subdomains", "administrators"});
    DomainAdministrators a;
    a.origin = origin_of(item);
    if (!item["domain"] || !item["administrators"]) {
        r.fail(item, path, "needs domain and administrators (the OPD administrators' addresses)");
    }
    a.domain = lower(r.scalar(item["domain"], path + ".domain"));
    if (!valid_domain(a.domain)) {
        r.fail(item["domain"], path + ".domain", "\"" + a.domain + "\" is not a domain name");
    }
    if (item["subdomains"]) {
        a.subdomains = r.boolean(item["subdomains"], path + ".subdomains");
    }
    a.to = addresses(r, item["administrators"], path + ".administrators");
    if (a.to.empty()) {
        r.fail(item["administrators"], path + ".administrators", "must list at least one address");
    }
    return a;
}

/** Whether @p hp is HOST:PORT with a port from 1 to 65535 (no spaces, '/' or '@'). */
inline bool valid_host_port(const std::string& hp) {
    const auto colon = hp.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == hp.size() || colon + 6 < hp.size() ||
        hp.find_first_of(" /@") != std::string::npos) {
        return false;
    }
    int port = 0;
    for (std::size_t i = colon + 1; i < hp.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(hp[i]))) {
            return false;
        }
        port = port * 10 + (hp[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/** Parses one credential entry ({pkcs12, passphrase_file} or {certificate, key[, passphrase_file]}). */
CredentialRef parse_credential(const Reader& r, const YAML::Node& item, const std::string& path);
/** Parses the optional top-level "audit:" section (the audit trail). */
void parse_audit(const Reader& r, const YAML::Node& root, Settings& s);
/** Parses the optional top-level "inbound:" section (verification). */
void parse_inbound(const Reader& r, const YAML::Node& root, Settings& s);
/** Parses the optional top-level "encryption:" section. */
void parse_encryption(const Reader& r, const YAML::Node& root, Settings& s);
/** Parses the optional top-level "metrics:" section (config/metrics.cpp). */
void parse_metrics(const Reader& r, const YAML::Node& root, Settings& s);
/** The "timestamping:" section and signing.domains[].timestamp (config/keys.cpp). */
void parse_timestamping(const Reader& r, const YAML::Node& root, Settings& s);
/** signing.domains[].seal, once every official domain is known (config/keys.cpp). */
void parse_domain_seals(const Reader& r, const YAML::Node& domains, Settings& s);
/** Checks a credentials[] entry that names a key in a PKCS#11 token (config/keys.cpp). */
void parse_token_credential(const Reader& r, const YAML::Node& item, const std::string& path, const CredentialRef& c);
/** Parses the optional top-level "revocation:" section (config/revocation.cpp). */
void parse_revocation(const Reader& r, const YAML::Node& root, Settings& s);
/** Parses the optional top-level "notices:" section (config/notices.cpp); after signing and credentials. */
void parse_notices(const Reader& r, const YAML::Node& root, Settings& s);
/** Parses the optional top-level "incidents:" section (config/incidents.cpp); after audit. */
void parse_incidents(const Reader& r, const YAML::Node& root, Settings& s);

}  // namespace segel::config::detail
