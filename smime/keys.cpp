#include "smime/keys.h"

#include "smime/certificate.h"
#include "smime/pkcs11_uri.h"

#include <libp11.h>
#include <openssl/err.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

// PKCS#11 goes through libp11 (the library under Debian's libengine-pkcs11-openssl)
// rather than through its ENGINE: the engine caches each key with a functional
// reference to itself, so ENGINE_finish never reaches C_Finalize, and it keeps
// its slot list and session pool for the life of the process; a token that went
// away can then never be used again without a restart (tried with SoftHSM2 and
// p11-kit-client). Here the module context is ours: it is torn down and made
// again when a key operation fails, which is what recovery needs.

namespace segel::smime {

namespace {

// PKCS#11 v2.40 §11.1 return values this code explains (pkcs11t.h).
constexpr int k_ckr_pin_incorrect = 0xA0;
constexpr int k_ckr_pin_len_range = 0xA2;
constexpr int k_ckr_pin_expired = 0xA3;
constexpr int k_ckr_pin_locked = 0xA4;

/** The CKR_* values libp11 put on the error queue, oldest first; drains the queue. */
std::vector<int> ckr_codes() {
    std::vector<int> out;
    const int lib = ERR_get_CKR_code();
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        if (ERR_GET_LIB(code) == lib) {
            out.push_back(ERR_GET_REASON(code));
        }
    }
    return out;
}

std::string ckr_text(int ckr) {
    switch (ckr) {
        case k_ckr_pin_incorrect:
            return "wrong PIN (CKR_PIN_INCORRECT)";
        case k_ckr_pin_len_range:
            return "the PIN has the wrong length (CKR_PIN_LEN_RANGE)";
        case k_ckr_pin_expired:
            return "the PIN has expired and must be changed (CKR_PIN_EXPIRED)";
        case k_ckr_pin_locked:
            return "the user PIN is locked (CKR_PIN_LOCKED): the token's security officer must unlock it";
        default: {
            const char* reason = ERR_reason_error_string(ERR_PACK(ERR_get_CKR_code(), 0, ckr));
            char hex[16];
            std::snprintf(hex, sizeof hex, "0x%X", static_cast<unsigned>(ckr));
            return std::string(reason != nullptr ? reason : "PKCS#11 error") + " (CKR " + hex + ")";
        }
    }
}

/** Drains the error queue into "what: reason; reason", naming PKCS#11 return values. */
std::string token_errors(const std::string& what) {
    const auto codes = ckr_codes();
    std::string out = what;
    for (std::size_t i = 0; i < codes.size(); ++i) {
        out += (i == 0 ? ": " : "; ") + ckr_text(codes[i]);
    }
    ERR_clear_error();
    return out;
}

std::string read_pin(const std::string& file) {
    require_private_file(file, "PIN file");
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(Category::Credential, "cannot read PIN file " + file + ": " + std::strerror(errno));
    }
    std::string pin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!pin.empty() && pin.back() == '\n') {
        pin.pop_back();
        if (!pin.empty() && pin.back() == '\r') {
            pin.pop_back();
        }
    }
    if (pin.empty()) {
        throw Error(Category::Credential, "PIN file " + file + " is empty");
    }
    return pin;
}

