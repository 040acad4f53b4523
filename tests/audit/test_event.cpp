// The canonical event encoding: golden bytes, round trips, and hostile input.
#include "audit/error.h"
#include "audit/event.h"
#include "audit/store.h"

#include <catch2/catch.hpp>

using namespace segel::audit;

namespace {

Event sample() {
    Event e;
    e.index = 7;
    e.time = from_micros(1780304400123456ULL);  // 2026-06-01T09:00:00.123456Z
    e.node = "mx1.dinas.example.go.id";
    e.kind = kind::k_sign;
    e.queue_id = "4XyZ1b2C3d";
    e.direction = "outbound";
    e.sender = "siti@dinas.example.go.id";
    e.login = "siti@dinas.example.go.id";
    e.client = "192.0.2.10";
    e.recipients = {"kepala@mitra.example", "arsip@dinas.example.go.id"};
    e.unit = "dinas.example.go.id";
    e.decision = "sign";
    e.reason_code = "official-sender";
    e.reasons = {"login siti@dinas.example.go.id owns From <siti@dinas.example.go.id>"};
    e.cert_serial = "1004";
    e.cert_fingerprint = sha256("certificate");
    e.content_sha256 = sha256("content");
    e.duration_us = 812;
    return e;
}

}  // namespace

TEST_CASE("event: the encoding of docs/audit.md's worked example", "[audit]") {
    Event e;
    e.index = 1;
    e.time = from_micros(1780304400000000ULL);
    e.node = "mx1";
    e.kind = "pass";
    e.sender = "a@b.example";
    // 01 | 01 len 8 index | 02 len 32 prev | 03 len 8 time | 04 len 3 "mx1" | 05 len 4 "pass" | 08 len 11 sender
    const std::string want_hex =
        "01"
        "01000000080000000000000001"
        "0200000020" +
        std::string(64, '0') +
        "03000000080006532d6b5aa400"
        "04000000036d7831"
        "050000000470617373"
        "080000000b6140622e6578616d706c65";
    CHECK(to_hex(encode(e)) == want_hex);
    CHECK(decode(encode(e)) == e);
}

TEST_CASE("event: every field survives a round trip, and the bytes are deterministic", "[audit]") {
    Event e = sample();
    e.prev = sha256("previous");
    e.verdicts = {"pass signer=siti@dinas.example.go.id", "none"};
    e.cipher = "aes-256-cbc";
    e.encrypted_for = {"kepala@mitra.example"};
    e.config_sha256 = sha256("config");
    e.credentials = {"serial=1004 sha256=ab address=siti@dinas.example.go.id"};
    e.state = "expired";
    e.error = "smfi_replacebody failed";
    e.checkpoint_size = 1000;
    e.checkpoint_sha256 = sha256("checkpoint");
    e.notes = {"a=b", ""};
    e.reply = "550 5.7.1 no";
    const std::string bytes = encode(e);
    CHECK(decode(bytes) == e);
    CHECK(encode(decode(bytes)) == bytes);
    CHECK(verdict_word(e) == "pass");
    // Bytes that are not UTF-8 are kept as they came (the record is of what was seen).
    e.sender = std::string("\xff\xfe@x", 4);
    CHECK(decode(encode(e)).sender == e.sender);
}

TEST_CASE("event: absent means not written", "[audit]") {
    Event e;
    e.node = "n";
    e.kind = "start";
    e.time = from_micros(1);
    // version + index + prev + time + node + kind, nothing else
    CHECK(encode(e).size() == 1 + 13 + 37 + 13 + 6 + 10);
    e.node.clear();
    CHECK_THROWS_AS(encode(e), Error);
}

