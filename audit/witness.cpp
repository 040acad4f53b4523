#include "audit/witness.h"

#include "audit/error.h"
#include "smime/base64.h"
#include "smime/blob.h"
#include "smime/error.h"
#include "smime/sign.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

namespace segel::audit {

namespace {

constexpr const char* k_boundary = "segel-audit-checkpoint";

std::string rfc5322_date(TimePoint t) {
    const std::time_t tt = Clock::to_time_t(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

std::string attachment(const std::string& name, const std::string& type, std::string_view bytes) {
    return std::string("--") + k_boundary + "\r\nContent-Type: " + type + "; name=\"" + name +
           "\"\r\nContent-Disposition: attachment; filename=\"" + name +
           "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + smime::base64::encode_lines(bytes);
}

/** The checkpoint text indented for the readable part (it is ASCII, one field per line). */
std::string indented(const std::string& text) {
    std::string out = "    ";
    for (const char c : text) {
        out += c == '\n' ? std::string("\r\n    ") : std::string(1, c);
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

class Socket {
public:
    explicit Socket(const std::string& host_port) : m_name(host_port) {
        const std::size_t colon = host_port.rfind(':');
        if (colon == std::string::npos) {
            throw Error(Category::Usage, "\"" + host_port + "\" is not HOST:PORT");
        }
        std::string host = host_port.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        }
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (getaddrinfo(host.c_str(), host_port.substr(colon + 1).c_str(), &hints, &res) != 0 || res == nullptr) {
            throw Error(Category::Unavailable, "SMTP " + host_port + ": cannot resolve the host");
        }
        for (addrinfo* ai = res; ai != nullptr && m_fd < 0; ai = ai->ai_next) {
            const int fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
            if (fd < 0) {
                continue;
            }
            timeval tv{60, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                m_fd = fd;
            } else {
                ::close(fd);
            }
        }
        freeaddrinfo(res);
        if (m_fd < 0) {
            throw Error(Category::Unavailable, "SMTP " + host_port + ": cannot connect: " + std::strerror(errno));
        }
    }
    ~Socket() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    void send(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(m_fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                throw Error(Category::Unavailable, "SMTP " + m_name + ": write failed: " + std::strerror(errno));
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /** Reads one (possibly multi-line) reply; returns its last line. */
    std::string reply(const std::string& step) {
        for (;;) {
            const std::string line = read_line(step);
            if (line.size() < 3) {
                throw Error(Category::Unavailable, "SMTP " + m_name + ": " + step + ": garbled reply \"" + line + "\"");
            }
            if (line.size() == 3 || line[3] == ' ') {
                return line;
            }
        }
    }

    /** Sends @p command (when not empty) and requires a reply starting with @p code. */
    std::string expect(const std::string& command, char code, const std::string& step) {
        if (!command.empty()) {
            send(command + "\r\n");
        }
        std::string r = reply(step);
        if (r[0] != code) {
            throw Error(Category::Unavailable, "SMTP " + m_name + ": " + step + " answered \"" + r + "\"");
        }
        return r;
    }

private:
    std::string read_line(const std::string& step) {
        for (;;) {
            const std::size_t nl = m_buf.find("\r\n");
            if (nl != std::string::npos) {
                std::string line = m_buf.substr(0, nl);
                m_buf.erase(0, nl + 2);
                return line;
            }
            char chunk[4096];
            const ssize_t n = ::recv(m_fd, chunk, sizeof chunk, 0);
            if (n <= 0) {
                throw Error(Category::Unavailable, "SMTP " + m_name + ": " + step + ": the connection closed" +
                                                       (n < 0 ? std::string(": ") + std::strerror(errno) : ""));
            }
            m_buf.append(chunk, static_cast<std::size_t>(n));
            if (m_buf.size() > 65536) {
                throw Error(Category::Unavailable, "SMTP " + m_name + ": " + step + ": reply line too long");
            }
        }
    }

    std::string m_name;
    int m_fd = -1;
    std::string m_buf;
};

}  // namespace

WitnessMail compose_witness(const Seal& seal, const std::string& node, const std::string& from,
                            const std::vector<std::string>& to, const StoredCheckpoint& latest,
                            const std::optional<ConsistencyProof>& since, TimePoint now) {
    WitnessMail m;
    m.from = from;
    if (m.from.empty() && !seal.credential.info.addresses.empty()) {
        m.from = seal.credential.info.addresses.front();
    }
    if (m.from.empty() || m.from.find('@') == std::string::npos) {
        throw Error(Category::Usage,
                    "the witness mail needs a sender: set audit.witness_from (the seal certificate has no address)");
    }
    if (to.empty()) {
        throw Error(Category::Usage, "no witnesses: list their addresses in audit.witnesses");
    }
    m.to = to;
    const Checkpoint c = parse_checkpoint(latest.signed_checkpoint.text);
    std::string rcpts;
    for (const auto& t : to) {
        rcpts += (rcpts.empty() ? "" : ", ") + t;
    }
    std::random_device rd;
    const std::string id = std::to_string(to_micros(now)) + "." + std::to_string(rd());
    const std::string day = format_time_us(c.time).substr(0, 10);
    const std::string outer = "From: segel audit <" + m.from + ">\r\nTo: " + rcpts + "\r\nSubject: [segel audit] " +
                              node + ": checkpoint " + std::to_string(c.sequence) + ", " + std::to_string(c.size) +
                              " events, " + day + "\r\nDate: " + rfc5322_date(now) + "\r\nMessage-ID: <segel-audit." +
                              id + "@" + m.from.substr(m.from.find('@') + 1) + ">\r\n";
    std::string text = "This is the audit checkpoint of the segel mail gateway node " + node +
                       ".\r\n\r\nPlease keep this message unchanged. It commits to every decision the gateway has\r\n"
                       "recorded so far (what it signed, for whom, with which certificate, and what it refused).\r\n"
                       "If anyone later rewrites that record, it will no longer match this checkpoint.\r\n\r\n"
                       "Checkpoint (attached byte for byte as checkpoint.txt, signed in checkpoint.p7s):\r\n\r\n" +
                       indented(latest.signed_checkpoint.text) +
                       "\r\nSHA-256 of checkpoint.txt: " + to_hex(sha256(latest.signed_checkpoint.text)) + "\r\n";
    if (since) {
        text += "\r\nconsistency.json proves that this log extends checkpoint " +
                std::to_string(since->first.sequence) + " (" + std::to_string(since->first.size) +
                " events), the one sent to you before.\r\n";
    }
    text +=
        "\r\nTo check it without segel: docs/audit.md, \"Witnesses\" (Python and openssl only):\r\n"
        "    segel-audit-verify checkpoint checkpoint.txt checkpoint.p7s --seal-cert seal.pem\r\n";
    std::string body =
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + std::string(k_boundary) + "\"\r\n\r\n--" +
        k_boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
        text + "\r\n" + attachment("checkpoint.txt", "application/octet-stream", latest.signed_checkpoint.text) +
        attachment("checkpoint.p7s", "application/octet-stream", latest.signed_checkpoint.signature);
    if (!latest.signed_checkpoint.timestamp.empty()) {
        body += attachment("checkpoint.tsr", "application/timestamp-reply", latest.signed_checkpoint.timestamp);
    }
    if (since) {
        body += attachment("consistency.json", "application/json", to_json(*since));
    }
    body += std::string("--") + k_boundary + "--\r\n";
    const smime::Blob unsigned_message = smime::Blob::from(outer + body);
    smime::SignOptions options;
    options.now = now;
    smime::SignedMessage signed_message;
    try {
        signed_message = smime::sign(unsigned_message, seal.credential, seal.chain, options);
    } catch (const smime::Error& e) {
        throw Error(Category::Credential, std::string("cannot sign the witness mail: ") + e.what());
    }
    m.message = outer + "MIME-Version: 1.0\r\n";
    for (const auto& h : signed_message.headers) {
        if (h.name == "MIME-Version") {
            continue;
        }
        std::string value;
        for (const char ch : h.value) {
            value += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
        }
        m.message += h.name + ": " + value + "\r\n";
    }
    m.message += "\r\n" + signed_message.body.str();
    return m;
}

std::string submit(const std::string& host_port, const WitnessMail& mail) {
    Socket s(host_port);
    s.expect("", '2', "greeting");
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
        std::strcpy(host, "localhost");
    }
    s.expect(std::string("EHLO ") + host, '2', "EHLO");
    s.expect("MAIL FROM:<" + mail.from + ">", '2', "MAIL FROM");
    for (const auto& t : mail.to) {
        s.expect("RCPT TO:<" + t + ">", '2', "RCPT TO:<" + t + ">");
    }
    s.expect("DATA", '3', "DATA");
    // Dot-stuffing (RFC 5321 §4.5.2): a line that starts with "." gets one more.
    std::string data;
    data.reserve(mail.message.size() + 64);
    bool line_start = true;
    for (const char c : mail.message) {
        if (line_start && c == '.') {
            data += '.';
        }
        data += c;
        line_start = c == '\n';
    }
    if (data.size() < 2 || data.compare(data.size() - 2, 2, "\r\n") != 0) {
        data += "\r\n";
    }
    data += ".\r\n";
    s.send(data);
    const std::string reply = s.expect("", '2', "end of DATA");
    try {
        s.expect("QUIT", '2', "QUIT");
    } catch (const Error&) {
        // The message is queued; a server that drops the line at QUIT changes nothing.
    }
    return reply;
}

}  // namespace segel::audit