void wipe(std::string& s) {
    OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

/** What identifies one version of a file: a PIN the token refused is not tried again until it changes. */
struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    time_t mtime = 0;
    long mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> stamp_of(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}

/**
 * PIN files whose content a token refused, with the version refused: kept for
 * the life of the process (a failed load or reload frees the module), so a
 * wrong PIN costs the token one failed login, not one per message or reload.
 */
class RefusedPins {
public:
    bool refused(const std::string& file, const std::optional<FileStamp>& stamp) {
        std::lock_guard lock(m_mutex);
        const auto it = m_files.find(file);
        return it != m_files.end() && stamp && *stamp == it->second;
    }
    void remember(const std::string& file, const FileStamp& stamp) {
        std::lock_guard lock(m_mutex);
        m_files[file] = stamp;
    }
    void forget(const std::string& file) {
        std::lock_guard lock(m_mutex);
        m_files.erase(file);
    }
    static RefusedPins& instance() {
        static RefusedPins pins;
        return pins;
    }

private:
    std::mutex m_mutex;
    std::map<std::string, FileStamp> m_files;
};

/** Signs a probe with @p key and verifies it with @p pub: the key is the certificate's. */
bool signs_for(EVP_PKEY* key, EVP_PKEY* pub) {
    static constexpr unsigned char k_probe[] = "segel: does this key belong to this certificate?";
    auto md = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
        return false;
    }
    std::size_t len = 0;
    if (EVP_DigestSign(md.get(), nullptr, &len, k_probe, sizeof k_probe) != 1) {
        return false;
    }
    std::vector<unsigned char> sig(len);
    if (EVP_DigestSign(md.get(), sig.data(), &len, k_probe, sizeof k_probe) != 1) {
        return false;
    }
    auto vmd = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    return vmd && EVP_DigestVerifyInit(vmd.get(), nullptr, EVP_sha256(), nullptr, pub) == 1 &&
           EVP_DigestVerify(vmd.get(), sig.data(), len, k_probe, sizeof k_probe) == 1;
}

class InMemoryKey final : public KeySource {
public:
    InMemoryKey(ossl::Ptr<EVP_PKEY> key, std::string where) : m_key(std::move(key)), m_where(std::move(where)) {}
    [[nodiscard]] KeyUse use() const override { return KeyUse(m_key.get(), {}, this); }
    [[nodiscard]] std::string describe() const override { return m_where; }
    [[nodiscard]] bool in_token() const override { return false; }

protected:
    [[nodiscard]] Error on_failure(const std::string& what) const override {
        return Error(Category::Crypto, ossl::drain_errors(what));
    }

private:
    ossl::Ptr<EVP_PKEY> m_key;
    std::string m_where;
};

class TokenKeySource;

/**
 * One PKCS#11 module in this process, shared by every key that names it (a
 * module has one global state: a second C_Initialize shares it and any
 * C_Finalize ends it for all). Keys are used under a shared lock; when an
 * operation fails, the next use tears the module down (C_Finalize) and loads
 * it again under the exclusive lock, then logs in and finds the keys anew.
 */
class Module {
public:
    explicit Module(std::string path) : m_path(std::move(path)) {}
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    ~Module() {
        std::unique_lock lock(m_mutex);
        teardown_locked();
    }

    /** The module for @p path, loaded once per process while anything uses it. */
    static std::shared_ptr<Module> get(const std::string& path) {
        static std::mutex registry_mutex;
        static std::map<std::string, std::weak_ptr<Module>> registry;
        std::lock_guard lock(registry_mutex);
        if (auto m = registry[path].lock()) {
            return m;
        }
        auto m = std::make_shared<Module>(path);
        registry[path] = m;
        return m;
    }

    [[nodiscard]] const std::string& path() const { return m_path; }

    /** First load of a key (configuration load): errors are configuration errors. */
    ossl::Ptr<X509> open(const TokenKeySource& src, X509* certificate);
    KeyUse use(const TokenKeySource& src);
    void mark_broken(const std::string& why) {
        {
            std::lock_guard lock(m_why_mutex);
            m_broken_why = why;
        }
        m_broken = true;
    }
    /** A source goes away (its configuration snapshot was replaced): its key is freed under the lock. */
    void forget(const TokenKeySource* src) {
        std::unique_lock lock(m_mutex);
        m_keys.erase(src);
    }

private:
    struct Found {
        PKCS11_SLOT* slot = nullptr;
        PKCS11_KEY* key = nullptr;
    };
    void init_locked();
    void teardown_locked() noexcept;
    Found find_locked(const TokenKeySource& src);
    void login_locked(PKCS11_SLOT* slot, const TokenKeySource& src);
    ossl::Ptr<X509> certificate_locked(PKCS11_SLOT* slot, const TokenKeySource& src, EVP_PKEY* key);
    /** Loads the key of @p src (module, token, login, key, proof); throws with the reason. */
    void load_locked(const TokenKeySource& src, X509* certificate, ossl::Ptr<X509>* found_cert);

