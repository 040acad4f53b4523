// fuzz_cms_load: smime::load_cms (SignedData certificates from a per-process cache) against
// a plain d2i_CMS. Input: DER or BER bytes.
//
// Properties (cms_load.h): load_cms accepts nothing d2i_CMS rejects and rejects nothing it
// accepts; what it accepts re-encodes to the same DER with the same certificates, on the
// first decode and on a second one that takes the certificates from the cache.
#include "smime/cms_load.h"
#include "fuzz/support/fuzz.h"

#include <openssl/err.h>

namespace {

std::string i2d(CMS_ContentInfo* cms) {
    unsigned char* der = nullptr;
    const int n = i2d_CMS_ContentInfo(cms, &der);
    std::string s = n > 0 ? std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)) : "";
    OPENSSL_free(der);
    ERR_clear_error();
    return s;
}

int certificate_count(CMS_ContentInfo* cms) {
    STACK_OF(X509)* certs = CMS_get1_certs(cms);
    const int n = certs != nullptr ? sk_X509_num(certs) : 0;
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    segel::smime::ossl::init_providers();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    using fuzz::require;
    const std::string_view der = fuzz::bytes(data, size);
    auto bio = smime::ossl::mem_bio(der.data(), der.size());
    const smime::ossl::Ptr<CMS_ContentInfo> plain(d2i_CMS_bio(bio.get(), nullptr));
    ERR_clear_error();
    const auto first = smime::load_cms(der);
    const auto again = smime::load_cms(der);  // the certificates now come from the cache
    ERR_clear_error();
    require(static_cast<bool>(first) == static_cast<bool>(plain), "load_cms accepts exactly what d2i_CMS accepts");
    require(static_cast<bool>(again) == static_cast<bool>(plain), "load_cms (cached) accepts what d2i_CMS accepts");
    if (!plain) {
        return 0;
    }
    const std::string reference = i2d(plain.get());
    require(i2d(first.get()) == reference, "load_cms re-encodes to the bytes d2i_CMS's structure does");
    require(i2d(again.get()) == reference, "load_cms (cached) re-encodes to the same bytes");
    const int certs = certificate_count(plain.get());
    require(certificate_count(first.get()) == certs, "load_cms keeps every certificate");
    require(certificate_count(again.get()) == certs, "load_cms (cached) keeps every certificate");
    return 0;
}
