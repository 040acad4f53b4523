// The libmilter shims: each extern "C" callback is one line into guard(),
// which finds the connection's Filter (milter/filter.h), translates SMFICTX
// into the Mta interface, and maps the Answer to sfsistat. Nothing thrown
// crosses into libmilter (C).
#include "milter/callbacks.h"

#include "milter/audit_record.h"
#include "milter/filter.h"
#include "milter/incidents.h"
#include "milter/report.h"
#include "milter/runtime.h"
#include "smime/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace segel::milter {

namespace {

constexpr std::size_t k_chunk = 65535;  // MILTER_CHUNK_SIZE: the most one replacebody call carries

/** SMTP reply text must be one line, and libmilter treats '%' specially. */
std::string reply_safe(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '\r' || ch == '\n') {
            out += ' ';
        } else if (ch == '%') {
            out += "%%";
        } else {
            out += ch;
        }
    }
    return out;
}

/** The MTA side of one libmilter connection: macros, and the smfi_* actions. */
class LibmilterMta final : public Mta, public engine::Actions {
public:
    LibmilterMta(SMFICTX* ctx, bool leading_space) : m_ctx(ctx), m_leading_space(leading_space) {}

    std::string macro(const char* name) override {
        const char* v = smfi_getsymval(m_ctx, const_cast<char*>(name));
        return v != nullptr ? v : "";
    }
    engine::Actions& actions() override { return *this; }
    [[nodiscard]] bool changed() const override { return m_changed; }
    void reset() override { m_changed = false; }

    void delete_header(const std::string& name, int index) override {
        m_changed = true;
        check(smfi_chgheader(m_ctx, const_cast<char*>(name.c_str()), index, nullptr), "smfi_chgheader removing", name);
    }
    void change_header(const std::string& name, int index, const std::string& value) override {
        m_changed = true;
        std::string v = field_value(value);
        check(smfi_chgheader(m_ctx, const_cast<char*>(name.c_str()), index, v.data()), "smfi_chgheader", name);
    }
    void insert_header(int index, const std::string& name, const std::string& value) override {
        m_changed = true;
        std::string v = field_value(value);
        check(smfi_insheader(m_ctx, index, const_cast<char*>(name.c_str()), v.data()), "smfi_insheader", name);
    }
    void add_header(const std::string& name, const std::string& value) override {
        m_changed = true;
        std::string v = field_value(value);
        check(smfi_addheader(m_ctx, const_cast<char*>(name.c_str()), v.data()), "smfi_addheader", name);
    }
    void replace_body(std::string_view piece) override {
        m_changed = true;
        for (std::size_t off = 0; off < piece.size(); off += k_chunk) {
            const std::size_t n = std::min(k_chunk, piece.size() - off);
            check(smfi_replacebody(m_ctx, reinterpret_cast<unsigned char*>(const_cast<char*>(piece.data() + off)),
                                   static_cast<int>(n)),
                  "smfi_replacebody", "");
        }
    }
    void quarantine(const std::string& reason) override {
        m_changed = true;
        std::string r = reason;
        check(smfi_quarantine(m_ctx, r.data()), "smfi_quarantine (does the MTA offer quarantine?)", "");
    }

private:
    /** With SMFIP_HDR_LEADSPC the MTA writes the value exactly as given: the space after the colon is ours. */
    [[nodiscard]] std::string field_value(const std::string& value) const {
        return m_leading_space ? " " + value : value;
    }
    static void check(int rc, const char* what, const std::string& name) {
        if (rc != MI_SUCCESS) {
            throw smime::Error(smime::Category::Io, std::string(what) + (name.empty() ? "" : " " + name) + " failed");
        }
    }

    SMFICTX* m_ctx;
    bool m_leading_space;
    bool m_changed = false;
};

/** What option negotiation settled: once per socket, kept across SMFIC_QUIT_NC (ParkedOptions). */
struct NegotiatedOptions {
    bool leading_space = false;    ///< SMFIP_HDR_LEADSPC
    bool no_reply_header = false;  ///< SMFIP_NR_HDR
    bool no_reply_body = false;    ///< SMFIP_NR_BODY
};

/** The one LibmilterMta per connection, kept beside the Filter (changed() spans a message's callbacks). */
struct Connection {
    Filter filter;
    LibmilterMta mta;
    NegotiatedOptions options;
};

/**
 * What option negotiation settled, kept for contexts whose session closed. After
 * SMFIC_QUIT_NC the MTA starts a new session on the same socket with CONNECT and
 * does not negotiate again, and xxfi_close cannot tell that close from the last
 * one (libmilter has no callback for the socket's end). So every close parks the
 * options here and a session that starts without a Connection takes them back;
 * without them the reused connection would rebuild every header with one space
 * too many. An entry is kept as long as libmilter waits for that CONNECT
 * (milter.timeout), and at most k_max_parked of them (about 24 bytes each).
 */
