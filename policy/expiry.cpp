#include "policy/expiry.h"

#include <algorithm>

namespace segel::policy {

namespace {

constexpr auto k_day = std::chrono::hours(24);

bool in_domain(const std::string& address, const config::Notices::Administrators& a) {
    const auto at = address.rfind('@');
    if (at == std::string::npos) {
        return false;
    }
    const std::string domain = address.substr(at + 1);
    return domain == a.domain || (a.subdomains && domain.size() > a.domain.size() + 1 &&
                                  domain.compare(domain.size() - a.domain.size(), a.domain.size(), a.domain) == 0 &&
                                  domain[domain.size() - a.domain.size() - 1] == '.');
}

void add(std::vector<std::string>& out, const std::string& a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) {
        out.push_back(a);
    }
}

}  // namespace

long days_left(TimePoint not_after, TimePoint now) {
    const auto left = not_after - now;
    const long d = static_cast<long>(std::chrono::duration_cast<std::chrono::hours>(left).count() / 24);
    return left < TimePoint::duration::zero() && left % k_day != TimePoint::duration::zero() ? d - 1 : d;
}

std::optional<int> due_threshold(TimePoint not_after, TimePoint now, const std::vector<int>& thresholds) {
    if (now >= not_after) {
        return std::find(thresholds.begin(), thresholds.end(), 0) != thresholds.end() ? std::optional<int>(0)
                                                                                      : std::nullopt;
    }
    std::optional<int> due;
    for (const int t : thresholds) {
        if (t > 0 && not_after - now <= t * k_day && (!due || t < *due)) {
            due = t;
        }
    }
    return due;
}

std::vector<DueNotice> due_notices(const std::vector<Expiring>& certs, TimePoint now,
                                   const std::vector<int>& thresholds, std::vector<std::string>* skipped) {
    std::vector<DueNotice> out;
    auto skip = [&](const Expiring& c, const std::string& why) {
        if (skipped != nullptr) {
            skipped->push_back(c.kind + " certificate " + c.serial + " (" + c.common_name + "): " + why);
        }
    };
    for (std::size_t i = 0; i < certs.size(); ++i) {
        const Expiring& c = certs[i];
        const auto due = due_threshold(c.not_after, now, thresholds);
        if (!due) {
            continue;
        }
        if (c.revoked) {
            skip(c, "revoked: no expiry notice");
            continue;
        }
        if (now < c.not_before) {
            skip(c, "not valid yet");
            continue;
        }
        if (c.kind == "signing" && !c.addresses.empty()) {
            const bool renewed = std::all_of(c.addresses.begin(), c.addresses.end(), [&](const std::string& a) {
                return std::any_of(certs.begin(), certs.end(), [&](const Expiring& o) {
                    return &o != &c && o.kind == "signing" && !o.revoked && o.not_before <= now &&
                           o.not_after > c.not_after && o.not_after > now &&
                           std::find(o.addresses.begin(), o.addresses.end(), a) != o.addresses.end();
                });
            });
            if (renewed) {
                skip(c, "renewed: a newer certificate for the same address is installed");
                continue;
            }
        }
        out.push_back({i, *due});
    }
    return out;
}

std::vector<std::string> notice_recipients(const config::Notices& n, const Expiring& cert) {
    std::vector<std::string> out;
    if (cert.kind == "signing") {
        for (const auto& a : cert.addresses) {
            if (n.notify_owners) {
                add(out, a);
            }
            const config::Notices::Administrators* best = nullptr;
            for (const auto& d : n.domains) {
                if (in_domain(a, d) && (best == nullptr || d.domain.size() > best->domain.size())) {
                    best = &d;
                }
            }
            if (best != nullptr) {
                for (const auto& to : best->to) {
                    add(out, to);
                }
            }
        }
        for (const auto& a : n.administrators) {
            add(out, a);
        }
        return out;
    }
    for (const auto& a : n.administrators) {
        add(out, a);
    }
    if (out.empty()) {
        for (const auto& d : n.domains) {
            for (const auto& to : d.to) {
                add(out, to);
            }
        }
    }
    return out;
}

}  // namespace segel::policy
