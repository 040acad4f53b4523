#include "policy/address.h"
#include "tests/policy/from_cases.h"

#include <catch2/catch.hpp>

using namespace segel;
using policy::address::Problem;
using namespace std::literals;

namespace {

/** Every address the name or comments show other than the mailbox's own (what decide refuses). */
std::string others_shown(const policy::address::Mailbox& mb) {
    std::string out;
    std::vector<std::string> texts = mb.comments;
    texts.push_back(mb.display_name);
    for (const auto& text : texts) {
        for (const auto& a : policy::address::addresses_in(text)) {
            if (a != mb.address && out.find(a) == std::string::npos) {
                out += (out.empty() ? "" : " ") + a;
            }
        }
    }
    return out;
}

}  // namespace

TEST_CASE("address: one table row per From form, accepted or refused with its reason", "[policy][address]") {
    for (const auto& row : test::from_cases()) {
        INFO(row.name);
        const auto r = policy::address::parse_mailbox(row.raw);
        CHECK(static_cast<int>(r.problem) == static_cast<int>(row.problem));
        if (row.problem == Problem::None) {
            CHECK(r.ok());
            CHECK(r.mailbox.address == row.address);
            CHECK(others_shown(r.mailbox) == row.shown);
            CHECK(r.reason.empty());
        } else {
            CHECK_FALSE(r.ok());
            CHECK_FALSE(r.reason.empty());
            CHECK_FALSE(r.fix.empty());
            // Reasons go into SMTP replies: ASCII only, one line.
            for (const char c : r.reason + r.fix) {
                CHECK((c >= 0x20 && c < 0x7F));
            }
        }
    }
}

TEST_CASE("address: display names as readers show them", "[policy][address]") {
    using policy::address::parse_mailbox;
    CHECK(parse_mailbox("Siti  Rahmawati <s@d.go.id>").mailbox.display_name == "Siti Rahmawati");
    CHECK(parse_mailbox("\"Siti \\\"Ibu\\\"\" <s@d.go.id>").mailbox.display_name == "Siti \"Ibu\"");
    CHECK(parse_mailbox("Siti R. <s@d.go.id>").mailbox.display_name == "Siti R.");
    CHECK(parse_mailbox("=?utf-8?q?Siti?= =?utf-8?q?_Rahma?= <s@d.go.id>").mailbox.display_name == "Siti Rahma");
    CHECK(parse_mailbox("=?utf-8?q?Siti?= Rahma <s@d.go.id>").mailbox.display_name == "Siti Rahma");
    CHECK(parse_mailbox("=?UTF-8?B?U2l0aSBSYWhtYXdhdGk=?= <s@d.go.id>").mailbox.display_name == "Siti Rahmawati");
    const auto c = parse_mailbox("s@d.go.id (Siti) (=?utf-8?q?Kepala_Seksi?=)");
    REQUIRE(c.ok());
    CHECK(c.mailbox.comments == std::vector<std::string>{"Siti", "Kepala Seksi"});
    CHECK(c.mailbox.display_name.empty());
}

TEST_CASE("address: reasons say what is wrong and how to fix it", "[policy][address]") {
    using policy::address::parse_mailbox;
    const auto semi = parse_mailbox("a@d.go.id; b@d.go.id");
    CHECK(semi.reason == "';' separates two addresses for some mail programs (JavaMail reads two senders)");
    CHECK(semi.fix == "send with exactly one From address");
    const auto at = parse_mailbox("b@d.go.id <a@d.go.id>");
    CHECK_THAT(at.reason, Catch::StartsWith("the display name contains '@' outside double quotes"));
    CHECK_THAT(at.fix, Catch::StartsWith("put the name in double quotes"));
    CHECK(parse_mailbox("\xE2\x80\x9CSiti\xE2\x80\x9D <a@d.go.id>").reason ==
          "the display name contains U+201C, a typographic quote, which mail programs do not read as a quote");
    CHECK_THAT(parse_mailbox("=?utf-7?q?x?= <a@d.go.id>").reason, Catch::Contains("the charset \"utf-7\""));
    CHECK(parse_mailbox("Siti\0 <a@d.go.id>"sv).reason == "it contains a NUL byte");
}

