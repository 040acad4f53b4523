// Configuration of where keys live and what is added to signatures
// (docs/keys.md): credentials in PKCS#11 tokens, the organisation seal per
// domain, and RFC 3161 time-stamps.
#include "config/reader.h"

#include "base/address.h"

#include <algorithm>
#include <cstring>

namespace segel::config::detail {

/**
 * A key in a PKCS#11 token (docs/keys.md): pkcs11 (the RFC 7512 URI) and
 * module are required, pin_file and certificate optional; no file-key fields.
 * The URI itself is parsed when the key is opened, and its errors point here.
 */
void parse_token_credential(const Reader& r, const YAML::Node& item, const std::string& path, const CredentialRef& c) {
    for (const char* other : {"pkcs12", "key", "passphrase_file"}) {
        if (item[other]) {
            r.fail(item[other], path + "." + other,
                   std::string("a pkcs11 credential keeps its key in the token: remove ") + other +
                       " (or make this a file credential without pkcs11, module and pin_file)");
        }
    }
    if (c.pkcs11.empty()) {
        r.fail(item, path + ".pkcs11", "missing: the RFC 7512 URI of the key, e.g. pkcs11:token=segel;object=siti");
    }
    if (c.pkcs11.rfind("pkcs11:", 0) != 0) {
        r.fail(item["pkcs11"], path + ".pkcs11",
               "\"" + c.pkcs11 + "\" is not a pkcs11: URI (RFC 7512), e.g. pkcs11:token=segel;object=siti");
    }
    for (const char* secret : {"pin-value=", "pin-source="}) {
        if (c.pkcs11.find(secret) != std::string::npos) {
            // Not echoed: the value is a PIN.
            r.fail(item["pkcs11"], path + ".pkcs11",
                   "holds a PIN (" + std::string(secret).substr(0, std::strlen(secret) - 1) +
                       "); the PIN goes in pin_file (mode 600), never in the configuration");
        }
    }
    if (c.module.empty()) {
        r.fail(item, path + ".module",
               "missing: the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so or "
               "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so");
    }
    if (c.module.front() != '/') {
        r.fail(item["module"], path + ".module", "\"" + c.module + "\" must be an absolute path");
    }
}

void parse_domain_seals(const Reader& r, const YAML::Node& domains, Settings& s) {
    int i = 0;
    for (const auto& item : r.sequence(domains, "signing.domains")) {
        const std::string path = Reader::index("signing.domains", i);
        DomainRule& d = s.signing.domains[static_cast<std::size_t>(i++)];
        if (!item["seal"]) {
            continue;
        }
        const std::string a = lower(r.scalar(item["seal"], path + ".seal"));
        if (!valid_address(a)) {
            r.fail(item["seal"], path + ".seal",
                   "\"" + a + "\" is not an e-mail address (the seal's mailbox, e.g. sekretariat@" + d.domain + ")");
        }
        if (!covered(s.signing.domains, domain_of(a))) {
            r.fail(item["seal"], path + ".seal", "\"" + a + "\" is not in an official domain (signing.domains)");
        }
        // Recipients check the signer against Sender (RFC 8550 §3), and segel accepts a
        // Sender of the From's own organisation only: the seal must be this domain's or a parent's.
        if (!base::domain_matches(d.domain, domain_of(a), true)) {
            r.fail(item["seal"], path + ".seal",
                   "\"" + a + "\" is not an address of " + d.domain +
                       " (or of a domain above it): a seal signs only for its own organisation");
        }
        d.seal = a;
    }
}

namespace {

int seconds(const Reader& r, const YAML::Node& n, const std::string& path) {
    const std::string v = r.scalar(n, path);
    int out = 0;
    try {
        std::size_t used = 0;
        out = std::stoi(v, &used);
        if (used != v.size()) {
            out = 0;
        }
    } catch (const std::exception&) {
        out = 0;
    }
    if (out < 1 || out > 120) {
        r.fail(n, path, "\"" + v + "\" is not a number of seconds from 1 to 120");
    }
    return out;
}

bool valid_name(const std::string& n) {
    return !n.empty() && n.size() <= 64 &&
           n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos;
}

}  // namespace

void parse_timestamping(const Reader& r, const YAML::Node& root, Settings& s) {
    Timestamping& ts = s.timestamping;
    if (const auto t = root["timestamping"]) {
        r.require_map(t, "timestamping", {"authorities", "anchors", "intermediates", "hash", "timeout", "on_failure"});
        ts.present = true;
        ts.origin = origin_of(t);
        if (t["hash"]) {
            ts.hash = r.choice<Timestamping::Hash>(t["hash"], "timestamping.hash",
                                                   {{"sha256", Timestamping::Hash::Sha256},
                                                    {"sha384", Timestamping::Hash::Sha384},
                                                    {"sha512", Timestamping::Hash::Sha512}});
        }
        if (t["timeout"]) {
            ts.timeout_seconds = seconds(r, t["timeout"], "timestamping.timeout");
        }
        if (t["on_failure"]) {
            ts.on_failure = r.choice<Timestamping::OnFailure>(
                t["on_failure"], "timestamping.on_failure",
                {{"sign", Timestamping::OnFailure::Sign}, {"defer", Timestamping::OnFailure::Defer}});
        }
        if (t["anchors"]) {
            ts.anchors = r.strings(t["anchors"], "timestamping.anchors");
        }
        if (t["intermediates"]) {
            ts.intermediates = r.strings(t["intermediates"], "timestamping.intermediates");
        }
        if (!t["authorities"]) {
            r.fail(t, "timestamping.authorities", "missing: list the time-stamp authorities ({name, url})");
        }
        int i = 0;
        for (const auto& item : r.sequence(t["authorities"], "timestamping.authorities")) {
            const std::string path = Reader::index("timestamping.authorities", i++);
            r.require_map(item, path, {"name", "url", "credentials_file", "timeout"});
            Timestamping::Authority a;
            a.origin = origin_of(item);
            if (!item["name"] || !item["url"]) {
                r.fail(item, path, "needs name and url (e.g. name: bssn, url: https://tsa.example.go.id/)");
            }
            a.name = lower(r.scalar(item["name"], path + ".name"));
            if (!valid_name(a.name)) {
                r.fail(item["name"], path + ".name",
                       "\"" + a.name + "\" is not a name (letters, digits, - _ . ; at most 64)");
            }
            for (const auto& prev : ts.authorities) {
                if (prev.name == a.name) {
                    r.fail(
                        item["name"], path + ".name",
                        "\"" + a.name + "\" is listed twice (first at line " + std::to_string(prev.origin.line) + ")");
                }
            }
            a.url = r.scalar(item["url"], path + ".url");
            const std::string lu = lower(a.url);
            const std::size_t scheme = lu.rfind("https://", 0) == 0 ? 8 : lu.rfind("http://", 0) == 0 ? 7 : 0;
            const std::string rest = scheme == 0 ? std::string() : a.url.substr(scheme);
            const std::string host = rest.substr(0, rest.find_first_of("/?#"));
            if (scheme == 0 || host.empty() || a.url.find_first_of(" \t\r\n") != std::string::npos) {
                r.fail(item["url"], path + ".url", "\"" + a.url + "\" is not an http:// or https:// URL");
            }
            if (host.find('@') != std::string::npos) {
                // Not echoed: the URL holds a password.
                r.fail(item["url"], path + ".url",
                       "holds credentials (user:password@); put them in credentials_file (mode 600)");
            }
            if (item["credentials_file"]) {
                a.credentials_file = r.scalar(item["credentials_file"], path + ".credentials_file");
                a.credentials_origin = origin_of(item["credentials_file"]);
            }
            if (item["timeout"]) {
                a.timeout_seconds = seconds(r, item["timeout"], path + ".timeout");
            }
            ts.authorities.push_back(a);
        }
        if (ts.authorities.empty()) {
            r.fail(t["authorities"], "timestamping.authorities", "must list at least one time-stamp authority");
        }
    }
    // signing.domains[].timestamp: names from the section above, tried in order.
    const auto domains = root["signing"] ? root["signing"]["domains"] : YAML::Node();
    if (!domains || !domains.IsSequence()) {
        return;
    }
    for (std::size_t i = 0; i < domains.size() && i < s.signing.domains.size(); ++i) {
        const auto node = domains[i]["timestamp"];
        if (!node) {
            continue;
        }
        const std::string path = Reader::index("signing.domains", static_cast<int>(i)) + ".timestamp";
        const auto items = node.IsScalar() ? std::vector<YAML::Node>{node} : r.sequence(node, path);
        int k = 0;
        for (const auto& item : items) {
            const std::string ipath = node.IsScalar() ? path : Reader::index(path, k++);
            const std::string name = lower(r.scalar(item, ipath));
            const bool known = std::any_of(ts.authorities.begin(), ts.authorities.end(),
                                           [&](const Timestamping::Authority& a) { return a.name == name; });
            if (!known) {
                std::string list;
                for (const auto& a : ts.authorities) {
                    list += (list.empty() ? "" : ", ") + a.name;
                }
                r.fail(item, ipath,
                       "\"" + name + "\" is not a time-stamp authority of timestamping.authorities" +
                           (list.empty() ? " (there is no timestamping: section)" : " (defined: " + list + ")"));
            }
            s.signing.domains[i].timestamp.push_back(name);
        }
        if (items.empty()) {
            r.fail(node, path, "must name at least one time-stamp authority (or leave the key out)");
        }
    }
}

}  // namespace segel::config::detail