    std::string m_path;
    std::shared_mutex m_mutex;  ///< shared: a key in use; exclusive: (re)connect, load, forget
    std::atomic<bool> m_broken{true};
    std::atomic<bool> m_repairing{false};
    std::mutex m_why_mutex;
    std::string m_broken_why = "not loaded yet";
    PKCS11_CTX* m_ctx = nullptr;
    bool m_loaded = false;
    PKCS11_SLOT* m_slots = nullptr;
    unsigned int m_slot_count = 0;
    std::map<const TokenKeySource*, ossl::Ptr<EVP_PKEY>> m_keys;
};

class TokenKeySource final : public KeySource {
public:
    TokenKeySource(std::shared_ptr<Module> module, Pkcs11Uri uri, std::string pin_file)
        : m_module(std::move(module)), m_uri(std::move(uri)), m_pin_file(std::move(pin_file)) {}
    ~TokenKeySource() override { m_module->forget(this); }

    [[nodiscard]] KeyUse use() const override { return m_module->use(*this); }
    [[nodiscard]] std::string describe() const override { return m_uri.text; }
    [[nodiscard]] bool in_token() const override { return true; }

    [[nodiscard]] const Pkcs11Uri& uri() const { return m_uri; }
    [[nodiscard]] const std::string& pin_file() const { return m_pin_file; }
    [[nodiscard]] const std::string& module_path() const { return m_module->path(); }
    /** The certificate's public key the token key must match (set once at open, under the module lock). */
    mutable ossl::Ptr<EVP_PKEY> expected_public;
    [[nodiscard]] Module& module() const { return *m_module; }

protected:
    [[nodiscard]] Error on_failure(const std::string& what) const override {
        const std::string why =
            token_errors(what + " with the key " + m_uri.text + " (module " + m_module->path() + ")");
        m_module->mark_broken(why);
        return Error(Category::Unavailable, why + "; the token is reconnected at the next message");
    }

private:
    std::shared_ptr<Module> m_module;
    Pkcs11Uri m_uri;
    std::string m_pin_file;
};

void Module::teardown_locked() noexcept {
    m_keys.clear();  // every EVP_PKEY points into the slots freed below
    if (m_ctx != nullptr) {
        if (m_slots != nullptr) {
            PKCS11_release_all_slots(m_ctx, m_slots, m_slot_count);
        }
        if (m_loaded) {
            PKCS11_CTX_unload(m_ctx);  // C_Finalize: ends every session and login
        }
        PKCS11_CTX_free(m_ctx);
    }
    m_ctx = nullptr;
    m_slots = nullptr;
    m_slot_count = 0;
    m_loaded = false;
    ERR_clear_error();
}

void Module::init_locked() {
    teardown_locked();
    m_ctx = PKCS11_CTX_new();
    if (m_ctx == nullptr) {
        throw Error(Category::Internal, "PKCS11_CTX_new failed");
    }
    if (PKCS11_CTX_load(m_ctx, m_path.c_str()) != 0) {
        // A module that loads but fails C_Initialize (SoftHSM without its token directory,
        // p11-kit-client without its server) says so here.
        const std::string why = token_errors("cannot load or initialise PKCS#11 module " + m_path);
        PKCS11_CTX_free(m_ctx);
        m_ctx = nullptr;
        throw Error(Category::Unavailable, why);
    }
    m_loaded = true;
    if (PKCS11_enumerate_slots(m_ctx, &m_slots, &m_slot_count) != 0) {
        const std::string why = token_errors("PKCS#11 module " + m_path + ": cannot list its slots");
        teardown_locked();
        throw Error(Category::Unavailable, why);
    }
    ERR_clear_error();  // modules leave noise (SoftHSM looks for an "rdrand" engine)
}

