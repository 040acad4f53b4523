#include "engine/encrypt.h"
#include "base/time.h"

#include "config/load.h"
#include "engine/inbound.h"
#include "smime/error.h"

#include <algorithm>

namespace segel::engine {

namespace {

std::string bare_address(std::string a) {
    return policy::normalize_address(std::move(a));
}

smime::ContentCipher content_cipher(config::Encryption::Cipher c) {
    switch (c) {
        case config::Encryption::Cipher::Aes128Gcm:
            return smime::ContentCipher::Aes128Gcm;
        case config::Encryption::Cipher::Aes256Gcm:
            return smime::ContentCipher::Aes256Gcm;
        case config::Encryption::Cipher::Aes256Cbc:
            break;
    }
    return smime::ContentCipher::Aes256Cbc;
}

/**
 * Text for the quoted reason="…" of our header field: no line ends or control
 * characters, and quotes and backslashes escaped (RFC 5322 §3.2.4), so nothing
 * in it can end the string or the field.
 */
std::string header_safe(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    }
    return out;
}

/** "malformed: …" or, beyond inbound.limits, "over a limit: …" (for the log and our header). */
std::string problem_of(const smime::Error& e) {
    return std::string(e.category() == smime::Category::Limit ? "over a limit: " : "malformed: ") + e.what();
}

/** "ignored 3 header fields of the decrypted entity that are not Content-*: From, Subject, X-Y" (or ""). */
std::string ignored_note(const std::vector<std::string>& names) {
    if (names.empty()) {
        return {};
    }
    constexpr std::size_t k_named = 8;
    std::string list;
    for (std::size_t i = 0; i < names.size() && i < k_named; ++i) {
        list += (i == 0 ? "" : ", ") + names[i];
    }
    if (names.size() > k_named) {
        list += ", …";
    }
    return "ignored " + std::to_string(names.size()) + " header field" + (names.size() == 1 ? "" : "s") +
           " of the decrypted entity that are not Content-*: " + list;
}

}  // namespace

std::shared_ptr<const RecipientStore> make_recipient_store(const config::Settings& s,
                                                           std::shared_ptr<services::RevocationService> revocation) {
    const auto& enc = s.encryption;
    try {
        std::unique_ptr<CertificateDirectory> ldap;
        if (!enc.ldap.uri.empty()) {
            ldap = make_ldap_directory(enc.ldap);
        }
        const std::string harvest = enc.harvest_directory.empty() ? s.inbound.harvest_directory : enc.harvest_directory;
        RecipientStore::RevocationVeto veto;
        if (revocation) {
            const bool skip_unknown = s.revocation.encrypt_unknown == config::Revocation::EncryptUnknown::Skip;
            veto = [revocation, skip_unknown](X509* cert, X509* issuer, TimePoint now) -> std::string {
                const smime::RevocationStatus st = revocation->check(cert, issuer, now);
                if (st.state == smime::RevocationState::Revoked) {
                    return "revoked on " + base::format_date(st.revoked_at) + " (" + st.reason + "; " +
                           smime::source_and_age(st, now) + ")";
                }
                if (st.state == smime::RevocationState::Unknown && skip_unknown) {
                    return "revocation status unknown (" + st.detail + "; revocation.encryption.unknown: skip)";
                }
                return {};
            };
        }
        return std::make_shared<RecipientStore>(enc, harvest, RecipientStore::load_trust(s), std::move(ldap),
                                                std::move(veto));
    } catch (const smime::Error& e) {
        throw config::ConfigError(s.source, enc.origin, "encryption", e.what());
    }
}

