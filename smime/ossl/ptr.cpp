#include "smime/ossl/ptr.h"

#include "smime/error.h"

#include <openssl/err.h>
#include <openssl/provider.h>

#include <climits>
#include <mutex>

namespace segel::smime::ossl {

X509Stack make_stack(const std::vector<Ptr<X509>>& certs) {
    X509Stack stack(sk_X509_new_null());
    check(stack != nullptr, "sk_X509_new_null");
    for (const auto& cert : certs) {
        X509_up_ref(cert.get());
        if (sk_X509_push(stack.get(), cert.get()) <= 0) {
            X509_free(cert.get());
            check(false, "sk_X509_push");
        }
    }
    return stack;
}

void free_recipient_info(CMS_RecipientInfo* ri) noexcept {
    if (ri == nullptr) {
        return;
    }
    // Freed with the structure it is pushed into; should even that fail (no memory),
    // it is leaked rather than freed with a function made for another type.
    CMS_ContentInfo* bin = CMS_EnvelopedData_create(EVP_aes_128_cbc());
    STACK_OF(CMS_RecipientInfo)* ris = bin != nullptr ? CMS_get0_RecipientInfos(bin) : nullptr;
    if (ris != nullptr) {
        sk_CMS_RecipientInfo_push(ris, ri);
    }
    CMS_ContentInfo_free(bin);
    ERR_clear_error();
}

std::string drain_errors(const std::string& what) {
    std::string out = what;
    bool first = true;
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        out += first ? ": " : "; ";
        const char* reason = ERR_reason_error_string(code);
        out += reason != nullptr ? reason : buf;
        first = false;
    }
    return out;
}

void check(bool ok, const char* what) {
    if (!ok) {
        throw Error(Category::Crypto, drain_errors(what));
    }
}

void init_providers() {
    // The providers stay loaded for the life of the process, and their handles are kept
    // for it too: dropped, the legacy provider's own library context (and what it caches)
    // was reachable from nothing at exit, and LeakSanitizer reported it as leaked in every
    // program that also links GObject (docs/fuzzing.md, "Sanitizers"). volatile: stores
    // that nothing reads may otherwise be optimised away.
    [[maybe_unused]] static OSSL_PROVIDER* volatile providers[2] = {};
    static std::once_flag once;
    std::call_once(once, [] {
        // Loading "legacy" explicitly disables the implicit default, so load both.
        // PKCS#12 files from Windows and older tools use RC2/3DES (ENVIRONMENT.md).
        providers[0] = OSSL_PROVIDER_load(nullptr, "default");
        providers[1] = OSSL_PROVIDER_load(nullptr, "legacy");
        ERR_clear_error();
    });
}

Ptr<BIO> mem_bio(const void* data, std::size_t len) {
    if (len > static_cast<std::size_t>(INT_MAX)) {
        throw Error(Category::Io, "buffer too large for a memory BIO");
    }
    auto bio = adopt(BIO_new_mem_buf(data, static_cast<int>(len)));
    check(bio != nullptr, "BIO_new_mem_buf");
    return bio;
}

std::string bio_to_string(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string hex(const unsigned char* data, std::size_t len) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (std::size_t i = 0; i < len; ++i) {
        out += k_hex[data[i] >> 4U];
        out += k_hex[data[i] & 15U];
    }
    return out;
}

std::string sha256_hex(std::string_view bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    check(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) == 1, "SHA-256");
    return hex(md, len);
}

std::string fingerprint_sha256(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1) {
        ERR_clear_error();
        return "";
    }
    return hex(md, len);
}

}  // namespace segel::smime::ossl