namespace {

bool matches(const std::optional<std::string>& want, const char* have) {
    return !want || (have != nullptr && *want == have);
}

std::string quoted_or_none(const char* s) {
    return s != nullptr && *s != '\0' ? "\"" + std::string(s) + "\"" : "(no label)";
}

std::string hex_id(const unsigned char* id, std::size_t len) {
    std::string out;
    for (std::size_t i = 0; i < len; ++i) {
        char b[4];
        std::snprintf(b, sizeof b, "%%%02X", id[i]);
        out += b;
    }
    return out.empty() ? "(none)" : out;
}

bool key_matches(const Pkcs11Uri& u, const unsigned char* id, std::size_t id_len, const char* label) {
    if (u.object && (label == nullptr || *u.object != label)) {
        return false;
    }
    if (u.id && std::string(reinterpret_cast<const char*>(id), id_len) != *u.id) {
        return false;
    }
    return true;
}

}  // namespace

Module::Found Module::find_locked(const TokenKeySource& src) {
    const Pkcs11Uri& u = src.uri();
    Found f;
    for (int pass = 0; pass < 2 && f.slot == nullptr; ++pass) {
        if (pass == 1) {
            // A token may have been inserted since the slots were listed (a reload names it):
            // list them again by loading the module again. (PKCS11_update_slots of libp11
            // 0.4.12 reads past its slot array when a module has more than one slot.)
            init_locked();
        }
        std::vector<PKCS11_SLOT*> hits;
        for (unsigned int i = 0; i < m_slot_count; ++i) {
            PKCS11_SLOT* slot = &m_slots[i];
            const PKCS11_TOKEN* t = slot->token;
            if (t == nullptr || !t->initialized) {
                continue;
            }
            if (matches(u.token, t->label) && matches(u.manufacturer, t->manufacturer) && matches(u.model, t->model) &&
                matches(u.serial, t->serialnr) && (!u.slot_id || *u.slot_id == PKCS11_get_slotid_from_slot(slot))) {
                hits.push_back(slot);
            }
        }
        if (hits.size() > 1) {
            throw Error(Category::Credential, src.describe() + ": " + std::to_string(hits.size()) +
                                                  " tokens of module " + m_path +
                                                  " match; add serial=… to the URI so only one does");
        }
        if (!hits.empty()) {
            f.slot = hits.front();
        }
    }
    if (f.slot == nullptr) {
        std::string present;
        for (unsigned int i = 0; i < m_slot_count; ++i) {
            if (m_slots[i].token != nullptr && m_slots[i].token->initialized) {
                present += (present.empty() ? "" : ", ") + quoted_or_none(m_slots[i].token->label);
            }
        }
        throw Error(Category::Unavailable, src.describe() + ": no such token in module " + m_path +
                                               " (tokens present: " + (present.empty() ? "none" : present) + ")");
    }
    PKCS11_TOKEN* token = f.slot->token;
    login_locked(f.slot, src);
    PKCS11_KEY* keys = nullptr;
    unsigned int count = 0;
    if (PKCS11_enumerate_keys(token, &keys, &count) != 0) {
        throw Error(Category::Unavailable,
                    token_errors(src.describe() + ": cannot list the keys of token " + quoted_or_none(token->label)));
    }
    std::vector<PKCS11_KEY*> hits;
    std::string present;
    for (unsigned int i = 0; i < count; ++i) {
        present +=
            (present.empty() ? "" : ", ") + quoted_or_none(keys[i].label) + " id=" + hex_id(keys[i].id, keys[i].id_len);
        if (key_matches(src.uri(), keys[i].id, keys[i].id_len, keys[i].label)) {
            hits.push_back(&keys[i]);
        }
    }
    if (hits.empty()) {
        throw Error(Category::Unavailable, src.describe() + ": no such private key in token " +
                                               quoted_or_none(token->label) +
                                               " (private keys: " + (present.empty() ? "none" : present) + ")");
    }
    if (hits.size() > 1) {
        throw Error(Category::Credential, src.describe() + ": " + std::to_string(hits.size()) +
                                              " private keys match in token " + quoted_or_none(token->label) +
                                              "; add id=… to the URI (" + present + ")");
    }
    f.key = hits.front();
    return f;
}

