#include "services/tsa.h"

#include "services/http.h"
#include "smime/error.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace segel::services::tsa {

namespace {

std::string read_credentials(const std::string& file) {
    smime::require_private_file(file, "TSA credentials file");
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw smime::Error(smime::Category::Credential,
                           "cannot read TSA credentials file " + file + ": " + std::strerror(errno));
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    const std::size_t colon = text.find(':');
    const bool one_line = text.find_first_of("\r\n") == std::string::npos;
    if (colon == std::string::npos || colon == 0 || !one_line) {
        OPENSSL_cleanse(text.data(), text.size());
        throw smime::Error(smime::Category::Credential,
                           "TSA credentials file " + file + " must hold USER:PASSWORD on one line");
    }
    return text;
}

}  // namespace

smime::timestamp::Hash hash_of(config::Timestamping::Hash h) {
    switch (h) {
        case config::Timestamping::Hash::Sha384:
            return smime::timestamp::Hash::Sha384;
        case config::Timestamping::Hash::Sha512:
            return smime::timestamp::Hash::Sha512;
        case config::Timestamping::Hash::Sha256:
            break;
    }
    return smime::timestamp::Hash::Sha256;
}

std::vector<Authority> authorities(const config::Timestamping& section, const std::vector<std::string>& names) {
    std::vector<Authority> out;
    for (const auto& name : names) {
        for (const auto& a : section.authorities) {
            if (a.name != name) {
                continue;
            }
            Authority x;
            x.name = a.name;
            x.url = a.url;
            x.timeout = std::chrono::seconds(a.timeout_seconds > 0 ? a.timeout_seconds : section.timeout_seconds);
            if (!a.credentials_file.empty()) {
                x.basic_auth = read_credentials(a.credentials_file);
            }
            out.push_back(std::move(x));
        }
    }
    return out;
}

Client::Client(std::vector<Authority> authorities, smime::timestamp::Hash hash,
               std::shared_ptr<const smime::TrustStore> anchors)
    : m_authorities(std::move(authorities)), m_hash(hash), m_anchors(std::move(anchors)) {}

Result Client::stamp(std::string_view signature_value, TimePoint now) const {
    Result r;
    const std::string request = smime::timestamp::make_request(signature_value, m_hash);
    for (const auto& a : m_authorities) {
        http::Options o;
        o.total_timeout = a.timeout;
        o.connect_timeout = std::min<std::chrono::milliseconds>(a.timeout, std::chrono::seconds(5));
        o.max_response_bytes = 256 * 1024;  // a token with its certificates is a few KB
        o.basic_auth = a.basic_auth;
        // RFC 3161 §3.4: the request is POSTed as application/timestamp-query.
        const http::Response resp = http::post(a.url, "application/timestamp-query", request, o);
        if (!resp.ok()) {
            const bool auth = resp.status == 401 || resp.status == 403;
            r.failures.push_back(a.name + ": " + resp.error +
                                 (auth ? (a.basic_auth.empty() ? " (the TSA wants credentials: set credentials_file)"
                                                               : " (the TSA refused the credentials)")
                                       : ""));
            continue;
        }
        smime::timestamp::Token t = smime::timestamp::check_reply(resp.body, request, *m_anchors, now);
        if (!t.valid) {
            r.failures.push_back(a.name + ": " + t.error);
            continue;
        }
        r.token = std::move(t);
        r.authority = a.name;
        return r;
    }
    return r;
}

}  // namespace segel::services::tsa
