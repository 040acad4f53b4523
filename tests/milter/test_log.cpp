#include "milter/log.h"
#include "milter/report.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using segel::milter::log::field;
using segel::milter::log::fields;

namespace {
/** The value as field() writes it. */
std::string value(const std::string& v) {
    return field("k", v).substr(2);
}
}  // namespace

namespace {

/**
 * A logfmt reader, written from the rule (not from base/text.cpp): words separated by spaces,
 * key=value (the key ends at the first '=') or key="quoted \" value", with \\ \" \xNN escapes.
 * Returns the pairs, and an empty list when the line does not parse.
 */
std::vector<std::pair<std::string, std::string>> parse(const std::string& line) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t i = 0;
    while (i < line.size()) {
        if (line[i] == ' ') {
            ++i;
            continue;
        }
        const auto eq = line.find('=', i);
        if (eq == std::string::npos) {
            return {};
        }
        std::string key = line.substr(i, eq - i);
        if (key.find_first_of(" \"") != std::string::npos) {
            return {};
        }
        i = eq + 1;
        std::string v;
        if (i < line.size() && line[i] == '"') {
            ++i;
            bool closed = false;
            while (i < line.size()) {
                const char c = line[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c != '\\') {
                    v += c;
                    continue;
                }
                if (i >= line.size()) {
                    return {};
                }
                const char e = line[i++];
                if (e == 'n') {
                    v += '\n';
                } else if (e == 'r') {
                    v += '\r';
                } else if (e == 't') {
                    v += '\t';
                } else if (e == 'x' && i + 2 <= line.size()) {
                    v += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
                    i += 2;
                } else if (e == '"' || e == '\\') {
                    v += e;
                } else {
                    return {};
                }
            }
            if (!closed || (i < line.size() && line[i] != ' ')) {
                return {};
            }
        } else {
            const auto end = line.find(' ', i);
            v = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
            if (v.find('"') != std::string::npos) {
                return {};
            }
            i = end == std::string::npos ? line.size() : end;
        }
        out.emplace_back(std::move(key), std::move(v));
    }
    return out;
}

}  // namespace

TEST_CASE("log: plain tokens stay as they are, everything else is quoted and escaped (base::kv_value)",
          "[milter][log]") {
    struct Row {
        std::string in;
        std::string out;
    };
    const std::vector<Row> rows = {
        {"siti@dinas.example.go.id", "siti@dinas.example.go.id"},
        {"<siti@dinas.example.go.id>", "<siti@dinas.example.go.id>"},
        {"", "-"},
        {"RSA 2048", "\"RSA 2048\""},
        {"a=b", "a=b"},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"two\r\nlines", "\"two\\x0d\\x0alines\""},
        {"tab\there", "\"tab\\x09here\""},
        {std::string("nul\0byte", 8), "\"nul\\x00byte\""},
        {"bell\x07", "\"bell\\x07\""},
        {"del\x7f", "\"del\\x7f\""},
        {"Bapak Kepala Dinas Pendidikan", "\"Bapak Kepala Dinas Pendidikan\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},      // valid UTF-8 is kept (quoted: not ASCII)
        {"bad\xc3", "\"bad\\xc3\""},             // a cut-off sequence
        {"over\xc0\xaf", "\"over\\xc0\\xaf\""},  // an overlong '/'
        {"surrogate\xed\xa0\x80", "\"surrogate\\xed\\xa0\\x80\""},
        {"\xf4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\""},        // above U+10FFFF
        {"\xf0\x9f\x93\xa7 mail", "\"\xf0\x9f\x93\xa7 mail\""},  // U+1F4E7, 4 bytes
        {"nel\xc2\x85", "\"nel\\xc2\\x85\""},                    // U+0085, a C1 "next line"
        {"ls\xe2\x80\xa8", "\"ls\\xe2\\x80\\xa8\""},             // U+2028 line separator
        {"nbsp\xc2\xa0", "\"nbsp\xc2\xa0\""},                    // U+00A0 is not a control: kept
    };
    for (const auto& row : rows) {
        INFO(row.in);
        CHECK(value(row.in) == row.out);
    }
    CHECK(field("from", "<a@b.c>") == "from=<a@b.c>");
    CHECK(fields({{"from", "<a@b.c>"}, {"login", "-"}, {"reason", "not official"}}) ==
          "from=<a@b.c> login=- reason=\"not official\"");
}

