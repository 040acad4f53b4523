#include "engine/gateway.h"

#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/inbound.h"
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/sign.h"

#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace segel::engine {

namespace {

policy::CertFacts facts_of(const smime::Credential& cred, const smime::ChainCheck& chain) {
    policy::CertFacts f;
    f.id = cred.source;
    f.addresses = cred.info.addresses;
    f.serial = cred.info.serial;
    f.fingerprint = cred.info.fingerprint;
    f.subject = cred.info.subject;
    f.common_name = cred.info.common_name;
    f.not_before = cred.info.not_before;
    f.not_after = cred.info.not_after;
    f.chain_trusted = chain.trusted;
    f.chain_error = chain.error;
    if (chain.trusted) {
        f.chain_not_after = chain.earliest_not_after;
    }
    f.key_usage_signs = cred.info.key_usage_signs;
    f.eku_email = cred.info.eku_email;
    f.key_type = cred.info.key_type == "RSA" ? "RSA " + std::to_string(cred.info.key_bits) : cred.info.key_type;
    return f;
}

}  // namespace

std::shared_ptr<const Gateway> Gateway::load(const std::string& config_path) {
    return from_settings(config::load(config_path));
}

std::shared_ptr<const Gateway> Gateway::from_settings(config::Settings settings) {
    auto gw = std::make_shared<Gateway>();
    gw->m_settings = std::move(settings);
    const auto& s = gw->m_settings;
    smime::ossl::init_providers();
    // Every problem is collected and reported together (check-config shows them all at once).
    std::vector<config::ConfigError> errors;
    if (!s.milter.spool_directory.empty() && ::access(s.milter.spool_directory.c_str(), W_OK | X_OK) != 0) {
        errors.emplace_back(s.source, s.milter.spool_directory_origin, "milter.spool_directory",
                            s.milter.spool_directory + ": " + std::strerror(errno) +
                                " (create it, writable by the milter's user, or remove the key to use /var/tmp)");
    }
    try {
        gw->m_trust = smime::TrustStore::load(s.trust.anchors, s.trust.intermediates);
    } catch (const smime::Error& e) {
        errors.emplace_back(s.source, s.trust.origin, "trust", e.what());
    }
    for (std::size_t i = 0; i < s.credentials.size(); ++i) {
        const auto& ref = s.credentials[i];
        smime::Credential cred;
        try {
            cred = ref.pkcs12.empty() ? smime::load_pem(ref.certificate, ref.key, ref.passphrase_file)
                                      : smime::load_pkcs12(ref.pkcs12, ref.passphrase_file);
        } catch (const smime::Error& e) {
            errors.push_back(
                config::credential_error(s.source, ref, "credentials[" + std::to_string(i) + "]", e.what()));
            continue;
        }
        const smime::ChainCheck chain = gw->m_trust.check(cred.cert.get(), cred.chain);
        std::vector<smime::ossl::Ptr<X509>> embed;
        if (chain.trusted) {
            // Leaf first, anchor last: embed what lies between (the anchor is the recipient's to have).
            for (std::size_t k = 1; k + 1 < chain.path.size(); ++k) {
                embed.push_back(smime::ossl::retain(chain.path[k].get()));
            }
        } else {
            for (const auto& c : cred.chain) {
                embed.push_back(smime::ossl::retain(c.get()));
            }
        }
        gw->m_facts.push_back(facts_of(cred, chain));
        gw->m_chains.push_back(std::move(embed));
        gw->m_credentials.push_back(std::move(cred));
    }
    try {
        gw->m_recipients = make_recipient_store(s);
    } catch (const config::ConfigError& e) {
        errors.push_back(e);
    }
    gw->m_crl_files = std::make_shared<CrlFiles>();
    if (!errors.empty()) {
        throw config::ConfigError(errors);
    }
    return gw;
}

policy::Decision Gateway::decide(const policy::Envelope& env, TimePoint now) const {
    return policy::decide(m_settings, env, m_facts, now);
}

smime::SignOptions Gateway::sign_options(TimePoint now) const {
    smime::SignOptions options;
    options.format = m_settings.signing.format == config::SignFormat::Opaque ? smime::SignFormat::Opaque
                                                                             : smime::SignFormat::Detached;
    options.now = now;
    options.memory_limit = m_settings.milter.spool_memory_limit;
    options.spool_dir = m_settings.milter.spool_directory;
    return options;
}

