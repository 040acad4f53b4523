#include "engine/gateway.h"

#include "services/tsa.h"

#include "config/load.h"
#include "engine/encrypt.h"
#include "engine/inbound.h"
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/sign.h"
#include "smime/usage.h"

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
    const smime::Usage u = smime::usage_of(cred.cert.get());
    f.usage = {u.key_usage_present, u.key_usage,         u.eku_present, u.eku_critical, u.eku,
               u.address_in_san,    u.address_in_subject};
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
    std::vector<services::Watched> watched;  // trusted signing certificates with their issuers (revocation)
    for (std::size_t i = 0; i < s.credentials.size(); ++i) {
        const auto& ref = s.credentials[i];
        smime::Credential cred;
        try {
            cred = !ref.pkcs11.empty()  ? smime::load_pkcs11({ref.pkcs11, ref.module, ref.pin_file}, ref.certificate)
                   : ref.pkcs12.empty() ? smime::load_pem(ref.certificate, ref.key, ref.passphrase_file)
                                        : smime::load_pkcs12(ref.pkcs12, ref.passphrase_file);
        } catch (const smime::Error& e) {
            errors.push_back(
                config::credential_error(s.source, ref, "credentials[" + std::to_string(i) + "]", e.what()));
            continue;
        }
        const smime::ChainCheck chain = gw->m_trust.check(cred.cert.get(), cred.chain);
        std::vector<smime::ossl::Ptr<X509>> embed;
        if (chain.trusted && chain.path.size() >= 2) {
            watched.push_back({smime::ossl::retain(chain.path[0].get()), smime::ossl::retain(chain.path[1].get())});
        }
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
    // Revocation (R6): the process-wide service keeps every trusted signing certificate's status fresh.
    std::vector<services::Override> overrides;
    std::size_t failed = 0;
    try {
        overrides = services::load_overrides(s.revocation, &failed);
    } catch (const smime::Error& e) {
        errors.emplace_back(s.source, s.revocation.responders.at(failed).origin,
                            "revocation.responders[" + std::to_string(failed) + "].issuer", e.what());
    }
    if (!errors.empty()) {
        throw config::ConfigError(errors);  // before the process-wide service learns of a broken snapshot
    }
    gw->m_revocation = services::RevocationService::process();
    gw->m_revocation->configure(s.revocation, std::move(overrides), std::move(watched));
    try {
        gw->m_recipients = make_recipient_store(s, gw->m_revocation);
    } catch (const config::ConfigError& e) {
        errors.push_back(e);
    }
    gw->m_crl_files = std::make_shared<CrlFiles>();
    try {
        load_time_stamping(*gw);
    } catch (const config::ConfigError& e) {
        errors.push_back(e);
    }
    if (!errors.empty()) {
        throw config::ConfigError(errors);
    }
    for (std::size_t i = 0; i < gw->m_facts.size(); ++i) {
        gw->m_facts[i].revocation =
            revocation_facts(gw->m_revocation->status_of(gw->m_facts[i].fingerprint), std::chrono::system_clock::now());
    }
    return gw;
}

void Gateway::load_time_stamping(Gateway& gw) {
    const config::Settings& s = gw.m_settings;
    const config::Timestamping& ts = s.timestamping;
    if (ts.anchors.empty()) {
        // Not owning: the clients that share it live in this snapshot too.
        gw.m_tsa_trust = std::shared_ptr<const smime::TrustStore>(std::shared_ptr<void>(), &gw.m_trust);
    } else {
        try {
            gw.m_tsa_trust =
                std::make_shared<const smime::TrustStore>(smime::TrustStore::load(ts.anchors, ts.intermediates));
        } catch (const smime::Error& e) {
            throw config::ConfigError(s.source, ts.origin, "timestamping.anchors", e.what());
        }
    }
    for (const auto& rule : s.signing.domains) {
        if (rule.timestamp.empty()) {
            continue;
        }
        std::vector<services::tsa::Authority> list;
        try {
            list = services::tsa::authorities(ts, rule.timestamp);
        } catch (const smime::Error& e) {
            // A credentials file: point at the authority that names it.
            for (std::size_t i = 0; i < ts.authorities.size(); ++i) {
                const auto& a = ts.authorities[i];
                if (!a.credentials_file.empty() &&
                    std::string(e.what()).find(a.credentials_file) != std::string::npos) {
                    throw config::ConfigError(s.source, a.credentials_origin,
                                              "timestamping.authorities[" + std::to_string(i) + "].credentials_file",
                                              e.what());
                }
            }
            throw config::ConfigError(s.source, ts.origin, "timestamping", e.what());
        }
        gw.m_tsa[rule.domain] = std::make_shared<const services::tsa::Client>(
            std::move(list), services::tsa::hash_of(ts.hash), gw.m_tsa_trust);
    }
}

