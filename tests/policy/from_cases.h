#pragma once
// The From fields of the identity gate (issue 10 §2), shared by the policy's
// table test (test_address.cpp) and the differential test against GMime and
// Python's email package (test_from_readers.cpp). S is the sender,
// siti@dinas.example.go.id; B, budi@dinas.example.go.id, is whom a spoof shows.
#include "policy/address.h"

#include <string_view>
#include <vector>

namespace segel::test {

using namespace std::string_view_literals;
using policy::address::Problem;

struct FromCase {
    const char* name;
    std::string_view raw;  ///< the field value after "From:"
    Problem problem;       ///< Problem::None: parse_mailbox reads `address`
    std::string_view address;
    std::string_view shown;   ///< another address its display name or a comment shows ("" none): refused by decide
    std::string_view gmime;   ///< what GMime reads (smime::mime::parse_mailboxes): addresses, ' '-separated
    std::string_view python;  ///< what Python's email (policy=default) reads: addresses, ' '-separated
};

// clang-format off
inline const std::vector<FromCase>& from_cases() {
    static const std::vector<FromCase> k_cases = {
    // --- accepted: one mailbox every reader agrees on ---------------------------------------------
    {"plain addr-spec", "siti@dinas.example.go.id"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"angle only", "<siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"atoms", "Siti Rahmawati <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"quoted name", "\"Siti Rahmawati\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"no space before <", "Siti<siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"obs-phrase dot", "Siti R. <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"quoted-pairs in the name", "\"Siti \\\"Ibu\\\" Rahmawati\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"Q encoded-word", "=?utf-8?q?Siti_Rahmaw=C3=A1ti?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"B encoded-word", "=?UTF-8?B?U2l0aSBSYWhtYXdhdGk=?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"adjacent encoded-words", "=?utf-8?q?Siti?= =?utf-8?q?_Rahmawati?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"iso-8859-1 encoded-word", "=?iso-8859-1?q?Jos=E9?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"RFC 2231 language in the charset", "=?utf-8*id?q?Siti?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"raw UTF-8 name (RFC 6532)", "Sit\xC3\xAD Rahmawati <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"folded with CRLF", " Siti Rahmawati\r\n <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"folded with LF (milter)", " Siti Rahmawati\n\t<siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"trailing comment", "siti@dinas.example.go.id (Siti Rahmawati)"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"upper case address", "  SITI@DINAS.EXAMPLE.GO.ID"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"own address as the name", "\"siti@dinas.example.go.id\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"own address as the name, other case", "\"SITI@Dinas.example.go.id\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"empty quoted name", "\"\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"comment before <", "Siti (Kepala Seksi) <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    // --- parsed, but the name or a comment shows another address: refused by decide ---------------
    {"quoted name is another address", "\"budi@dinas.example.go.id\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"Q-encoded name is another address", "=?utf-8?q?budi=40dinas.example.go.id?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"B-encoded name is another address", "=?utf-8?b?YnVkaUBkaW5hcy5leGFtcGxlLmdvLmlk?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded-word inside quotes", "\"=?utf-8?q?budi=40dinas.example.go.id?=\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"iso-8859-1 encoded other address", "=?iso-8859-1?q?budi=40dinas.example.go.id?= <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded-word then .domain", "=?utf-8?q?budi=40dinas?=.example.go.id <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"fullwidth at sign in quotes", "\"budi\xEF\xBC\xA0" "dinas.example.go.id\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"fullwidth address in quotes", "\"\xEF\xBD\x82\xEF\xBD\x95\xEF\xBD\x84\xEF\xBD\x89\xEF\xBC\xA0\xEF\xBD\x84\xEF\xBD\x89\xEF\xBD\x8E\xEF\xBD\x81\xEF\xBD\x93\xEF\xBC\x8E\xEF\xBD\x87\xEF\xBD\x8F\xEF\xBC\x8E\xEF\xBD\x89\xEF\xBD\x84\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"small commercial at in quotes", "\"budi\xEF\xB9\xAB" "dinas.example.go.id\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"comment after the address", "siti@dinas.example.go.id (budi@dinas.example.go.id)"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"comment in the name", "Siti (budi@dinas.example.go.id) <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded-word in a comment", "(=?utf-8?q?budi=40dinas.example.go.id?=) siti@dinas.example.go.id"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"name with <address> inside quotes", "\"Budi <budi@dinas.example.go.id>\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"escaped quote hides an address", "\"Siti\\\" <budi@dinas.example.go.id>\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"quoted-pair at sign", "\"budi\\@dinas.example.go.id\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"short other address", "\"budi@dinas\" <siti@dinas.example.go.id>"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"second comment shows another", "siti@dinas.example.go.id (Siti) (budi@dinas.example.go.id)"sv, Problem::None, "siti@dinas.example.go.id", "budi@dinas.example.go.id", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    // --- refused: readers disagree, or the syntax is not strictly one mailbox -----------------------
    {"';' list, sender first", "siti@dinas.example.go.id; budi@dinas.example.go.id"sv, Problem::Semicolon, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"';' list, sender second", "budi@dinas.example.go.id; siti@dinas.example.go.id"sv, Problem::Semicolon, "", "", "budi@dinas.example.go.id", "budi@dinas.example.go.id"},
    {"address as unquoted name", "budi@dinas.example.go.id <siti@dinas.example.go.id>"sv, Problem::UnquotedSpecial, "", "", "siti@dinas.example.go.id", "budi@dinas.example.go.id"},
    {"address as unquoted name, no space", "budi@dinas.example.go.id<siti@dinas.example.go.id>"sv, Problem::UnquotedSpecial, "", "", "siti@dinas.example.go.id", "budi@dinas.example.go.id"},
    {"typographic quotes around an address", "\xE2\x80\x9C" "budi@dinas.example.go.id\xE2\x80\x9D <siti@dinas.example.go.id>"sv, Problem::Lookalike, "", "", "siti@dinas.example.go.id", "\xE2\x80\x9C" "budi@dinas.example.go.id\xE2\x80\x9D"},
    {"typographic quotes around a name", "\xE2\x80\x9CSiti Rahmawati\xE2\x80\x9D <siti@dinas.example.go.id>"sv, Problem::Lookalike, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"German quotes", "\xE2\x80\x9ESiti\xE2\x80\x9C <siti@dinas.example.go.id>"sv, Problem::Lookalike, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"fullwidth angle brackets", "Siti \xEF\xBC\x9C" "budi@dinas.example.go.id\xEF\xBC\x9E <siti@dinas.example.go.id>"sv, Problem::Lookalike, "", "", "", "\"siti \xEF\xBC\x9C" "budi\"@dinas.example.go.id\xEF\xBC\x9E"},
    {"fullwidth at sign unquoted", "budi\xEF\xBC\xA0" "dinas.example.go.id <siti@dinas.example.go.id>"sv, Problem::Lookalike, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"two mailboxes", "Siti <siti@dinas.example.go.id>, budi@dinas.example.go.id"sv, Problem::SeveralMailboxes, "", "", "siti@dinas.example.go.id budi@dinas.example.go.id", "siti@dinas.example.go.id budi@dinas.example.go.id"},
    {"two addr-specs with ','", "siti@dinas.example.go.id, budi@dinas.example.go.id"sv, Problem::SeveralMailboxes, "", "", "siti@dinas.example.go.id budi@dinas.example.go.id", "siti@dinas.example.go.id budi@dinas.example.go.id"},
    {"two angle addresses", "Siti <siti@dinas.example.go.id> <budi@dinas.example.go.id>"sv, Problem::SeveralMailboxes, "", "", "siti@dinas.example.go.id budi@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"two addr-specs side by side", "siti@dinas.example.go.id budi@dinas.example.go.id"sv, Problem::SeveralMailboxes, "", "", "siti@dinas.example.go.id budi@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"folded second mailbox", "Siti <siti@dinas.example.go.id>\r\n <budi@dinas.example.go.id>"sv, Problem::SeveralMailboxes, "", "", "siti@dinas.example.go.id budi@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"address after <…>", "Siti <siti@dinas.example.go.id> budi@dinas.example.go.id"sv, Problem::TextAroundAddress, "", "", "siti@dinas.example.go.id budi@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"name without <…>", "Siti siti@dinas.example.go.id"sv, Problem::TextAroundAddress, "", "", "", "\"siti siti\"@dinas.example.go.id"},
    {"group", "Staf: siti@dinas.example.go.id;"sv, Problem::Group, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"empty group", "undisclosed-recipients:;"sv, Problem::Group, "", "", "", ""},
    {"obsolete route", "<@relay.example:siti@dinas.example.go.id>"sv, Problem::Route, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"'<' not closed", "Siti <siti@dinas.example.go.id"sv, Problem::UnbalancedAngle, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"'>' not opened", "Siti siti@dinas.example.go.id>"sv, Problem::UnbalancedAngle, "", "", "", "\"siti siti\"@dinas.example.go.id"},
    {"'>' before '<'", "Siti >siti@dinas.example.go.id<"sv, Problem::UnbalancedAngle, "", "", "siti", "siti"},
    {"quote not closed", "\"Siti <siti@dinas.example.go.id>"sv, Problem::UnbalancedQuote, "", "", "siti@dinas.example.go.id", "\"siti <siti@dinas.example.go.id>\""},
    {"quote closed by a quoted-pair", "\"Siti\\\" <siti@dinas.example.go.id>"sv, Problem::UnbalancedQuote, "", "", "", "\"siti\\\" <siti@dinas.example.go.id>\""},
    {"comment not closed", "Siti (Kepala <siti@dinas.example.go.id>"sv, Problem::UnbalancedComment, "", "", "", "siti"},
    {"comment not opened", "Siti) <siti@dinas.example.go.id>"sv, Problem::UnbalancedComment, "", "", "", "siti"},
    {"comment after the address not closed", "Siti <siti@dinas.example.go.id> (x"sv, Problem::UnbalancedComment, "", "", "", "siti@dinas.example.go.id"},
    {"nested comment", "Siti ((budi@dinas.example.go.id)) <siti@dinas.example.go.id>"sv, Problem::NestedComment, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"comment inside the address", "siti(x)@dinas.example.go.id"sv, Problem::AddressSpace, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"space before '@'", "siti @dinas.example.go.id"sv, Problem::AddressSpace, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"spaces inside <…>", "Siti < siti@dinas.example.go.id >"sv, Problem::AddressSpace, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"comment inside <…>", "Siti <siti(budi@dinas.example.go.id)@dinas.example.go.id>"sv, Problem::AddressSpace, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"quoted local part", "\"siti\"@dinas.example.go.id"sv, Problem::QuotedLocalPart, "", "", "\"siti\"@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"quoted local part holding an address", "\"budi@dinas.example.go.id\"@evil.example"sv, Problem::QuotedLocalPart, "", "", "\"budi@dinas.example.go.id\"@evil.example", "\"budi@dinas.example.go.id\"@evil.example"},
    {"domain literal", "siti@[192.0.2.1]"sv, Problem::DomainLiteral, "", "", "siti@[192.0.2.1]", "siti@[192.0.2.1]"},
    {"domain literal in <…>", "Siti <siti@[192.0.2.1]>"sv, Problem::DomainLiteral, "", "", "siti@[192.0.2.1]", "siti@[192.0.2.1]"},
    {"two dots in the local part", "siti..r@dinas.example.go.id"sv, Problem::BadLocalPart, "", "", "", "siti..r@dinas.example.go.id"},
    {"leading dot", ".siti@dinas.example.go.id"sv, Problem::BadLocalPart, "", "", "", ".siti@dinas.example.go.id"},
    {"two '@' in <…>", "Siti <siti@dinas.example.go.id@evil.example>"sv, Problem::BadLocalPart, "", "", "siti@dinas.example.go.id", "siti"},
    {"encoded-word as the local part", "<=?utf-8?q?siti?=@dinas.example.go.id>"sv, Problem::BadLocalPart, "", "", "=?utf-8?q?siti?=@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"two dots in the domain", "siti@dinas..example.go.id"sv, Problem::BadDomain, "", "", "", "<>"},
    {"trailing dot in the domain", "siti@dinas.example.go.id."sv, Problem::BadDomain, "", "", "siti@dinas.example.go.id", "<>"},
    {"label starts with '-'", "siti@-dinas.example.go.id"sv, Problem::BadDomain, "", "", "siti@-dinas.example.go.id", "siti@-dinas.example.go.id"},
    {"underscore in the domain", "siti@dinas_x.example.go.id"sv, Problem::BadDomain, "", "", "siti@dinas_x.example.go.id", "siti@dinas_x.example.go.id"},
    {"non-ASCII local part", "sit\xC3\xAD@dinas.example.go.id"sv, Problem::NonAsciiAddress, "", "", "sit\xC3\xAD@dinas.example.go.id", "sit\xC3\xAD@dinas.example.go.id"},
    {"non-ASCII domain", "siti@d\xC3\xADnas.example.go.id"sv, Problem::NonAsciiAddress, "", "", "siti@d\xC3\xADnas.example.go.id", "siti@d\xC3\xADnas.example.go.id"},
    {"a name only", "Siti Rahmawati"sv, Problem::NoAddress, "", "", "", "\"siti rahmawati\""},
    {"no address in <>", "Siti <siti>"sv, Problem::NoAddress, "", "", "siti", "siti"},
    {"empty <>", "<>"sv, Problem::NoAddress, "", "", "", "<>"},
    {"a comment only", "(Siti)"sv, Problem::NoAddress, "", "", "", ""},
    {"empty", ""sv, Problem::Empty, "", "", "", ""},
    {"white space only", "  \t"sv, Problem::Empty, "", "", "", ""},
    {"'[' in the name", "Siti [Kepala] <siti@dinas.example.go.id>"sv, Problem::UnquotedSpecial, "", "", "", "siti"},
    {"backslash in the name", "Siti \\ R <siti@dinas.example.go.id>"sv, Problem::UnquotedSpecial, "", "", "", "\"siti \\\\ r\""},
    {"a name of dots", ". <siti@dinas.example.go.id>"sv, Problem::UnquotedSpecial, "", "", "", "!AttributeError"},
    // GMime reads a field value as a C string: it ends at the NUL (smime::mime::parse_mailboxes too).
    {"NUL in the name", "Siti\0 <siti@dinas.example.go.id>"sv, Problem::ControlCharacter, "", "", "siti", "siti@dinas.example.go.id"},
    {"bare CR", "Siti\r <siti@dinas.example.go.id>"sv, Problem::ControlCharacter, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"LF that does not fold", "Siti\n<siti@dinas.example.go.id>"sv, Problem::ControlCharacter, "", "", "siti@dinas.example.go.id", "siti"},
    {"ESC", "Siti\x1B <siti@dinas.example.go.id>"sv, Problem::ControlCharacter, "", "", "", "siti@dinas.example.go.id"},
    {"DEL", "Siti\x7F <siti@dinas.example.go.id>"sv, Problem::ControlCharacter, "", "", "", "siti@dinas.example.go.id"},
    {"byte that is not UTF-8", "Siti \xFF <siti@dinas.example.go.id>"sv, Problem::InvalidUtf8, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"overlong UTF-8 '/'", "Siti \xC0\xAF <siti@dinas.example.go.id>"sv, Problem::InvalidUtf8, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"UTF-8 surrogate", "Siti \xED\xA0\x80 <siti@dinas.example.go.id>"sv, Problem::InvalidUtf8, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"latin-1 byte in the name", "Jos\xE9 <siti@dinas.example.go.id>"sv, Problem::InvalidUtf8, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"UTF-7 encoded-word", "=?utf-7?q?budi+AEA-dinas.example.go.id?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"UTF-7 encoded-word in quotes", "\"=?utf-7?q?budi+AEA-dinas.example.go.id?=\" <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"UTF-16 encoded-word", "=?utf-16be?b?AGIAdQBkAGkAQABk?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"ISO-2022-JP encoded-word", "=?iso-2022-jp?b?GyRCJCIbKEI=?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"UTF-7 encoded-word in a comment", "siti@dinas.example.go.id (=?utf-7?q?budi+AEA-dinas.example.go.id?=)"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded-word inside an atom", "Siti=?utf-8?q?=40x?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded-word glued to a word", "=?utf-8?q?Siti?=Rahma <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"broken Q", "=?utf-8?q?Siti=ZZ?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"B without padding", "=?utf-8?b?U2l0aQ?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded NUL", "=?utf-8?q?Siti=00?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    {"encoded CR LF", "=?utf-8?q?Siti=0D=0AFrom:_budi@x?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "!ValueError"},
    {"encoded bytes not UTF-8", "=?utf-8?q?Sit=ED?= <siti@dinas.example.go.id>"sv, Problem::EncodedWord, "", "", "siti@dinas.example.go.id", "siti@dinas.example.go.id"},
    };
    return k_cases;
}
// clang-format on

}  // namespace segel::test
