#include "policy/encrypt.h"

#include "base/address.h"
#include "base/text.h"

#include <algorithm>
#include <cctype>

namespace segel::policy {

namespace {

using Policy = config::Encryption::Policy;
using Cipher = config::Encryption::Cipher;

using base::domain_of;
using base::lower;

bool domain_matches(const config::Encryption::Rule& rule, const std::string& domain) {
    return base::domain_matches(domain, rule.match, rule.subdomains);
}

const char* policy_name(Policy p) {
    switch (p) {
        case Policy::Never:
            return "never";
        case Policy::Opportunistic:
            return "opportunistic";
        case Policy::Required:
            return "required";
    }
    return "?";
}

/**
 * A recipient as it appears in a reason or a reply: RCPT TO is the client's text, so it goes
 * through base::kv_value (a plain address reads as it is; a line break, a quote or a control
 * byte cannot leave the line).
 */
std::string angled(const std::string& recipient) {
    return base::kv_value("<" + recipient + ">");
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) {
        out += (out.empty() ? "" : ", ") + base::kv_value(i);
    }
    return out;
}

}  // namespace

RecipientPolicy policy_for(const config::Encryption& enc, const std::string& address) {
    RecipientPolicy rp;
    rp.policy = enc.policy;
    rp.cipher = enc.cipher;
    rp.rule = "encryption.policy";
    const std::string a = lower(address);
    const std::string d = domain_of(a);
    // The most specific domain rule: an exact match beats a subdomain match, a longer one a shorter.
    const config::Encryption::Rule* best = nullptr;
    for (const auto& r : enc.domains) {
        if (domain_matches(r, d) && (best == nullptr || r.match.size() > best->match.size())) {
            best = &r;
        }
    }
    if (best != nullptr) {
        if (best->has_policy) {
            rp.policy = best->policy;
            rp.rule = "encryption.domains: " + best->match;
        }
        if (best->has_cipher) {
            rp.cipher = best->cipher;
        }
    }
    for (const auto& r : enc.recipients) {
        if (r.match == a) {
            if (r.has_policy) {
                rp.policy = r.policy;
                rp.rule = "encryption.recipients: " + r.match;
            }
            if (r.has_cipher) {
                rp.cipher = r.cipher;
            }
        }
    }
    return rp;
}

bool has_trigger(const std::string& subject, const std::string& keyword) {
    return !keyword.empty() && lower(subject).find(lower(keyword)) != std::string::npos;
}

std::string remove_trigger(const std::string& subject, const std::string& keyword) {
    if (keyword.empty()) {
        return subject;
    }
    const std::size_t at = lower(subject).find(lower(keyword));
    if (at == std::string::npos) {
        return subject;
    }
    std::string before = subject.substr(0, at);
    std::string after = subject.substr(at + keyword.size());
    // "[RAHASIA] Rapat" → "Rapat"; "Re: [RAHASIA] Rapat" → "Re: Rapat"; keep one space between.
    while (!after.empty() && (after.front() == ' ' || after.front() == '\t')) {
        after.erase(0, 1);
    }
    const bool before_blank = std::all_of(before.begin(), before.end(), [](char c) { return c == ' ' || c == '\t'; });
    if (before_blank) {
        return before + after;  // keeps the leading space of an unfolded header value
    }
    while (!before.empty() && (before.back() == ' ' || before.back() == '\t')) {
        before.pop_back();
    }
    return after.empty() ? before : before + " " + after;
}

bool wants_encryption(const config::Encryption& enc, const std::vector<std::string>& recipients, bool triggered) {
    if (triggered) {
        return true;
    }
    return std::any_of(recipients.begin(), recipients.end(),
                       [&](const std::string& r) { return policy_for(enc, r).policy != Policy::Never; });
}

