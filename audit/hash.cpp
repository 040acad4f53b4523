#include "audit/hash.h"

#include "audit/error.h"

#include <openssl/evp.h>

#include <algorithm>

namespace segel::audit {

namespace {

/**
 * One digest context per thread, with SHA-256 fetched once: a verify pass
 * hashes ten million events, and a context allocated and an algorithm looked
 * up per hash would cost more than the hashing of a 400-byte event.
 */
class Sha256 {
public:
    Sha256() : m_md(EVP_MD_fetch(nullptr, "SHA256", nullptr)), m_ctx(EVP_MD_CTX_new()) {}
    ~Sha256() {
        EVP_MD_CTX_free(m_ctx);
        EVP_MD_free(m_md);
    }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    Hash digest(std::string_view a, std::string_view b) {
        Hash h{};
        unsigned int len = 0;
        if (m_md == nullptr || m_ctx == nullptr || EVP_DigestInit_ex(m_ctx, m_md, nullptr) != 1 ||
            EVP_DigestUpdate(m_ctx, a.data(), a.size()) != 1 || EVP_DigestUpdate(m_ctx, b.data(), b.size()) != 1 ||
            EVP_DigestFinal_ex(m_ctx, h.data(), &len) != 1) {
            throw Error(Category::Internal, "SHA-256 failed (OpenSSL)");
        }
        return h;
    }

private:
    EVP_MD* m_md;
    EVP_MD_CTX* m_ctx;
};

Sha256& hasher() {
    thread_local Sha256 h;
    return h;
}

}  // namespace

Hash sha256(std::string_view data) {
    return hasher().digest(data, {});
}

Hash sha256(std::string_view a, std::string_view b) {
    return hasher().digest(a, b);
}

std::string to_hex(std::string_view bytes) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += k_digits[u >> 4U];
        out += k_digits[u & 0xFU];
    }
    return out;
}

std::string to_hex(const Hash& h) {
    return to_hex(as_bytes(h));
}

bool from_hex(std::string_view text, Hash& out) {
    if (text.size() != 64) {
        return false;
    }
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = digit(text[2 * i]);
        const int lo = digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return true;
}

bool is_zero(const Hash& h) {
    return std::all_of(h.begin(), h.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace segel::audit
