// fuzz_verify: inbound verification of a whole message (smime::verify), the gateway's
// widest attack surface: MIME parsing, canonicalisation, CMS, chains, time, addresses.
// Input: a message as it arrives (headers + body, CRLF or LF).
//
// Properties: verify() never throws for any bytes (verify.h); the verdict's
// Authentication-Results value (authres::format) is 7-bit, folded only with "\n\t", and
// claims our authserv-id, whatever the message and its certificates say; a message spooled
// to a file (fuzz::spooled, every fourth input by size) gets the verdict it gets in memory.
#include "smime/verify.h"
#include "fuzz/support/fuzz.h"
#include "smime/authres.h"
#include "smime/mime/mime.h"

#include <openssl/err.h>

namespace {

constexpr const char* k_authserv_id = "mx.fuzz.example.go.id";

void check_header(const std::string& value) {
    using segel::fuzz::require;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        require(c < 128, "the A-R value is 7-bit");
        require(c != '\r', "the A-R value has no CR");
        require(c != '\n' || (i + 1 < value.size() && value[i + 1] == '\t'), "the A-R value folds only with \\n\\t");
    }
    require(segel::smime::authres::claims(value, k_authserv_id), "the A-R value claims our authserv-id");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    segel::smime::mime::init();
    (void)segel::fuzz::trust();
    (void)segel::fuzz::crls();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    smime::VerifyOptions options;
    options.now = fuzz::now();
    // The input's size picks one of two option sets, so both are covered without a
    // prefix byte (corpus files stay plain messages one can read and replay).
    if (size % 2 == 1) {
        options.certificate_time = smime::CertificateTime::SigningTime;
        options.weak = smime::WeakAlgorithms::Fail;
        options.lf_fallback = false;
        options.limits.max_depth = 8;
    }
    for (const auto& crl : fuzz::crls()) {
        options.crls.push_back(crl.get());
    }
    const auto message = smime::Blob::from(fuzz::bytes(data, size));
    smime::VerifyResult r;
    try {
        r = smime::verify(message, fuzz::trust(), options);
    } catch (...) {
        fuzz::require(false, "smime::verify does not throw for any input");
    }
    check_header(smime::authres::format(k_authserv_id, r));
    if (size % 4 == 0) {
        // The same message spooled to a file (a large message's path) gets the same verdict.
        smime::VerifyResult d;
        try {
            d = smime::verify(fuzz::spooled(fuzz::bytes(data, size)), fuzz::trust(), options);
        } catch (...) {
            fuzz::require(false, "smime::verify does not throw for any input (spooled)");
        }
        fuzz::require(d.result == r.result && d.reason == r.reason && d.identifier == r.identifier && d.part == r.part,
                      "a spooled message gets the verdict it gets in memory");
    }
    ERR_clear_error();
    return 0;
}