EncryptDecision decide_encryption(const config::Encryption& enc, const std::vector<std::string>& recipients,
                                  bool triggered, const std::vector<RecipientCertificate>& certs) {
    EncryptDecision d;
    d.triggered = triggered;
    if (triggered) {
        d.required = true;
        d.reasons.push_back("subject carries the trigger \"" + enc.subject_trigger + "\": encryption required");
    }
    bool any_opportunistic = false;
    bool any_never = false;
    bool all_gcm = !recipients.empty();
    bool any_256 = false;
    std::vector<std::string> never;
    for (const auto& r : recipients) {
        const RecipientPolicy rp = policy_for(enc, r);
        d.reasons.push_back("recipient " + angled(r) + ": " + policy_name(rp.policy) + " (" + rp.rule + ")");
        if (rp.policy == Policy::Required) {
            d.required = true;
        } else if (rp.policy == Policy::Opportunistic) {
            any_opportunistic = true;
        } else {
            any_never = true;
            never.push_back(r);
        }
        all_gcm = all_gcm && rp.cipher != Cipher::Aes256Cbc;
        any_256 = any_256 || rp.cipher == Cipher::Aes256Gcm;
    }
    d.cipher = all_gcm ? (any_256 ? Cipher::Aes256Gcm : Cipher::Aes128Gcm) : Cipher::Aes256Cbc;

    if (!d.required && !any_opportunistic) {
        d.action = EncryptAction::SignOnly;
        d.summary = "not encrypting: policy never for every recipient";
        d.reasons.push_back(d.summary);
        return d;
    }

    bool only_temporary = true;
    for (std::size_t i = 0; i < recipients.size(); ++i) {
        const bool usable = i < certs.size() && certs[i].usable;
        if (!usable) {
            d.lacking.push_back(recipients[i]);
            only_temporary = only_temporary && i < certs.size() && certs[i].lookup_failed;
        }
        if (i < certs.size()) {
            d.reasons.push_back("certificate for " + angled(recipients[i]) + ": " + certs[i].why);
        }
    }

    // The trigger is the sender's explicit demand: it overrides "never". A
    // rule's "required" next to a rule's "never" is a conflict that refuses.
    const bool never_conflicts = any_never && !triggered;
    if (d.required) {
        if (d.lacking.empty() && !never_conflicts) {
            d.action = EncryptAction::Encrypt;
            d.summary = std::string("encrypting: required") + (triggered ? " by the subject trigger" : " by policy");
            d.reasons.push_back(d.summary);
            return d;
        }
        d.action = EncryptAction::Reject;
        if (!d.lacking.empty() && only_temporary && !never_conflicts) {
            d.reply_code = "451";
            d.reply_xcode = "4.7.1";
            d.reason_code = "encryption-lookup-failed";
            d.reply_text =
                "encryption is required but the certificate directory could not be asked for: " + join(d.lacking) +
                "; please try again later";
        } else if (!d.lacking.empty()) {
            d.reply_code = "550";
            d.reply_xcode = "5.7.1";
            d.reason_code = "encryption-no-certificate";
            d.reply_text = "encryption is required" +
                           std::string(triggered ? " (subject " + enc.subject_trigger + ")" : "") +
                           " but there is no usable certificate for: " + join(d.lacking) +
                           "; ask them for a certificate, or remove them from the message";
        } else {
            d.reply_code = "550";
            d.reply_xcode = "5.7.1";
            d.reason_code = "encryption-conflict";
            d.reply_text = "encryption is required" +
                           std::string(triggered ? " (subject " + enc.subject_trigger + ")" : "") +
                           " but encryption is switched off for: " + join(never) + "; send them a separate message";
        }
        d.summary = "reject: " + d.reply_text;
        d.reasons.push_back(d.summary);
        return d;
    }

    if (any_never) {
        d.action = EncryptAction::SignOnly;
        d.summary = "not encrypting: policy never for " + join(never);
    } else if (!d.lacking.empty()) {
        d.action = EncryptAction::SignOnly;
        d.summary = "not encrypting (opportunistic): no usable certificate for " + join(d.lacking);
    } else {
        d.action = EncryptAction::Encrypt;
        d.summary = "encrypting: every recipient has a usable certificate (opportunistic)";
    }
    d.reasons.push_back(d.summary);
    return d;
}

}  // namespace segel::policy
