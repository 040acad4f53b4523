// fuzz_decrypt: the CMS EnvelopedData / AuthEnvelopedData of an encrypted message
// (EncryptedContent::parse, addressed_to, decrypt with every key it is addressed to), then
// the decrypted entity split into fields (split_entity), as engine::decrypt_inbound does.
// Input: the DER (or BER) CMS structure, i.e. the decoded application/pkcs7-mime body.
//
// Properties: parse throws only smime::Error (Malformed); decrypt returns a status, never
// throws; a decrypted entity splits or is refused with smime::Error; the split body has
// CRLF line ends only.
#include "smime/decrypt.h"
#include "fuzz/support/fuzz.h"
#include "smime/error.h"
#include "smime/mime/mime.h"

#include <openssl/err.h>

namespace {

void check_entity(const std::string& plain) {
    using namespace segel;
    smime::Entity e;
    try {
        e = smime::split_entity(plain);
    } catch (const smime::Error&) {
        return;  // a damaged header is refused (the message is delivered as it arrived)
    }
    for (std::size_t i = 0; i < e.body.size(); ++i) {
        if (e.body[i] == '\n') {
            fuzz::require(i > 0 && e.body[i - 1] == '\r', "split_entity: the body's line ends are CRLF");
        }
    }
    for (const auto& h : e.headers) {
        fuzz::require(!h.name.empty(), "split_entity: a field has a name");
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    segel::smime::mime::init();
    (void)segel::fuzz::keys();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    std::optional<smime::EncryptedContent> ec;
    try {
        ec = smime::EncryptedContent::parse(fuzz::bytes(data, size));
    } catch (const smime::Error&) {
        ERR_clear_error();
        return 0;
    }
    if (!ec) {
        return 0;  // CMS, but not encrypted (signed-data, ...)
    }
    fuzz::require(ec->smime_type() == "enveloped-data" || ec->smime_type() == "authEnveloped-data",
                  "parse names the smime-type");
    fuzz::require(!ec->cipher().empty(), "parse names the cipher");
    bool tried = false;
    for (const auto& k : fuzz::keys()) {
        if (!ec->addressed_to(k.cert.get()) && tried) {
            continue;  // one key that is not addressed is enough for the NotAddressed path
        }
        tried = true;
        const smime::DecryptResult r = ec->decrypt(k.cert.get(), k.key.get());
        fuzz::require(r.status == smime::DecryptStatus::Decrypted || r.entity.empty(),
                      "only a decrypted result has an entity");
        if (r.status == smime::DecryptStatus::Decrypted) {
            check_entity(r.entity);
        }
        ERR_clear_error();
    }
    return 0;
}
