#include "tests/support/inbound.h"

#include "config/load.h"
#include "smime/sign.h"

#include <vector>

namespace segel::test {

const std::string k_inbound_base =
    "trust:\n  anchors: [/nonexistent/root.pem]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n";

std::string config_error(const std::string& yaml) {
    try {
        config::parse(yaml, "segel.yaml");
        return "";
    } catch (const config::ConfigError& e) {
        return e.what();
    }
}

std::shared_ptr<const engine::Gateway> InboundFixture::gateway(const std::string& inbound_yaml,
                                                               bool with_siti_key) const {
    std::string yaml = k_inbound_base + inbound_yaml;
    if (with_siti_key) {
        yaml += "credentials:\n  - certificate: " + siti.cert_file + "\n    key: " + siti.key_file + "\n";
    }
    config::Settings s = config::parse(yaml, "segel.yaml");
    s.trust.anchors = {pki.root_file()};
    s.trust.intermediates = {pki.intermediate_file()};
    return engine::Gateway::from_settings(std::move(s));
}

std::string InboundFixture::signed_message(const Issued& who, const std::string& extra_headers,
                                           const std::string& subject, const std::string& outer_from) const {
    const std::string rest = "To: budi@dinas.example.go.id\r\nSubject: " + subject + "\r\n";
    const std::string from = "From: Siti Rahma <siti@dinas.example.go.id>\r\n" + rest;
    const std::string original = from + "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nIsi surat.\r\n";
    std::vector<smime::ossl::Ptr<X509>> chain;
    chain.push_back(smime::ossl::retain(pki.intermediate()));
    smime::SignOptions o;
    o.now = fixed_now();
    const auto sm = smime::sign(smime::Blob::from(original), credential(who), chain, o);
    std::string msg = extra_headers + "From: " + outer_from + "\r\n" + rest;
    for (const auto& h : sm.headers) {
        std::string v = h.value;
        for (std::size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) {
            v.replace(p, 1, "\r\n");
        }
        msg += h.name + ": " + v + "\r\n";
    }
    return msg + "\r\n" + sm.body.str();
}

engine::Processed from_outside(const std::shared_ptr<const engine::Gateway>& gw, const std::string& mail_from,
                               const std::string& recipient, const std::string& message) {
    engine::Transcript t;
    t.connection.client_ip = "192.0.2.10";
    t.mail_from = mail_from;
    t.recipients = {recipient};
    return engine::process(gw, t, message, [] { return fixed_now(); });
}

}  // namespace segel::test