OutboundPlan plan_outbound(const Gateway& gateway, const std::vector<std::string>& raw_recipients,
                           const std::optional<std::string>& subject, TimePoint now) {
    const auto& enc = gateway.settings().encryption;
    std::vector<std::string> recipients;
    for (const auto& r : raw_recipients) {
        recipients.push_back(bare_address(r));
    }
    OutboundPlan plan;
    const bool triggered = subject && policy::has_trigger(*subject, enc.subject_trigger);
    if (triggered) {
        plan.new_subject = policy::remove_trigger(*subject, enc.subject_trigger);
    }
    std::vector<policy::RecipientCertificate> facts;
    if (policy::wants_encryption(enc, recipients, triggered)) {
        for (const auto& r : recipients) {
            RecipientLookup l = gateway.recipients().lookup(r, now);
            policy::RecipientCertificate f;
            f.address = r;
            f.usable = l.found != nullptr;
            f.lookup_failed = l.lookup_failed;
            f.why = l.why + (l.cached ? " (cached)" : "");
            facts.push_back(std::move(f));
            plan.lookups.push_back(std::move(l));
        }
    }
    plan.decision = policy::decide_encryption(enc, recipients, triggered, facts);
    return plan;
}

smime::EncryptedMessage encrypt_outbound(const Gateway& gateway, const policy::Decision& sign_decision,
                                         const OutboundPlan& plan, const smime::SignedMessage& signed_message) {
    if (plan.decision.action != policy::EncryptAction::Encrypt || !sign_decision.cert ||
        *sign_decision.cert >= gateway.credentials().size() || plan.lookups.empty()) {
        throw smime::Error(smime::Category::Internal, "encrypt called without an Encrypt plan and a signer");
    }
    const smime::Credential& sender = gateway.credentials()[*sign_decision.cert];
    std::vector<smime::ossl::Ptr<X509>> certs;
    // The sender's own certificate is always a recipient: the sent copy stays readable.
    certs.push_back(smime::ossl::retain(sender.cert.get()));
    for (const auto& l : plan.lookups) {
        if (!l.found) {
            throw smime::Error(smime::Category::Internal, "encrypt called with a recipient lacking a certificate");
        }
        const bool duplicate = std::any_of(certs.begin(), certs.end(), [&](const smime::ossl::Ptr<X509>& c) {
            return X509_cmp(c.get(), l.found->cert.get()) == 0;
        });
        if (!duplicate) {
            certs.push_back(smime::ossl::retain(l.found->cert.get()));
        }
    }
    smime::EncryptOptions options;
    options.cipher = content_cipher(plan.decision.cipher);
    options.memory_limit = gateway.settings().milter.spool_memory_limit;
    options.spool_dir = gateway.settings().milter.spool_directory;
    const std::string entity = smime::entity_of(signed_message);
    smime::EncryptedMessage out = smime::encrypt_entity(entity, certs, options);

    // Self-check: what leaves must open to exactly the signed entity for every recipient. It is
    // proved with the content-encryption key itself (the message's witness), not by decrypting
    // with the sender's key: the same guarantee for the content without a second RSA private-key
    // operation per message (docs/encryption.md, "The self-check").
    if (const std::string failed = smime::check_encrypted(out, entity, certs); !failed.empty()) {
        throw smime::Error(smime::Category::Internal, "self-check: the encrypted message does not open: " + failed);
    }
    return out;
}

