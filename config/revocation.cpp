// The "revocation:" section: OCSP and CRL checks of the gateway's own signing
// certificates (before signing), of inbound signers and of recipients'
// certificates (docs/configuration.md, docs/verification.md). Example:
//
//   revocation:
//     cache_directory: /var/lib/segel/revocation
//     check_interval: 1h
//     signing:
//       grace: 24h
//       unknown: defer            # defer | sign
//     verify:
//       unknown: note             # note | temperror
//     encryption:
//       unknown: encrypt          # encrypt | skip
//     responders:
//       - issuer: /etc/segel/trust/bsre-ca-ds-g1.pem
//         ocsp: [http://ocsp.example.go.id/]
//         crl: [http://crl.example.go.id/bsre.crl]
#include "config/reader.h"

#include <unistd.h>

namespace segel::config {

bool parse_duration(const std::string& text, std::chrono::seconds& out) {
    if (text.empty()) {
        return false;
    }
    std::size_t i = 0;
    long long v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (v > 100000000LL) {
            return false;
        }
        v = v * 10 + (text[i] - '0');
        ++i;
    }
    if (i == 0) {
        return false;
    }
    const std::string unit = detail::lower(text.substr(i));
    long long scale = 0;
    if (unit.empty() || unit == "s") {
        scale = 1;
    } else if (unit == "m" || unit == "min") {
        scale = 60;
    } else if (unit == "h") {
        scale = 3600;
    } else if (unit == "d") {
        scale = 86400;
    } else {
        return false;
    }
    out = std::chrono::seconds(v * scale);
    return true;
}

