// One orchestration: a table of messages through the milter's Filter (with
// recording actions, as libmilter drives it) and through the segelctl binary
// (`segelctl process`), with the Outcomes compared field by field.
#include "engine/outcome_format.h"
#include "milter/filter.h"
#include "smime/mime/fields.h"
#include "smime/sign.h"
#include "tests/support/pki.h"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <sstream>

using namespace segel;

namespace {

class RecordingMta final : public milter::Mta {
public:
    engine::RecordingActions recording;
    std::string login;
    std::string macro(const char* name) override {
        const std::string n = name;
        return n == "i" ? "Q1" : n == "{auth_authen}" ? login : "";
    }
    engine::Actions& actions() override { return recording; }
    [[nodiscard]] bool changed() const override { return !recording.recorded().empty(); }
    void reset() override { recording = engine::RecordingActions(); }
};

struct Case {
    std::string name;
    std::string login;
    std::string client;
    std::string from;
    std::vector<std::string> rcpts;
    std::string message;
};

/** The Outcome the Filter reports for @p c. */
std::string through_filter(const std::shared_ptr<const engine::Gateway>& gw, const Case& c) {
    std::vector<engine::Outcome> reported;
    milter::FilterContext ctx;
    ctx.snapshot = [gw] { return gw; };
    ctx.report = [&](const engine::Outcome& o) { reported.push_back(o); };
    ctx.clock = [] { return test::fixed_now(); };
    milter::Filter f(std::move(ctx));
    f.negotiated(true, true, true);
    RecordingMta mta;
    mta.login = c.login;
    auto go_on = [](const milter::Answer& a) { return a.reply.kind == engine::Reply::Kind::Continue; };
    f.connect("", c.client);
    f.mail_from(mta, "<" + c.from + ">");
    for (const auto& r : c.rcpts) {
        f.recipient(mta, "<" + r + ">");
    }
    const auto block = smime::mime::split_fields(c.message);
    for (const auto& fld : block.fields) {
        f.header(mta, fld.name, fld.raw);
    }
    if (go_on(f.end_of_headers(mta))) {
        const std::string body = smime::canonical::to_crlf(c.message.substr(block.body));
        bool more = true;
        for (std::size_t off = 0; more && off < body.size(); off += 65535) {
            more = go_on(f.body(mta, std::string_view(body).substr(off, 65535)));
        }
        if (more) {
            f.end_of_message(mta);
        }
    }
    REQUIRE(reported.size() == 1);
    return engine::to_json(reported[0], false);
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char ch : s) {
        out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    }
    return out + "'";
}

/** The "outcome" member of `segelctl process` for @p c. */
std::string through_segelctl(const std::string& config, const std::string& dir, const Case& c) {
    const char* segelctl = std::getenv("SEGELCTL");
    REQUIRE(segelctl != nullptr);
    const std::string msg = test::write_file(dir + "/" + c.name + ".eml", c.message);
    std::string cmd = shell_quote(segelctl) + " process --config " + shell_quote(config) +
                      " --at 2026-06-01T00:00:00Z" + " --queue-id Q1 --from " + shell_quote(c.from) + " --client " +
                      shell_quote(c.client);
    if (!c.login.empty()) {
        cmd += " --login " + shell_quote(c.login);
    }
    for (const auto& r : c.rcpts) {
        cmd += " --rcpt " + shell_quote(r);
    }
    cmd += " < " + shell_quote(msg) + " 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 4096> buf{};
    while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) {
        out.append(buf.data(), n);
    }
    const int status = pclose(p);
    INFO(out);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) <= 1);  // 0, or 1 for a refusal
    // The value of "outcome": from its opening brace to the matching one (strings respected).
    const std::size_t key = out.find("\"outcome\": ");
    REQUIRE(key != std::string::npos);
    const std::size_t start = out.find('{', key);
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = start; i < out.size(); ++i) {
        const char ch = out[i];
        if (in_string) {
            if (ch == '\\') {
                ++i;
            } else if (ch == '"') {
                in_string = false;
            }
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{') {
            ++depth;
        } else if (ch == '}' && --depth == 0) {
            return out.substr(start, i + 1 - start) + "\n";
        }
    }
    FAIL("no complete outcome object in the output of segelctl process");
    return {};
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) {
        out.push_back(l.substr(std::min(l.size(), l.find_first_not_of(' '))));  // the nesting depth aside
    }
    return out;
}

}  // namespace