TEST_CASE("address: RFC 2047 decoding", "[policy][address]") {
    std::string why;
    using policy::address::decode_encoded_word;
    CHECK(decode_encoded_word("=?utf-8?q?a=40b_c?=", why) == "a@b c");
    CHECK(decode_encoded_word("=?UTF-8?Q?=C3=A9?=", why) == "\xC3\xA9");
    CHECK(decode_encoded_word("=?utf-8?b?YUBi?=", why) == "a@b");
    CHECK(decode_encoded_word("=?utf-8?B?YUA=?=", why) == "a@");
    CHECK(decode_encoded_word("=?utf-8?B?YQ==?=", why) == "a");
    CHECK(decode_encoded_word("=?windows-1252?q?=93x=94?=", why) == "\x93x\x94");
    CHECK(decode_encoded_word("=?iso-8859-15?q?x?=", why) == "x");
    for (const char* bad :
         {"=?utf-8?q?=4?=", "=?utf-8?q?=G0?=", "=?utf-8?b?Y?=", "=?utf-8?b?Y===?=", "=?utf-8?b?YQ=a?=", "=?utf-8?x?a?=",
          "=?utf-8?q?a", "=??q?a?=", "=?iso-8859-17?q?a?=", "=?windows-1259?q?a?=", "=?utf-32?b?AAAAYQ==?=",
          "=?us-ascii?q?=E9?=", "=?utf-8?q?=E9?=", "=?utf-8?q?a=7F?="}) {
        INFO(bad);
        why.clear();
        CHECK_FALSE(decode_encoded_word(bad, why).has_value());
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("address: addresses a person reads in a text", "[policy][address]") {
    using policy::address::addresses_in;
    CHECK(addresses_in("Budi <Budi@Dinas.example.go.id>.") == std::vector<std::string>{"budi@dinas.example.go.id"});
    CHECK(addresses_in("a@b.c, x@y").size() == 2);
    CHECK(addresses_in("Siti @ Dinas, @siti, siti@").empty());
    CHECK(addresses_in("b\xEF\xBC\xA0"
                       "d.go.id") == std::vector<std::string>{"b@d.go.id"});  // ＠
    CHECK(addresses_in("b\xEF\xB9\xAB"
                       "d\xE3\x80\x82go") == std::vector<std::string>{"b@d.go"});  // ﹫ 。
    CHECK(addresses_in("\xEF\xBC\xA2@x") == std::vector<std::string>{"b@x"});      // Ｂ
    CHECK(addresses_in("b\x40x \xE9@\xE9") == std::vector<std::string>{"b@x"});    // latin-1 bytes
    CHECK(addresses_in("a@b@c") == std::vector<std::string>{"a@b", "b@c"});
    CHECK(addresses_in("a@b a@B") == std::vector<std::string>{"a@b"});
}

TEST_CASE("address: hostile input costs linear time and is refused", "[policy][address]") {
    using policy::address::parse_mailbox;
    CHECK(parse_mailbox(std::string(5000, 'a')).problem == Problem::TooLong);
    CHECK(parse_mailbox(std::string(4000, ',')).problem == Problem::SeveralMailboxes);
    CHECK(parse_mailbox(std::string(4000, '(')).problem == Problem::NestedComment);
    CHECK(parse_mailbox(std::string(4000, ')')).problem == Problem::UnbalancedComment);
    CHECK(parse_mailbox(std::string(4000, '"')).problem == Problem::NoAddress);
    CHECK(parse_mailbox(std::string(4000, '<')).problem == Problem::UnbalancedAngle);
    CHECK(parse_mailbox(std::string(4000, '@')).problem == Problem::SeveralMailboxes);
    std::string folds;
    for (int i = 0; i < 1000; ++i) {
        folds += "a\r\n ";
    }
    CHECK(parse_mailbox(folds + "<s@d.go.id>").ok());
    std::string words;
    for (int i = 0; i < 200; ++i) {
        words += "=?utf-8?q?Siti?= ";
    }
    CHECK(parse_mailbox(words + "<s@d.go.id>").ok());
    CHECK(parse_mailbox("\"" + std::string(4000, '\\')).problem == Problem::UnbalancedQuote);
    CHECK(parse_mailbox(std::string(4000, '\xC3')).problem == Problem::InvalidUtf8);
}