namespace detail {

namespace {

/** An absolute http(s) URL with a host and nothing a header or a shell could misread. */
bool valid_url(const std::string& u) {
    const std::string l = lower(u);
    const std::size_t start = l.rfind("http://", 0) == 0 ? 7 : l.rfind("https://", 0) == 0 ? 8 : 0;
    if (start == 0 || u.size() <= start || u[start] == '/') {
        return false;
    }
    return std::none_of(u.begin(), u.end(), [](unsigned char c) { return c <= 32 || c >= 127; });
}

std::vector<std::string> urls(const Reader& r, const YAML::Node& n, const std::string& path) {
    const auto list = n.IsScalar() ? std::vector<std::string>{r.scalar(n, path)} : r.strings(n, path);
    int i = 0;
    for (const auto& u : list) {
        if (!valid_url(u)) {
            r.fail(n.IsScalar() ? n : n[i], n.IsScalar() ? path : Reader::index(path, i),
                   "\"" + u + "\" is not an http:// or https:// URL (e.g. http://ocsp.example.go.id/)");
        }
        ++i;
    }
    return list;
}

}  // namespace

void parse_revocation(const Reader& r, const YAML::Node& root, Settings& s) {
    Revocation& rv = s.revocation;
    const YAML::Node n = root["revocation"];
    if (!n || n.IsNull()) {
        return;  // on, with the defaults: certificates that name a responder or CRL are checked
    }
    rv.origin = origin_of(n);
    r.require_map(
        n, "revocation",
        {"enabled", "cache_directory", "check_interval", "retry_interval", "timeout", "connect_timeout", "max_crl_size",
         "proxy", "require_nonce", "max_age", "signing", "verify", "encryption", "responders"});
    if (n["enabled"]) {
        rv.enabled = r.boolean(n["enabled"], "revocation.enabled");
    }
    if (n["cache_directory"]) {
        rv.cache_directory = r.scalar(n["cache_directory"], "revocation.cache_directory");
        if (rv.cache_directory.empty() || rv.cache_directory.front() != '/') {
            r.fail(n["cache_directory"], "revocation.cache_directory",
                   "must be an absolute directory path, e.g. /var/lib/segel/revocation");
        }
        if (::access(rv.cache_directory.c_str(), W_OK | X_OK) != 0) {
            r.fail(n["cache_directory"], "revocation.cache_directory",
                   "cannot write to " + rv.cache_directory + "; create it, writable by segel's user");
        }
    }
    auto duration = [&](const YAML::Node& parent, const char* key, const std::string& path, std::chrono::seconds& out,
                        std::chrono::seconds min) {
        if (!parent[key]) {
            return;
        }
        if (!parse_duration(r.scalar(parent[key], path), out) || out < min) {
            r.fail(parent[key], path,
                   "\"" + parent[key].Scalar() + "\" is not a duration of at least " + std::to_string(min.count()) +
                       " s (e.g. 90s, 15m, 24h, 7d)");
        }
    };
    using std::chrono::seconds;
    duration(n, "check_interval", "revocation.check_interval", rv.check_interval, seconds(60));
    duration(n, "retry_interval", "revocation.retry_interval", rv.retry_interval, seconds(10));
    duration(n, "timeout", "revocation.timeout", rv.timeout, seconds(1));
    duration(n, "connect_timeout", "revocation.connect_timeout", rv.connect_timeout, seconds(1));
    duration(n, "max_age", "revocation.max_age", rv.max_age, seconds(60));
    if (rv.connect_timeout > rv.timeout) {
        r.fail(n["connect_timeout"] ? n["connect_timeout"] : n, "revocation.connect_timeout",
               "is longer than revocation.timeout (" + std::to_string(rv.timeout.count()) +
                   " s), which bounds the whole exchange");
    }
    if (n["max_crl_size"]) {
        if (!parse_size(r.scalar(n["max_crl_size"], "revocation.max_crl_size"), rv.max_crl_size) ||
            rv.max_crl_size < 1024) {
            r.fail(n["max_crl_size"], "revocation.max_crl_size",
                   "\"" + n["max_crl_size"].Scalar() + "\" is not a size of at least 1K (e.g. 20M)");
        }
    }
    if (n["proxy"]) {
        rv.proxy = r.scalar(n["proxy"], "revocation.proxy");
        if (!rv.proxy.empty() && !valid_url(rv.proxy)) {
            r.fail(n["proxy"], "revocation.proxy", "\"" + rv.proxy + "\" is not a proxy URL (e.g. http://proxy:3128)");
        }
    }
    if (n["require_nonce"]) {
        rv.require_nonce = r.boolean(n["require_nonce"], "revocation.require_nonce");
    }
    if (const YAML::Node g = n["signing"]) {
        r.require_map(g, "revocation.signing", {"grace", "unknown"});
        duration(g, "grace", "revocation.signing.grace", rv.signing.grace, seconds(0));
        if (g["unknown"]) {
            rv.signing.unknown = r.choice<Revocation::SigningUnknown>(
                g["unknown"], "revocation.signing.unknown",
                {{"defer", Revocation::SigningUnknown::Defer}, {"sign", Revocation::SigningUnknown::Sign}});
        }
    }
    if (const YAML::Node v = n["verify"]) {
        r.require_map(v, "revocation.verify", {"unknown"});
        if (v["unknown"]) {
            rv.verify_unknown = r.choice<Revocation::VerifyUnknown>(
                v["unknown"], "revocation.verify.unknown",
                {{"note", Revocation::VerifyUnknown::Note}, {"temperror", Revocation::VerifyUnknown::TempError}});
        }
    }
    if (const YAML::Node e = n["encryption"]) {
        r.require_map(e, "revocation.encryption", {"unknown"});
        if (e["unknown"]) {
            rv.encrypt_unknown = r.choice<Revocation::EncryptUnknown>(
                e["unknown"], "revocation.encryption.unknown",
                {{"encrypt", Revocation::EncryptUnknown::Encrypt}, {"skip", Revocation::EncryptUnknown::Skip}});
        }
    }
    if (n["responders"]) {
        int i = 0;
        for (const auto& item : r.sequence(n["responders"], "revocation.responders")) {
            const std::string path = Reader::index("revocation.responders", i++);
            r.require_map(item, path, {"issuer", "ocsp", "crl"});
            Revocation::Responder rs;
            rs.origin = origin_of(item);
            if (item["issuer"]) {
                rs.issuer = r.scalar(item["issuer"], path + ".issuer");
                if (::access(rs.issuer.c_str(), R_OK) != 0) {
                    r.fail(item["issuer"], path + ".issuer",
                           "cannot read " + rs.issuer + "; give the PEM file of the issuing CA this entry is for");
                }
            }
            if (!item["ocsp"] && !item["crl"]) {
                r.fail(item, path, "needs ocsp: and/or crl: (the URLs to use instead of the certificates' own)");
            }
            if (item["ocsp"]) {
                rs.has_ocsp = true;
                rs.ocsp = urls(r, item["ocsp"], path + ".ocsp");
            }
            if (item["crl"]) {
                rs.has_crl = true;
                rs.crl = urls(r, item["crl"], path + ".crl");
            }
            for (const auto& prev : rv.responders) {
                if (prev.issuer == rs.issuer) {
                    r.fail(item, path,
                           (rs.issuer.empty() ? std::string("a second entry without issuer")
                                              : "issuer " + rs.issuer + " is listed twice") +
                               " (first at line " + std::to_string(prev.origin.line) + ")");
                }
            }
            rv.responders.push_back(rs);
        }
    }
}

}  // namespace detail

}  // namespace segel::config
