#include "config/load.h"

#include "config/reader.h"

#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>
#include <libpsl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace segel::config {

namespace {

using namespace detail;

/**
 * Suffixes under which anyone may register (go.id, co.id, desa.id, …): never "a
 * domain this gateway serves". From the Public Suffix List (libpsl with the
 * packaged list, Debian `publicsuffix`; the copy built into libpsl when the file
 * is missing); a name without a dot is a top-level domain.
 */
bool public_suffix(const std::string& d) {
    static psl_ctx_t* const psl = [] {
        psl_ctx_t* latest = psl_latest(nullptr);
        return latest != nullptr ? latest : const_cast<psl_ctx_t*>(psl_builtin());
    }();
    if (d.find('.') == std::string::npos) {
        return true;
    }
    return psl != nullptr && psl_is_public_suffix2(psl, d.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

void parse_milter(const Reader& r, const YAML::Node& root, Settings& s) {
    const auto m = root["milter"];
    if (!m) {
        return;
    }
    r.require_map(m, "milter",
                  {"socket", "socket_mode", "socket_owner", "socket_group", "internal_networks", "on_internal_error",
                   "spool_memory_limit", "spool_directory", "max_message_size", "timeout", "shutdown_timeout"});
    r.part([&] {
        if (m["socket"]) {
            s.milter.socket = r.scalar(m["socket"], "milter.socket");
            s.milter.socket_origin = origin_of(m["socket"]);
            const auto& v = s.milter.socket;
            if (v.rfind("unix:", 0) != 0 && v.rfind("local:", 0) != 0 && v.rfind("inet:", 0) != 0 &&
                v.rfind("inet6:", 0) != 0) {
                r.fail(m["socket"], "milter.socket",
                       "\"" + v +
                           "\" is not a milter socket; use unix:/path/to.sock (recommended) or inet:PORT@127.0.0.1");
            }
        }
    });
    r.part([&] {
        if (m["socket_mode"]) {
            const std::string v = r.scalar(m["socket_mode"], "milter.socket_mode");
            std::size_t used = 0;
            unsigned long mode = 0;
            try {
                mode = std::stoul(v, &used, 8);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != v.size() || mode > 0777) {
                r.fail(m["socket_mode"], "milter.socket_mode", "\"" + v + "\" is not an octal file mode (e.g. 0660)");
            }
            s.milter.socket_mode = static_cast<unsigned>(mode);
        }
    });
    for (const auto& [key, target, origin] :
         {std::tuple{"socket_owner", &s.milter.socket_owner, &s.milter.socket_owner_origin},
          std::tuple{"socket_group", &s.milter.socket_group, &s.milter.socket_group_origin}}) {
        r.part([&, key = key, target = target, origin = origin] {
            if (m[key]) {
                const std::string path = std::string("milter.") + key;
                *target = r.scalar(m[key], path);
                *origin = origin_of(m[key]);
                if (target->empty() || target->find_first_of(" \t:/") != std::string::npos) {
                    r.fail(m[key], path, "\"" + *target + "\" is not a user or group name");
                }
            }
        });
    }
    r.part([&] {
        if (!m["internal_networks"]) {
            return;
        }
        int i = 0;
        for (const auto& item : r.sequence(m["internal_networks"], "milter.internal_networks")) {
            const std::string path = Reader::index("milter.internal_networks", i++);
            r.part([&] {
                Network net;
                if (!parse_network(r.scalar(item, path), net)) {
                    r.fail(item, path,
                           "\"" + item.Scalar() + "\" is not an IP address or CIDR network (e.g. 10.0.0.0/8)");
                }
                s.milter.internal_networks.push_back(net);
            });
        }
    });
    r.part([&] {
        if (m["on_internal_error"]) {
            s.milter.on_internal_error =
                r.choice<OnError>(m["on_internal_error"], "milter.on_internal_error",
                                  {{"tempfail", OnError::Tempfail}, {"accept", OnError::Accept}});
        }
    });
    for (const auto& [key, target] : {std::pair{"spool_memory_limit", &s.milter.spool_memory_limit},
                                      std::pair{"max_message_size", &s.milter.max_message_size}}) {
        r.part([&, key = key, target = target] {
            if (m[key]) {
                const std::string path = std::string("milter.") + key;
                if (!parse_size(r.scalar(m[key], path), *target) || *target == 0) {
                    r.fail(m[key], path, "\"" + m[key].Scalar() + "\" is not a size (e.g. 1048576, 512K, 1M, 2G)");
                }
            }
        });
    }
    r.part([&] {
        if (m["spool_directory"]) {
            s.milter.spool_directory = r.scalar(m["spool_directory"], "milter.spool_directory");
            s.milter.spool_directory_origin = origin_of(m["spool_directory"]);
        }
    });
    for (const auto& [key, target] : {std::pair{"timeout", &s.milter.timeout_seconds},
                                      std::pair{"shutdown_timeout", &s.milter.shutdown_timeout_seconds}}) {
        r.part([&, key = key, target = target] {
            if (m[key]) {
                const std::string path = std::string("milter.") + key;
                const std::string v = r.scalar(m[key], path);
                std::size_t used = 0;
                try {
                    *target = std::stoi(v, &used);
                } catch (const std::exception&) {
                    used = 0;
                }
                if (used == 0 || used != v.size() || *target < 1 || *target > 86400) {
                    r.fail(m[key], path, "\"" + v + "\" is not a number of seconds from 1 to 86400");
                }
            }
        });
    }
}

void parse_log(const Reader& r, const YAML::Node& root, Settings& s) {
    const auto l = root["log"];
    if (!l) {
        return;
    }
    r.require_map(l, "log", {"level", "destination", "facility"});
    r.part([&] {
        if (l["level"]) {
            s.log.level = lower(r.scalar(l["level"], "log.level"));
            static const std::set<std::string> k_levels = {"trace", "debug", "info", "warn", "error"};
            if (k_levels.count(s.log.level) == 0) {
                r.fail(l["level"], "log.level",
                       "\"" + l["level"].Scalar() + "\" is not one of trace | debug | info | warn | error");
            }
        }
    });
    using Destination = Settings::Log::Destination;
    r.part([&] {
        if (l["destination"]) {
            s.log.destination = r.choice<Destination>(l["destination"], "log.destination",
                                                      {{"auto", Destination::Auto},
                                                       {"syslog", Destination::Syslog},
                                                       {"journal", Destination::Journal},
                                                       {"stderr", Destination::Stderr}});
        }
    });
    r.part([&] {
        if (l["facility"]) {
            s.log.facility = lower(r.scalar(l["facility"], "log.facility"));
            static const std::set<std::string> k_facilities = {"mail",   "daemon", "user",   "local0",
                                                               "local1", "local2", "local3", "local4",
                                                               "local5", "local6", "local7"};
            if (k_facilities.count(s.log.facility) == 0) {
                r.fail(l["facility"], "log.facility",
                       "\"" + l["facility"].Scalar() + "\" is not one of mail | daemon | user | local0 … local7");
            }
        }
    });
}

void parse_trust(const Reader& r, const YAML::Node& root, Settings& s) {
    const auto t = root["trust"];
    if (!t) {
        throw ConfigError(r.file(), {1, 1}, "trust.anchors",
                          "missing: list the PEM file(s) of the root CA(s) signer certificates must chain to");
    }
    r.require_map(t, "trust", {"anchors", "intermediates"});
    s.trust.origin = origin_of(t);
    r.part([&] {
        if (!t["anchors"]) {
            r.fail(t, "trust.anchors",
                   "missing: list the PEM file(s) of the root CA(s) signer certificates must chain to");
        }
        s.trust.anchors = r.strings(t["anchors"], "trust.anchors");
        if (s.trust.anchors.empty()) {
            r.fail(t["anchors"], "trust.anchors", "must name at least one PEM file");
        }
    });
    r.part([&] {
        if (t["intermediates"]) {
            s.trust.intermediates = r.strings(t["intermediates"], "trust.intermediates");
        }
    });
}

/** One signing.domains entry. */
DomainRule parse_domain(const Reader& r, const YAML::Node& item, const std::string& path, const Settings& s,
                        const std::vector<std::pair<std::string, Action>>& actions) {
    r.require_map(item, path,
                  {"domain", "subdomains", "without_certificate", "local_part_logins", "client_signatures",
                   "client_encrypted", "unsignable", "seal", "timestamp", "document_signing_certificates"});
    if (!item["domain"]) {
        r.fail(item, path + ".domain", "missing: the official domain, e.g. dinas.example.go.id");
    }
    DomainRule d;
    d.origin = origin_of(item["domain"]);
    d.domain = lower(r.scalar(item["domain"], path + ".domain"));
    if (!valid_domain(d.domain)) {
        r.fail(item["domain"], path + ".domain", "\"" + d.domain + "\" is not a domain name");
    }
    if (public_suffix(d.domain)) {
        r.fail(item["domain"], path + ".domain",
               "\"" + d.domain +
                   "\" is a public suffix, not a domain this gateway serves; name the agency's own "
                   "domain (e.g. dumai.go.id)");
    }
    r.part([&] {
        if (item["subdomains"]) {
            d.subdomains = r.boolean(item["subdomains"], path + ".subdomains");
        }
    });
    r.part([&] {
        if (item["local_part_logins"]) {
            d.local_part_logins = r.boolean(item["local_part_logins"], path + ".local_part_logins");
        }
    });
    r.part([&] {
        if (item["without_certificate"]) {
            d.without_certificate =
                r.choice<Action>(item["without_certificate"], path + ".without_certificate", actions);
        }
    });
    const std::vector<std::pair<std::string, ClientProtected>> k_client = {
        {"reject", ClientProtected::Reject}, {"wrap", ClientProtected::Wrap}, {"pass", ClientProtected::Pass}};
    r.part([&] {
        if (item["client_signatures"]) {
            d.client_signatures =
                r.choice<ClientProtected>(item["client_signatures"], path + ".client_signatures", k_client);
        }
    });
    r.part([&] {
        if (item["client_encrypted"]) {
            d.client_encrypted =
                r.choice<ClientProtected>(item["client_encrypted"], path + ".client_encrypted", k_client);
        }
    });
    r.part([&] {
        if (item["unsignable"]) {
            d.unsignable = r.choice<Action>(item["unsignable"], path + ".unsignable", actions);
        }
    });
    r.part([&] {
        if (item["document_signing_certificates"]) {  // compatibility switch (docs/configuration.md)
            d.document_signing_certificates =
                r.choice<bool>(item["document_signing_certificates"], path + ".document_signing_certificates",
                               {{"refuse", false}, {"allow", true}});
        }
    });
    for (const auto& prev : s.signing.domains) {
        if (prev.domain == d.domain) {
            r.fail(item["domain"], path + ".domain",
                   "\"" + d.domain + "\" is listed twice (first at line " + std::to_string(prev.origin.line) + ")");
        }
    }
    return d;
}

void parse_signing(const Reader& r, const YAML::Node& root, Settings& s) {
    const auto g = root["signing"];
    if (!g) {
        throw ConfigError(r.file(), {1, 1}, "signing.domains",
                          "missing: list the official domains this gateway signs for");
    }
    r.require_map(g, "signing",
                  {"format", "other_senders", "login_case", "domains", "other_domains", "logins", "systems"});
    r.part([&] {
        if (g["format"]) {
            s.signing.format = r.choice<SignFormat>(
                g["format"], "signing.format", {{"detached", SignFormat::Detached}, {"opaque", SignFormat::Opaque}});
        }
    });
    const std::vector<std::pair<std::string, Action>> k_actions = {{"reject", Action::Reject}, {"pass", Action::Pass}};
    r.part([&] {
        if (g["other_senders"]) {
            s.signing.other_senders = r.choice<Action>(g["other_senders"], "signing.other_senders", k_actions);
        }
    });
    r.part([&] {
        if (g["login_case"]) {
            s.signing.login_case =
                r.choice<LoginCase>(g["login_case"], "signing.login_case",
                                    {{"exact", LoginCase::Exact}, {"insensitive", LoginCase::Insensitive}});
        }
    });
    // Whether an address is official is asked below: with a mistake among the domains
    // every such answer would be doubtful, so those checks wait for a clean list.
    bool domains_ok = r.part([&] {
        if (!g["domains"]) {
            r.fail(g, "signing.domains", "missing: list the official domains this gateway signs for");
        }
    });
    if (domains_ok) {
        domains_ok = r.part([&] { r.sequence(g["domains"], "signing.domains"); });
    }
    if (domains_ok) {
        int i = 0;
        for (const auto& item : r.sequence(g["domains"], "signing.domains")) {
            const std::string path = Reader::index("signing.domains", i++);
            domains_ok =
                r.part([&] { s.signing.domains.push_back(parse_domain(r, item, path, s, k_actions)); }) && domains_ok;
        }
        if (domains_ok && s.signing.domains.empty()) {
            domains_ok =
                r.part([&] { r.fail(g["domains"], "signing.domains", "must list at least one official domain"); });
        }
        if (domains_ok) {
            r.part([&] { parse_domain_seals(r, g["domains"], s); });
        }
    }
    r.part([&] {
        if (!g["other_domains"]) {
            return;
        }
        int i = 0;
        for (const auto& item : r.sequence(g["other_domains"], "signing.other_domains")) {
            const std::string path = Reader::index("signing.other_domains", i++);
            r.part([&] {
                r.require_map(item, path, {"domain", "subdomains", "action"});
                OtherDomainRule d;
                if (!item["domain"] || !item["action"]) {
                    r.fail(item, path, "needs both domain and action (reject | pass)");
                }
                d.origin = origin_of(item["domain"]);
                d.domain = lower(r.scalar(item["domain"], path + ".domain"));
                if (!valid_domain(d.domain)) {
                    r.fail(item["domain"], path + ".domain", "\"" + d.domain + "\" is not a domain name");
                }
                if (domains_ok && covered(s.signing.domains, d.domain)) {
                    r.fail(item["domain"], path + ".domain",
                           "\"" + d.domain +
                               "\" is an official domain (signing.domains); it cannot also be an other domain");
                }
                if (item["subdomains"]) {
                    d.subdomains = r.boolean(item["subdomains"], path + ".subdomains");
                }
                d.action = r.choice<Action>(item["action"], path + ".action", k_actions);
                s.signing.other_domains.push_back(d);
            });
        }
    });
    r.part([&] {
        if (!g["logins"]) {
            return;
        }
        const auto logins = g["logins"];
        if (!logins.IsMap()) {
            r.fail(logins, "signing.logins", "must map each login to the list of addresses it owns");
        }
        // A login is an identity as the SASL layer reports it: kept as written (issue 10 §2),
        // folded only when the administrator says logins ignore case.
        const bool fold = s.signing.login_case == LoginCase::Insensitive;
        std::map<std::string, std::pair<std::string, int>> seen;  // key → login as written, line
        for (const auto& kv : logins) {
            r.part([&] {
                const std::string written = kv.first.as<std::string>();
                const std::string login = fold ? lower(written) : written;
                const std::string path = "signing.logins." + login;
                const auto [it, fresh] = seen.emplace(login, std::pair{written, origin_of(kv.first).line});
                if (!fresh) {
                    const std::string line = std::to_string(it->second.second);
                    r.fail(kv.first, path,
                           written == it->second.first
                               ? "appears twice (first at line " + line + "); merge the two"
                               : "the same login as " + it->second.first + " (line " + line +
                                     ") when logins are compared ignoring case (signing.login_case: insensitive); "
                                     "merge the two");
                }
                std::vector<std::string> addresses;
                int i = 0;
                const auto values =
                    kv.second.IsScalar() ? std::vector<YAML::Node>{kv.second} : r.sequence(kv.second, path);
                for (const auto& item : values) {
                    const std::string ipath = Reader::index(path, i++);
                    r.part([&] {
                        const std::string a = lower(r.scalar(item, ipath));
                        if (!valid_address(a)) {
                            r.fail(item, ipath, "\"" + a + "\" is not an e-mail address");
                        }
                        if (domains_ok && !covered(s.signing.domains, domain_of(a))) {
                            r.fail(
                                item, ipath,
                                "\"" + a + "\" is not in an official domain (signing.domains), so it is never signed");
                        }
                        addresses.push_back(a);
                    });
                }
                s.signing.logins[login] = addresses;
            });
        }
    });
    r.part([&] {
        if (!g["systems"]) {
            return;
        }
        int i = 0;
        for (const auto& item : r.sequence(g["systems"], "signing.systems")) {
            const std::string path = Reader::index("signing.systems", i++);
            r.part([&] {
                r.require_map(item, path, {"name", "client", "clients", "may_send_as"});
                SystemSender sys;
                sys.origin = origin_of(item);
                sys.name = item["name"] ? r.scalar(item["name"], path + ".name") : "system " + std::to_string(i);
                std::vector<std::pair<YAML::Node, std::string>> nets;
                if (item["client"]) {
                    nets.emplace_back(item["client"], path + ".client");
                }
                if (item["clients"]) {
                    int k = 0;
                    for (const auto& c : r.sequence(item["clients"], path + ".clients")) {
                        nets.emplace_back(c, Reader::index(path + ".clients", k++));
                    }
                }
                if (nets.empty()) {
                    r.fail(item, path + ".client", "missing: the IP address or network the system connects from");
                }
                for (const auto& [node, npath] : nets) {
                    r.part([&, &node = node, &npath = npath] {
                        Network net;
                        if (!parse_network(r.scalar(node, npath), net)) {
                            r.fail(node, npath, "\"" + node.Scalar() + "\" is not an IP address or CIDR network");
                        }
                        sys.clients.push_back(net);
                    });
                }
                if (!item["may_send_as"]) {
                    r.fail(item, path + ".may_send_as",
                           "missing: the system or role addresses this client may send as");
                }
                int k = 0;
                for (const auto& a : r.sequence(item["may_send_as"], path + ".may_send_as")) {
                    const std::string apath = Reader::index(path + ".may_send_as", k++);
                    r.part([&] {
                        const std::string addr = lower(r.scalar(a, apath));
                        if (!valid_address(addr)) {
                            r.fail(a, apath, "\"" + addr + "\" is not an e-mail address");
                        }
                        if (domains_ok && !covered(s.signing.domains, domain_of(addr))) {
                            r.fail(a, apath, "\"" + addr + "\" is not in an official domain (signing.domains)");
                        }
                        sys.may_send_as.push_back(addr);
                    });
                }
                s.signing.systems.push_back(sys);
            });
        }
    });
}

void parse_credentials(const Reader& r, const YAML::Node& root, Settings& s) {
    if (!root["credentials"]) {
        return;
    }
    int i = 0;
    for (const auto& item : r.sequence(root["credentials"], "credentials")) {
        const std::string path = Reader::index("credentials", i++);
        r.part([&] { s.credentials.push_back(parse_credential(r, item, path)); });
    }
}

/** The whole file; mistakes go to @p errors when given (sorted by position), else they are thrown. */
Settings build(const YAML::Node& root, const std::string& file, std::vector<ConfigError>* out = nullptr) {
    Reader r(file);
    Settings s;
    s.source = file;
    if (!root || root.IsNull()) {
        throw ConfigError(file, {1, 1}, "", "the file is empty; see docs/configuration.md for a complete example");
    }
    r.part([&] {
        r.require_map(root, "",
                      {"milter", "log", "trust", "signing", "credentials", "inbound", "encryption", "metrics",
                       "timestamping", "revocation", "notices", "audit", "incidents"});
    });
    // Each section on its own: a mistake in one does not hide those in the others.
    r.part([&] { parse_milter(r, root, s); });
    r.part([&] { parse_log(r, root, s); });
    r.part([&] { parse_trust(r, root, s); });
    r.part([&] { parse_signing(r, root, s); });
    r.part([&] { parse_credentials(r, root, s); });
    r.part([&] { parse_inbound(r, root, s); });
    r.part([&] { parse_encryption(r, root, s); });
    r.part([&] { parse_metrics(r, root, s); });
    r.part([&] { parse_timestamping(r, root, s); });  // after signing: checks domains[].timestamp
    r.part([&] { parse_revocation(r, root, s); });
    r.part([&] { parse_notices(r, root, s); });  // after signing and credentials
    r.part([&] { parse_audit(r, root, s); });
    r.part([&] { parse_incidents(r, root, s); });  // after audit: the mail is signed with its seal
    std::vector<ConfigError> errors = r.errors();
    std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return a.origin.line != b.origin.line ? a.origin.line < b.origin.line : a.origin.column < b.origin.column;
    });
    if (out != nullptr) {
        *out = std::move(errors);
    } else if (!errors.empty()) {
        throw ConfigError(errors);
    }
    return s;
}

/** The text of @p path; @throws ConfigError naming the system's reason when it cannot be read. */
std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        const int why = errno;
        throw ConfigError(path, {0, 0}, "", std::string("cannot open the configuration file: ") + std::strerror(why));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

YAML::Node yaml_of(const std::string& yaml, const std::string& name) {
    try {
        return YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
        throw ConfigError(name, {e.mark.line + 1, e.mark.column + 1}, "", "not valid YAML: " + e.msg);
    }
}

}  // namespace

