#include "smime/mime/mime.h"

#include "smime/error.h"

#include <strings.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

namespace segel::smime::mime {

void init() {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

GMimeFormatOptions* crlf() {
    // Created once and never modified afterwards, so sharing it across threads is safe.
    static GMimeFormatOptions* options = [] {
        init();
        GMimeFormatOptions* o = g_mime_format_options_new();
        g_mime_format_options_set_newline_format(o, GMIME_NEWLINE_FORMAT_DOS);
        g_mime_format_options_set_param_encoding_method(o, GMIME_PARAM_ENCODING_METHOD_RFC2231);
        return o;
    }();
    return options;
}

gobj::Ptr<GMimeMessage> parse_message(const Blob& bytes) {
    init();
    gobj::Ptr<GMimeStream> stream;
    const int fd = bytes.dup_fd();
    if (fd >= 0) {
        // Bounded: a reused spool file may hold older bytes after this message.
        stream = gobj::adopt(g_mime_stream_fs_new_with_bounds(fd, 0, static_cast<gint64>(bytes.size())));
    } else {
        const std::string_view v = bytes.view();
        stream = gobj::adopt(g_mime_stream_mem_new_with_buffer(v.data(), v.size()));
    }
    auto parser = gobj::adopt(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    auto message = gobj::adopt(g_mime_parser_construct_message(parser.get(), nullptr));
    if (!message) {
        throw Error(Category::Malformed, "the message cannot be parsed as RFC 5322 mail");
    }
    return message;
}

namespace {
/** Where a FILE* made by fopencookie() appends: the Blob, and the first failure. */
struct BlobSink {
    Blob* blob;
    std::string error;
    bool after_cr = false;    ///< the last byte appended was a CR
    std::size_t written = 0;  ///< bytes GMime wrote (the Blob has more: the CRs added)
};

/**
 * Appends @p bytes with every LF that no CR precedes written as CRLF. GMime's
 * CRLF option does not cover everything it writes: a multipart's preamble and
 * epilogue are kept with LF line ends and written as they are, which SMTP then
 * turns into CRLF under a signature made over the LF bytes. Canonical line
 * ends are made here, where every byte GMime writes passes, so nothing it
 * writes can have another form (RFC 8551 §3.1.1).
 */
void append_crlf(BlobSink& sink, std::string_view bytes) {
    while (!bytes.empty()) {
        const std::size_t lf = bytes.find('\n');
        if (lf == std::string_view::npos) {
            sink.blob->append(bytes);
            sink.after_cr = bytes.back() == '\r';
            return;
        }
        const bool has_cr = lf > 0 ? bytes[lf - 1] == '\r' : sink.after_cr;
        if (has_cr) {
            sink.blob->append(bytes.substr(0, lf + 1));
        } else {
            sink.blob->append(bytes.substr(0, lf));
            sink.blob->append(std::string_view("\r\n", 2));
        }
        sink.after_cr = false;
        bytes.remove_prefix(lf + 1);
    }
}

ssize_t blob_sink_write(void* cookie, const char* data, size_t len) {
    auto* sink = static_cast<BlobSink*>(cookie);
    try {
        append_crlf(*sink, std::string_view(data, len));
        sink->written += len;
        return static_cast<ssize_t>(len);
    } catch (const std::exception& e) {  // nothing may cross back into stdio (C)
        sink->error = e.what();
        return -1;
    }
}

/** GMime's file stream seeks to its own position before every write: allow exactly that. */
int blob_sink_seek(void* cookie, off64_t* offset, int whence) {
    const auto end = static_cast<off64_t>(static_cast<BlobSink*>(cookie)->written);
    const off64_t target = whence == SEEK_SET ? *offset : whence == SEEK_CUR || whence == SEEK_END ? end + *offset : -1;
    if (target != end) {
        return -1;
    }
    *offset = target;
    return 0;
}
}  // namespace

void write(GMimeObject* object, Blob& out) {
    // Serialised straight into the Blob (which spills to its file beyond its memory limit)
    // through a glibc cookie FILE, not into a GByteArray first: a 20 MB entity no longer
    // costs 20 MB of heap and a copy (docs/performance.md).
    BlobSink sink{&out, {}};
    cookie_io_functions_t io{};
    io.write = blob_sink_write;
    io.seek = blob_sink_seek;
    FILE* file = fopencookie(&sink, "w", io);
    if (file == nullptr) {
        throw Error(Category::Io, "cannot serialise the MIME entity: fopencookie failed");
    }
    setvbuf(file, nullptr, _IOFBF, 64 * 1024);
    auto stream = gobj::adopt(g_mime_stream_file_new(file));  // owns the FILE: fclose() when released
    const bool written =
        g_mime_object_write_to_stream(object, crlf(), stream.get()) >= 0 && g_mime_stream_flush(stream.get()) == 0;
    stream.reset();
    if (!written || !sink.error.empty()) {
        throw Error(Category::Io, "cannot serialise the MIME entity" + (sink.error.empty() ? "" : ": " + sink.error));
    }
}

std::string decoded_content(GMimePart* part) {
    GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
    if (wrapper == nullptr) {
        return {};
    }
    auto mem = gobj::adopt(g_mime_stream_mem_new());
    if (g_mime_data_wrapper_write_to_stream(wrapper, mem.get()) < 0) {
        throw Error(Category::Malformed, "cannot decode a MIME part's content");
    }
    GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    return {reinterpret_cast<const char*>(arr->data), arr->len};
}

bool has_8bit(std::string_view s) {
    for (const char c : s) {
        if ((static_cast<unsigned char>(c) & 0x80U) != 0) {
            return true;
        }
    }
    return false;
}

namespace {
void collect(InternetAddressList* list, std::vector<Mailbox>& out, bool* had_group) {
    const int n = internet_address_list_length(list);
    for (int i = 0; i < n; ++i) {
        InternetAddress* ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            if (had_group != nullptr) {
                *had_group = true;
            }
            collect(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out, had_group);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char* name = internet_address_get_name(ia);
            const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            out.push_back({name != nullptr ? name : "", addr != nullptr ? addr : ""});
        }
    }
}
}  // namespace

namespace {
bool atext(char c) {  // RFC 5322 §3.2.3 (not NUL, which strchr would find as the terminator)
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           (c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

/**
 * The common From value, "local@domain", "<local@domain>" or "Display Name
 * <local@domain>" with plain atoms only, read without GMime; nullopt for
 * anything else (quotes, comments, encoded words, groups, lists, 8-bit, folds),
 * which GMime parses. Both give the same address for what this accepts.
 */
std::optional<Mailbox> simple_mailbox(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
    }
    std::string name;
    std::string_view addr = v;
    if (!v.empty() && v.back() == '>') {
        const std::size_t lt = v.find('<');
        if (lt == std::string_view::npos) {
            return std::nullopt;
        }
        addr = v.substr(lt + 1, v.size() - lt - 2);
        std::string_view display = v.substr(0, lt);
        while (!display.empty() && display.back() == ' ') {
            display.remove_suffix(1);
        }
        for (std::size_t i = 0; i < display.size(); ++i) {
            const char c = display[i];
            if (!(atext(c) || (c == ' ' && i > 0 && display[i - 1] != ' ')) || c == '=' || c == '?') {
                return std::nullopt;  // not plain words (or could be an encoded word): GMime decides
            }
        }
        name.assign(display);
    }
    const std::size_t at = addr.find('@');
    if (at == 0 || at == std::string_view::npos || at + 1 >= addr.size()) {
        return std::nullopt;
    }
    const std::string_view local = addr.substr(0, at);
    const std::string_view domain = addr.substr(at + 1);
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
        return std::nullopt;
    }
    for (const char c : local) {
        if (!atext(c) && c != '.') {
            return std::nullopt;
        }
    }
    if (domain.front() == '.' || domain.back() == '.' || domain.front() == '-' ||
        domain.find("..") != std::string_view::npos) {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < domain.size(); ++i) {
        const char c = domain[i];
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '-') {
            return std::nullopt;
        }
        // An IDNA A-label ("xn--…", RFC 5890): GMime decodes it (libidn2), so GMime decides.
        if ((i == 0 || domain[i - 1] == '.') && domain.size() - i >= 4 &&
            strncasecmp(domain.data() + i, "xn--", 4) == 0) {
            return std::nullopt;
        }
    }
    return Mailbox{name, std::string(addr)};
}
}  // namespace

bool mailbox_list_unreadable(std::string_view value) {
    if (value.find('[') == std::string_view::npos) {
        return false;
    }
    std::size_t depth = 0;  // of comments
    bool quoted = false;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '\\' && (quoted || depth > 0)) {
            ++i;  // a quoted pair (RFC 5322 §3.2.1)
        } else if (depth > 0 && c == '(') {
            ++depth;
        } else if (depth > 0 && c == ')') {
            --depth;
        } else if (depth > 0) {
            continue;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == '(' && !quoted) {
            depth = 1;
        }
    }
    return depth > 0;
}

std::vector<Mailbox> parse_mailboxes(const std::string& value, bool* had_group) {
    std::vector<Mailbox> out;
    if (had_group != nullptr) {
        *had_group = false;
    }
    if (auto simple = simple_mailbox(value)) {
        out.push_back(std::move(*simple));
        return out;
    }
    if (mailbox_list_unreadable(value)) {
        return out;
    }
    init();
    auto list = gobj::adopt(internet_address_list_parse(nullptr, value.c_str()));
    if (list) {
        collect(list.get(), out, had_group);
    }
    return out;
}

std::string encode_header_text(const std::string& utf8) {
    if (!has_8bit(utf8)) {
        return utf8;
    }
    init();
    gobj::GString enc(g_mime_utils_header_encode_text(nullptr, utf8.c_str(), "utf-8"));
    return enc ? std::string(enc.get()) : utf8;
}

std::string decode_header_text(const std::string& raw) {
    init();
    gobj::GString dec(g_mime_utils_header_decode_text(nullptr, raw.c_str()));
    return dec ? std::string(dec.get()) : raw;
}

}  // namespace segel::smime::mime