TEST_CASE("one orchestration: the milter and segelctl give the same Outcome, field by field", "[milter][parity]") {
    test::TestPki pki;
    const auto siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});
    const std::string config =
        test::write_file(pki.dir() + "/segel.yaml",
                         "milter:\n  internal_networks: [10.0.0.0/8]\ntrust:\n  anchors: [" + pki.root_file() +
                             "]\n  intermediates: [" + pki.intermediate_file() +
                             "]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n  logins:\n"
                             "    budi: [budi@dinas.example.go.id]\ncredentials:\n  - certificate: " +
                             siti.cert_file + "\n    key: " + siti.key_file +
                             "\ninbound:\n  authserv_id: mx.dinas.example.go.id\n  subject_tag:\n    enabled: true\n");
    const auto gw = engine::Gateway::load(config);

    const std::string plain =
        "From: Siti Rahma <siti@dinas.example.go.id>\r\nTo: kepala@mitra.example\r\n"
        "Subject: Rapat\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nRapat besok \xc3\xa9.\r\n";
    // A message siti signed, as it arrives from outside.
    smime::SignOptions so;
    so.now = test::fixed_now();
    std::vector<smime::ossl::Ptr<X509>> chain;
    chain.push_back(smime::ossl::retain(pki.intermediate()));
    const auto sm = smime::sign(smime::Blob::from(plain), test::credential(siti), chain, so);
    std::string signed_msg =
        "From: Siti Rahma <siti@dinas.example.go.id>\r\nSubject: Rapat\r\n"
        "Authentication-Results: mx.dinas.example.go.id; smime=pass\r\n";
    for (const auto& h : sm.headers) {
        signed_msg += h.name + ": " + smime::canonical::to_crlf(h.value) + "\r\n";
    }
    signed_msg += "\r\n" + sm.body.str();
    std::string tampered = signed_msg;
    tampered[tampered.find("Rapat besok")] = 'r';

    const std::vector<Case> cases = {
        {"sign", "siti@dinas.example.go.id", "127.0.0.1", "siti@dinas.example.go.id", {"kepala@mitra.example"}, plain},
        {"send-as", "budi", "127.0.0.1", "siti@dinas.example.go.id", {"kepala@mitra.example"}, plain},
        {"internal-not-official",
         "",
         "10.1.2.3",
         "a@other.example",
         {"b@mitra.example"},
         "From: a@other.example\r\n\r\nx\r\n"},
        {"already-signed",
         "siti@dinas.example.go.id",
         "127.0.0.1",
         "siti@dinas.example.go.id",
         {"kepala@mitra.example"},
         signed_msg},
        {"inbound-pass", "", "192.0.2.10", "siti@dinas.example.go.id", {"budi@dinas.example.go.id"}, signed_msg},
        {"inbound-fail", "", "192.0.2.10", "siti@dinas.example.go.id", {"budi@dinas.example.go.id"}, tampered},
        {"inbound-unsigned-official",
         "",
         "192.0.2.10",
         "kepala@dinas.example.go.id",
         {"budi@dinas.example.go.id"},
         "From: kepala@dinas.example.go.id\r\nSubject: Transfer\r\n\r\nsegera\r\n"},
        {"inbound-partner",
         "",
         "192.0.2.10",
         "a@mitra.example",
         {"budi@dinas.example.go.id"},
         "From: a@mitra.example\r\nSubject: =?utf-8?Q?=5BTertandatangan=3A_X=5D?= Halo\r\n\r\nhalo\r\n"},
    };
    for (const auto& c : cases) {
        INFO("case " << c.name);
        const auto milter_lines = lines(through_filter(gw, c));
        const auto segelctl_lines = lines(through_segelctl(config, pki.dir(), c));
        REQUIRE(milter_lines.size() > 10);
        for (std::size_t i = 0; i < std::max(milter_lines.size(), segelctl_lines.size()); ++i) {
            const std::string m = i < milter_lines.size() ? milter_lines[i] : "(missing)";
            const std::string t = i < segelctl_lines.size() ? segelctl_lines[i] : "(missing)";
            INFO("field " << i << ": milter " << m << " / segelctl " << t);
            CHECK(m == t);
        }
    }
}
