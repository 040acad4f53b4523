#include "audit/checkpoint.h"

#include "smime/keys.h"

#include "audit/error.h"
#include "smime/ossl/ptr.h"

#include <openssl/err.h>

#include <charconv>
#include <ctime>

namespace segel::audit {

namespace ossl = smime::ossl;

namespace {

constexpr std::string_view k_magic = "segel-audit-checkpoint 1";

[[noreturn]] void malformed(int line, const std::string& what) {
    throw Error(Category::Malformed, "not a canonical checkpoint (line " + std::to_string(line) + "): " + what);
}

/** Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" exactly as format_time_us writes it. */
bool parse_time_us(std::string_view s, TimePoint& out) {
    if (s.size() != 27 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
        s[26] != 'Z') {
        return false;
    }
    auto num = [&](std::size_t at, std::size_t len, int& v) {
        const auto r = std::from_chars(s.data() + at, s.data() + at + len, v);
        return r.ec == std::errc() && r.ptr == s.data() + at + len;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, us = 0;
    if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, se) ||
        !num(20, 6, us)) {
        return false;
    }
    struct tm tm {};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    const std::time_t t = timegm(&tm);
    if (t < 0) {
        return false;
    }
    out = from_micros(static_cast<std::uint64_t>(t) * 1000000U + static_cast<std::uint64_t>(us));
    return format_time_us(out) == s;  // refuses 2026-02-30 and friends
}

bool parse_u64(std::string_view s, std::uint64_t& v) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) {
        return false;
    }
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool lower_hex(std::string_view s, Hash& h) {
    return s.find_first_of("ABCDEF") == std::string_view::npos && from_hex(s, h);
}

}  // namespace

std::string checkpoint_text(const Checkpoint& c) {
    if (c.node.empty() || c.node.find_first_of(" \t\r\n") != std::string::npos) {
        throw Error(Category::Usage, "a checkpoint's node name may not be empty or contain white space");
    }
    std::string out(k_magic);
    out += "\nnode " + c.node;
    out += "\nsequence " + std::to_string(c.sequence);
    out += "\nsize " + std::to_string(c.size);
    out += "\nroot " + to_hex(c.root);
    out += "\ntime " + format_time_us(c.time);
    out += "\nprevious " + (c.sequence == 0 ? std::string("none") : to_hex(c.previous));
    out += "\n";
    return out;
}

Checkpoint parse_checkpoint(std::string_view text) {
    static constexpr std::string_view k_keys[] = {"node", "sequence", "size", "root", "time", "previous"};
    if (text.size() > 4096) {
        malformed(1, "longer than 4096 bytes");
    }
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) {
            malformed(static_cast<int>(lines.size()) + 1, "the last line does not end in LF");
        }
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    if (lines.size() != 7) {
        malformed(1, "has " + std::to_string(lines.size()) + " lines, expected 7");
    }
    if (lines[0] != k_magic) {
        malformed(1, "does not start with \"" + std::string(k_magic) + "\"");
    }
    std::string_view v[6];
    for (int i = 0; i < 6; ++i) {
        const std::string_view line = lines[static_cast<std::size_t>(i) + 1];
        const std::string_view key = k_keys[i];
        if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key || line[key.size()] != ' ') {
            malformed(i + 2, "expected \"" + std::string(key) + " VALUE\"");
        }
        v[i] = line.substr(key.size() + 1);
        if (v[i].find_first_of(" \t\r") != std::string_view::npos) {
            malformed(i + 2, "white space or CR in the value");
        }
    }
    Checkpoint c;
    c.node = std::string(v[0]);
    if (!parse_u64(v[1], c.sequence)) {
        malformed(3, "sequence is not a decimal number");
    }
    if (!parse_u64(v[2], c.size)) {
        malformed(4, "size is not a decimal number");
    }
    if (!lower_hex(v[3], c.root)) {
        malformed(5, "root is not 64 lower-case hex digits");
    }
    if (!parse_time_us(v[4], c.time)) {
        malformed(6, "time is not RFC 3339 UTC with microseconds (2026-06-01T09:00:00.000000Z)");
    }
    if (c.sequence == 0) {
        if (v[5] != "none") {
            malformed(7, "the first checkpoint (sequence 0) has previous none");
        }
    } else if (!lower_hex(v[5], c.previous)) {
        malformed(7, "previous is not 64 lower-case hex digits");
    }
    return c;
}

std::string sign_checkpoint(std::string_view text, const smime::Credential& seal,
                            const std::vector<ossl::Ptr<X509>>& chain) {
    ossl::init_providers();
    auto data = ossl::mem_bio(text.data(), text.size());
    auto certs = ossl::make_stack(chain);
    const unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    auto cms = ossl::adopt(CMS_sign(nullptr, nullptr, certs.get(), nullptr, flags));
    if (!cms) {
        throw Error(Category::Internal, ossl::drain_errors("cannot start the checkpoint signature"));
    }
    // The seal's key may be in a token (smime/keys.h): held for this one operation.
    smime::KeyUse key = seal.key->use();
    if (CMS_add1_signer(cms.get(), seal.cert.get(), key.get(), EVP_sha256(), flags) == nullptr ||
        CMS_final(cms.get(), data.get(), nullptr, flags) != 1) {
        throw key.failed("cannot sign the checkpoint with the seal credential " + seal.source);
    }
    auto out = ossl::adopt(BIO_new(BIO_s_mem()));
    if (i2d_CMS_bio(out.get(), cms.get()) != 1) {
        throw Error(Category::Internal, ossl::drain_errors("cannot encode the checkpoint signature"));
    }
    return ossl::bio_to_string(out.get());
}

SignatureCheck check_signature(std::string_view text, std::string_view signature, const std::set<std::string>& pinned) {
    ossl::init_providers();
    SignatureCheck r;
    const auto* p = reinterpret_cast<const unsigned char*>(signature.data());
    auto cms = ossl::adopt(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(signature.size())));
    if (!cms || p != reinterpret_cast<const unsigned char*>(signature.data()) + signature.size()) {
        ERR_clear_error();
        r.error = "the signature is not a DER CMS structure";
        return r;
    }
    if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
        r.error = "the signature is not CMS SignedData";
        return r;
    }
    STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
    if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) {
        r.error = "the signature must have exactly one signer";
        return r;
    }
    auto content = ossl::mem_bio(text.data(), text.size());
    const int ok =
        CMS_verify(cms.get(), nullptr, nullptr, content.get(), nullptr, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
    STACK_OF(X509)* signers = CMS_get0_signers(cms.get());  // set by CMS_verify
    if (signers != nullptr && sk_X509_num(signers) == 1) {
        X509* s = sk_X509_value(signers, 0);
        r.fingerprint = ossl::fingerprint_sha256(s);
        r.signer = smime::inspect(s).subject;
    }
    sk_X509_free(signers);
    if (ok != 1) {
        r.error = r.fingerprint.empty() ? "the signer's certificate is not in the signature"
                                        : ossl::drain_errors("the signature does not match the checkpoint text");
        ERR_clear_error();
        return r;
    }
    if (pinned.count(r.fingerprint) == 0) {
        r.error = "signed by " + r.signer + " (SHA-256 " + r.fingerprint + "), which is not a configured seal";
        return r;
    }
    r.valid = true;
    return r;
}

}  // namespace segel::audit