class ParkedOptions {
public:
    void park(SMFICTX* ctx, const NegotiatedOptions& options, std::chrono::seconds keep) {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(m_mutex);
        while (!m_entries.empty() && (m_entries.front().expires < now || m_entries.size() >= k_max_parked)) {
            m_entries.pop_front();
        }
        m_entries.push_back({ctx, options, now + keep});
    }

    /** The options parked for @p ctx, removed from the table; none when it was never parked (or expired). */
    std::optional<NegotiatedOptions> take(SMFICTX* ctx) {
        std::lock_guard lock(m_mutex);
        // Newest first: libmilter reuses a context's address for later sockets.
        for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it) {
            if (it->ctx == ctx) {
                const NegotiatedOptions options = it->options;
                m_entries.erase(std::next(it).base());
                return options;
            }
        }
        return std::nullopt;
    }

private:
    static constexpr std::size_t k_max_parked = 65536;
    struct Entry {
        SMFICTX* ctx;
        NegotiatedOptions options;
        std::chrono::steady_clock::time_point expires;
    };
    std::mutex m_mutex;
    std::deque<Entry> m_entries;
};

ParkedOptions& parked_options() {
    static ParkedOptions parked;
    return parked;
}

sfsistat status(SMFICTX* ctx, const Answer& a) {
    using Kind = engine::Reply::Kind;
    switch (a.reply.kind) {
        case Kind::Continue:
            return a.no_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
        case Kind::Accept:
            return SMFIS_ACCEPT;
        case Kind::Reject:
        case Kind::Tempfail: {
            if (!a.reply.code.empty()) {
                std::string text = reply_safe(a.reply.text);
                smfi_setreply(ctx, const_cast<char*>(a.reply.code.c_str()), const_cast<char*>(a.reply.xcode.c_str()),
                              text.data());
            }
            return a.reply.kind == Kind::Reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
        }
    }
    return SMFIS_TEMPFAIL;
}

/**
 * The per-connection state libmilter keeps for us (created at negotiate or at the
 * first callback; outside negotiation a missing one means a session after QUIT_NC,
 * which gets the socket's negotiated options back).
 */
Connection& connection(SMFICTX* ctx, bool negotiating = false);

/**
 * The exception firewall: nothing thrown may cross into libmilter (C). A
 * failure is the Filter's to answer (451, or kept for the next step with a
 * reply); a failure in that answer itself is a bare TEMPFAIL.
 */
template <typename F>
sfsistat guard(SMFICTX* ctx, const char* step, F&& fn, bool negotiating = false) noexcept {
    try {
        Connection& c = connection(ctx, negotiating);
        try {
            return status(ctx, fn(c));
        } catch (const std::exception& e) {
            return status(ctx, c.filter.fault(c.mta, step, e));
        } catch (...) {
            const std::runtime_error unknown("unknown error");
            return status(ctx, c.filter.fault(c.mta, step, unknown));
        }
    } catch (...) {
        return SMFIS_TEMPFAIL;
    }
}

std::string address_text(const sockaddr* sa) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa == nullptr) {
        return "";
    }
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    }
    return buf;
}

Connection& connection(SMFICTX* ctx, bool negotiating) {
    if (auto* c = static_cast<Connection*>(smfi_getpriv(ctx))) {
        return *c;
    }
    FilterContext context;
    context.snapshot = [] { return runtime().snapshot(); };
    context.report = report_outcome;
    context.detect = [](engine::Outcome& o) {
        if (Incidents* i = incidents()) {
            i->detect(runtime().snapshot()->settings().incidents, o, std::chrono::system_clock::now());
        }
    };
    context.record = [](const engine::Outcome& o, const engine::Reply& r) -> std::optional<engine::Reply> {
        Recorder* rec = recorder();
        return rec != nullptr ? rec->record(o, r) : std::nullopt;
    };
    auto owned = std::make_unique<Connection>(Connection{Filter(std::move(context)), LibmilterMta(ctx, false), {}});
    if (const auto options = negotiating ? std::nullopt : parked_options().take(ctx)) {
        owned->options = *options;
        owned->filter.negotiated(options->leading_space, options->no_reply_header, options->no_reply_body);
        owned->mta = LibmilterMta(ctx, options->leading_space);
    }
    smfi_setpriv(ctx, owned.get());
    return *owned.release();
}

/** Ends the session: the Connection goes, its negotiated options are parked (see ParkedOptions). */
void release(SMFICTX* ctx) {
    const std::unique_ptr<Connection> owned(static_cast<Connection*>(smfi_getpriv(ctx)));
    smfi_setpriv(ctx, nullptr);
    if (owned) {
        int timeout = 300;
        try {
            timeout = runtime().snapshot()->settings().milter.timeout_seconds;
        } catch (...) {
        }
        parked_options().park(ctx, owned->options, std::chrono::seconds(std::max(timeout, 1)));
    } else {
        parked_options().take(ctx);  // a second close after QUIT_NC: the socket's real end
    }
}

