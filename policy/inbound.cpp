#include "policy/inbound.h"

#include "policy/decide.h"

namespace segel::policy {

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::None:
            return "none";
        case Verdict::Pass:
            return "pass";
        case Verdict::Fail:
            return "fail";
        case Verdict::Policy:
            return "policy";
        case Verdict::Neutral:
            return "neutral";
        case Verdict::TempError:
            return "temperror";
        case Verdict::PermError:
            return "permerror";
    }
    return "permerror";
}

namespace {

/** The tag for a verdict (inbound.subject_tag), before sender protection. */
std::string tag_for(Verdict v, bool partially_signed, const config::Inbound::SubjectTag& t) {
    switch (v) {
        case Verdict::Pass:
            return t.signed_text;  // "{name}" is filled in by whoever knows the signer
        case Verdict::Policy:
            return t.not_sender_text;
        case Verdict::Fail:
        case Verdict::PermError:
            return t.invalid_text;
        case Verdict::Neutral:
            return partially_signed ? t.partial_text : "";
        case Verdict::None:
        case Verdict::TempError:
            return "";
    }
    return "";
}

}  // namespace

InboundDecision decide_inbound(const config::Settings& s, const std::vector<std::string>& from, Verdict verdict,
                               bool partially_signed, const std::string& reason, const std::string& client_ip) {
    const config::Inbound& in = s.inbound;
    InboundDecision d;
    d.tag = in.subject_tag.enabled ? tag_for(verdict, partially_signed, in.subject_tag) : "";
    // 1. Government sender protection (R12): an official From from outside needs a valid signature.
    for (const auto& a : from) {
        if (official_rule(s, normalize_address(a)) != nullptr) {
            d.official_sender = normalize_address(a);
            break;
        }
    }
    if (d.official_sender.empty() || verdict == Verdict::Pass) {
        return d;
    }
    const std::string word = to_string(verdict);
    d.incident = "official sender <" + d.official_sender + "> from outside (client " + client_ip +
                 ") without a valid signature: smime=" + word + " (" + reason + ")";
    switch (in.sender_protection) {
        case config::Inbound::SenderProtection::Tag:
            // 2. Tagged even when subject tags are off: the recipient must see it.
            if (d.tag.empty()) {
                d.tag = verdict == Verdict::None || verdict == Verdict::TempError
                            ? in.subject_tag.unsigned_official_text
                        : verdict == Verdict::Policy ? in.subject_tag.not_sender_text
                                                     : in.subject_tag.invalid_text;
            }
            d.action = "tag";
            break;
        case config::Inbound::SenderProtection::Quarantine:
            d.disposition = InboundDecision::Disposition::Quarantine;
            d.reply_text =
                "segel: official sender " + d.official_sender + " without a valid signature (smime=" + word + ")";
            d.action = "quarantine";
            break;
        case config::Inbound::SenderProtection::Reject:
            d.disposition = InboundDecision::Disposition::Reject;
            d.reply_code = "550";
            d.reply_xcode = "5.7.1";
            d.reason_code = "official-sender-unsigned";
            d.reply_text = "message claims to be from " + d.official_sender +
                           " but carries no valid S/MIME signature of that sender (" + reason + ")";
            d.action = "reject";
            break;
    }
    return d;
}

}  // namespace segel::policy
