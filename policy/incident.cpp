#include "policy/incident.h"

#include "base/address.h"
#include "base/time.h"
#include "policy/decide.h"

#include <arpa/inet.h>
#include <algorithm>
#include <cmath>
#include <cstdio>

namespace segel::policy {

const std::vector<std::string>& incident_kinds() {
    static const std::vector<std::string> kinds{incident::k_forged_official_sender, incident::k_invalid_signature,
                                                incident::k_revoked_signer,         incident::k_sign_revoked,
                                                incident::k_sign_expired,           incident::k_send_as_repeated,
                                                incident::k_volume_anomaly,         incident::k_client_anomaly,
                                                incident::k_audit_store_failure,    incident::k_checkpoint_gap};
    return kinds;
}

bool is_incident_kind(std::string_view word) {
    const auto& k = incident_kinds();
    return std::find(k.begin(), k.end(), word) != k.end();
}

bool is_send_as_refusal(std::string_view reason_code) {
    return reason_code == "login-not-owner" || reason_code == "envelope-mismatch" ||
           reason_code == "from-shows-other-address";
}

bool government_address(const config::Settings& settings, const std::string& address) {
    const std::string a = normalize_address(address);
    const std::string d = base::domain_of(a);
    if (d.empty()) {
        return false;
    }
    return base::domain_matches(d, "go.id", true) || official_rule(settings, a) != nullptr;
}

namespace {

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

}  // namespace

Finding inbound_incident(const config::Settings& s, const InboundIncidentFacts& f) {
    Finding out;
    const bool government = !f.signer.empty() && government_address(s, f.signer);
    // 1. A government signer whose certificate is revoked (R6, R12).
    if (f.signer_revoked && government) {
        out.reasons.push_back("1. signer " + f.signer + " certificate " + f.serial + " is revoked");
        out.incident =
            Incident{incident::k_revoked_signer,
                     "",
                     f.signer,
                     f.client,
                     f.serial,
                     "signature of " + f.signer + " with revoked certificate " + f.serial + " (" + f.reason + ")"};
        return out;
    }
    out.reasons.push_back("1. no revoked government signer");
    // 2. A signature claiming a government signer that does not verify.
    if ((f.verdict == Verdict::Fail || f.verdict == Verdict::PermError) && government) {
        out.reasons.push_back("2. invalid signature (smime=" + std::string(to_string(f.verdict)) +
                              ") of government signer " + f.signer);
        out.incident = Incident{
            incident::k_invalid_signature,
            "",
            f.signer,
            f.client,
            f.serial,
            "invalid signature claiming " + f.signer + ": smime=" + to_string(f.verdict) + " (" + f.reason + ")"};
        return out;
    }
    out.reasons.push_back("2. no invalid signature of a government signer");
    // 3. An official From from outside without a valid signature (sender protection found it).
    if (!f.forged.empty()) {
        out.reasons.push_back("3. official sender " + f.official_sender + " without a valid signature");
        out.incident =
            Incident{incident::k_forged_official_sender, "", f.official_sender, f.client, f.serial, f.forged};
        return out;
    }
    out.reasons.push_back("3. no official sender claimed without a valid signature");
    return out;
}

Finding send_as_rule(const config::Incidents& t, std::size_t refusals, const std::string& login,
                     const std::string& address, const std::string& client) {
    Finding out;
    const std::string window = std::to_string(t.send_as.within.count() / 60) + " min";
    if (refusals == t.send_as.refusals) {
        out.reasons.push_back("4. " + std::to_string(refusals) + " send-as refusals of login " + login + " within " +
                              window + " (incidents.send_as.refusals: " + std::to_string(t.send_as.refusals) + ")");
        out.incident =
            Incident{incident::k_send_as_repeated,
                     login,
                     address,
                     client,
                     "",
                     std::to_string(refusals) + " send-as refusals within " + window + ", the last as " + address};
        return out;
    }
    out.reasons.push_back("4. " + std::to_string(refusals) + " send-as refusal(s) of login " + login + " within " +
                          window + ": " + (refusals < t.send_as.refusals ? "below" : "already reported at") + " " +
                          std::to_string(t.send_as.refusals));
    return out;
}

namespace {
double volume_limit(const config::Incidents& t, double baseline) {
    return std::max(t.volume.factor * baseline, static_cast<double>(t.volume.floor));
}
}  // namespace

bool volume_fires(const config::Incidents& t, std::uint64_t count, double baseline) {
    const double limit = volume_limit(t, baseline);
    return static_cast<double>(count) > limit && std::floor(limit) + 1 == static_cast<double>(count);
}

Finding volume_rule(const config::Incidents& t, std::uint64_t count, double baseline, const std::string& login,
                    const std::string& client) {
    Finding out;
    const double limit = volume_limit(t, baseline);
    const std::string why = std::to_string(count) + " signed this hour; limit max(" + number(t.volume.factor) +
                            " x baseline " + number(baseline) + "/h, floor " + std::to_string(t.volume.floor) +
                            ") = " + number(limit);
    if (volume_fires(t, count, baseline)) {
        out.reasons.push_back("5a. login " + login + ": " + why);
        out.incident = Incident{incident::k_volume_anomaly, login, "", client, "", why};
        return out;
    }
    out.reasons.push_back("5a. login " + login + ": " + why +
                          (static_cast<double>(count) > limit ? " (already reported this hour)" : ""));
    return out;
}

Finding client_rule(const config::Incidents& t, std::size_t networks, double baseline, const std::string& login,
                    const std::string& client) {
    Finding out;
    const double limit = std::max(t.clients.factor * baseline, static_cast<double>(t.clients.floor));
    const std::string why = std::to_string(networks) + " client networks within " +
                            std::to_string(t.clients.within.count() / 60) + " min; limit max(" +
                            number(t.clients.factor) + " x baseline " + number(baseline) + ", floor " +
                            std::to_string(t.clients.floor) + ") = " + number(limit) + "; newest " + client;
    if (static_cast<double>(networks) > limit && std::floor(limit) + 1 == static_cast<double>(networks)) {
        out.reasons.push_back("5b. login " + login + ": " + why);
        out.incident = Incident{incident::k_client_anomaly, login, "", client, "", why};
        return out;
    }
    out.reasons.push_back("5b. login " + login + ": " + why);
    return out;
}

std::string client_network(const config::Incidents& t, const std::string& ip) {
    unsigned char bytes[16] = {};
    int family = 0;
    int bits = 0;
    std::size_t len = 0;
    if (inet_pton(AF_INET, ip.c_str(), bytes) == 1) {
        family = AF_INET;
        bits = t.clients.ipv4_prefix;
        len = 4;
    } else if (inet_pton(AF_INET6, ip.c_str(), bytes) == 1) {
        family = AF_INET6;
        bits = t.clients.ipv6_prefix;
        len = 16;
    } else {
        return ip;
    }
    for (std::size_t i = 0; i < len; ++i) {
        const int keep = std::clamp(bits - static_cast<int>(i) * 8, 0, 8);
        bytes[i] = static_cast<unsigned char>(bytes[i] & (0xFF00 >> keep));
    }
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, bytes, text, sizeof text);
    return std::string(text) + "/" + std::to_string(bits);
}

