#include "smime/ossl/der.h"

#include <openssl/asn1.h>
#include <openssl/err.h>

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

}  // namespace segel::smime::ossl
