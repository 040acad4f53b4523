// fuzz_mime_fields: the MIME header helpers everyone shares (smime/mime/fields.h:
// split_fields, Field::value/unfolded, read_head, top_content_type; smime::split_entity)
// and address parsing (mime::parse_mailboxes). Input: a message or an entity.
//
// Properties: none of them throws (split_entity: only smime::Error); read_head returns
// exactly the bytes up to and including the first empty line (LF or CRLF), however it is
// read in pieces; top_content_type agrees with split_fields on the same head; split
// fields have a name without white space or colon, unfolded values are one line;
// parse_mailboxes' shortcut for plain addresses gives what GMime gives; the plain reading of
// Content-Type and Content-Disposition values (plain_content_type, plain_disposition) gives
// what GMime gives whenever it reads one (tests/support/reference.h).
#include "fuzz/support/fuzz.h"
#include "smime/decrypt.h"
#include "smime/error.h"
#include "smime/mime/fields.h"
#include "smime/mime/gobj.h"
#include "smime/mime/mime.h"
#include "tests/support/reference.h"

#include <strings.h>

namespace {

using segel::fuzz::require;
namespace mime = segel::smime::mime;

/** The reference for read_head: the input up to and including its first empty line. */
std::optional<std::string_view> head_reference(std::string_view in) {
    for (std::size_t pos = 0; pos < in.size();) {
        const std::size_t eol = in.find('\n', pos);
        if (eol == std::string_view::npos) {
            return std::nullopt;
        }
        if (eol == pos || (eol == pos + 1 && in[pos] == '\r')) {
            return in.substr(0, eol + 1);
        }
        pos = eol + 1;
    }
    return std::nullopt;
}

/** Every mailbox of @p list, groups (which GMime nests) flattened. */
void flatten(InternetAddressList* list, std::vector<mime::Mailbox>& out) {
    for (int i = 0; list != nullptr && i < internet_address_list_length(list); ++i) {
        InternetAddress* ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            flatten(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char* name = internet_address_get_name(ia);
            const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            out.push_back({name != nullptr ? name : "", addr != nullptr ? addr : ""});
        }
    }
}

/** parse_mailboxes through GMime only (what the shortcut must agree with). */
std::vector<mime::Mailbox> gmime_mailboxes(const std::string& value) {
    std::vector<mime::Mailbox> out;
    auto list = segel::smime::gobj::adopt(internet_address_list_parse(nullptr, value.c_str()));
    flatten(list.get(), out);
    return out;
}

void check_mailboxes(const std::string& value) {
    const auto ours = mime::parse_mailboxes(value);
    if (mime::mailbox_list_unreadable(value)) {
        require(ours.empty(), "parse_mailboxes: no mailbox from a value GMime leaks on");
        return;  // GMime itself would leak here (smime/mime/fields.h)
    }
    const auto reference = gmime_mailboxes(value);
    require(ours.size() == reference.size(), "parse_mailboxes: as many mailboxes as GMime finds");
    for (std::size_t i = 0; i < ours.size(); ++i) {
        require(ours[i].address == reference[i].address, "parse_mailboxes: the address GMime reads");
        require(ours[i].name == reference[i].name, "parse_mailboxes: the display name GMime reads");
    }
}

/** The plain readings of a field value agree with GMime's (both as a type and as a disposition). */
void check_plain_value(const std::string& value) {
    require(segel::test::plain_value_disagreement(value, true).empty(), "plain_content_type reads what GMime reads");
    require(segel::test::plain_value_disagreement(value, false).empty(), "plain_disposition reads what GMime reads");
}

void check_fields(const mime::HeaderBlock& h, std::string_view in) {
    require(h.body <= in.size(), "split_fields: the body starts inside the input");
    require(!(h.blank_line && h.stray_line), "split_fields: a blank line or a stray line, not both");
    for (const auto& f : h.fields) {
        require(!f.name.empty(), "split_fields: every field has a name");
        require(f.name.find_first_of(" \t:\n") == std::string::npos, "split_fields: a name has no WSP, colon, LF");
        const std::string u = f.unfolded();
        require(u.find('\n') == std::string::npos, "unfolded: one line");
        require(u.empty() || (u.front() != ' ' && u.front() != '\t' && u.back() != ' ' && u.back() != '\t'),
                "unfolded: trimmed");
        const std::string v = f.value();
        require(v.empty() || (v.front() != ' ' && v.front() != '\t'), "value: no leading white space");
        check_plain_value(u);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mime::init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    const std::string_view in = fuzz::bytes(data, size);
    require(mime::crlf_to_lf(in) == segel::test::crlf_to_lf(in), "crlf_to_lf: every CR before an LF removed, no other");
    const mime::HeaderBlock h = mime::split_fields(in);
    check_fields(h, in);

    // read_head in pieces: whole, tiny and odd limits move the piece boundaries around.
    const auto blob = smime::Blob::from(in);
    const auto expected = head_reference(in);
    for (const std::size_t limit : {std::size_t{256 * 1024}, std::size_t{5}, std::size_t{4099}, size / 2 + 1}) {
        const auto head = mime::read_head(blob, limit);
        const bool within = expected && expected->size() <= limit;
        require(head.has_value() == within, "read_head finds the first empty line within its limit");
        require(!head || *head == *expected, "read_head returns the bytes up to the first empty line");
    }

    const mime::TopContentType top = mime::top_content_type(blob);
    if (top.known) {
        require(expected.has_value(), "top_content_type: known only with a complete head");
        const mime::HeaderBlock hb = mime::split_fields(*expected);
        require(top.body == hb.body, "top_content_type: the body starts where split_fields says");
        int content_types = 0;
        for (const auto& f : hb.fields) {
            content_types += strcasecmp(f.name.c_str(), "Content-Type") == 0 ? 1 : 0;
        }
        require(content_types <= 1 && top.field.has_value() == (content_types == 1),
                "top_content_type: the one Content-Type field, or none");
        (void)top.media_type();
        (void)top.mentions("pkcs7-mime");
    }

    for (const auto& f : h.fields) {
        if (strcasecmp(f.name.c_str(), "From") == 0 || strcasecmp(f.name.c_str(), "To") == 0 ||
            strcasecmp(f.name.c_str(), "Sender") == 0) {
            check_mailboxes(f.unfolded());
        }
    }
    if (size <= 512) {
        check_mailboxes(std::string(in));
    }

    try {
        const smime::Entity e = smime::split_entity(std::string(in));
        for (std::size_t i = 0; i < e.body.size(); ++i) {
            if (e.body[i] == '\n') {
                require(i > 0 && e.body[i - 1] == '\r', "split_entity: the body's line ends are CRLF");
            }
        }
    } catch (const smime::Error&) {
    }
    return 0;
}