namespace detail {

CredentialRef parse_credential(const Reader& r, const YAML::Node& item, const std::string& path) {
    r.require_map(item, path, {"pkcs12", "certificate", "key", "passphrase_file", "pkcs11", "module", "pin_file"});
    CredentialRef c;
    c.origin = origin_of(item);
    for (const auto& [key, target] :
         {std::pair{"pkcs12", &c.pkcs12}, std::pair{"certificate", &c.certificate}, std::pair{"key", &c.key},
          std::pair{"passphrase_file", &c.passphrase_file}, std::pair{"pkcs11", &c.pkcs11},
          std::pair{"module", &c.module}, std::pair{"pin_file", &c.pin_file}}) {
        if (item[key]) {
            *target = r.scalar(item[key], path + "." + key);
            c.field_origins[key] = origin_of(item[key]);
        }
    }
    if (!c.pkcs11.empty() || !c.module.empty() || !c.pin_file.empty()) {
        parse_token_credential(r, item, path, c);
        return c;
    }
    const bool p12 = !c.pkcs12.empty();
    const bool pem = !c.certificate.empty() || !c.key.empty();
    if (p12 == pem) {
        r.fail(item, path,
               "give either pkcs12 (+ passphrase_file), certificate + key, or pkcs11 + module (+ pin_file), "
               "not several or none");
    }
    if (pem && (c.certificate.empty() || c.key.empty())) {
        r.fail(item, path, "a PEM credential needs both certificate and key");
    }
    if (p12 && c.passphrase_file.empty()) {
        r.fail(item, path + ".passphrase_file",
               "missing: the file holding the PKCS#12 passphrase (mode 600; passphrases never go in this file)");
    }
    return c;
}

}  // namespace detail