policy::RevocationFacts revocation_facts(const services::CertificateStatus& status, TimePoint now) {
    using State = policy::RevocationFacts::State;
    policy::RevocationFacts f;
    const smime::RevocationStatus& e = status.evidence;
    switch (e.state) {
        case smime::RevocationState::NotChecked:
            f.state = State::NotChecked;
            break;
        case smime::RevocationState::Good:
            f.state = State::Good;
            break;
        case smime::RevocationState::Revoked:
            f.state = State::Revoked;
            break;
        case smime::RevocationState::Unknown:
            f.state = State::Unknown;
            break;
    }
    f.evidence = smime::evidence(e, now);
    f.obtained = e.obtained;
    f.revoked_at = e.revoked_at;
    f.reason = e.reason;
    f.source = smime::to_string(e.source);
    f.url = e.url;
    f.problem = status.problem.empty() && e.state != smime::RevocationState::Good ? e.detail : status.problem;
    return f;
}

void Gateway::facts_into(std::vector<policy::CertFacts>& out, TimePoint now) const {
    // Per message: by the fingerprint kept since load (X509_digest re-encodes the certificate to
    // hash it, ≈ 40,000 instructions, for every credential of every message).
    out = m_facts;
    for (auto& f : out) {
        f.revocation = revocation_facts(m_revocation->status_of(f.fingerprint), now);
    }
}

std::vector<policy::CertFacts> Gateway::facts(TimePoint now) const {
    std::vector<policy::CertFacts> out;
    facts_into(out, now);
    return out;
}

policy::Decision Gateway::decide(const policy::Envelope& env, TimePoint now) const {
    // As facts(now), assigned into this thread's scratch vector instead of a fresh one: its
    // strings and vectors keep their buffers from the last message, so the copy is memcpy rather
    // than ≈ 25 allocations per credential (docs/performance.md, "Sixth round").
    thread_local std::vector<policy::CertFacts> scratch;
    facts_into(scratch, now);
    return policy::decide(m_settings, env, scratch, now);
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
                                   const std::string& boundary, std::optional<TimeStampFacts>* time_stamp) const {
    return sign(decision, prepare(message, now, body_scan), now, sink, boundary, time_stamp);
}

smime::PreparedEntity Gateway::prepare(const smime::Blob& message, TimePoint now,
                                       const smime::canonical::Scanner* body_scan) const {
    smime::SignOptions options = sign_options(now);
    options.body_scan = body_scan;
    return smime::prepare(message, options);
}

smime::SignedMessage Gateway::sign(const policy::Decision& decision, const smime::PreparedEntity& entity, TimePoint now,
                                   const smime::BodySink& sink, const std::string& boundary,
                                   std::optional<TimeStampFacts>* time_stamp) const {
    if (decision.action != policy::Action::Sign || !decision.cert || *decision.cert >= m_credentials.size()) {
        throw smime::Error(smime::Category::Internal, "sign called without a chosen certificate");
    }
    smime::SignOptions options = sign_options(now);
    options.boundary = boundary;
    // RFC 3161 time-stamp (R7, docs/keys.md): asked for by the signer's official domain.
    const config::DomainRule* rule = policy::official_rule(m_settings, decision.sender);
    const auto tsa = rule != nullptr ? m_tsa.find(rule->domain) : m_tsa.end();
    if (tsa != m_tsa.end()) {
        const bool defer = m_settings.timestamping.on_failure == config::Timestamping::OnFailure::Defer;
        options.time_stamp = [client = tsa->second, now, time_stamp, defer](std::string_view signature_value) {
            const services::tsa::Result r = client->stamp(signature_value, now);
            TimeStampFacts f;
            f.stamped = r.token.valid;
            f.authority = r.authority;
            f.tsa = r.token.tsa;
            f.time = r.token.time;
            f.serial = r.token.serial;
            f.failures = r.failures;
            if (time_stamp != nullptr) {
                *time_stamp = f;
            }
            if (r.token.valid) {
                return r.token.der;
            }
            std::string why;
            for (const auto& x : r.failures) {
                why += (why.empty() ? "" : "; ") + x;
            }
            if (defer) {
                throw smime::Error(smime::Category::Unavailable, "no time-stamp authority gave a valid time-stamp (" +
                                                                     why +
                                                                     "); deferred (timestamping.on_failure: defer)");
            }
            return std::string();  // signed without one; the caller logs the failures
        };
    }
    return smime::sign(entity, m_credentials[*decision.cert], m_chains[*decision.cert], options, sink);
}

policy::Decision Gateway::check_client_protection(const policy::Decision& d, const smime::Blob& message,
                                                  std::optional<smime::Protection> known, TimePoint now) const {
    if (d.action != policy::Action::Sign) {
        return d;
    }
    const smime::Protection p = known ? *known : smime::classify(message);
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