TEST_CASE("log: a hostile value never forges a field or a line, and reads back as it was", "[milter][log]") {
    const std::vector<std::string> hostile = {
        "x\" login=root",
        "x\nJan  1 00:00:00 mx segel[1]: ABC: sign from=<ceo@dinas.example.go.id>",
        "\\\" cert=forged",
        "=",
        "\"",
        "\\",
        "a b c=d \"e\" \\f",
        std::string("\0\x01\x1f\x7f\x80\xff", 6),
        "\xe2\x80\xa8 line separator",
    };
    for (const auto& h : hostile) {
        INFO(h);
        const std::string line = fields({{"event", "sign"}, {"from", h}, {"login", "budi"}});
        CHECK(line.find('\n') == std::string::npos);
        CHECK(line.find('\r') == std::string::npos);
        const auto kv = parse(line);
        REQUIRE(kv.size() == 3);
        CHECK(kv[0] == std::pair<std::string, std::string>{"event", "sign"});
        CHECK(kv[1].first == "from");
        CHECK(kv[1].second == h);  // round trip: escaping loses nothing
        CHECK(kv[2] == std::pair<std::string, std::string>{"login", "budi"});
    }
}

TEST_CASE("log: the revocation service's state changes are key=value lines", "[milter][log][revocation]") {
    using segel::smime::RevocationState;
    using segel::smime::RevocationStatus;
    const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);
    segel::services::CertificateStatus good;
    good.evidence.state = RevocationState::Good;
    good.evidence.source = RevocationStatus::Source::Ocsp;
    good.evidence.url = "http://ocsp.example.go.id/";
    good.evidence.obtained = now - std::chrono::hours(1);
    segel::services::CertificateStatus revoked = good;
    revoked.evidence.state = RevocationState::Revoked;
    revoked.evidence.obtained = now;
    revoked.evidence.revoked_at = now - std::chrono::hours(24);
    revoked.evidence.reason = "keyCompromise";
    segel::services::CertificateStatus failed = good;
    failed.problem = "POST http://ocsp.example.go.id/: Couldn't connect to server";
    const segel::services::CertificateStatus none;
    const std::vector<std::string> addrs = {"cabut@dinas.example.go.id", "kepala@dinas.example.go.id"};

    using KV = std::vector<std::pair<std::string, std::string>>;
    const auto fields_of = [](const segel::milter::ReportLine& l) {
        REQUIRE(l.text.rfind("revocation ", 0) == 0);
        return parse(l.text.substr(11));
    };
    const std::string both = "cabut@dinas.example.go.id,kepala@dinas.example.go.id";
    const std::string good_words = segel::smime::evidence(good.evidence, now);
    const std::string revoked_words = segel::smime::evidence(revoked.evidence, now);
    CHECK(good_words == "ocsp good, 1 h old");

    const auto first = segel::milter::revocation_line("1002", addrs, none, good, now);
    CHECK_FALSE(first.warning);
    CHECK(fields_of(first) == KV{{"serial", "1002"},
                                 {"addresses", both},
                                 {"state", "good"},
                                 {"evidence", good_words},
                                 {"url", "http://ocsp.example.go.id/"}});

    const auto gone = segel::milter::revocation_line("1004", addrs, good, revoked, now);
    CHECK(gone.warning);
    CHECK(fields_of(gone) == KV{{"serial", "1004"},
                                {"addresses", both},
                                {"state", "revoked"},
                                {"evidence", revoked_words},
                                {"url", "http://ocsp.example.go.id/"},
                                {"was", good_words},
                                {"action", "signs nothing more"}});

    const auto broken = segel::milter::revocation_line("1002", {}, good, failed, now);
    CHECK(broken.warning);
    CHECK(fields_of(broken) == KV{{"serial", "1002"},
                                  {"addresses", "-"},
                                  {"state", "good"},
                                  {"evidence", good_words},
                                  {"url", "http://ocsp.example.go.id/"},
                                  {"check", "failed"},
                                  {"error", failed.problem}});

    // A hostile URL or error text stays one value of one line.
    failed.problem = "x\nJan  1 00:00:00 mx segel[1]: revocation serial=1 state=good";
    const auto hostile = segel::milter::revocation_line("1002", addrs, good, failed, now);
    CHECK(hostile.text.find('\n') == std::string::npos);
    CHECK(fields_of(hostile).back() == std::pair<std::string, std::string>{"error", failed.problem});
}