void Module::login_locked(PKCS11_SLOT* slot, const TokenKeySource& src) {
    PKCS11_TOKEN* token = slot->token;
    const std::string name = "token " + quoted_or_none(token->label);
    if (token->userPinLocked) {
        throw Error(Category::Unavailable,
                    name +
                        ": the user PIN is locked; the token's security officer must unlock it (e.g. "
                        "pkcs11-tool --init-pin --login --login-type so)");
    }
    int logged_in = 0;
    if (!token->loginRequired || (PKCS11_is_logged_in(slot, 0, &logged_in) == 0 && logged_in != 0)) {
        return;
    }
    if (src.pin_file().empty()) {
        throw Error(Category::Credential, name + " requires a PIN: give the credential a pin_file (mode 600)");
    }
    const auto stamp = stamp_of(src.pin_file());
    RefusedPins& refused = RefusedPins::instance();
    if (refused.refused(src.pin_file(), stamp)) {
        throw Error(Category::Credential, name + " refused the PIN in " + src.pin_file() +
                                              " before; it is not tried again until that file changes (a token "
                                              "locks itself after a few wrong PINs)");
    }
    std::string pin = read_pin(src.pin_file());
    const int rc = PKCS11_login(slot, 0, pin.c_str());
    wipe(pin);
    if (rc != 0) {
        const auto codes = ckr_codes();
        ERR_clear_error();
        const int ckr = codes.empty() ? 0 : codes.back();
        if ((ckr == k_ckr_pin_incorrect || ckr == k_ckr_pin_len_range) && stamp) {
            refused.remember(src.pin_file(), *stamp);
        }
        throw Error(ckr == k_ckr_pin_locked ? Category::Unavailable : Category::Credential,
                    name + " refused the PIN in " + src.pin_file() + ": " +
                        (ckr != 0 ? ckr_text(ckr) : std::string("login failed")));
    }
    refused.forget(src.pin_file());
}

ossl::Ptr<X509> Module::certificate_locked(PKCS11_SLOT* slot, const TokenKeySource& src, EVP_PKEY* key) {
    PKCS11_CERT* certs = nullptr;
    unsigned int count = 0;
    if (PKCS11_enumerate_certs(slot->token, &certs, &count) != 0) {
        throw Error(Category::Credential, token_errors(src.describe() + ": cannot list the certificates of token " +
                                                       quoted_or_none(slot->token->label)));
    }
    for (unsigned int i = 0; i < count; ++i) {
        X509* x = certs[i].x509;
        if (x != nullptr && key_matches(src.uri(), certs[i].id, certs[i].id_len, certs[i].label) &&
            X509_get0_pubkey(x) != nullptr && signs_for(key, X509_get0_pubkey(x))) {
            return ossl::retain(x);
        }
    }
    ERR_clear_error();
    throw Error(Category::Credential, src.describe() + ": token " + quoted_or_none(slot->token->label) +
                                          " holds no certificate for this key (with its label/id); store it in the "
                                          "token or give the credential a certificate: file");
}

