#pragma once
// RFC 3161 time-stamping of outbound signatures (R7, docs/keys.md): asks the
// configured time-stamp authorities, in the order given, for a token over a
// signature value, and accepts a token only once smime::timestamp::check_reply
// has checked it (status, nonce, imprint, the TSA's chain and usage). A TSA
// that is down, slow or answers garbage is a failure in the Result, never a
// broken signature and never an exception.
#include "config/settings.h"
#include "smime/certificate.h"
#include "smime/timestamp.h"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace segel::services::tsa {

using TimePoint = std::chrono::system_clock::time_point;

/** One authority, ready to ask. */
struct Authority {
    std::string name;  ///< timestamping.authorities[].name
    std::string url;
    std::chrono::seconds timeout{10};  ///< the whole exchange
    std::string basic_auth;            ///< "USER:PASSWORD" read from credentials_file at load; never logged
};

/** What asking gave. */
struct Result {
    smime::timestamp::Token token;      ///< valid when an authority gave a good token
    std::string authority;              ///< the name of the authority whose token it is
    std::vector<std::string> failures;  ///< one per authority that failed, in order: "bssn: <why>"
};

/** The authorities of one signing domain, in order, with the anchors their certificates must chain to. */
class Client {
public:
    Client(std::vector<Authority> authorities, smime::timestamp::Hash hash,
           std::shared_ptr<const smime::TrustStore> anchors);

    /**
     * A time-stamp over @p signature_value: each authority is asked in turn
     * until one answers a reply that passes every check at @p now.
     * Thread-safe; never throws for what an authority does.
     */
    [[nodiscard]] Result stamp(std::string_view signature_value, TimePoint now) const;

    [[nodiscard]] const std::vector<Authority>& authorities() const { return m_authorities; }

private:
    std::vector<Authority> m_authorities;
    smime::timestamp::Hash m_hash;
    std::shared_ptr<const smime::TrustStore> m_anchors;
};

/**
 * The authorities @p names of @p section, in that order, with their
 * credentials read from their files.
 * @throws smime::Error{Credential} naming a credentials file that cannot be
 *         read, may be read by others, or does not hold USER:PASSWORD
 */
std::vector<Authority> authorities(const config::Timestamping& section, const std::vector<std::string>& names);

/** smime's hash for the configured one. */
smime::timestamp::Hash hash_of(config::Timestamping::Hash h);

}  // namespace segel::services::tsa
