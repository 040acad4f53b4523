// fuzz_pkcs7_mime: smime::pkcs7_mime_der, which reads an encrypted (or opaque-signed)
// message's DER straight from the spool when the head allows, against GMime's full parse
// (the reference, as in tests/interop/test_cms_load.cpp). Input: a whole message.
//
// Properties: pkcs7_mime_der throws only smime::Error; when GMime parses the message, the
// head-only reading gives exactly what GMime decodes from its top-level application/pkcs7-mime
// part (nothing when there is none), so it never reads a different body than the parser that
// the rest of the gateway uses, from memory or from a spool file. Exceptions by design: a head
// of several Content-Type or Content-Transfer-Encoding fields (readers disagree which counts), a
// damaged head that speaks of pkcs7 (a NUL, a CR that ends no line, a line that is no field:
// readers take it apart differently) and anything beyond inbound.limits are refused, never opened.
#include "fuzz/support/fuzz.h"
#include "smime/decrypt.h"
#include "smime/error.h"
#include "smime/mime/mime.h"
#include "tests/support/reference.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    segel::smime::mime::init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    const auto blob = smime::Blob::from(fuzz::bytes(data, size));
    // Odd sizes read from a spool file (mapped windows, a reused file with stale bytes past
    // the end); the reference always parses from memory.
    const auto spooled = size % 2 == 1 ? fuzz::spooled(fuzz::bytes(data, size)) : smime::Blob();
    std::optional<std::string> got;
    bool refused = false;
    try {
        got = smime::pkcs7_mime_der(size % 2 == 1 ? spooled : blob);
    } catch (const smime::Error& e) {
        const std::string what = e.what();
        if (what.rfind("a header block with ", 0) == 0 || what.find("(limit max_") != std::string::npos ||
            what.rfind("the message header is damaged", 0) == 0) {
            // Several Content-Type or Content-Transfer-Encoding fields (readers disagree which one
            // counts: GMime takes the last), a damaged head that speaks of pkcs7 (readers take it
            // apart differently), or beyond inbound.limits: not opened, by design.
            return 0;
        }
        refused = true;
    }
    std::optional<std::string> expected;
    try {
        expected = test::gmime_pkcs7_mime(blob);
    } catch (const smime::Error&) {
        return 0;  // GMime cannot parse it: no reference to compare with
    }
    if (refused) {
        // Refused only for an empty pkcs7-mime part (what GMime decodes is empty too).
        fuzz::require(expected && expected->empty(), "pkcs7_mime_der refuses only an empty pkcs7-mime part");
        return 0;
    }
    fuzz::require(got.has_value() == expected.has_value(), "pkcs7_mime_der and GMime agree it is pkcs7-mime");
    fuzz::require(!got || *got == *expected, "pkcs7_mime_der decodes the same bytes as GMime");
    return 0;
}
