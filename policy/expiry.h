#pragma once
// Which expiry notices are due (R5): pure, over plain facts and an injected
// "now" (segelctl notify-expiry sends them and records what was sent).
#include "config/settings.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace segel::policy {

using TimePoint = std::chrono::system_clock::time_point;

/** A certificate the gateway depends on, as far as its expiry goes. */
struct Expiring {
    std::string key;   ///< a stable identity (the SHA-256 fingerprint): the notice ledger's key
    std::string kind;  ///< "signing", "anchor", "intermediate", "ocsp-responder"
    std::string serial;
    std::string subject;
    std::string common_name;
    std::vector<std::string> addresses;  ///< signing certificates: who it belongs to
    TimePoint not_before{};
    TimePoint not_after{};
    bool revoked = false;  ///< known revoked: no expiry notice (it is dead already)
};

/**
 * The notice due for a certificate expiring at @p not_after: the smallest
 * threshold d > 0 with at most d days left, or 0 once it has expired
 * (when 0 is a threshold). nullopt: none due (more time left than the largest).
 * Only the current threshold is due: a 90-day notice missed is superseded by the 60-day one.
 */
std::optional<int> due_threshold(TimePoint not_after, TimePoint now, const std::vector<int>& thresholds);

/** Whole days left (rounded down; negative after expiry). */
long days_left(TimePoint not_after, TimePoint now);

struct DueNotice {
    std::size_t index = 0;  ///< into the list given to due_notices
    int threshold = 0;
};

/**
 * The notices due at @p now. Skipped, with the reason in @p skipped: known
 * revoked certificates, certificates not yet valid, and signing certificates
 * already renewed (another signing certificate names each of its addresses,
 * is valid now and expires later).
 */
std::vector<DueNotice> due_notices(const std::vector<Expiring>& certs, TimePoint now,
                                   const std::vector<int>& thresholds, std::vector<std::string>* skipped = nullptr);

/**
 * Who is told: the certificate's own addresses (signing certificates, when
 * notices.notify_owners), the administrators of the most specific
 * notices.domains entry for each address, and notices.administrators. CA and
 * responder certificates go to notices.administrators, or — when none are
 * listed — to every domain's administrators. Lower case, no duplicates.
 */
std::vector<std::string> notice_recipients(const config::Notices& notices, const Expiring& cert);

}  // namespace segel::policy
