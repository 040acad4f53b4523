// segel-bench-limit: the physical limit segel is measured against. Does the
// cryptography of one path on the same message files with the same keys and
// the same number of threads through OpenSSL CMS directly: no milter, no MIME
// parsing or rewriting, no self-check; keys and certificates are loaded once
// before the clock starts. Prints one JSON object (throughput, latency, CPU per
// message). The paths (--path):
//   sign            CMS_sign (SHA-256, detached, signer certificate and chain) + i2d
//   sign+check      the same, then the signature over the signed attributes verified
//                   with the signer certificate's key (CMS_SignerInfo_verify): the
//                   cryptography of segel's self-check (issue 2), for the floors
//   sign+encrypt    the same signature, then CMS_encrypt of the message and that
//                   signature to --recipient certificates with --cipher, + i2d
//   decrypt+verify  CMS_decrypt of a DER EnvelopedData (--message) with the key, then
//                   CMS_verify (chain to --ca included) of the detached signature
//                   inside over the signed part (both located once, before the clock)
// Under valgrind --tool=callgrind the measured loop is bracketed by client
// requests (zero before, dump after), so a dump counts exactly its messages.
#include "bench/cms_floor.h"
#include "bench/common.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <sys/resource.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(what)
#endif

#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

namespace {

// The benchmark's own helpers (bench/common.h, bench/cms_floor.h): Clock, Signer, sign_cms, ...
using namespace segel::bench;  // NOLINT(google-build-using-namespace): a program's own namespace

/** The sign path: one detached signature, DER-encoded. */
std::size_t sign_once(const Signer& s, const std::string& message) {
    const CmsPtr cms = sign_cms(s, message);
    return mem_size(encode(cms.get()).get());
}

/** The sign+check path (bench/cms_floor.h sign_checked). */
std::size_t sign_check_once(const Signer& s, const std::string& message) {
    return mem_size(sign_checked(s, message).get());
}

/** Where the sign+encrypt path encrypts to, and with what. */
struct Encryption {
    StackPtr recipients{sk_X509_new_null()};
    const EVP_CIPHER* cipher = nullptr;
};

/**
 * The sign+encrypt path: the signature, then one EnvelopedData (AuthEnvelopedData
 * for GCM) of the message and its signature to every recipient, DER-encoded.
 */
std::size_t sign_encrypt_once(const Signer& s, const Encryption& e, const std::string& message) {
    const CmsPtr sig = sign_cms(s, message);
    const BioPtr sig_der = encode(sig.get());
    const char* der = nullptr;
    const std::size_t der_len = mem_size(sig_der.get(), &der);
    std::string plain;  // what the encrypted entity carries: the signed content and its signature
    plain.reserve(message.size() + der_len);
    plain.append(message).append(der, der_len);
    BioPtr in(BIO_new_mem_buf(plain.data(), static_cast<int>(plain.size())));
    CmsPtr env(CMS_encrypt(e.recipients.get(), in.get(), e.cipher, CMS_BINARY));
    if (!env) {
        fail("CMS_encrypt");
    }
    return mem_size(encode(env.get()).get());
}

/**
 * The decrypt+verify path's trust, where the signed part sits in the
 * plaintext, and the signature inside, decoded once per thread: OpenSSL 3.0
 * runs a full decoder search for the key of every certificate it decodes
 * (≈ 30 % of this path's instructions, not cryptography; segel decodes each
 * certificate once per process, docs/performance.md fix 16), so the limit
 * decodes the signature before the clock starts and verifies it per message.
 */
struct Decryption {
    std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>> store{X509_STORE_new()};
    std::size_t content_at = 0, content_len = 0;      ///< the signed part
    std::size_t signature_at = 0, signature_len = 0;  ///< the base64 of the signature part
    std::vector<CmsPtr> signatures;                   ///< one per thread (CMS_verify changes the structure)
};

std::string decode_base64(const char* text, std::size_t len) {
    std::unique_ptr<EVP_ENCODE_CTX, Free<EVP_ENCODE_CTX, EVP_ENCODE_CTX_free>> ctx(EVP_ENCODE_CTX_new());
    std::string out(len / 4 * 3 + 3, '\0');
    int n = 0;
    int tail = 0;
    EVP_DecodeInit(ctx.get());
    if (EVP_DecodeUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                         reinterpret_cast<const unsigned char*>(text), static_cast<int>(len)) < 0 ||
        EVP_DecodeFinal(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &tail) != 1) {
        fail("the signature part is not base64");
    }
    out.resize(static_cast<std::size_t>(n + tail));
    return out;
}