Finding audit_store_rule(const std::string& what, const std::string& queue_id) {
    Finding out;
    out.reasons.push_back("6. the audit store could not be written" +
                          (queue_id.empty() ? std::string() : " for " + queue_id));
    out.incident = Incident{
        incident::k_audit_store_failure, "", "", "", "", (queue_id.empty() ? std::string() : queue_id + ": ") + what};
    return out;
}

Finding checkpoint_rule(const config::Incidents& t, int checkpoint_minutes,
                        std::optional<std::chrono::system_clock::time_point> last_checkpoint,
                        std::optional<std::chrono::system_clock::time_point> first_uncovered,
                        const std::vector<std::uint64_t>& sequences, std::chrono::system_clock::time_point now) {
    Finding out;
    // 7a. Checkpoint sequence numbers follow each other (a missing one was removed or never stored).
    for (std::size_t i = 1; i < sequences.size(); ++i) {
        if (sequences[i] != sequences[i - 1] + 1) {
            out.reasons.push_back("7a. checkpoint " + std::to_string(sequences[i - 1]) + " is followed by " +
                                  std::to_string(sequences[i]));
            out.incident = Incident{incident::k_checkpoint_gap,
                                    "",
                                    "",
                                    "",
                                    "",
                                    "checkpoint sequence gap: " + std::to_string(sequences[i - 1]) + " then " +
                                        std::to_string(sequences[i])};
            return out;
        }
    }
    out.reasons.push_back("7a. " + std::to_string(sequences.size()) + " checkpoint(s) in sequence");
    // 7b. No event waits for a checkpoint longer than the interval times the factor.
    const auto allowed = std::chrono::minutes(checkpoint_minutes) * t.checkpoint_gap.factor;
    if (first_uncovered && now - *first_uncovered > allowed) {
        const auto waited = std::chrono::duration_cast<std::chrono::minutes>(now - *first_uncovered).count();
        const std::string why =
            "events waited " + std::to_string(waited) +
            " min without a checkpoint (allowed: audit.checkpoint_minutes " + std::to_string(checkpoint_minutes) +
            " x incidents.checkpoint_gap.factor " + std::to_string(t.checkpoint_gap.factor) + ")" +
            (last_checkpoint ? "; the last checkpoint is of " + base::format_time(*last_checkpoint) : "");
        out.reasons.push_back("7b. " + why);
        out.incident = Incident{incident::k_checkpoint_gap, "", "", "", "", why};
        return out;
    }
    out.reasons.push_back("7b. no event waits longer than " +
                          std::to_string(std::chrono::duration_cast<std::chrono::minutes>(allowed).count()) +
                          " min for a checkpoint");
    return out;
}

}  // namespace segel::policy
