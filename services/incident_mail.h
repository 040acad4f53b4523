#pragma once
// The mail about an incident (docs/incidents.md): composed, S/MIME-signed
// with the gateway seal (like the audit witness mail) and submitted over SMTP
// by a worker thread of its own, so that an incident never makes mail fail or
// wait. The queue is bounded (a full queue drops the mail and counts it) and
// the mail rate-limited: one per kind and login per incidents.notify.period,
// the next one saying how many were suppressed in between.
#include "smime/certificate.h"
#include "smime/ossl/ptr.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace segel::services {

/** One incident mail to send. */
struct IncidentNotice {
    std::string kind;   ///< the incident kind (rate-limit key with login)
    std::string login;  ///< "" for incidents of the gateway itself
    std::vector<std::string> to;
    std::string subject;
    std::string text;  ///< plain text, US-ASCII, lines separated by "\n"
};

/** The message text of @p notice from @p from, signed with @p seal (CRLF line ends). @throws smime::Error */
std::string compose_incident_mail(const IncidentNotice& notice, const std::string& from, const smime::Credential& seal,
                                  const std::vector<smime::ossl::Ptr<X509>>& chain,
                                  std::chrono::system_clock::time_point now);

class IncidentMailer {
public:
    struct Options {
        std::string relay;  ///< host:port
        std::string from;
        std::chrono::seconds period{3600};
        std::size_t queue = 100;
        std::shared_ptr<const void> seal_owner;  ///< keeps @c seal and @c chain alive
        const smime::Credential* seal = nullptr;
        const std::vector<smime::ossl::Ptr<X509>>* chain = nullptr;
        /** What became of each mail: ("sent"|"failed"|"dropped"|"suppressed", notice, detail). */
        std::function<void(const std::string&, const IncidentNotice&, const std::string&)> report;
    };

    explicit IncidentMailer(Options options);
    /** Stops the worker: the mail being sent finishes; what waits is dropped (reported as such). */
    ~IncidentMailer();
    IncidentMailer(const IncidentMailer&) = delete;
    IncidentMailer& operator=(const IncidentMailer&) = delete;

    /**
     * Queues @p notice unless one of its kind and login went out within the
     * period (then it is counted as suppressed) or the queue is full (dropped).
     * Never blocks on the network, never throws.
     */
    void submit(IncidentNotice notice, std::chrono::system_clock::time_point now) noexcept;

private:
    void run();

    Options m_options;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<IncidentNotice> m_queue;
    /** kind + login → when the last mail was queued and how many were suppressed since (bounded). */
    std::map<std::string, std::pair<std::chrono::system_clock::time_point, std::uint64_t>> m_sent;
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace segel::services