ConfigError::ConfigError(std::string file_, Origin origin_, std::string key_path_, const std::string& message)
    : std::runtime_error(file_ + ":" + std::to_string(origin_.line) + ":" + std::to_string(origin_.column) + ": " +
                         (key_path_.empty() ? "" : key_path_ + ": ") + message),
      file(std::move(file_)),
      origin(origin_),
      key_path(std::move(key_path_)),
      lines{what()} {}

namespace {
std::vector<std::string> all_lines(const std::vector<ConfigError>& errors) {
    std::vector<std::string> out;
    for (const auto& e : errors) {
        out.insert(out.end(), e.lines.begin(), e.lines.end());
    }
    return out;
}
std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        out += (out.empty() ? "" : "\n") + l;
    }
    return out;
}
}  // namespace

ConfigError credential_error(const std::string& source, const CredentialRef& ref, const std::string& base,
                             const std::string& what) {
    std::string field;
    std::size_t first = std::string::npos;
    for (const auto& [key, file] : {std::pair<std::string, std::string>{"passphrase_file", ref.passphrase_file},
                                    {"pin_file", ref.pin_file},
                                    {"pkcs12", ref.pkcs12},
                                    {"key", ref.key},
                                    {"certificate", ref.certificate},
                                    {"pkcs11", ref.pkcs11},
                                    {"module", ref.module}}) {
        const std::size_t at = file.empty() ? std::string::npos : what.find(file);
        if (at == std::string::npos) {
            continue;
        }
        if (key == "passphrase_file" || key == "pin_file") {
            field = key;
            break;
        }
        if (at < first) {
            first = at;
            field = key;
        }
    }
    const auto it = ref.field_origins.find(field);
    if (field.empty() || it == ref.field_origins.end()) {
        return {source, ref.origin, base, what};
    }
    return {source, it->second, base + "." + field, what};
}

