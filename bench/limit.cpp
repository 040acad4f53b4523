// segel-bench-limit: the physical limit segel is measured against. Signs the
// same message files with the same key and the same number of threads through
// OpenSSL CMS directly: no milter, no MIME parsing or rewriting, no
// self-check; the key and certificates are loaded once before the clock starts.
// Prints one JSON object (throughput, latency, CPU per message).
#include "bench/common.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <sys/resource.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

namespace {

using segel::bench::Clock;

template <typename T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Free<CMS_ContentInfo, CMS_ContentInfo_free>>;
void free_x509_stack(STACK_OF(X509) * s) {
    sk_X509_pop_free(s, X509_free);
}
using StackPtr = std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), free_x509_stack>>;

[[noreturn]] void fail(const std::string& what) {
    std::string err = what;
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        err += std::string(": ") + buf;
    }
    throw std::runtime_error(err);
}

struct Signer {
    X509Ptr cert;
    KeyPtr key;
    StackPtr chain{sk_X509_new_null()};
};

Signer load_pkcs12(const std::string& path, const std::string& pass_file) {
    const std::string der = segel::bench::read_file(path);
    const std::string pass = segel::bench::read_file(pass_file);
    BioPtr bio(BIO_new_mem_buf(der.data(), static_cast<int>(der.size())));
    std::unique_ptr<PKCS12, Free<PKCS12, PKCS12_free>> p12(d2i_PKCS12_bio(bio.get(), nullptr));
    if (!p12) {
        fail("cannot read " + path);
    }
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    if (PKCS12_parse(p12.get(), pass.c_str(), &key, &cert, &ca) != 1) {
        fail("cannot decrypt " + path);
    }
    Signer s;
    s.key.reset(key);
    s.cert.reset(cert);
    if (ca != nullptr) {
        s.chain.reset(ca);
    }
    return s;
}

Signer load_pem(const std::string& cert_path, const std::string& key_path) {
    Signer s;
    BioPtr cb(BIO_new_file(cert_path.c_str(), "r"));
    if (!cb) {
        fail("cannot open " + cert_path);
    }
    s.cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    if (!s.cert) {
        fail("no certificate in " + cert_path);
    }
    while (X509* c = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) {
        sk_X509_push(s.chain.get(), c);
    }
    ERR_clear_error();
    BioPtr kb(BIO_new_file(key_path.c_str(), "r"));
    if (!kb) {
        fail("cannot open " + key_path);
    }
    s.key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!s.key) {
        fail("no private key in " + key_path);
    }
    return s;
}

/** One detached CMS signature (SHA-256, signer certificate and chain embedded), DER-encoded. */
std::size_t sign_once(const Signer& s, const std::string& message) {
    BioPtr in(BIO_new_mem_buf(message.data(), static_cast<int>(message.size())));
    CmsPtr cms(CMS_sign(s.cert.get(), s.key.get(), s.chain.get(), in.get(), CMS_BINARY | CMS_DETACHED));
    if (!cms) {
        fail("CMS_sign");
    }
    BioPtr out(BIO_new(BIO_s_mem()));
    if (i2d_CMS_bio(out.get(), cms.get()) != 1) {
        fail("i2d_CMS_bio");
    }
    char* p = nullptr;
    return static_cast<std::size_t>(BIO_get_mem_data(out.get(), &p));
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::string p12, pass, cert, key, label;
        std::vector<std::string> files;
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
            } else {
                throw std::runtime_error("unknown argument " + a);
            }
        }
        if (files.empty() || (p12.empty() && (cert.empty() || key.empty())) || threads < 1) {
            std::cerr << "usage: segel-bench-limit (--p12 FILE --pass FILE | --cert PEM --key PEM) --message FILE...\n"
                         "         [--count N] [--seconds S] [--threads T] [--label TEXT]\n";
            return 64;
        }
        const Signer signer = p12.empty() ? load_pem(cert, key) : load_pkcs12(p12, pass);
        std::vector<std::string> messages;
        for (const auto& f : files) {
            messages.push_back(segel::bench::read_file(f));
        }
        sign_once(signer, messages.front());  // warm up (first-use lazy initialisation in OpenSSL)

        std::atomic<long> next{0};
        std::atomic<std::size_t> bytes{0};
        std::mutex mu;
        std::vector<double> latencies;
        std::string error;
        const double cpu0 = cpu_seconds();
        const auto t0 = Clock::now();
        const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&] {
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
                        sign_once(signer, m);
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
        const double cpu = cpu_seconds() - cpu0;
        const double n = static_cast<double>(latencies.size());
        using segel::bench::num;
        std::cout << "{\"label\": " << segel::bench::json_str(label) << ", \"kind\": \"limit\""
                  << ", \"concurrency\": " << threads << ", \"messages\": " << latencies.size()
                  << ", \"message_bytes\": " << messages.front().size() << ", \"seconds\": " << num(wall)
                  << ", \"msgs_per_s\": " << num(n / wall)
                  << ", \"mb_per_s\": " << num(static_cast<double>(bytes.load()) / 1e6 / wall)
                  << ", \"latency_ms_p50\": " << num(segel::bench::quantile(latencies, 0.50))
                  << ", \"latency_ms_p99\": " << num(segel::bench::quantile(latencies, 0.99))
                  << ", \"daemon_cpu_s\": " << num(cpu)
                  << ", \"daemon_cpu_ms_per_msg\": " << num(n > 0 ? cpu * 1000 / n : -1)
                  << ", \"peak_rss_mb\": " << num(segel::bench::process_status_mb(getpid(), "VmHWM"))
                  << ", \"error\": " << segel::bench::json_str(error) << "}\n";
        return error.empty() ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "segel-bench-limit: " << e.what() << "\n";
        return 1;
    }
}
