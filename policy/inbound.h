#pragma once
// Inbound decisions that follow from a verification verdict: which subject
// tag a recipient sees, and government sender protection (R12, R13) — what
// happens to mail claiming an official sender that arrives from outside
// without a valid signature. Pure: the verdict comes in as plain data.
#include "config/settings.h"

#include <string>
#include <vector>

namespace segel::policy {

/** The RFC 7281 result words, as policy sees a verification verdict. */
enum class Verdict { None, Pass, Fail, Policy, Neutral, TempError, PermError };

const char* to_string(Verdict v);

/** What to do with one inbound message once it is verified. */
struct InboundDecision {
    enum class Disposition { Deliver, Quarantine, Reject };
    Disposition disposition = Disposition::Deliver;
    std::string action = "deliver";  ///< deliver / tag / quarantine / reject (for the log and the record)
    std::string tag;                 ///< the subject tag to show ("" = none; earlier tags are still removed)
    std::string official_sender;     ///< the official From it claims, when it claims one
    std::string incident;            ///< set when this is a security incident (R12)
    std::string reply_code;          ///< Reject: "550"
    std::string reply_xcode;
    std::string reply_text;   ///< Reject: what the sender reads; Quarantine: the hold reason
    std::string reason_code;  ///< Reject: the reason word ("official-sender-unsigned"; docs/refusals.md)
};

/**
 * Decides the tag and the disposition.
 * @param from      the From addresses of the message (any case)
 * @param verdict   the verification result
 * @param partially_signed only a part of the message is signed
 * @param reason    the verdict's reason (for the incident and the refusal)
 * @param client_ip where the message came from (for the incident)
 */
InboundDecision decide_inbound(const config::Settings& settings, const std::vector<std::string>& from, Verdict verdict,
                               bool partially_signed, const std::string& reason, const std::string& client_ip);

}  // namespace segel::policy
