// segel-bench-milterload: a load generator that plays the MTA's side of the
// Sendmail milter protocol (version 6) against a milter on a unix socket, the
// way Postfix does: option negotiation, macros, connect, MAIL, RCPT, each
// header, end of headers, the body in chunks of at most 65535 bytes, end of
// body; then it reads the modification replies (add/change header, replace
// body) up to the final verdict.
//
// Protocol reference: sendmail's libmilter (include/libmilter/mfdef.h for the
// command and reply codes; libmilter/engine.c for which replies each step gets)
// and Postfix's src/milter/milter8.c (the MTA side). Every packet is a 4-byte
// big-endian length, a command byte, then data; strings are NUL-terminated.
//
// Prints one JSON object with throughput, latency (MAIL sent → final reply),
// the milter process's CPU seconds and peak RSS, and the machine's busy CPU.
#include "bench/common.h"

#include <libmilter/mfdef.h>

#include <arpa/inet.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace {

using segel::bench::Clock;

struct Message {
    std::string path;
    std::vector<std::pair<std::string, std::string>> headers;  ///< value as after the colon, folds as "\n"
    std::string body;                                          ///< CRLF line ends, as Postfix sends it
    std::size_t wire_size = 0;
};

/** Splits a message file (CRLF or LF) into header fields and a CRLF body. */
Message load_message(const std::string& path) {
    Message m;
    m.path = path;
    const std::string raw = segel::bench::read_file(path);
    std::size_t pos = 0;
    while (pos < raw.size()) {
        std::size_t eol = raw.find('\n', pos);
        if (eol == std::string::npos) {
            eol = raw.size();
        }
        std::string line = raw.substr(pos, eol - pos);
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        pos = eol + 1;
        if (line.empty()) {
            break;
        }
        if ((line[0] == ' ' || line[0] == '\t') && !m.headers.empty()) {
            m.headers.back().second += "\n" + line;
        } else {
            const auto colon = line.find(':');
            if (colon == std::string::npos) {
                throw std::runtime_error(path + ": header line without a colon: " + line.substr(0, 40));
            }
            m.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
        }
    }
    m.body.reserve(raw.size() - std::min(pos, raw.size()) + raw.size() / 30);
    for (std::size_t i = std::min(pos, raw.size()); i < raw.size(); ++i) {
        if (raw[i] == '\n' && (m.body.empty() || m.body.back() != '\r')) {
            m.body += '\r';
        }
        m.body += raw[i];
    }
    m.wire_size = raw.size();
    return m;
}

struct Options {
    std::string socket;
    std::vector<std::string> messages;
    std::string label;
    std::string mail_from = "siti@dinas.example.go.id";
    std::string rcpt = "kepala@mitra.example";
    std::string auth;  ///< {auth_authen}; empty: none
    std::string client_ip = "127.0.0.1";
    long count = 100;
    double seconds = 0;  ///< when > 0, also stop after this long
    int concurrency = 1;
    int warmup = 1;                    ///< transactions per worker before measuring
    long pid = 0;                      ///< the milter's pid, for CPU and RSS
    std::string expect;                ///< "modify": every message must get a replaced body; "continue": unchanged
    std::string save;                  ///< write the first message as modified by the milter here
    bool session_per_message = false;  ///< a fresh connection per message, as Postfix per SMTP session
    bool callgrind = false;            ///< the milter (--pid) runs under callgrind: count only the measured window
};

/**
 * Sends a callgrind_control command ("-z" zero the counters, "-d" dump them)
 * to the milter running under valgrind --tool=callgrind; the dump then holds
 * exactly the measured messages.
 */
void callgrind_control(const char* command, long pid) {
    const std::string cmd = "callgrind_control " + std::string(command) + " " + std::to_string(pid) + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) {
        throw std::runtime_error("'" + cmd + "' failed (is the milter running under valgrind --tool=callgrind?)");
    }
}

struct Outcome {
    char verdict = 0;  ///< the final reply code ('c', 'a', 'r', 't', 'd', 'y', ...)
    std::size_t header_changes = 0;
    std::size_t body_bytes = 0;  ///< sum of REPLBODY chunks
    std::string reply_text;      ///< SMFIR_REPLYCODE text
    std::string modified;        ///< the whole modified message, when asked for
};

