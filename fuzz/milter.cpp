// fuzz_milter: the milter protocol as the daemon sees it once libmilter has decoded a packet:
// milter::Filter (what each callback does, in any order a client may send) over the
// engine::Session, its edits applied to engine::RecordingActions, with a gateway that
// signs, encrypts, verifies and decrypts (the fuzz PKI, tests/fuzz-pki).
//
// Input: a sequence of callbacks, each [op: 1 byte][length: 2 bytes, little-endian][payload]
// (fuzz/milter_seed.py writes messages in this form). Ops (the byte modulo 12):
//   0 negotiate  payload[0] bits: 1 HDR_LEADSPC, 2 NR_HDR, 4 NR_BODY
//   1 connect    "host\0ip"               2 MAIL FROM  "sender\0auth login" (macro {auth_authen})
//   3 RCPT TO    "address"                4 header     "name\0value" (value as libmilter gives it)
//   5 end of headers                      6 body chunk (raw bytes)
//   7 end of message                      8 abort
//   9 macro i (the queue id) "id"         10 an exception at a step (payload[0] picks which of the
//                                            shims' step names: the exception firewall)
//   11 close: the connection ends, a new one starts
// Strings are cut at their first NUL, as libmilter's C strings are.
//
// Properties: nothing escapes Filter but what the shims' guard() turns into fault(), and
// fault() itself never throws; every reply is well formed (5xx for Reject, 4xx for Tempfail,
// one line); every log line and reason the daemon would write is one line; the Outcome's
// JSON is written; a message the gateway signed verifies (smime::verify: the signature
// over the delivered bytes is valid), whatever came before it on the connection.
#include "engine/outcome_format.h"
#include "fuzz/support/fuzz.h"
#include "milter/filter.h"
#include "smime/verify.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace {

using namespace segel;
using fuzz::require;

std::string g_dir;  ///< the gateway's files (config, keys, recipient certificates)

void copy_file(const std::string& from, const std::string& to, unsigned mode) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    ::chmod(to.c_str(), mode);
}