/** CMS_decrypt of @p der with the recipient's key; the plaintext stays in the returned BIO. */
BioPtr decrypt(const Signer& s, const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    CmsPtr env(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
    if (!env) {
        fail("d2i_CMS_ContentInfo (the encrypted message)");
    }
    BioPtr out(BIO_new(BIO_s_mem()));
    if (CMS_decrypt(env.get(), s.key.get(), s.cert.get(), nullptr, out.get(), CMS_BINARY) != 1) {
        fail("CMS_decrypt");
    }
    return out;
}

/** The signature part of the plaintext @p text, decoded. */
CmsPtr decode_signature(const Decryption& d, const char* text) {
    const std::string der = decode_base64(text + d.signature_at, d.signature_len);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    CmsPtr sig(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) {
        fail("d2i_CMS_ContentInfo (the signature)");
    }
    return sig;
}

/** CMS_verify (signer chain to the trust anchor, signature, digest) of @p sig over the signed part of @p text. */
bool verify_inside(const Decryption& d, CMS_ContentInfo* sig, const char* text) {
    BioPtr content(BIO_new_mem_buf(text + d.content_at, static_cast<int>(d.content_len)));
    return CMS_verify(sig, nullptr, d.store.get(), content.get(), nullptr, CMS_BINARY) == 1;
}

/** The decrypt+verify path: decrypt, then verify the signature inside over the decrypted signed part. */
std::size_t decrypt_verify_once(const Signer& s, const Decryption& d, int worker, const std::string& der) {
    const BioPtr plain = decrypt(s, der);
    const char* text = nullptr;
    const std::size_t n = mem_size(plain.get(), &text);
    if (d.content_at + d.content_len > n ||
        !verify_inside(d, d.signatures[static_cast<std::size_t>(worker)].get(), text)) {
        fail("CMS_verify");
    }
    return n;
}

/**
 * Finds, once and untimed, the signed part and the signature inside the
 * plaintext of @p der: a multipart/signed entity (RFC 8551 §3.5) as
 * `openssl cms -sign` writes it. The body parts lie between the boundary
 * delimiters; the line break before a delimiter belongs to it (RFC 2046 §5.1.1).
 */
void locate_signature(const Signer& s, Decryption& d, const std::string& der, int threads) {
    const BioPtr plain = decrypt(s, der);
    const char* data = nullptr;
    const std::string text(data, mem_size(plain.get(), &data));
    const std::string_view t(data, text.size());
    const auto key = t.find("boundary=");
    if (key == std::string_view::npos) {
        throw std::runtime_error("the decrypted message is not multipart/signed (no boundary)");
    }
    std::size_t b = key + 9;
    const bool quoted = b < t.size() && t[b] == '"';
    b += quoted ? 1 : 0;
    const std::size_t e = t.find_first_of(quoted ? "\"" : "; \r\n", b);
    const std::string delimiter = "--" + std::string(t.substr(b, e - b));
    const auto line_after = [&](std::size_t at) {
        const auto nl = t.find('\n', at);
        if (nl == std::string_view::npos) {
            throw std::runtime_error("the decrypted multipart/signed entity ends early");
        }
        return nl + 1;
    };
    const auto break_before = [&](std::size_t at) { return at >= 2 && t[at - 2] == '\r' ? at - 2 : at - 1; };
    const auto first = t.find("\n" + delimiter, e);
    if (first == std::string_view::npos) {
        throw std::runtime_error("the decrypted multipart/signed entity has no body part");
    }
    d.content_at = line_after(first + 1);
    const auto second = t.find("\n" + delimiter, d.content_at - 1);
    if (second == std::string_view::npos) {
        throw std::runtime_error("the decrypted multipart/signed entity has no signature part");
    }
    d.content_len = break_before(second + 1) - d.content_at;
    std::size_t at = line_after(second + 1);
    while (at < t.size() && t[at] != '\r' && t[at] != '\n') {  // the signature part's fields
        at = line_after(at);
    }
    d.signature_at = line_after(at);
    const auto third = t.find("\n" + delimiter, d.signature_at - 1);
    if (third == std::string_view::npos) {
        throw std::runtime_error("the decrypted multipart/signed entity is not closed");
    }
    d.signature_len = break_before(third + 1) - d.signature_at;
    for (int i = 0; i < threads; ++i) {
        d.signatures.push_back(decode_signature(d, data));
    }
    if (!verify_inside(d, d.signatures.front().get(), data)) {
        fail("the signature located in the decrypted message does not verify (CMS_verify)");
    }
}

X509Ptr read_certificate(const std::string& path) {
    BioPtr b(BIO_new_file(path.c_str(), "r"));
    X509Ptr c(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!c) {
        fail("no certificate in " + path);
    }
    return c;
}

segel::bench::CpuTimes cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return {seconds(ru.ru_utime), seconds(ru.ru_stime)};
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::string p12, pass, cert, key, label, path = "sign", cipher = "aes-256-cbc", ca;
        std::vector<std::string> files, recipients;
        long count = 100;
        double seconds = 0;
        int threads = 1;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) {
                    throw std::runtime_error(a + " needs a value");
                }
                return argv[++i];
            };
            if (a == "--p12") {
                p12 = value();
            } else if (a == "--pass") {
                pass = value();
            } else if (a == "--cert") {
                cert = value();
            } else if (a == "--key") {
                key = value();
            } else if (a == "--message") {
                files.push_back(value());
            } else if (a == "--count") {
                count = std::stol(value());
            } else if (a == "--seconds") {
                seconds = std::stod(value());
            } else if (a == "--threads" || a == "--concurrency") {
                threads = std::stoi(value());
            } else if (a == "--label") {
                label = value();
            } else if (a == "--path") {
                path = value();
            } else if (a == "--recipient") {
                recipients.push_back(value());
            } else if (a == "--cipher") {
                cipher = value();
            } else if (a == "--ca") {
                ca = value();
            } else {
                throw std::runtime_error("unknown argument " + a);
            }
        }
        const bool known_path = path == "sign" || path == "sign+check" ||
                                (path == "sign+encrypt" && !recipients.empty()) ||
                                (path == "decrypt+verify" && !ca.empty());
        if (files.empty() || (p12.empty() && (cert.empty() || key.empty())) || threads < 1 || !known_path) {
            std::cerr << "usage: segel-bench-limit (--p12 FILE --pass FILE | --cert PEM --key PEM) --message FILE...\n"
                         "         [--path sign | sign+check | sign+encrypt --recipient PEM... [--cipher NAME]\n"
                         "                      | decrypt+verify --ca PEM (--message: DER EnvelopedData)]\n"
                         "         [--count N] [--seconds S] [--threads T] [--label TEXT]\n";
            return 64;
        }
        // The key is the signer's (sign, sign+encrypt) or the recipient's (decrypt+verify).
        const Signer signer = p12.empty() ? load_pem(cert, key) : load_pkcs12(p12, pass);
        std::vector<std::string> messages;
        for (const auto& f : files) {
            messages.push_back(segel::bench::read_file(f));
        }
        Encryption encryption;
        Decryption decryption;
        std::function<std::size_t(int, const std::string&)> once = [&](int, const std::string& m) {
            return sign_once(signer, m);
        };
        if (path == "sign+check") {
            once = [&](int, const std::string& m) { return sign_check_once(signer, m); };
        } else if (path == "sign+encrypt") {
            for (const auto& r : recipients) {
                sk_X509_push(encryption.recipients.get(), read_certificate(r).release());
            }
            encryption.cipher = EVP_get_cipherbyname(cipher.c_str());
            if (encryption.cipher == nullptr) {
                throw std::runtime_error("unknown cipher " + cipher);
            }
            once = [&](int, const std::string& m) { return sign_encrypt_once(signer, encryption, m); };
        } else if (path == "decrypt+verify") {
            if (X509_STORE_add_cert(decryption.store.get(), read_certificate(ca).get()) != 1) {
                fail("X509_STORE_add_cert");
            }
            locate_signature(signer, decryption, messages.front(), threads);
            once = [&](int worker, const std::string& m) { return decrypt_verify_once(signer, decryption, worker, m); };
        }
        once(0, messages.front());  // warm up (first-use lazy initialisation in OpenSSL)
        CALLGRIND_ZERO_STATS;

        std::atomic<long> next{0};
        std::atomic<std::size_t> bytes{0};
        std::mutex mu;
        std::vector<double> latencies;
        std::string error;
        const segel::bench::CpuTimes cpu0 = cpu_seconds();
        const auto t0 = Clock::now();
        const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                std::vector<double> mine;
                try {
                    for (;;) {
                        if (seconds > 0 && Clock::now() >= deadline) {
                            break;
                        }
                        const long i = next.fetch_add(1);
                        if (i >= count) {
                            break;
                        }
                        const std::string& m = messages[static_cast<std::size_t>(i) % messages.size()];
                        const auto s = Clock::now();
                        once(t, m);
                        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
                        bytes += m.size();
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(mu);
                    error = e.what();
                }
                std::lock_guard lock(mu);
                latencies.insert(latencies.end(), mine.begin(), mine.end());
            });
        }
        for (auto& t : pool) {
            t.join();
        }
        const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
        const segel::bench::CpuTimes cpu1 = cpu_seconds();
        const double cpu = cpu1.total() - cpu0.total();
        CALLGRIND_DUMP_STATS_AT("measured");
        const double n = static_cast<double>(latencies.size());
        using segel::bench::num;
        std::cout << "{\"label\": " << segel::bench::json_str(label)
                  << ", \"kind\": \"limit\", \"path\": " << segel::bench::json_str(path)
                  << ", \"concurrency\": " << threads << ", \"messages\": " << latencies.size()
                  << ", \"message_bytes\": " << messages.front().size() << ", \"seconds\": " << num(wall)
                  << ", \"msgs_per_s\": " << num(n / wall)
                  << ", \"mb_per_s\": " << num(static_cast<double>(bytes.load()) / 1e6 / wall)
                  << ", \"latency_ms_p50\": " << num(segel::bench::quantile(latencies, 0.50))
                  << ", \"latency_ms_p99\": " << num(segel::bench::quantile(latencies, 0.99))
                  << ", \"daemon_cpu_s\": " << num(cpu)
                  << ", \"daemon_cpu_ms_per_msg\": " << num(n > 0 ? cpu * 1000 / n : -1)
                  << ", \"daemon_user_ms_per_msg\": " << num(n > 0 ? (cpu1.user - cpu0.user) * 1000 / n : -1)
                  << ", \"daemon_sys_ms_per_msg\": " << num(n > 0 ? (cpu1.system - cpu0.system) * 1000 / n : -1)
                  << ", \"peak_rss_mb\": " << num(segel::bench::process_status_mb(getpid(), "VmHWM"))
                  << ", \"error\": " << segel::bench::json_str(error) << "}\n";
        return error.empty() ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "segel-bench-limit: " << e.what() << "\n";
        return 1;
    }
}
