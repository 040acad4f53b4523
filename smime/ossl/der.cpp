#include "smime/ossl/der.h"

#include <openssl/asn1.h>
#include <openssl/err.h>

#include <vector>

namespace segel::smime::ossl {

namespace {
constexpr int k_max_depth = 32;

bool read_at(const unsigned char*& p, const unsigned char* end, Tlv& t, int depth) {
    if (p >= end || depth > k_max_depth) {
        return false;
    }
    const unsigned char* q = p;
    long len = 0;
    const int r = ASN1_get_object(&q, &len, &t.tag, &t.cls, end - p);
    if ((r & 0x80) != 0) {
        ERR_clear_error();
        return false;
    }
    t.constructed = (r & V_ASN1_CONSTRUCTED) != 0;
    t.start = p;
    t.content = q;
    if ((r & 0x01) != 0) {  // indefinite length: children up to an end-of-contents marker
        const unsigned char* c = q;
        while (!(end - c >= 2 && c[0] == 0 && c[1] == 0)) {
            Tlv child;
            if (!read_at(c, end, child, depth + 1)) {
                return false;
            }
        }
        t.end = c;
        t.after = c + 2;
    } else {
        if (len > end - q) {
            return false;
        }
        t.end = q + len;
        t.after = t.end;
    }
    p = t.after;
    return true;
}
}  // namespace

bool read_tlv(const unsigned char*& p, const unsigned char* end, Tlv& t) {
    return read_at(p, end, t, 0);
}

std::optional<std::size_t> count_elements(std::string_view der, std::size_t cap) {
    struct Level {
        const unsigned char* bound;  ///< where its content ends (indefinite: its parent's bound)
        bool indefinite;
        bool counting;  ///< children are counted (not inside an OCTET STRING or BIT STRING)
    };
    constexpr std::size_t k_levels = 64;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    const unsigned char* const end = p + der.size();
    std::vector<Level> stack;
    std::size_t n = 0;
    bool started = false;
    for (;;) {
        while (!stack.empty() && !stack.back().indefinite && p == stack.back().bound) {
            stack.pop_back();
        }
        if (started && stack.empty()) {
            return n;  // the first element is complete (anything after it is not this structure)
        }
        const unsigned char* bound = stack.empty() ? end : stack.back().bound;
        if (!stack.empty() && stack.back().indefinite && bound - p >= 2 && p[0] == 0 && p[1] == 0) {
            p += 2;  // end-of-contents
            stack.pop_back();
            continue;
        }
        if (p >= bound) {
            return std::nullopt;  // truncated, or an indefinite length without its end
        }
        const unsigned char* q = p;
        long len = 0;
        int tag = 0;
        int cls = 0;
        const int r = ASN1_get_object(&q, &len, &tag, &cls, bound - p);
        if ((r & 0x80) != 0) {
            ERR_clear_error();
            return std::nullopt;
        }
        started = true;
        const bool counting = stack.empty() || stack.back().counting;
        if (counting && ++n > cap) {
            return n;
        }
        const bool constructed = (r & V_ASN1_CONSTRUCTED) != 0;
        const bool indefinite = (r & 0x01) != 0;
        if (!constructed) {
            p = q + len;
            continue;
        }
        const bool bytes = cls == V_ASN1_UNIVERSAL && (tag == V_ASN1_OCTET_STRING || tag == V_ASN1_BIT_STRING);
        if (stack.size() >= k_levels) {
            return std::nullopt;
        }
        stack.push_back({indefinite ? bound : q + len, indefinite, counting && !bytes});
        p = q;
    }
}

}  // namespace segel::smime::ossl