std::shared_ptr<const engine::Gateway> make_gateway() {
    char tmpl[] = "/tmp/segel-fuzz-milter.XXXXXX";
    require(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    g_dir = tmpl;
    for (const char* f : {"root.pem", "intermediate.pem", "rsa.pem", "ec.pem"}) {
        copy_file(fuzz::pki_file(f), g_dir + "/" + f, 0644);
    }
    copy_file(fuzz::pki_file("rsa.key"), g_dir + "/rsa.key", 0600);
    copy_file(fuzz::pki_file("ec.key"), g_dir + "/ec.key", 0600);
    std::filesystem::create_directories(g_dir + "/recipients");
    std::filesystem::create_directories(g_dir + "/spool");
    copy_file(fuzz::pki_file("rsa.pem"), g_dir + "/recipients/fuzz@dinas.example.go.id.pem", 0644);
    copy_file(fuzz::pki_file("ec.pem"), g_dir + "/recipients/fuzz-ec@dinas.example.go.id.pem", 0644);
    std::ofstream(g_dir + "/segel.yaml") << "milter:\n"
                                            "  internal_networks: [10.0.0.0/8]\n"
                                            "  spool_memory_limit: 16K\n"
                                            "  spool_directory: "
                                         << g_dir
                                         << "/spool\n"
                                            "  max_message_size: 256K\n"
                                            "trust:\n"
                                            "  anchors: ["
                                         << g_dir << "/root.pem]\n  intermediates: [" << g_dir
                                         << "/intermediate.pem]\n"
                                            "signing:\n"
                                            "  domains:\n"
                                            "    - domain: dinas.example.go.id\n"
                                            "    - domain: examplekab.go.id\n"
                                            "      subdomains: true\n"
                                            "      without_certificate: pass\n"
                                            "  logins:\n"
                                            "    fuzz: [fuzz@dinas.example.go.id, fuzz-ec@dinas.example.go.id]\n"
                                            "  systems:\n"
                                            "    - name: e-office\n"
                                            "      client: 10.20.0.15\n"
                                            "      may_send_as: [fuzz@dinas.example.go.id]\n"
                                            "credentials:\n"
                                            "  - certificate: "
                                         << g_dir << "/rsa.pem\n    key: " << g_dir
                                         << "/rsa.key\n"
                                            "  - certificate: "
                                         << g_dir << "/ec.pem\n    key: " << g_dir
                                         << "/ec.key\n"
                                            "inbound:\n"
                                            "  authserv_id: mx.dinas.example.go.id\n"
                                            "  sender_protection: quarantine\n"
                                            "  subject_tag:\n"
                                            "    enabled: true\n"
                                            "encryption:\n"
                                            "  policy: opportunistic\n"
                                            "  subject_trigger: \"[RAHASIA]\"\n"
                                            "  decrypt_inbound: true\n"
                                            "  certificate_directory: "
                                         << g_dir << "/recipients\n";
    return engine::Gateway::load(g_dir + "/segel.yaml");
}

const std::shared_ptr<const engine::Gateway>& gateway() {
    static const auto k_gateway = make_gateway();
    return k_gateway;
}

/** The MTA's side: the macros the input set, and a recording of the current message's edits. */
class FuzzMta final : public milter::Mta {
public:
    std::map<std::string, std::string> macros;
    std::vector<engine::RecordingActions::Field> head;  ///< fields of the current message, as sent
    std::string body;
    std::optional<engine::RecordingActions> recording;

    std::string macro(const char* name) override {
        const auto it = macros.find(name);
        return it != macros.end() ? it->second : "";
    }
    engine::Actions& actions() override {
        if (!recording) {
            recording.emplace(head, body);
        }
        return *recording;
    }
    [[nodiscard]] bool changed() const override { return recording && !recording->recorded().empty(); }
    void reset() override {
        head.clear();
        body.clear();
        recording.reset();
    }
};

void check_reply(const engine::Reply& r) {
    using Kind = engine::Reply::Kind;
    require(r.text.find_first_of("\r\n") == std::string::npos, "a reply is one line");
    if (r.kind == Kind::Reject) {
        require(r.code.size() == 3 && r.code[0] == '5', "a rejection has a 5xx code");
    } else if (r.kind == Kind::Tempfail) {
        require(r.code.size() == 3 && r.code[0] == '4', "a temporary failure has a 4xx code");
    }
}

/** What the daemon's reporter does with an Outcome, and whether a signed message verifies. */
struct Checker {
    FuzzMta* mta = nullptr;
    void operator()(const engine::Outcome& o) const {
        static const bool verbose = std::getenv("SEGEL_FUZZ_VERBOSE") != nullptr;  // what each message became
        for (const auto& line : engine::log_lines(o)) {
            require(line.text.find_first_of("\r\n") == std::string::npos, "a log line is one line");
            if (verbose) {
                std::fprintf(stderr, "%s: %s\n", o.queue_id.c_str(), line.text.c_str());
            }
        }
        for (const auto& reason : o.reasons) {
            require(reason.find_first_of("\r\n") == std::string::npos, "a reason (logged at debug) is one line");
        }
        (void)engine::to_json(o);
        if (o.decision == engine::Decision::Sign && mta->recording && mta->recording->body_replaced()) {
            smime::VerifyOptions options;
            options.now = fuzz::now();
            options.lf_fallback = false;
            const std::string delivered = mta->recording->message();
            if (const char* dump = std::getenv("SEGEL_FUZZ_DUMP")) {  // the message as delivered, to look at
                std::ofstream(dump, std::ios::binary) << delivered;
            }
            const auto r = smime::verify(smime::Blob::from(delivered), gateway()->trust(), options);
            require(r.signature_valid, "a message the gateway signed verifies");
        }
    }
};

std::pair<std::string, std::string> two(std::string_view payload) {
    const std::size_t nul = payload.find('\0');
    const std::string first(payload.substr(0, nul));
    if (nul == std::string_view::npos) {
        return {first, ""};
    }
    const std::string_view rest = payload.substr(nul + 1);
    return {first, std::string(rest.substr(0, rest.find('\0')))};
}

std::string one(std::string_view payload) {
    return std::string(payload.substr(0, payload.find('\0')));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)gateway();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzMta mta;
    Checker checker{&mta};
    milter::FilterContext context{.snapshot = [] { return gateway(); },
                                  .report = checker,
                                  .clock = [] { return fuzz::now(); }};  // no audit trail, no incidents
    auto filter = std::make_unique<milter::Filter>(context);
    // The exception firewall of callbacks.cpp: a throwing step is answered by fault().
    const auto guarded = [&](const char* step, const auto& fn) {
        milter::Answer a;
        try {
            a = fn();
        } catch (const std::exception& e) {
            try {
                a = filter->fault(mta, step, e);
            } catch (...) {
                require(false, "Filter::fault does not throw");
            }
        }
        check_reply(a.reply);
    };
    std::size_t pos = 0;
    int steps = 0;
    while (pos + 3 <= size && ++steps <= 256) {
        const unsigned op = data[pos] % 12U;
        const std::size_t len =
            std::min<std::size_t>(data[pos + 1] | (std::size_t{data[pos + 2]} << 8U), size - pos - 3);
        const std::string_view payload(reinterpret_cast<const char*>(data + pos + 3), len);
        pos += 3 + len;
        switch (op) {
            case 0: {
                const unsigned bits = payload.empty() ? 0U : static_cast<unsigned char>(payload[0]);
                filter->negotiated((bits & 1U) != 0, (bits & 2U) != 0, (bits & 4U) != 0);
                break;
            }
            case 1: {
                const auto host_ip = two(payload);  // (clang 14 lambdas cannot capture structured bindings)
                guarded("connect", [&] { return filter->connect(host_ip.first, host_ip.second); });
                break;
            }
            case 2: {
                const auto sender_login = two(payload);
                mta.macros["{auth_authen}"] = sender_login.second;
                guarded("envfrom", [&] { return filter->mail_from(mta, sender_login.first); });
                break;
            }
            case 3:
                guarded("envrcpt", [&] { return filter->recipient(mta, one(payload)); });
                break;
            case 4: {
                const auto field = two(payload);
                // The recording starts from the head as the MTA holds it (what Postfix stores).
                mta.head.push_back({field.first, (filter->leading_space() ? "" : " ") + field.second});
                guarded("header", [&] { return filter->header(mta, field.first, field.second); });
                break;
            }
            case 5:
                guarded("eoh", [&] { return filter->end_of_headers(mta); });
                break;
            case 6:
                mta.body.append(payload);
                guarded("body", [&] { return filter->body(mta, payload); });
                break;
            case 7:
                guarded("eom", [&] { return filter->end_of_message(mta); });
                break;
            case 8:
                guarded("abort", [&] {
                    filter->abort();
                    return milter::Answer{};
                });
                break;
            case 9:
                mta.macros["i"] = one(payload);
                break;
            case 10: {
                // The steps callbacks.cpp names (a step is never text from the MTA).
                static const char* const k_steps[] = {"negotiate", "connect", "envfrom", "envrcpt", "header",
                                                      "eoh",       "body",    "eom",     "abort",   "close"};
                const std::runtime_error e("injected by fuzz_milter");
                const std::string step =
                    k_steps[(payload.empty() ? 0U : static_cast<unsigned char>(payload[0])) % std::size(k_steps)];
                try {
                    check_reply(filter->fault(mta, step.c_str(), e).reply);
                } catch (...) {
                    require(false, "Filter::fault does not throw");
                }
                break;
            }
            default:
                filter = std::make_unique<milter::Filter>(context);
                mta.reset();
                break;
        }
    }
    return 0;
}