void Module::load_locked(const TokenKeySource& src, X509* certificate, ossl::Ptr<X509>* found_cert) {
    if (m_broken || m_ctx == nullptr) {
        init_locked();
        m_broken = false;
    }
    const Found f = find_locked(src);
    ossl::Ptr<EVP_PKEY> key = ossl::adopt(PKCS11_get_private_key(f.key));
    if (!key) {
        throw Error(Category::Unavailable, token_errors(src.describe() + ": cannot use the private key"));
    }
    if (found_cert != nullptr) {
        ossl::Ptr<X509> cert =
            certificate != nullptr ? ossl::retain(certificate) : certificate_locked(f.slot, src, key.get());
        src.expected_public = ossl::retain(X509_get0_pubkey(cert.get()));
        *found_cert = std::move(cert);
    }
    if (!src.expected_public || !signs_for(key.get(), src.expected_public.get())) {
        const std::string why = token_errors(src.describe() +
                                             ": the key in the token does not sign for the "
                                             "certificate it is configured with");
        throw Error(Category::Credential, why + " (a different key under this label/id, or the wrong certificate)");
    }
    m_keys[&src] = std::move(key);
}

ossl::Ptr<X509> Module::open(const TokenKeySource& src, X509* certificate) {
    std::unique_lock lock(m_mutex);
    ossl::Ptr<X509> cert;
    try {
        load_locked(src, certificate, &cert);
    } catch (const Error& e) {
        // At load every problem is the configuration's to fix: the milter refuses to start
        // (a running one keeps its old configuration).
        throw Error(Category::Credential, e.what());
    }
    return cert;
}

KeyUse Module::use(const TokenKeySource& src) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!m_broken) {
            std::shared_lock hold(m_mutex);
            if (!m_broken) {
                if (const auto it = m_keys.find(&src); it != m_keys.end()) {
                    return KeyUse(it->second.get(), std::move(hold), &src);
                }
            }
        }
        // Reconnect, or load a key a failure dropped. One thread does it; the others answer
        // "try again" at once rather than queue behind a token that may hang.
        if (m_repairing.exchange(true)) {
            std::lock_guard why_lock(m_why_mutex);
            throw Error(Category::Unavailable,
                        src.describe() + ": the token is being reconnected (" + m_broken_why + "); try again later");
        }
        struct Done {
            std::atomic<bool>& flag;
            ~Done() { flag = false; }
        } done{m_repairing};
        std::unique_lock lock(m_mutex);
        try {
            load_locked(src, nullptr, nullptr);
        } catch (const Error& e) {
            if (e.category() == Category::Internal) {
                throw;
            }
            mark_broken(e.what());
            throw Error(Category::Unavailable, std::string(e.what()) + "; tried again at the next message");
        }
    }
    throw Error(Category::Unavailable, src.describe() + ": the token keeps failing; try again later");
}

}  // namespace

Error KeyUse::failed(const std::string& what) {
    if (m_hold.owns_lock()) {
        m_hold.unlock();
    }
    const KeySource* source = m_source;
    m_key = nullptr;
    m_source = nullptr;
    if (source == nullptr) {
        return Error(Category::Internal, what + ": key already released");
    }
    return source->on_failure(what);
}

std::shared_ptr<const KeySource> key_in_memory(ossl::Ptr<EVP_PKEY> key, std::string where) {
    return std::make_shared<InMemoryKey>(std::move(key), std::move(where));
}

TokenKey open_token_key(const TokenKeyRef& ref, X509* certificate) {
    ossl::init_providers();
    Pkcs11Uri uri = parse_pkcs11_uri(ref.uri);
    if (ref.module.empty() || ref.module.front() != '/') {
        throw Error(Category::Credential, "PKCS#11 module \"" + ref.module +
                                              "\" must be an absolute path (e.g. /usr/lib/softhsm/libsofthsm2.so)");
    }
    if (::access(ref.module.c_str(), R_OK) != 0) {
        throw Error(Category::Credential,
                    "cannot read PKCS#11 module " + ref.module + ": " + std::strerror(errno) + " (install it?)");
    }
    if (!ref.pin_file.empty()) {
        require_private_file(ref.pin_file, "PIN file");
    }
    auto source = std::make_shared<TokenKeySource>(Module::get(ref.module), std::move(uri), ref.pin_file);
    TokenKey out;
    out.certificate = source->module().open(*source, certificate);
    out.key = std::move(source);
    return out;
}

}  // namespace segel::smime
