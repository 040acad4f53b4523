// segelctl verify: the inbound verification the milter does, on message files.
#include "config/load.h"
#include "engine/gateway.h"
#include "engine/inbound.h"
#include "smime/error.h"
#include "smime/verify.h"
#include "tools/cli.h"

#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace segel::tools {

using TimePoint = std::chrono::system_clock::time_point;

namespace {

constexpr int k_not_all_pass = 1;
constexpr int k_usage = 2;

void verify_usage(std::ostream& out) {
    out << "usage: segelctl verify [--config FILE | --trust-anchors PEM] [--crl FILE] [--at TIME]\n"
           "                       [--certificate-time arrival|signing_time] MESSAGE...\n"
           "  prints '<file>: <result> [signer=<address>] [reason=<text>]' per message (result: RFC 7281 word);\n"
           "  exit 0 when every message is pass, 1 otherwise, 2 on usage or configuration errors.\n"
           "  --at verifies as of that moment (RFC 3339 UTC, e.g. 2006-09-01T10:00:00Z).\n";
}

}  // namespace

/**
 * Runs `segelctl verify` (arguments after the command word).
 * @return 0 all pass, 1 some other result, 2 usage or configuration error
 */
int cmd_verify(int argc, char** argv) {
    std::string config_file;
    std::vector<std::string> anchors;
    std::vector<std::string> crl_files;
    std::optional<TimePoint> at;
    std::optional<smime::CertificateTime> cert_time;
    std::vector<std::string> files;
    for (int i = 0; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&] { return segel::tools::option_value(argc, argv, i); };
        if (k == "--config" || k == "-c") {
            config_file = value();
        } else if (k == "--trust-anchors") {
            anchors.push_back(value());
        } else if (k == "--crl") {
            crl_files.push_back(value());
        } else if (k == "--at") {
            at = segel::tools::parse_at(value());
        } else if (k == "--certificate-time") {
            const std::string t = value();
            if (t == "arrival") {
                cert_time = smime::CertificateTime::Arrival;
            } else if (t == "signing_time") {
                cert_time = smime::CertificateTime::SigningTime;
            } else {
                throw std::invalid_argument("--certificate-time: \"" + t + "\" is not arrival or signing_time");
            }
        } else if (k == "-h" || k == "--help") {
            verify_usage(std::cout);
            return 0;
        } else if (!k.empty() && k[0] == '-' && k != "-") {
            throw std::invalid_argument("verify: unknown option " + k);
        } else {
            files.push_back(k);
        }
    }
    if (files.empty() || (config_file.empty() == anchors.empty())) {
        verify_usage(std::cerr);
        return k_usage;
    }
    const TimePoint now = at.value_or(std::chrono::system_clock::now());
    std::shared_ptr<const engine::Gateway> gw;
    smime::TrustStore trust;
    smime::VerifyOptions options;
    std::vector<smime::ossl::Ptr<X509_CRL>> crls;
    try {
        if (!config_file.empty()) {
            gw = engine::Gateway::load(config_file);
            options = engine::verify_options(gw->settings(), now);
        } else {
            trust = smime::TrustStore::load(anchors, {});
            options.now = now;
        }
        for (const auto& f : crl_files) {
            for (auto& crl : smime::load_crls(f)) {
                options.crls.push_back(crl.get());
                crls.push_back(std::move(crl));
            }
        }
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return k_usage;
    } catch (const smime::Error& e) {
        std::cerr << "segelctl verify: " << e.what() << "\n";
        return k_usage;
    }
    if (cert_time) {
        options.certificate_time = *cert_time;
    }
    const smime::TrustStore& store = gw ? gw->trust() : trust;

    bool all_pass = true;
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            std::cout << file << ": temperror reason=cannot read the file\n";
            all_pass = false;
            continue;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        const smime::Blob message = smime::Blob::from(ss.str());
        const smime::VerifyResult r = smime::verify(message, store, options);
        std::cout << file << ": " << smime::to_string(r.result);
        if (!r.identifier.empty() && r.result != smime::AuthResult::None) {
            std::cout << " signer=" << r.identifier;
        }
        if (!r.reason.empty()) {
            std::cout << " reason=" << r.reason;
        }
        std::cout << "\n";
        all_pass = all_pass && r.result == smime::AuthResult::Pass;
    }
    return all_pass ? 0 : k_not_all_pass;
}

}  // namespace segel::tools