class MilterConnection {
public:
    explicit MilterConnection(const std::string& socket_path) {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (m_fd < 0) {
            throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        }
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (socket_path.size() >= sizeof sa.sun_path) {
            throw std::runtime_error("socket path too long: " + socket_path);
        }
        std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
        if (::connect(m_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            const std::string why = std::strerror(errno);
            ::close(m_fd);
            throw std::runtime_error("cannot connect to the milter at " + socket_path + ": " + why +
                                     " (is it running?)");
        }
    }
    ~MilterConnection() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    MilterConnection(const MilterConnection&) = delete;
    MilterConnection& operator=(const MilterConnection&) = delete;

    /** SMFIC_OPTNEG: offer everything Postfix offers; remember what the milter wants. */
    void negotiate() {
        std::string data;
        put32(data, SMFI_PROT_VERSION);
        put32(data, SMFI_CURR_ACTS);
        put32(data, SMFI_CURR_PROT);
        send(SMFIC_OPTNEG, data);
        const auto [cmd, reply] = read();
        if (cmd != SMFIC_OPTNEG || reply.size() < 12) {
            throw std::runtime_error("the milter did not answer option negotiation");
        }
        m_version = get32(reply, 0);
        m_actions = get32(reply, 4);
        m_protocol = get32(reply, 8);
    }

    /** Connection-level steps: macros, SMFIC_CONNECT, SMFIC_HELO (unless the milter skips them). */
    char open_session(const std::string& client_ip) {
        send_macros(SMFIC_CONNECT, {{"j", "mx.bench.example"},
                                    {"{daemon_name}", "bench"},
                                    {"_", "localhost [" + client_ip + "]"},
                                    {"{client_addr}", client_ip}});
        if (!(m_protocol & SMFIP_NOCONNECT)) {
            std::string data = "localhost";
            data += '\0';
            data += SMFIA_INET;
            put16(data, 25);
            data += client_ip;
            data += '\0';
            send(SMFIC_CONNECT, data);
            if (!(m_protocol & SMFIP_NR_CONN)) {
                const char c = read().first;
                if (c != SMFIR_CONTINUE) {
                    return c;
                }
            }
        }
        if (!(m_protocol & SMFIP_NOHELO)) {
            send(SMFIC_HELO, std::string("client.bench.example") + '\0');
            if (!(m_protocol & SMFIP_NR_HELO)) {
                const char c = read().first;
                if (c != SMFIR_CONTINUE) {
                    return c;
                }
            }
        }
        return SMFIR_CONTINUE;
    }

    /** One SMTP transaction, MAIL to end of body, and the milter's verdict. */
    Outcome transaction(const Message& m, const Options& o, const std::string& queue_id, bool want_modified) {
        Outcome out;
        auto step_done = [&](char reply) {
            if (reply == SMFIR_CONTINUE) {
                return false;
            }
            out.verdict = reply;
            send(SMFIC_ABORT, {});  // the transaction ends here, as Postfix does after a verdict
            return true;
        };
        std::vector<std::pair<std::string, std::string>> macros = {{"i", queue_id}, {"{mail_addr}", o.mail_from}};
        if (!o.auth.empty()) {
            macros.emplace_back("{auth_authen}", o.auth);
            macros.emplace_back("{auth_type}", "PLAIN");
        }
        send_macros(SMFIC_MAIL, macros);
        if (!(m_protocol & SMFIP_NOMAIL)) {
            send(SMFIC_MAIL, "<" + o.mail_from + ">" + '\0');
            if (!(m_protocol & SMFIP_NR_MAIL) && step_done(read_verdict(out))) {
                return out;
            }
        }
        send_macros(SMFIC_RCPT, {{"{rcpt_addr}", o.rcpt}});
        if (!(m_protocol & SMFIP_NORCPT)) {
            send(SMFIC_RCPT, "<" + o.rcpt + ">" + '\0');
            if (!(m_protocol & SMFIP_NR_RCPT) && step_done(read_verdict(out))) {
                return out;
            }
        }
        if (!(m_protocol & SMFIP_NODATA)) {
            send(SMFIC_DATA, {});
            if (!(m_protocol & SMFIP_NR_DATA) && step_done(read_verdict(out))) {
                return out;
            }
        }
        const bool leading_space = (m_protocol & SMFIP_HDR_LEADSPC) != 0;
        if (!(m_protocol & SMFIP_NOHDRS)) {
            for (const auto& [name, value] : m.headers) {
                std::string data = name;
                data += '\0';
                if (leading_space) {
                    data += value;
                } else {
                    data += value.substr(std::min(value.find_first_not_of(" \t"), value.size()));
                }
                data += '\0';
                send(SMFIC_HEADER, data);
                if (!(m_protocol & SMFIP_NR_HDR) && step_done(read_verdict(out))) {
                    return out;
                }
            }
        }
        if (!(m_protocol & SMFIP_NOEOH)) {
            send(SMFIC_EOH, {});
            if (!(m_protocol & SMFIP_NR_EOH) && step_done(read_verdict(out))) {
                return out;
            }
        }
        if (!(m_protocol & SMFIP_NOBODY)) {
            for (std::size_t off = 0; off < m.body.size(); off += MILTER_CHUNK_SIZE) {
                send(SMFIC_BODY, std::string_view(m.body).substr(off, MILTER_CHUNK_SIZE));
                if (!(m_protocol & SMFIP_NR_BODY)) {
                    const char c = read_verdict(out);
                    if (c == SMFIR_SKIP) {
                        break;
                    }
                    if (step_done(c)) {
                        return out;
                    }
                }
            }
        }
        send(SMFIC_BODYEOB, {});
        std::vector<std::pair<std::string, std::string>> headers = m.headers;
        std::string new_body;
        bool body_replaced = false;
        for (;;) {
            auto [cmd, data] = read();
            switch (cmd) {
                case SMFIR_ADDHEADER:
                case SMFIR_INSHEADER:
                case SMFIR_CHGHEADER: {
                    ++out.header_changes;
                    if (want_modified) {
                        apply_header(cmd, data, headers);
                    }
                    break;
                }
                case SMFIR_REPLBODY:
                    out.body_bytes += data.size();
                    body_replaced = true;
                    if (want_modified) {
                        new_body += data;
                    }
                    break;
                case SMFIR_PROGRESS:
                case SMFIR_ADDRCPT:
                case SMFIR_ADDRCPT_PAR:
                case SMFIR_DELRCPT:
                case SMFIR_CHGFROM:
                case SMFIR_QUARANTINE:
                    break;
                case SMFIR_REPLYCODE:
                    out.reply_text = c_string(data);
                    out.verdict = cmd;
                    return out;
                default:
                    out.verdict = cmd;
                    if (want_modified) {
                        for (const auto& [name, value] : headers) {
                            std::string v = value;
                            for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
                                v.replace(p, 1, "\r\n");
                            }
                            out.modified += name + ":" + v + "\r\n";
                        }
                        out.modified += "\r\n";
                        out.modified += body_replaced ? new_body : m.body;
                    }
                    return out;
            }
        }
    }

