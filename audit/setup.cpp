#include "audit/setup.h"

#include "audit/error.h"
#include "config/load.h"
#include "smime/error.h"

#include <fstream>
#include <sstream>

namespace segel::audit {

std::shared_ptr<const Seal> load_seal(const config::Settings& settings) {
    const config::CredentialRef& ref = settings.audit.seal;
    auto seal = std::make_shared<Seal>();
    try {
        seal->credential = ref.pkcs12.empty() ? smime::load_pem(ref.certificate, ref.key, ref.passphrase_file)
                                              : smime::load_pkcs12(ref.pkcs12, ref.passphrase_file);
    } catch (const smime::Error& e) {
        throw config::credential_error(settings.source, ref, "audit.seal", e.what());
    }
    // Embed the path to the anchor (without the anchor), as the gateway does for signatures, so a
    // witness can check a checkpoint against the BSrE root alone; else what the key file brought.
    smime::ChainCheck chain;
    try {
        chain = smime::TrustStore::load(settings.trust.anchors, settings.trust.intermediates)
                    .check(seal->credential.cert.get(), seal->credential.chain);
    } catch (const smime::Error& e) {
        throw config::ConfigError(settings.source, settings.trust.origin, "trust", e.what());
    }
    if (chain.trusted) {
        for (std::size_t k = 1; k + 1 < chain.path.size(); ++k) {
            seal->chain.push_back(smime::ossl::retain(chain.path[k].get()));
        }
    } else {
        for (const auto& c : seal->credential.chain) {
            seal->chain.push_back(smime::ossl::retain(c.get()));
        }
    }
    return seal;
}

std::set<std::string> pinned_seals(const config::Settings& settings, const Seal* seal) {
    std::set<std::string> out;
    if (seal != nullptr) {
        out.insert(smime::ossl::fingerprint_sha256(seal->credential.cert.get()));
    }
    for (std::size_t i = 0; i < settings.audit.seal_certificates.size(); ++i) {
        const std::string& file = settings.audit.seal_certificates[i];
        try {
            for (const auto& cert : smime::read_pem_certs(file)) {
                out.insert(smime::ossl::fingerprint_sha256(cert.get()));
            }
        } catch (const smime::Error& e) {
            const auto it = settings.audit.field_origins.find("seal_certificates");
            throw config::ConfigError(settings.source,
                                      it != settings.audit.field_origins.end() ? it->second : settings.audit.origin,
                                      "audit.seal_certificates[" + std::to_string(i) + "]", e.what());
        }
    }
    return out;
}

TrailOptions trail_options(const config::Settings& settings, std::shared_ptr<const Seal> seal) {
    const config::Audit& a = settings.audit;
    TrailOptions o;
    o.path = a.local;
    o.node = a.node;
    o.sync = a.sync == config::Audit::Sync::Full ? Sync::Full : Sync::Normal;
    o.seal = std::move(seal);
    o.checkpoint_events = a.checkpoint_events;
    o.checkpoint_interval = std::chrono::minutes(a.checkpoint_minutes);
    return o;
}

void check_seal(const std::string& config_path, std::vector<std::string>& errors) {
    try {
        const config::Settings s = config::load(config_path);
        if (s.audit.enabled) {
            load_seal(s);
        }
    } catch (const config::ConfigError& e) {
        errors.insert(errors.end(), e.lines.begin(), e.lines.end());
    } catch (const std::exception& e) {
        errors.push_back(config_path + ": audit.seal: " + e.what());
    }
}

Hash file_sha256(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw Error(Category::Usage, "cannot read " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return sha256(ss.str());
}

}  // namespace segel::audit