TEST_CASE("event: hostile bytes are refused, never misread", "[audit][abuse]") {
    const std::string good = encode(sample());
    SECTION("every truncation: refused, or (at a field boundary) the shorter event those bytes are") {
        std::size_t whole = 0;
        for (std::size_t n = 0; n < good.size(); ++n) {
            try {
                const Event e = decode(good.substr(0, n));
                CHECK(encode(e) == good.substr(0, n));
                ++whole;
            } catch (const Error& err) {
                CHECK(err.category() == Category::Malformed);
            }
        }
        CHECK(whole == 15);  // after the mandatory fields and after each optional one but the last
    }
    SECTION("every single-byte change: refused, or a different event that encodes to exactly those bytes") {
        for (std::size_t i = 0; i < good.size(); ++i) {
            for (const unsigned x : {0x01U, 0x80U, 0xffU}) {
                std::string bad = good;
                bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ x);
                try {
                    const Event e = decode(bad);
                    CHECK(encode(e) == bad);
                } catch (const Error& err) {
                    CHECK(err.category() == Category::Malformed);
                }
            }
        }
    }
    auto field = [](std::uint8_t tag, const std::string& v) {
        std::string f(1, static_cast<char>(tag));
        const auto n = static_cast<std::uint32_t>(v.size());
        f += static_cast<char>(n >> 24U);
        f += static_cast<char>((n >> 16U) & 0xFFU);
        f += static_cast<char>((n >> 8U) & 0xFFU);
        f += static_cast<char>(n & 0xFFU);
        return f + v;
    };
    const std::string head = std::string(1, '\x01') + field(1, std::string(8, '\0')) + field(2, std::string(32, '\0')) +
                             field(3, std::string(7, '\0') + '\x01') + field(4, "n") + field(5, "pass");
    REQUIRE_NOTHROW(decode(head));
    const auto refused = [](const std::string& b, const char* what) {
        try {
            decode(b);
            FAIL("decoded: " << what);
        } catch (const Error& e) {
            CHECK(e.category() == Category::Malformed);
            CHECK(std::string(e.what()).find("not a canonical audit event") != std::string::npos);
        }
    };
    refused("", "empty");
    refused("\x02" + head.substr(1), "version 2");
    refused(head + field(8, "a") + field(6, "q"), "tags out of order");
    refused(head + field(8, "a") + field(8, "b"), "a single field twice");
    refused(head + field(8, ""), "an empty optional text");
    refused(head + field(27, std::string(8, '\0')), "a zero number written out");
    refused(head + field(18, std::string(32, '\0')), "an all-zero hash written out");
    refused(head + field(18, std::string(31, 'x')), "a short hash");
    refused(head + field(27, "1234567"), "a short number");
    refused(head + field(31, "x"), "an unknown tag");
    refused(head + field(0, "x"), "tag 0");
    refused(head + "\x08\xff\xff\xff\xff" + "abc", "a length past the end");
    refused(head + "\x08\x00", "a field header cut short");
    refused(std::string(1, '\x01') + field(1, std::string(8, '\0')) + field(3, std::string(8, '\0')), "prev missing");
    refused(std::string(1, '\x01') + field(1, std::string(8, '\0')) + field(2, std::string(32, '\0')) +
                field(3, std::string(8, '\0')) + field(4, "n"),
            "kind missing");
    // Repeated list fields are fine, in order.
    const Event e = decode(head + field(11, "a@x") + field(11, "") + field(11, "b@x"));
    CHECK(e.recipients == std::vector<std::string>{"a@x", "", "b@x"});
}

TEST_CASE("event: columns are text the databases can hold", "[audit]") {
    CHECK(column_safe("siti@dinas.example.go.id") == "siti@dinas.example.go.id");
    CHECK(column_safe("b\xc3\xbc"
                      "di") ==
          "b\xc3\xbc"
          "di");  // ü stays
    CHECK(column_safe(std::string("a\0b", 3)) ==
          "a\xef\xbf\xbd"
          "b");
    CHECK(column_safe("\xff@x") == "\xef\xbf\xbd@x");
    CHECK(column_safe("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong '/'
    CHECK(column_safe("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
    Event e = sample();
    e.sender = "\xff@x";
    CHECK(columns_of(e).sender == "\xef\xbf\xbd@x");
    CHECK(columns_of(e).verdict.empty());
}