/** While the daemon stops (milter/main.cpp), new connections and new messages are deferred: the MTA keeps the mail. */
Answer refuse_while_stopping() {
    return Answer{
        engine::Reply::refuse("451", "4.3.2", "segel is restarting or stopping; please try again in a few minutes"),
        false};
}

const char* first_arg(char** argv) {
    return argv != nullptr && argv[0] != nullptr ? argv[0] : "";
}

}  // namespace

extern "C" {
static sfsistat xxfi_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                               unsigned long* p0, unsigned long* p1, unsigned long* p2, unsigned long* p3) {
    return guard(
        ctx, "negotiate",
        [&](Connection& c) {
            const unsigned long need = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
            if ((f0 & need) != need) {
                spdlog::error("the MTA does not offer header and body changes (milter_protocol >= 6 needed)");
                return Answer{engine::Reply{engine::Reply::Kind::Reject, {}, {}, {}}, false};
            }
            *p0 = need | (f0 & SMFIF_QUARANTINE);  // quarantine: inbound sender protection (policy/inbound.h)
            // Preserve the space after the colon so headers are rebuilt byte-exact (OpenDKIM); no
            // reply per header or body chunk (an error there is answered at the next step that has a
            // reply: end of headers, end of message); skip what we do not use.
            *p1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NOHELO | SMFIP_NOUNKNOWN |
                        SMFIP_NODATA | SMFIP_SKIP);
            *p2 = 0;
            *p3 = 0;
            c.options = {(*p1 & SMFIP_HDR_LEADSPC) != 0, (*p1 & SMFIP_NR_HDR) != 0, (*p1 & SMFIP_NR_BODY) != 0};
            c.filter.negotiated(c.options.leading_space, c.options.no_reply_header, c.options.no_reply_body);
            c.mta = LibmilterMta(ctx, c.options.leading_space);
            return Answer{};
        },
        true);
}
static sfsistat xxfi_connect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
    return guard(ctx, "connect", [&](Connection& c) {
        if (stopping()) {
            return refuse_while_stopping();
        }
        std::string ip = address_text(addr);
        return c.filter.connect(host != nullptr ? host : "", ip.empty() ? c.mta.macro("{client_addr}") : ip);
    });
}
static sfsistat xxfi_envfrom(SMFICTX* ctx, char** argv) {
    return guard(ctx, "envfrom", [&](Connection& c) {
        if (stopping()) {
            c.filter.abort();  // a message still open on this connection is over
            spdlog::info("{}: tempfail reason=\"stopping: no new messages\"",
                         c.mta.macro("i").empty() ? "NOQUEUE" : c.mta.macro("i"));
            return refuse_while_stopping();
        }
        return c.filter.mail_from(c.mta, first_arg(argv));
    });
}
static sfsistat xxfi_envrcpt(SMFICTX* ctx, char** argv) {
    return guard(ctx, "envrcpt", [&](Connection& c) { return c.filter.recipient(c.mta, first_arg(argv)); });
}
static sfsistat xxfi_header(SMFICTX* ctx, char* name, char* value) {
    return guard(ctx, "header", [&](Connection& c) {
        return c.filter.header(c.mta, name != nullptr ? name : "", value != nullptr ? value : "");
    });
}
static sfsistat xxfi_eoh(SMFICTX* ctx) {
    return guard(ctx, "eoh", [&](Connection& c) { return c.filter.end_of_headers(c.mta); });
}
static sfsistat xxfi_body(SMFICTX* ctx, unsigned char* data, size_t len) {
    return guard(ctx, "body", [&](Connection& c) {
        return c.filter.body(c.mta, std::string_view(reinterpret_cast<const char*>(data), data != nullptr ? len : 0));
    });
}
static sfsistat xxfi_eom(SMFICTX* ctx) {
    return guard(ctx, "eom", [&](Connection& c) { return c.filter.end_of_message(c.mta); });
}
static sfsistat xxfi_abort(SMFICTX* ctx) {
    return guard(ctx, "abort", [&](Connection& c) {
        c.filter.abort();
        return Answer{};
    });
}
static sfsistat xxfi_close(SMFICTX* ctx) {
    try {
        release(ctx);
    } catch (...) {
    }
    return SMFIS_CONTINUE;
}
}

smfiDesc descriptor() {
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("segel");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE;
    d.xxfi_connect = xxfi_connect;
    d.xxfi_envfrom = xxfi_envfrom;
    d.xxfi_envrcpt = xxfi_envrcpt;
    d.xxfi_header = xxfi_header;
    d.xxfi_eoh = xxfi_eoh;
    d.xxfi_body = xxfi_body;
    d.xxfi_eom = xxfi_eom;
    d.xxfi_abort = xxfi_abort;
    d.xxfi_close = xxfi_close;
    d.xxfi_negotiate = xxfi_negotiate;
    return d;
}

}  // namespace segel::milter