    void quit() { send(SMFIC_QUIT, {}); }

private:
    static void put32(std::string& s, std::uint32_t v) {
        const std::uint32_t n = htonl(v);
        s.append(reinterpret_cast<const char*>(&n), 4);
    }
    static void put16(std::string& s, std::uint16_t v) {
        const std::uint16_t n = htons(v);
        s.append(reinterpret_cast<const char*>(&n), 2);
    }
    static std::uint32_t get32(std::string_view s, std::size_t at) {
        std::uint32_t n = 0;
        std::memcpy(&n, s.data() + at, 4);
        return ntohl(n);
    }

    /** SMFIR_ADDHEADER/INSHEADER/CHGHEADER applied to a header list (for --save). */
    static void apply_header(char cmd, std::string_view data,
                             std::vector<std::pair<std::string, std::string>>& headers) {
        std::size_t at = 0;
        std::uint32_t index = 0;
        if (cmd != SMFIR_ADDHEADER) {
            index = get32(data, 0);
            at = 4;
        }
        const std::string name = c_string(data.substr(at));
        const std::string value = c_string(data.substr(std::min(data.size(), at + name.size() + 1)));
        if (cmd == SMFIR_ADDHEADER) {
            headers.emplace_back(name, value);
        } else if (cmd == SMFIR_INSHEADER) {
            headers.insert(headers.begin() + std::min<std::size_t>(index, headers.size()), {name, value});
        } else {
            std::uint32_t seen = 0;
            for (auto it = headers.begin(); it != headers.end(); ++it) {
                if (strcasecmp(it->first.c_str(), name.c_str()) == 0 && ++seen == index) {
                    if (value.empty()) {
                        headers.erase(it);
                    } else {
                        it->second = value;
                    }
                    return;
                }
            }
            if (!value.empty()) {
                headers.emplace_back(name, value);
            }
        }
    }

    void send_macros(char stage, const std::vector<std::pair<std::string, std::string>>& macros) {
        std::string data(1, stage);
        for (const auto& [k, v] : macros) {
            data += k;
            data += '\0';
            data += v;
            data += '\0';
        }
        send(SMFIC_MACRO, data);
    }