smime::SignedMessage Gateway::sign(const policy::Decision& decision, const smime::Blob& message, TimePoint now,
                                   const smime::BodySink& sink, const smime::canonical::Scanner* body_scan,
                                   const std::string& boundary) const {
    return sign(decision, prepare(message, now, body_scan), now, sink, boundary);
}

smime::PreparedEntity Gateway::prepare(const smime::Blob& message, TimePoint now,
                                       const smime::canonical::Scanner* body_scan) const {
    smime::SignOptions options = sign_options(now);
    options.body_scan = body_scan;
    return smime::prepare(message, options);
}

smime::SignedMessage Gateway::sign(const policy::Decision& decision, const smime::PreparedEntity& entity, TimePoint now,
                                   const smime::BodySink& sink, const std::string& boundary) const {
    if (decision.action != policy::Action::Sign || !decision.cert || *decision.cert >= m_credentials.size()) {
        throw smime::Error(smime::Category::Internal, "sign called without a chosen certificate");
    }
    smime::SignOptions options = sign_options(now);
    options.boundary = boundary;
    return smime::sign(entity, m_credentials[*decision.cert], m_chains[*decision.cert], options, sink);
}

policy::Decision Gateway::check_client_protection(const policy::Decision& d, const smime::Blob& message,
                                                  TimePoint now) const {
    if (d.action != policy::Action::Sign) {
        return d;
    }
    const smime::Protection p = smime::classify(message);
    if (p == smime::Protection::None) {
        return d;
    }
    policy::ClientProtection found;
    found.kind = p == smime::Protection::Signed ? policy::ClientProtection::Kind::Signed
                                                : policy::ClientProtection::Kind::Encrypted;
    if (p == smime::Protection::Signed) {
        InboundOptions held = verify_options(*this, now);  // the CRLs stay alive while they are used
        smime::VerifyOptions& options = held.options;
        options.certificate_time = smime::CertificateTime::Arrival;  // the signature is made now, by the sender
        options.from = {d.sender};
        const smime::VerifyResult r = smime::verify(message, m_trust, options);
        if (r.result == smime::AuthResult::TempError) {
            throw smime::Error(smime::Category::Internal, "cannot verify the client's signature: " + r.reason);
        }
        using Result = smime::AuthResult;
        found.smime = r.result != Result::None;
        found.content_intact = r.signature_valid;
        // pass: the signer is the sender; policy: a good signature and certificate of someone else.
        found.certificate_trusted = r.result == Result::Pass || r.result == Result::Policy;
        found.signer_addresses = r.signer_addresses;
        found.serial = r.serial;
        found.detail = r.reason;
    }
    return policy::decide_protected(m_settings, d, found);
}

void add_from_header(policy::Envelope& env, const std::string& value) {
    env.from_fields.push_back(value);
    for (const auto& mb : smime::mime::parse_mailboxes(value)) {
        env.header_from.push_back(mb.address);
    }
}

std::vector<RawHeader> split_head(std::string_view message, std::size_t* body_offset) {
    const smime::mime::HeaderBlock head = smime::mime::split_fields(message);
    if (body_offset != nullptr) {
        *body_offset = head.body;
    }
    std::vector<RawHeader> out;
    out.reserve(head.fields.size());
    for (const auto& f : head.fields) {
        out.push_back({f.name, f.raw});
    }
    return out;
}

void read_from_headers(policy::Envelope& env, std::string_view message) {
    for (const auto& h : split_head(message)) {
        if (strcasecmp(h.name.c_str(), "From") == 0) {
            add_from_header(env, h.value);
        }
    }
}

std::string replace_entity(std::string_view original, const std::vector<smime::Header>& headers,
                           std::string_view body) {
    std::string out;
    for (const auto& h : split_head(original)) {
        if (smime::canonical::is_content_header(h.name)) {
            continue;
        }
        out += h.name + ":" + smime::canonical::to_crlf(h.value) + "\r\n";
    }
    out += "MIME-Version: 1.0\r\n";
    for (const auto& h : headers) {
        if (strcasecmp(h.name.c_str(), "MIME-Version") == 0) {
            continue;
        }
        out += h.name + ": " + smime::canonical::to_crlf(h.value) + "\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

}  // namespace segel::engine
