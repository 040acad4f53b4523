#include "tests/support/reference.h"

#include "smime/mime/fields.h"
#include "smime/mime/gobj.h"
#include "smime/mime/mime.h"

namespace segel::test {

std::optional<std::string> base64_decode(std::string_view text) {
    static const std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    int pad = 0;
    for (const char ch : text) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            continue;
        }
        if (ch == '=') {
            ++pad;
            continue;
        }
        const std::size_t v = k_alphabet.find(ch);
        if (v == std::string_view::npos || pad > 0) {
            return std::nullopt;  // garbage, or data after padding
        }
        acc = ((acc << 6U) | static_cast<unsigned>(v)) & 0xFFFFFFU;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU);
        }
    }
    if (pad > 2 || (pad > 0 && bits == 0)) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> gmime_pkcs7_mime(const smime::Blob& message) {
    const auto msg = smime::mime::parse_message(message);
    GMimeObject* part = g_mime_message_get_mime_part(msg.get());
    GMimeContentType* ct = part != nullptr ? g_mime_object_get_content_type(part) : nullptr;
    if (ct == nullptr || !GMIME_IS_PART(part) ||
        !(g_mime_content_type_is_type(ct, "application", "pkcs7-mime") ||
          g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime"))) {
        return std::nullopt;
    }
    return smime::mime::decoded_content(GMIME_PART(part));
}

std::string crlf_to_lf(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
            out += text[i];
        }
    }
    return out;
}

std::string plain_value_disagreement(const std::string& value, bool content_type) {
    namespace mime = smime::mime;
    const auto plain = content_type ? mime::plain_content_type(value) : mime::plain_disposition(value);
    if (!plain) {
        return {};
    }
    mime::init();
    const GMimeParamList* params = nullptr;
    std::string type;
    std::string subtype;
    smime::gobj::Ptr<GMimeContentType> ct;
    smime::gobj::Ptr<GMimeContentDisposition> cd;
    if (content_type) {
        ct = smime::gobj::adopt(g_mime_content_type_parse(nullptr, value.c_str()));
        if (!ct) {
            return "GMime reads no content type";
        }
        const char* t = g_mime_content_type_get_media_type(ct.get());
        const char* s = g_mime_content_type_get_media_subtype(ct.get());
        type = t != nullptr ? t : "";
        subtype = s != nullptr ? s : "";
        params = g_mime_content_type_get_parameters(ct.get());
    } else {
        cd = smime::gobj::adopt(g_mime_content_disposition_parse(nullptr, value.c_str()));
        if (!cd) {
            return "GMime reads no disposition";
        }
        const char* d = g_mime_content_disposition_get_disposition(cd.get());
        type = d != nullptr ? d : "";
        params = g_mime_content_disposition_get_parameters(cd.get());
    }
    if (type != plain->type || subtype != plain->subtype) {
        return "type " + std::string(plain->type) + "/" + std::string(plain->subtype) + ", GMime " + type + "/" +
               subtype;
    }
    const int n = params != nullptr ? g_mime_param_list_length(const_cast<GMimeParamList*>(params)) : 0;
    if (static_cast<std::size_t>(n) != plain->count) {
        return std::to_string(plain->count) + " parameters, GMime " + std::to_string(n);
    }
    for (std::size_t i = 0; i < plain->count; ++i) {
        const std::string name(plain->params[i].name);
        const char* v = content_type ? g_mime_content_type_get_parameter(ct.get(), name.c_str())
                                     : g_mime_content_disposition_get_parameter(cd.get(), name.c_str());
        if (v == nullptr || plain->params[i].value != v) {
            return "parameter " + name + "=" + std::string(plain->params[i].value) + ", GMime " +
                   (v != nullptr ? v : "(none)");
        }
    }
    return {};
}

}  // namespace segel::test
