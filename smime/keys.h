#pragma once
// Where a private key lives, behind one small interface (R8): a key file read
// into memory when the configuration is loaded, or a key inside a PKCS#11
// token or HSM, named by an RFC 7512 URI, which never leaves the token.
//
// CMS signing and decryption ask a KeySource for a KeyUse per operation and
// never learn which kind of key it is, so another backend (an OpenSSL 3
// provider such as pkcs11-provider, once Debian ships it) can replace the
// token code here without touching them.
#include "smime/error.h"
#include "smime/ossl/ptr.h"

#include <memory>
#include <shared_mutex>
#include <string>

namespace segel::smime {

class KeySource;

/**
 * One use of a private key, for the length of one CMS operation. While it
 * lasts, the token behind it is not reconnected, so the EVP_PKEY stays valid.
 * A thread must not hold two KeyUses of one token at once.
 */
class KeyUse {
public:
    KeyUse(EVP_PKEY* key, std::shared_lock<std::shared_mutex> hold, const KeySource* source) noexcept
        : m_key(key), m_hold(std::move(hold)), m_source(source) {}
    KeyUse(KeyUse&&) noexcept = default;
    KeyUse& operator=(KeyUse&&) noexcept = default;
    KeyUse(const KeyUse&) = delete;
    KeyUse& operator=(const KeyUse&) = delete;
    ~KeyUse() = default;

    [[nodiscard]] EVP_PKEY* get() const noexcept { return m_key; }

    /**
     * Reports that a private-key operation with this key failed, and gives the
     * error to throw, with OpenSSL's drained error queue in its text. For a key
     * in a token: Error{Unavailable} (the token was removed, refused or closed
     * the session), and the token is reconnected before its next use, so
     * signing recovers by itself when it is back. For a key in memory:
     * Error{Crypto}. Ends this use.
     */
    [[nodiscard]] Error failed(const std::string& what);

private:
    EVP_PKEY* m_key = nullptr;
    std::shared_lock<std::shared_mutex> m_hold;  ///< empty for a key in memory
    const KeySource* m_source = nullptr;
};

/** A private key, wherever it lives. Shared by every message of a configuration snapshot; thread-safe. */
class KeySource {
public:
    KeySource() = default;
    KeySource(const KeySource&) = delete;
    KeySource& operator=(const KeySource&) = delete;
    virtual ~KeySource() = default;

    /**
     * The key for one operation.
     * @throws Error{Unavailable} when its token cannot be reached or refuses now
     *         (each later use tries to reconnect)
     */
    [[nodiscard]] virtual KeyUse use() const = 0;
    /** Where the key is, for logs and explain: "/etc/segel/keys/siti.p12", "pkcs11:token=segel;object=siti". */
    [[nodiscard]] virtual std::string describe() const = 0;
    /** True when the key is inside a token or HSM (it never leaves it). */
    [[nodiscard]] virtual bool in_token() const = 0;

protected:
    friend class KeyUse;
    /** Called by KeyUse::failed (the use has ended); returns the error to throw. */
    [[nodiscard]] virtual Error on_failure(const std::string& what) const = 0;
};

/** A key already in memory (from a PEM or PKCS#12 file); @p where names the file. */
std::shared_ptr<const KeySource> key_in_memory(ossl::Ptr<EVP_PKEY> key, std::string where);

/** What the configuration says about a key in a token. */
struct TokenKeyRef {
    std::string uri;       ///< RFC 7512, e.g. pkcs11:token=segel;object=siti (no PIN in it)
    std::string module;    ///< the PKCS#11 module: a vendor library, or p11-kit-client.so
    std::string pin_file;  ///< the user PIN, mode 600 (one trailing newline ignored); empty: no login
};

/** A key opened in a token, with the certificate it belongs to. */
struct TokenKey {
    std::shared_ptr<const KeySource> key;
    ossl::Ptr<X509> certificate;  ///< the certificate given, or the one found in the token next to the key
};

/**
 * Opens the private key @p ref names: loads the module (once per process and
 * module path; every key of that module shares it), finds exactly one token
 * and one private key matching the URI, and logs in with the PIN read from
 * the pin file (refused when group or others may read it; wiped after use).
 * A PIN the token refused is not tried again until the pin file changes: a
 * token locks itself after a few wrong PINs.
 *
 * The key is proven to belong to @p certificate (or, when it is null, to a
 * certificate object in the token with the key's label or id) by signing a
 * probe and verifying it with the certificate's public key; the proof is
 * repeated whenever the token is reconnected, so a key swapped in the token
 * never signs under the old certificate.
 * @throws Error{Credential} for everything that stops the key from being used,
 *         naming the URI, module or file and the fix (bad URI, module not
 *         loadable, no such token, key or certificate, several match, wrong or
 *         locked PIN, the key belongs to another certificate)
 */
TokenKey open_token_key(const TokenKeyRef& ref, X509* certificate = nullptr);

}  // namespace segel::smime