    void send(char cmd, std::string_view data) {
        char head[5];
        const std::uint32_t n = htonl(static_cast<std::uint32_t>(data.size() + 1));
        std::memcpy(head, &n, 4);
        head[4] = cmd;
        iovec iov[2] = {{head, 5}, {const_cast<char*>(data.data()), data.size()}};
        std::size_t left = 5 + data.size();
        int first = 0;
        while (left > 0) {
            const ssize_t w = ::writev(m_fd, iov + first, 2 - first);
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                throw std::runtime_error(std::string("write to milter: ") + std::strerror(errno));
            }
            left -= static_cast<std::size_t>(w);
            std::size_t done = static_cast<std::size_t>(w);
            while (first < 2 && done >= iov[first].iov_len) {
                done -= iov[first].iov_len;
                ++first;
            }
            if (first < 2) {
                iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
                iov[first].iov_len -= done;
            }
        }
    }

    void read_exact(char* p, std::size_t n) {
        while (n > 0) {
            const ssize_t r = ::read(m_fd, p, n);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                throw std::runtime_error(r == 0 ? "the milter closed the connection"
                                                : std::string("read: ") + std::strerror(errno));
            }
            p += r;
            n -= static_cast<std::size_t>(r);
        }
    }

    /** One packet from the milter; its data stays valid until the next read(). */
    std::pair<char, std::string_view> read() {
        char head[5];
        read_exact(head, 5);
        std::uint32_t n = 0;
        std::memcpy(&n, head, 4);
        n = ntohl(n);
        if (n == 0 || n > 64U * 1024 * 1024) {
            throw std::runtime_error("bad packet length from the milter: " + std::to_string(n));
        }
        // One buffer for every packet: the replacement body comes back in 64 KB packets,
        // and zeroing a fresh string for each would be the generator's own cost, not the milter's.
        if (m_packet.size() < n - 1) {
            m_packet.resize(n - 1);
        }
        read_exact(m_packet.data(), n - 1);
        return {head[4], std::string_view(m_packet.data(), n - 1)};
    }

    /** A NUL-terminated string at the start of @p data (the whole of it when there is no NUL). */
    static std::string c_string(std::string_view data) { return std::string(data.substr(0, data.find('\0'))); }

    /** A reply to one step: progress is skipped; a reply code is recorded. */
    char read_verdict(Outcome& out) {
        for (;;) {
            auto [cmd, data] = read();
            if (cmd == SMFIR_PROGRESS) {
                continue;
            }
            if (cmd == SMFIR_REPLYCODE) {
                out.reply_text = c_string(data);
            }
            return cmd;
        }
    }

    int m_fd = -1;
    std::string m_packet;  ///< read()'s buffer
    std::uint32_t m_version = 0;
    std::uint32_t m_actions = 0;
    std::uint32_t m_protocol = 0;
};

void usage() {
    std::cerr
        << "usage: segel-bench-milterload --socket PATH --message FILE [--message FILE...]\n"
           "         [--count N] [--seconds S] [--concurrency C] [--warmup W] [--label TEXT]\n"
           "         [--from ADDR] [--rcpt ADDR] [--auth LOGIN] [--client-ip IP]\n"
           "         [--pid MILTER_PID (CPU, and peak RSS reset per run)] [--expect modify|continue] [--save FILE]\n"
           "         [--session-per-message (connect, negotiate, one transaction, quit: as Postfix does per SMTP\n"
           "          session; by default each worker keeps one connection for many transactions)]\n"
           "         [--callgrind (the milter --pid runs under callgrind: its counters are zeroed after the\n"
           "          warm-up and dumped after the run)]\n"
           "Plays Postfix's side of the milter protocol (v6) and prints one JSON object.\n";
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw std::runtime_error(a + " needs a value");
            }
            return argv[++i];
        };
        if (a == "--socket") {
            o.socket = value();
            if (o.socket.rfind("unix:", 0) == 0) {
                o.socket = o.socket.substr(5);
            }
        } else if (a == "--message") {
            o.messages.push_back(value());
        } else if (a == "--label") {
            o.label = value();
        } else if (a == "--from") {
            o.mail_from = value();
        } else if (a == "--rcpt") {
            o.rcpt = value();
        } else if (a == "--auth") {
            o.auth = value();
        } else if (a == "--client-ip") {
            o.client_ip = value();
        } else if (a == "--count") {
            o.count = std::stol(value());
        } else if (a == "--seconds") {
            o.seconds = std::stod(value());
        } else if (a == "--concurrency") {
            o.concurrency = std::stoi(value());
        } else if (a == "--warmup") {
            o.warmup = std::stoi(value());
        } else if (a == "--pid") {
            o.pid = std::stol(value());
        } else if (a == "--reset-peak") {
            // the default now; accepted for older command lines
        } else if (a == "--expect") {
            o.expect = value();
        } else if (a == "--save") {
            o.save = value();
        } else if (a == "--session-per-message") {
            o.session_per_message = true;
        } else if (a == "--callgrind") {
            o.callgrind = true;
        } else {
            throw std::runtime_error("unknown argument " + a);
        }
    }
    if (o.socket.empty() || o.messages.empty() || o.concurrency < 1 || o.count < 1 || (o.callgrind && o.pid <= 0)) {
        usage();
        throw std::runtime_error(
            "--socket and --message are required; --count and --concurrency must be >= 1; --callgrind needs --pid");
    }
    return o;
}

