#pragma once
// RFC 3161 signature time-stamps (R7, docs/keys.md): the request for a
// signature value, the checks on a TSA's reply before its token is embedded,
// and the check of a token found in a received signature. Crypto only: the
// HTTP exchange is services/tsa.h. A bad reply or token is a result, never
// an exception.
#include "smime/certificate.h"

#include <string>
#include <string_view>

namespace segel::smime::timestamp {

/** The hash of the message imprint (RFC 3161 §2.4.1). */
enum class Hash { Sha256, Sha384, Sha512 };

/** "sha-256", "sha-384", "sha-512". */
const char* hash_name(Hash h);

/**
 * A TimeStampReq (RFC 3161 §2.4.1) for a signature: the imprint is the hash
 * of @p signature_value, the SignerInfo's signature octets (RFC 3161 appendix
 * A), with a fresh 64-bit random nonce and certReq TRUE (the TSA's
 * certificate comes with the token, so recipients can check it).
 * @return the DER of the request (kept to check the reply against)
 */
std::string make_request(std::string_view signature_value, Hash hash);

/** A checked time-stamp token. */
struct Token {
    bool valid = false;
    std::string error;   ///< why it is not valid, for logs ("nonce does not match the request", ...)
    std::string der;     ///< the TimeStampToken (a CMS ContentInfo), to embed as id-aa-timeStampToken
    TimePoint time;      ///< TSTInfo genTime
    std::string tsa;     ///< the TSA certificate's common name (else its subject)
    std::string serial;  ///< TSTInfo serialNumber, hex
    std::string hash;    ///< the imprint's hash, e.g. "sha-256"
};

/**
 * Checks a TimeStampResp to @p request_der before its token is used
 * (RFC 3161 §2.4.2): status granted (or granted with modifications), a token,
 * version 1, the nonce and the message imprint of the request, the signature
 * by a certificate that chains to @p tsa_trust at @p now and carries the
 * critical id-kp-timeStamping extended key usage (RFC 3161 §2.3), the ESS
 * signing-certificate (v1, or v2 of RFC 5816) naming it, and a genTime
 * within @p max_skew of @p now.
 */
Token check_reply(std::string_view reply_der, std::string_view request_der, const TrustStore& tsa_trust, TimePoint now,
                  std::chrono::seconds max_skew = std::chrono::minutes(10));

/**
 * Checks a TimeStampToken found in a received signature (the unsigned
 * attribute id-aa-timeStampToken of its SignerInfo) over that SignerInfo's
 * @p signature_value: signature, chain to @p tsa_trust at @p now with the
 * timeStamping usage, ESS certificate identifier, and an imprint over exactly
 * those bytes with SHA-256, SHA-384 or SHA-512.
 */
Token check_token(std::string_view token_der, std::string_view signature_value, const TrustStore& tsa_trust,
                  TimePoint now);

}  // namespace segel::smime::timestamp
