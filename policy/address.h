#pragma once
// A strict reading of the From field a signature speaks for (RFC 5322 §3.4,
// RFC 2047 encoded-words, RFC 6532 UTF-8 in names): exactly one mailbox, in a
// form that every common reader (GMime, Python's email, JavaMail, Outlook,
// Thunderbird) parses to the same address. Everything ambiguous is refused with
// the reason and what the sender can do about it, never guessed at.
// Pure: no GMime, no I/O, no logging.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::policy::address {

/** Why a From field cannot be signed (one value per kind of problem, for tests and filters). */
enum class Problem {
    None,
    Empty,              ///< nothing but white space
    TooLong,            ///< more than k_max_field bytes
    ControlCharacter,   ///< NUL, a bare CR or LF, another C0 control or DEL (also inside an encoded-word)
    InvalidUtf8,        ///< 8-bit bytes that are not UTF-8 (RFC 6532 allows UTF-8 only)
    Lookalike,          ///< a character that looks like mail syntax outside quotes: “ ” ＜ ＞ ＠ ， ；
    UnbalancedQuote,    ///< a '"' that is not closed
    UnbalancedComment,  ///< a '(' or ')' without its partner
    NestedComment,      ///< a comment inside a comment
    EncodedWord,        ///< an RFC 2047 encoded-word that is malformed, misplaced or in a charset not accepted
    SeveralMailboxes,   ///< a ',' list, two <…> addresses, or two addresses side by side
    Semicolon,          ///< ';' between addresses (JavaMail reads two senders)
    Group,              ///< group syntax "name: …;"
    UnbalancedAngle,    ///< '<' and '>' do not pair up
    Route,              ///< obsolete source route <@host:local@domain>
    UnquotedSpecial,    ///< '@', '[', ']', '\' or '>' in a display name outside quotes
    TextAroundAddress,  ///< words next to a bare address, or text after <…>
    NoAddress,          ///< no local@domain at all
    AddressSpace,       ///< white space or a comment inside the address
    QuotedLocalPart,    ///< "…"@domain
    DomainLiteral,      ///< local@[192.0.2.1]
    BadLocalPart,       ///< not a dot-atom
    BadDomain,          ///< not a host name (letters, digits, '-', '.')
    NonAsciiAddress,    ///< 8-bit in the address (internationalised addresses are not official mailboxes)
};

/** The longest From field value read (bytes, folding included); longer ones are refused. */
constexpr std::size_t k_max_field = 4096;

struct Mailbox {
    std::string address;  ///< local@domain, lower case (segel compares addresses case-insensitively)
    /**
     * The display name as readers show it: quoted-pairs removed, encoded-words
     * decoded (bytes of their charset, not converted), words joined by one space.
     */
    std::string display_name;
    std::vector<std::string> comments;  ///< the text of each comment, encoded-words decoded
};

/** The result of reading one From field: a mailbox, or the problem with its explanation. */
struct Reading {
    Problem problem = Problem::None;
    std::string reason;  ///< what is wrong, ASCII, e.g. "it names more than one mailbox"
    std::string fix;     ///< what the sender should do, e.g. "send with exactly one From address"
    Mailbox mailbox;     ///< set when ok()
    [[nodiscard]] bool ok() const { return problem == Problem::None; }
};

/**
 * Reads one From field value (everything after the colon; folding as CRLF or
 * LF followed by a space or tab is allowed). Accepts only:
 *  - an addr-spec: dot-atom local part, '@', a host name;
 *  - or a display name of atoms (RFC 6532 UTF-8 allowed, '.' as in "Siti R."),
 *    quoted-strings and stand-alone encoded-words, then <addr-spec>;
 *  - comments (not nested) around those, never inside the address.
 * @return the mailbox, or the first problem found (never throws)
 */
Reading parse_mailbox(std::string_view value);

/**
 * Every e-mail address a person could read in @p text (a display name, a
 * comment, a raw field value): text around each '@' — also the fullwidth '＠'
 * and small '﹫', with fullwidth letters and dots read as ASCII — lower case,
 * each once, in order of appearance. Charset-agnostic: bytes that are not
 * UTF-8 are looked at one by one.
 */
std::vector<std::string> addresses_in(std::string_view text);

/**
 * Decodes one RFC 2047 encoded-word ("=?charset?B|Q?text?="). Accepted charsets
 * keep ASCII where ASCII is (so '@' is always the byte 0x40): us-ascii, utf-8,
 * iso-8859-N, windows-125N. The result is the bytes in that charset.
 * @param why receives the reason when the word is not accepted
 * @return the decoded bytes, or nullopt (malformed, another charset, control bytes, bad UTF-8)
 */
std::optional<std::string> decode_encoded_word(std::string_view word, std::string& why);

}  // namespace segel::policy::address