/** Connect, negotiate and open the session (connect and helo steps). */
std::unique_ptr<MilterConnection> open_connection(const Options& o) {
    auto c = std::make_unique<MilterConnection>(o.socket);
    c->negotiate();
    if (const char v = c->open_session(o.client_ip); v != SMFIR_CONTINUE) {
        throw std::runtime_error(std::string("the milter refused the connection (reply '") + v + "')");
    }
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        std::vector<Message> messages;
        for (const auto& p : o.messages) {
            messages.push_back(load_message(p));
        }

        std::atomic<long> next{0};
        std::atomic<long> done{0};
        std::atomic<long> modified{0};
        std::atomic<long> unchanged{0};
        std::atomic<std::size_t> bytes{0};
        std::atomic<long> header_changes{0};
        std::mutex mu;
        std::vector<double> latencies;
        std::map<char, long> verdicts;
        std::string first_error;
        std::string sample_reply;
        std::optional<std::string> saved;

        // Connections are opened and warmed up first, so the measured window holds only transactions.
        std::vector<std::unique_ptr<MilterConnection>> conns;
        for (int w = 0; w < o.concurrency; ++w) {
            auto c = open_connection(o);
            for (int k = 0; k < o.warmup; ++k) {
                const bool want = !o.save.empty() && w == 0 && k == 0;
                Outcome out = c->transaction(messages[static_cast<std::size_t>(k) % messages.size()], o,
                                             "WARM" + std::to_string(w) + "x" + std::to_string(k), want);
                if (want) {
                    saved = std::move(out.modified);
                }
            }
            conns.push_back(std::move(c));
        }
        // The peak RSS is reset for every run, so it belongs to this run's messages only.
        if (o.pid > 0 && !segel::bench::reset_peak_rss(o.pid)) {
            std::cerr << "milterload: cannot reset the peak RSS of pid " << o.pid << " (needs Linux >= 4.0 and root)\n";
        }
        if (o.callgrind) {
            callgrind_control("-z", o.pid);
        }
        const segel::bench::CpuTimes cpu0 =
            o.pid > 0 ? segel::bench::process_cpu_times(o.pid) : segel::bench::CpuTimes{};
        const double machine0 = segel::bench::machine_busy_seconds();
        const auto t0 = Clock::now();
        const auto deadline =
            t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));

        std::vector<std::thread> workers;
        for (int w = 0; w < o.concurrency; ++w) {
            workers.emplace_back([&, w] {
                std::vector<double> mine;
                std::map<char, long> my_verdicts;
                try {
                    for (;;) {
                        if (o.seconds > 0 && Clock::now() >= deadline) {
                            break;
                        }
                        const long i = next.fetch_add(1);
                        if (i >= o.count) {
                            break;
                        }
                        const Message& m = messages[static_cast<std::size_t>(i) % messages.size()];
                        const auto s = Clock::now();
                        auto& conn = conns[static_cast<std::size_t>(w)];
                        if (o.session_per_message) {
                            conn->quit();
                            conn = open_connection(o);
                        }
                        const Outcome out =
                            conn->transaction(m, o, "BENCH" + std::to_string(i), !o.save.empty() && !saved && i == 0);
                        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
                        ++my_verdicts[out.verdict];
                        (out.body_bytes > 0 ? modified : unchanged)++;
                        bytes += m.wire_size;
                        header_changes += static_cast<long>(out.header_changes);
                        ++done;
                        if (!out.reply_text.empty()) {
                            std::lock_guard lock(mu);
                            sample_reply = out.reply_text;
                        }
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(mu);
                    if (first_error.empty()) {
                        first_error = e.what();
                    }
                }
                std::lock_guard lock(mu);
                latencies.insert(latencies.end(), mine.begin(), mine.end());
                for (const auto& [k, v] : my_verdicts) {
                    verdicts[k] += v;
                }
            });
        }
        for (auto& t : workers) {
            t.join();
        }
        const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
        const segel::bench::CpuTimes cpu1 =
            o.pid > 0 ? segel::bench::process_cpu_times(o.pid) : segel::bench::CpuTimes{};
        const double machine1 = segel::bench::machine_busy_seconds();
        const double peak = o.pid > 0 ? segel::bench::process_status_mb(o.pid, "VmHWM") : -1;
        // What the milter still holds once its last message is done (every final reply came after
        // its transaction ended): memory that is not given back shows here.
        const double after = o.pid > 0 ? segel::bench::process_status_mb(o.pid, "VmRSS") : -1;
        if (o.callgrind) {
            callgrind_control("-d", o.pid);
        }
        for (auto& c : conns) {
            c->quit();
        }
        if (saved && !o.save.empty()) {
            std::ofstream(o.save, std::ios::binary) << *saved;
        }

        const double n = static_cast<double>(done.load());
        const double mb = static_cast<double>(bytes.load()) / 1e6;
        std::vector<double> lat = latencies;
        std::string verdict_json;
        for (const auto& [k, v] : verdicts) {
            verdict_json += (verdict_json.empty() ? "" : ", ") + segel::bench::json_str(std::string(1, k)) + ": " +
                            std::to_string(v);
        }
        using segel::bench::num;
        std::cout << "{\"label\": " << segel::bench::json_str(o.label) << ", \"kind\": \"milter\""
                  << ", \"concurrency\": " << o.concurrency
                  << ", \"session_per_message\": " << (o.session_per_message ? "true" : "false")
                  << ", \"messages\": " << done.load() << ", \"message_bytes\": " << messages.front().wire_size
                  << ", \"seconds\": " << num(wall) << ", \"msgs_per_s\": " << num(n / wall)
                  << ", \"mb_per_s\": " << num(mb / wall)
                  << ", \"latency_ms_p50\": " << num(segel::bench::quantile(lat, 0.50))
                  << ", \"latency_ms_p99\": " << num(segel::bench::quantile(lat, 0.99))
                  << ", \"daemon_cpu_s\": " << num(cpu1.total() - cpu0.total()) << ", \"daemon_cpu_ms_per_msg\": "
                  << num(o.pid > 0 && n > 0 ? (cpu1.total() - cpu0.total()) * 1000 / n : -1)
                  << ", \"daemon_user_ms_per_msg\": "
                  << num(o.pid > 0 && n > 0 ? (cpu1.user - cpu0.user) * 1000 / n : -1)
                  << ", \"daemon_sys_ms_per_msg\": "
                  << num(o.pid > 0 && n > 0 ? (cpu1.system - cpu0.system) * 1000 / n : -1)
                  << ", \"machine_cpu_ms_per_msg\": " << num(n > 0 ? (machine1 - machine0) * 1000 / n : -1)
                  << ", \"peak_rss_mb\": " << num(peak) << ", \"rss_after_mb\": " << num(after)
                  << ", \"modified\": " << modified.load() << ", \"unchanged\": " << unchanged.load()
                  << ", \"header_changes\": " << header_changes.load() << ", \"verdicts\": {" << verdict_json << "}"
                  << ", \"error\": " << segel::bench::json_str(first_error) << "}\n";
        if (!first_error.empty()) {
            std::cerr << "milterload: " << first_error << "\n";
            return 1;
        }
        if (!sample_reply.empty()) {
            std::cerr << "milterload: the milter answered: " << sample_reply << "\n";
        }
        if (o.expect == "modify" && (modified.load() != done.load() || done.load() == 0)) {
            std::cerr << "milterload: expected every message to be modified (signed), " << unchanged.load() << " of "
                      << done.load() << " were not\n";
            return 2;
        }
        if (o.expect == "continue" && verdicts[SMFIR_CONTINUE] + verdicts[SMFIR_ACCEPT] != done.load()) {
            std::cerr << "milterload: expected every message to be accepted\n";
            return 2;
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "milterload: " << e.what() << "\n";
        return 1;
    }
}
