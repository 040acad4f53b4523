#pragma once
// Inbound S/MIME verification of a whole message (RFC 8551 §3.5, RFC 8550):
// find the signed entity, canonicalise it, check the CMS signature, the chain
// to our trust anchors, revocation, key usage, algorithm strength and the
// signer's address against From, and sum it up as one RFC 7281 result.
//
// A bad or unusable signature is a *result* (VerifyResult), never an
// exception: verify() does not throw for any input bytes.
#include "smime/blob.h"
#include "smime/certificate.h"
#include "smime/limits.h"
#include "smime/revocation.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

/** The RFC 7281 §3 result words of the "smime" Authentication-Results method. */
enum class AuthResult {
    None,       ///< no S/MIME signature on the message (unsigned, OpenPGP, encrypted only)
    Pass,       ///< good signature, trusted and valid certificate, signer address = a From address
    Fail,       ///< signature or certificate failed: content changed, untrusted, expired, revoked, unusable, broken
                ///< algorithm
    Policy,     ///< good signature and certificate, but the signer is not the From address (or has no address)
    Neutral,    ///< signed, but no verdict for the message: only a part is signed, or an unsupported algorithm
    TempError,  ///< could not evaluate for a reason that may go away (I/O, resources)
    PermError,  ///< the S/MIME structure is broken: bad boundaries, garbage base64, truncated CMS, no signer
};

/** "pass", "fail", ... (the RFC 7281 words). */
const char* to_string(AuthResult r);

/** Which moment certificate validity is judged at. */
enum class CertificateTime {
    /**
     * The verification moment (arrival at the gateway, or `segelctl verify --at`).
     * The default: nothing the sender claims is trusted.
     */
    Arrival,
    /**
     * The signingTime attribute (RFC 5652 §11.3) when present, else arrival.
     * The signer asserts that time; it is refused when it lies more than
     * k_future_skew after arrival. Use for archives of old mail.
     */
    SigningTime,
};

/** How much "weak but not broken" cryptography is worth (SHA-1, RSA 1024..2047, SHA-1/MD5-signed certificate). */
enum class WeakAlgorithms {
    Report,  ///< keep the verdict, say "weak: ..." in the reason (old senders still verify)
    Fail,    ///< treat as fail
};

struct VerifyOptions {
    TimePoint now;  ///< the verification moment (injected; tests pin it)
    CertificateTime certificate_time = CertificateTime::Arrival;
    WeakAlgorithms weak = WeakAlgorithms::Report;
    /** From addresses (any case). Empty: read from the message's From fields. */
    std::vector<std::string> from;
    /** CRLs to check the signer against (RFC 5280 §6.3); empty: revocation not checked. */
    std::vector<X509_CRL*> crls;
    /**
     * Revocation beyond the CRL files (services/revocation.h does the network
     * I/O; smime does none): asked for a trusted signer with its issuer at the
     * verification moment, when no CRL file covers the issuer. The evidence
     * goes into the reason ("good signature; revocation: ocsp good, 2 h old").
     * @p fingerprint is the signer certificate's SHA-256 (hex), computed once per message.
     */
    std::function<RevocationStatus(X509* cert, const std::string& fingerprint, X509* issuer, TimePoint now)> revocation;
    /** When that check learns nothing usable: note it in the reason (false) or give temperror (true). */
    bool revocation_unknown_temperror = false;
    /** What reading the message may cost (hostile input): beyond any limit, permerror with its name. */
    Limits limits;
    /** RSA keys below this are weak; below k_broken_rsa_bits they fail. */
    int min_rsa_bits = 2048;
    /**
     * Retry a detached signature over the LF-only form of the signed part when
     * the CRLF (RFC 8551 canonical) form does not match: some senders (NSS,
     * interop finding 1) sign LF bytes. A match is reported in the reason.
     */
    bool lf_fallback = true;
    /**
     * The anchors a time-stamp's TSA certificate must chain to (RFC 3161 tokens
     * in the signature, docs/keys.md); null: the trust store given to verify().
     * A valid time-stamp moves the moment the signer's certificate is judged at
     * to the time-stamp's time.
     */
    const TrustStore* tsa_trust = nullptr;
};

constexpr int k_broken_rsa_bits = 1024;
constexpr auto k_future_skew = std::chrono::hours(24);

