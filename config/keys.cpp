// Configuration of where keys live and what is added to signatures
// (docs/keys.md): credentials in PKCS#11 tokens, the organisation seal per
// domain, and RFC 3161 time-stamps.
#include "config/reader.h"

#include "base/address.h"

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

}  // namespace segel::config::detail