InboundDecryption decrypt_inbound(const Gateway& gateway, const std::vector<std::string>& raw_recipients,
                                  const smime::Blob& message) {
    InboundDecryption out;
    const smime::Limits limits = inbound_limits(gateway.settings());
    std::optional<smime::EncryptedContent> content;
    try {
        const std::optional<std::string> der = smime::pkcs7_mime_der(message, limits);
        if (!der) {
            return out;
        }
        content = smime::EncryptedContent::parse(*der, limits);  // the DER copy is gone once it is parsed
    } catch (const smime::Error& e) {
        out.outcome = InboundDecryption::Outcome::Failed;
        out.detail = problem_of(e);
        out.header = "failed; reason=\"" + header_safe(out.detail) + "\"";
        return out;
    }
    if (!content) {
        return out;  // signed-data and other CMS types are the verifier's
    }
    out.smime_type = content->smime_type();
    out.cipher = content->cipher();
    if (!gateway.settings().encryption.decrypt_inbound) {
        out.outcome = InboundDecryption::Outcome::NotOurs;
        out.detail = "not decrypted: encryption.decrypt_inbound is off";
        out.header = "none; reason=\"" + out.detail + "\"";
        return out;
    }

    // Every recipient must be able to open it with their own key: decrypting for
    // one would hand the plaintext to the others too.
    const auto& creds = gateway.credentials();
    std::optional<std::size_t> chosen;
    std::string owner;
    std::vector<std::string> without;
    for (const auto& raw : raw_recipients) {
        const std::string r = bare_address(raw);
        std::optional<std::size_t> key;
        for (std::size_t i = 0; i < creds.size() && !key; ++i) {
            const auto& a = creds[i].info.addresses;
            if (std::find(a.begin(), a.end(), r) != a.end() && content->addressed_to(creds[i].cert.get())) {
                key = i;
            }
        }
        if (!key) {
            without.push_back(r);
        } else if (!chosen) {
            chosen = key;
            owner = r;
        }
    }
    if (!chosen || !without.empty()) {
        out.outcome = InboundDecryption::Outcome::NotOurs;
        std::string list;
        for (const auto& w : without) {
            list += (list.empty() ? "" : ", ") + w;
        }
        out.detail = "not decrypted: the gateway holds no key this message is encrypted to for " +
                     (list.empty() ? std::string("its recipients") : list);
        out.header = "none; reason=\"" + header_safe(out.detail) + "\"";
        return out;
    }
    const smime::Credential& cred = creds[*chosen];
    out.key_owner = owner;
    out.serial = cred.info.serial;
    // A key in a token that is away throws Error{Unavailable}: the message waits in the queue.
    smime::DecryptResult r = content->decrypt(cred.cert.get(), cred.key->use().get());
    content.reset();  // the ciphertext is no longer needed: a 30 MB message is held once, not twice
    if (r.status != smime::DecryptStatus::Decrypted) {
        out.outcome = InboundDecryption::Outcome::Failed;
        out.detail = std::string(r.status == smime::DecryptStatus::Malformed ? "malformed: " : "") + r.detail;
        out.header = "failed; recipient=" + owner + "; reason=\"" + header_safe(out.detail) + "\"";
        return out;
    }
    try {
        out.entity = smime::split_entity(std::move(r.entity), limits);
    } catch (const smime::Error& e) {
        out.outcome = InboundDecryption::Outcome::Failed;
        out.detail = problem_of(e);
        out.header = "failed; recipient=" + owner + "; reason=\"" + header_safe(out.detail) + "\"";
        return out;
    }
    out.outcome = InboundDecryption::Outcome::Decrypted;
    // Only the entity's Content-* fields replace the top-level ones (smime::split_entity): its From,
    // Subject and our own status fields are the sender's words, and are dropped and said so.
    out.ignored = ignored_note(out.entity.ignored);
    out.detail = "decrypted " + out.smime_type + " (" + out.cipher + ") with the key of " + owner + ", serial " +
                 out.serial + (out.ignored.empty() ? "" : "; " + out.ignored);
    out.header = "decrypted; recipient=" + owner + "; serial=" + out.serial + "; type=" + out.smime_type +
                 "; cipher=" + out.cipher;
    return out;
}

std::vector<std::string> addressed_recipients(const Gateway& gateway, const smime::Blob& message) {
    std::vector<std::string> out;
    try {
        const smime::Limits limits = inbound_limits(gateway.settings());
        const auto der = smime::pkcs7_mime_der(message, limits);
        const auto content = der ? smime::EncryptedContent::parse(*der, limits) : std::nullopt;
        if (!content) {
            return out;
        }
        for (const auto& c : gateway.credentials()) {
            if (!c.info.addresses.empty() && content->addressed_to(c.cert.get())) {
                out.push_back(c.info.addresses.front());
            }
        }
    } catch (const smime::Error&) {
        // not decryptable at all: decrypt_inbound says why
    }
    return out;
}

}  // namespace segel::engine
