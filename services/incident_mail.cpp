#include "services/incident_mail.h"

#include "base/time.h"
#include "services/smtp.h"
#include "smime/blob.h"
#include "smime/error.h"
#include "smime/sign.h"

#include <random>

namespace segel::services {

namespace {

/** The rate-limit table keeps at most this many kind+login entries (older ones go first). */
constexpr std::size_t k_max_keys = 10000;

std::string crlf(const std::string& text) {
    std::string out;
    out.reserve(text.size() + text.size() / 40);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
            out += '\r';
        }
        out += text[i];
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) {
        out += "\r\n";
    }
    return out;
}

/** A header value without line breaks or control bytes (subjects carry logins and addresses). */
std::string header_safe(const std::string& v) {
    std::string out;
    for (const char c : v) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 32 || u >= 127) ? '?' : c;
    }
    return out;
}

/** Plain text kept 7-bit and free of stray CRs: other bytes become '?'. */
std::string text_safe(const std::string& v) {
    std::string out;
    for (const char c : v) {
        const auto u = static_cast<unsigned char>(c);
        out += c == '\n' || (u >= 32 && u < 127) ? c : '?';
    }
    return out;
}

}  // namespace

std::string compose_incident_mail(const IncidentNotice& notice, const std::string& from, const smime::Credential& seal,
                                  const std::vector<smime::ossl::Ptr<X509>>& chain,
                                  std::chrono::system_clock::time_point now) {
    std::string rcpts;
    for (const auto& t : notice.to) {
        rcpts += (rcpts.empty() ? "" : ", ") + t;
    }
    std::random_device rd;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    const std::string outer = "From: segel incidents <" + from + ">\r\nTo: " + rcpts +
                              "\r\nSubject: " + header_safe(notice.subject) + "\r\nDate: " + base::format_rfc5322(now) +
                              "\r\nMessage-ID: <segel-incident." + std::to_string(us) + "." + std::to_string(rd()) +
                              "@" + from.substr(from.find('@') + 1) + ">\r\n";
    const std::string body =
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
        crlf(text_safe(notice.text));
    smime::SignOptions options;
    options.now = now;
    const smime::SignedMessage signed_message = smime::sign(smime::Blob::from(outer + body), seal, chain, options);
    std::string m = outer + "MIME-Version: 1.0\r\n";
    for (const auto& h : signed_message.headers) {
        if (h.name == "MIME-Version") {
            continue;
        }
        m += h.name + ": " + crlf(h.value);
    }
    return m + "\r\n" + signed_message.body.str();
}

IncidentMailer::IncidentMailer(Options options) : m_options(std::move(options)), m_thread([this] { run(); }) {}

IncidentMailer::~IncidentMailer() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    m_thread.join();
}

void IncidentMailer::submit(IncidentNotice notice, std::chrono::system_clock::time_point now) noexcept {
    try {
        std::string result;
        std::string detail;
        {
            std::lock_guard lock(m_mutex);
            const std::string key = notice.kind + " " + notice.login;
            auto it = m_sent.find(key);
            if (it != m_sent.end() && now - it->second.first < m_options.period) {
                ++it->second.second;
                result = "suppressed";
                detail = std::to_string(it->second.second) + " since the last mail";
            } else if (m_queue.size() >= m_options.queue) {
                result = "dropped";
                detail = "queue full (" + std::to_string(m_options.queue) + " mails waiting)";
            } else {
                if (it != m_sent.end() && it->second.second > 0) {
                    notice.text += "\n" + std::to_string(it->second.second) + " more incident(s) of this kind" +
                                   (notice.login.empty() ? "" : " for this login") +
                                   " were not mailed since the last mail (incidents.notify.period).\n";
                }
                if (m_sent.size() >= k_max_keys && it == m_sent.end()) {
                    auto oldest = std::min_element(m_sent.begin(), m_sent.end(), [](const auto& a, const auto& b) {
                        return a.second.first < b.second.first;
                    });
                    m_sent.erase(oldest);
                }
                m_sent[key] = {now, 0};
                m_queue.push_back(notice);
            }
        }
        if (!result.empty()) {
            if (m_options.report) {
                m_options.report(result, notice, detail);
            }
            return;
        }
        m_wake.notify_one();
    } catch (...) {
        // an incident mail never fails the caller
    }
}

void IncidentMailer::run() {
    std::deque<IncidentNotice> dropped;
    for (;;) {
        IncidentNotice notice;
        bool stopping = false;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            stopping = m_stopping;
            if (stopping) {
                dropped.swap(m_queue);
            } else {
                notice = std::move(m_queue.front());
                m_queue.pop_front();
            }
        }
        if (stopping) {  // a stop does not wait for the relay: what waits is dropped and said so
            for (const auto& n : dropped) {
                if (m_options.report) {
                    m_options.report("dropped", n, "stopping");
                }
            }
            return;
        }
        std::string error;
        try {
            const std::string message = compose_incident_mail(notice, m_options.from, *m_options.seal, *m_options.chain,
                                                              std::chrono::system_clock::now());
            smtp::Options o;
            o.connect_timeout = std::chrono::milliseconds(5000);
            o.total_timeout = std::chrono::milliseconds(30000);
            error = smtp::send(m_options.relay, m_options.from, notice.to, message, o);
        } catch (const std::exception& e) {
            error = std::string("cannot compose the mail: ") + e.what();
        }
        if (m_options.report) {
            try {
                m_options.report(error.empty() ? "sent" : "failed", notice, error.empty() ? m_options.relay : error);
            } catch (...) {
            }
        }
    }
}

}  // namespace segel::services