/** The verdict for one message, with everything a header, a log line or a person needs. */
struct VerifyResult {
    AuthResult result = AuthResult::None;
    std::string reason;  ///< short, human, English ("content changed after signing", ...)
    /** What kind of problem, for subject tags and filters. */
    enum class Problem {
        None,
        NotSigned,
        ContentChanged,
        Untrusted,
        Expired,
        NotYetValid,
        Revoked,
        Usage,
        SignerNotSender,
        NoAddress,
        WeakAlgorithm,
        PartiallySigned,
        Malformed,
        Unsupported,
        Internal,
    } problem = Problem::None;

    std::string identifier;  ///< body.smime-identifier: the matching From address, else the cert's first address
    std::vector<std::string> signer_addresses;
    std::string signer_name;         ///< certificate common name (for a subject tag)
    std::string serial;              ///< hex, upper case
    std::string signer_fingerprint;  ///< SHA-256 of the signer certificate, hex (empty without a certificate)
    std::string issuer;              ///< RFC 2253 one-line issuer
    std::string digest;              ///< RFC 8551 micalg name, e.g. "sha-256"
    std::optional<TimePoint> signing_time;
    std::vector<std::string> weaknesses;  ///< e.g. "SHA-1 digest", "RSA-1024 key"
    bool opaque = false;                  ///< application/pkcs7-mime signed-data (else multipart/signed)
    bool partially_signed = false;        ///< a signed part inside an unsigned multipart
    std::string part;                     ///< IMAP part number of that signed part ("1", "2.1"), else ""
    bool lf_normalised = false;           ///< matched only over the LF-only form of the signed part
    bool signature_valid = false;         ///< the CMS signature over the content checks out
    bool chain_trusted = false;           ///< the signer chains to an anchor (at the chosen time), not revoked
    std::vector<std::string> from;        ///< From addresses the signer was compared with (lower case)
    std::vector<std::string> sender;      ///< Sender addresses (lower case): RFC 8550 §3 accepts them too
    /**
     * Set when the signer matched the Sender field, not From: the From address
     * an organisation seal signed for ("sealed by <identifier> for <sealed_for>").
     */
    std::string sealed_for;
    /** An RFC 3161 time-stamp on the signature: its time and TSA when valid. */
    std::optional<TimePoint> time_stamp;
    std::string time_stamp_tsa;    ///< the TSA certificate's name (valid time-stamps)
    std::string time_stamp_error;  ///< why a time-stamp present is not accepted ("" when valid or absent)
    RevocationStatus revocation;   ///< the revocation evidence for the signer (NotChecked when none)
    ossl::Ptr<X509> signer_cert;   ///< the signer's certificate when found (for harvesting)
    /** SHA-256 (hex) of the signed content as checked (canonical form), when there was one: for the record. */
    std::string content_sha256;
};

/**
 * The problem's name, for labels and filters: "none", "not-signed", "content-changed",
 * "untrusted", "expired", "not-yet-valid", "revoked", "usage", "signer-not-sender",
 * "no-address", "weak-algorithm", "partially-signed", "malformed", "unsupported", "internal".
 * Stable: metrics labels (segel_verifications_total) are made of them.
 */
const char* to_string(VerifyResult::Problem p);

/**
 * Verifies the S/MIME signature of a whole message (headers + body, CRLF or LF).
 * Only the top-level entity makes a signed message; a signed part inside an
 * unsigned multipart is reported as partially signed (neutral). The CMS
 * content type, not the MIME smime-type parameter, decides what a blob is.
 * @param message the message exactly as received
 * @param trust   anchors and configured intermediates (the message's own certificates are added)
 * @return the verdict; never throws for bad input (internal faults give temperror)
 */
VerifyResult verify(const Blob& message, const TrustStore& trust, const VerifyOptions& options);

/**
 * Reads every CRL in a PEM or DER file.
 * @throws Error{Credential} naming the file when it cannot be read or holds no CRL
 */
std::vector<ossl::Ptr<X509_CRL>> load_crls(const std::string& file);

/** A certificate in PEM form (for the recipient-certificate directory). */
std::string to_pem(X509* cert);

/** Splits a multipart/signed body: the exact bytes of part 1 and the raw text of part 2. */
struct SignedParts {
    std::string_view content;    ///< between "--boundary CRLF" and "CRLF --boundary"
    std::string_view signature;  ///< the whole second part (its headers and body)
};
/** @throws Error{Malformed} when the boundary structure is broken. */
SignedParts split_multipart_signed(std::string_view body, const std::string& boundary);

}  // namespace segel::smime