ConfigError::ConfigError(const std::vector<ConfigError>& errors)
    : std::runtime_error(joined(all_lines(errors))),
      file(errors.empty() ? "" : errors.front().file),
      origin(errors.empty() ? Origin{} : errors.front().origin),
      key_path(errors.empty() ? "" : errors.front().key_path),
      lines(all_lines(errors)) {}

Settings parse(const std::string& yaml, const std::string& name) {
    const YAML::Node root = yaml_of(yaml, name);
    try {
        return build(root, name);
    } catch (const YAML::Exception& e) {
        throw ConfigError(name, {e.mark.line + 1, e.mark.column + 1}, "", e.msg);
    }
}

Settings load(const std::string& path) {
    return parse(read_file(path), path);
}

Settings load_partial(const std::string& path, std::vector<ConfigError>& errors) {
    errors.clear();
    try {
        const std::string text = read_file(path);
        const YAML::Node root = yaml_of(text, path);
        return build(root, path, &errors);
    } catch (const ConfigError& e) {
        errors.push_back(e);
    } catch (const YAML::Exception& e) {
        errors.emplace_back(path, Origin{e.mark.line + 1, e.mark.column + 1}, "", e.msg);
    }
    Settings s;
    s.source = path;
    return s;
}

bool parse_network(const std::string& text, Network& out) {
    out = Network{};
    out.text = text;
    std::string addr = text;
    int prefix = -1;
    if (const auto slash = text.find('/'); slash != std::string::npos) {
        addr = text.substr(0, slash);
        try {
            std::size_t used = 0;
            prefix = std::stoi(text.substr(slash + 1), &used);
            if (used != text.size() - slash - 1) {
                return false;
            }
        } catch (const std::exception&) {
            return false;
        }
    }
    if (inet_pton(AF_INET, addr.c_str(), out.bytes.data()) == 1) {
        out.v6 = false;
        out.prefix = prefix < 0 ? 32 : prefix;
        return out.prefix <= 32;
    }
    if (inet_pton(AF_INET6, addr.c_str(), out.bytes.data()) == 1) {
        out.v6 = true;
        out.prefix = prefix < 0 ? 128 : prefix;
        return out.prefix <= 128;
    }
    return false;
}

bool parse_size(const std::string& text, std::size_t& out) {
    if (text.empty()) {
        return false;
    }
    constexpr std::size_t k_max = std::numeric_limits<std::size_t>::max();
    std::size_t i = 0;
    std::size_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        const auto digit = static_cast<std::size_t>(text[i] - '0');
        if (v > (k_max - digit) / 10) {
            return false;  // more than fits: refused, never wrapped around
        }
        v = v * 10 + digit;
        ++i;
    }
    if (i == 0) {
        return false;
    }
    std::string unit = detail::lower(text.substr(i));
    if (!unit.empty() && unit.back() == 'b') {
        unit.pop_back();
    }
    if (!unit.empty() && unit.back() == 'i') {
        unit.pop_back();
    }
    unsigned shift = 0;
    if (unit == "k") {
        shift = 10;
    } else if (unit == "m") {
        shift = 20;
    } else if (unit == "g") {
        shift = 30;
    } else if (!unit.empty()) {
        return false;
    }
    if (v > (k_max >> shift)) {
        return false;
    }
    out = v << shift;
    return true;
}

}  // namespace segel::config
