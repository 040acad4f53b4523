#pragma once
// RFC 8551 signing of a whole message's MIME entity, with a mandatory
// self-check of the exact bytes that will leave.
#include "smime/blob.h"
#include "smime/canonical.h"
#include "smime/certificate.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

enum class SignFormat {
    Detached,  ///< multipart/signed; protocol="application/pkcs7-signature" (default)
    Opaque,    ///< application/pkcs7-mime; smime-type=signed-data
};

/** What the message already is. Signed or encrypted mail is left alone. */
enum class Protection { None, Signed, Encrypted };

/** A header to set on the message; @c value has no leading space and folds with "\n\t". */
struct Header {
    std::string name;
    std::string value;
};

/** The result of signing: new top-level MIME headers and a new body. */
struct SignedMessage {
    std::vector<Header> headers;  ///< replace every Content-* and MIME-Version header with these
    Blob body;                    ///< CRLF line ends, 7-bit, lines <= 76; empty when a BodySink took it
    std::string micalg;
    canonical::Rewrite rewrite;  ///< what was re-encoded to make the entity transport-safe
    /** SHA-256 of the signed entity (the bytes the signature covers), hex: for the record. */
    std::string content_sha256;
};

struct SignOptions {
    SignFormat format = SignFormat::Detached;
    TimePoint now;                       ///< signingTime, and the time the self-check validates at
    std::size_t memory_limit = 1 << 20;  ///< larger bodies are built in a temporary file
    std::string spool_dir;
    /**
     * The message body (everything after the header's blank line), already fed
     * to a Scanner by whoever received it — the milter scans while it spools, so
     * a 20 MB body is not read back for it. Used only when it saw exactly as many
     * bytes as the body has; else the body is scanned here.
     */
    const canonical::Scanner* body_scan = nullptr;
    /**
     * The multipart/signed boundary (new_boundary()); empty: sign() draws one.
     * Given in advance, the new top-level fields are known before the body is
     * made (signed_headers()), so they can be applied before it streams out.
     */
    std::string boundary;
    /**
     * An RFC 3161 signature time-stamp (docs/keys.md): when set, called once
     * the SignerInfo is signed, with its signature value; it returns the DER of
     * a TimeStampToken over that value, added as the unsigned attribute
     * id-aa-timeStampToken (RFC 3161 appendix A) before the DER is made and
     * self-checked, or "" to sign without one. When it throws, no signature is
     * made.
     */
    std::function<std::string(std::string_view signature_value)> time_stamp;
};

/** A fresh multipart boundary with 96 unpredictable bits. */
std::string new_boundary();

/**
 * The top-level MIME fields a message signed with @p options gets (exactly
 * SignedMessage::headers): for Detached, @p options.boundary must be set.
 */
std::vector<Header> signed_headers(const SignOptions& options);

/**
 * Receives a new body as it is produced, in pieces: small writes gathered into
 * pieces of at most 65535 bytes, a spooled body in the (larger) pieces it is
 * read in, without a copy. Bytes handed over are final; if sign() then throws,
 * the receiver must discard what it got.
 */
using BodySink = std::function<void(std::string_view)>;

/** Classifies the top-level entity of a parsed message. */
Protection classify(const Blob& message);

/**
 * What a message whose head holds exactly one Content-Type field, with the raw value
 * @p content_type (everything after the colon, folds as "\n"+WSP: mime::Field::raw), is —
 * the answer classify() gives for such a head; nullopt: no Content-Type field (text/plain).
 * For a caller that holds the head's fields already (the milter's header callbacks).
 */
Protection classify_content_type(std::optional<std::string_view> content_type);

/**
 * A message's entity made ready to be signed: its bytes as received (left
 * where they are spooled), or rewritten to be transport-safe into a Blob of
 * its own. Made by prepare(). It refers to the message it was made from,
 * which must outlive it.
 */
class PreparedEntity {
public:
    PreparedEntity(PreparedEntity&&) noexcept = default;
    PreparedEntity& operator=(PreparedEntity&&) noexcept = default;
    PreparedEntity(const PreparedEntity&) = delete;
    PreparedEntity& operator=(const PreparedEntity&) = delete;
    ~PreparedEntity() = default;

    /** What was re-encoded to make the entity transport-safe (nothing when signed as received). */
    [[nodiscard]] const canonical::Rewrite& rewrite() const { return m_rewrite; }
    /** True when the received bytes are signed as they are (no GMime rewrite). */
    [[nodiscard]] bool as_received() const { return m_source != nullptr; }
    /** How many bytes the signature will cover. */
    [[nodiscard]] std::size_t size() const { return m_head.size() + m_length; }
    /** Hands every byte of the entity to @p fn in order, a spooled one in pieces. */
    void stream(const std::function<void(std::string_view)>& fn) const;
    /** The entity as one string (the opaque format embeds it). */
    [[nodiscard]] std::string str() const;

private:
    PreparedEntity() = default;
    friend PreparedEntity prepare(const Blob& message, const SignOptions& options);

    std::string m_head;              ///< the entity's fields, rebuilt CRLF (as received only)
    const Blob* m_source = nullptr;  ///< the message (as received); null: m_rewritten
    Blob m_rewritten;                ///< the rewritten entity
    std::size_t m_offset = 0;        ///< where the entity's bytes start in their Blob
    std::size_t m_length = 0;        ///< how many there are (after m_head)
    canonical::Rewrite m_rewrite;
};

/**
 * Makes @p message's entity ready to sign: as received when it is already
 * transport-safe (docs/signing.md), else rewritten through GMime, with every
 * line end CRLF, and checked to be what SMTP delivers unchanged.
 * Everything the message itself makes unsignable is found here, before a byte
 * of a new body exists, so a caller can answer it (554, or pass unsigned)
 * before it changes anything.
 * @throws Error{Malformed} with the reason, for a cause in the message (a
 *         header line over 998 octets with nowhere to fold it, a NUL or bare
 *         CR in a part's header field, nesting beyond 64 levels, no entity);
 *         any other category is the gateway's own fault (Io, Internal)
 */
PreparedEntity prepare(const Blob& message, const SignOptions& options);

/**
 * Signs @p entity (from prepare()) with @p signer. The signature carries the
 * signer's certificate and intermediates, signingTime, SMIMECapabilities and
 * ESS signing-certificate-v2 (RFC 5035). Before the signature part is handed
 * out it is checked as it will leave: the signed part is hashed in the same
 * pass that hands its bytes out, the signature must verify with the signer
 * certificate's key over attributes whose messageDigest is that hash and name
 * @p signer, and the base64 in the body must decode to exactly the DER that
 * was made; a failure throws Error{Internal} — a broken signature never leaves.
 * @param chain certificates to embed after the signer's (intermediates, no root)
 * @param sink  when set, receives the new body instead of SignedMessage::body;
 *              when sign() throws after handing over pieces, the receiver must
 *              discard them
 * @throws Error, never Malformed (prepare() found those)
 */
SignedMessage sign(const PreparedEntity& entity, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                   const SignOptions& options, const BodySink& sink = {});

/**
 * prepare() then sign(): signs @p message (headers and body as received) with @p signer.
 * The signature carries the signer's certificate and intermediates, signingTime,
 * SMIMECapabilities and ESS signing-certificate-v2 (RFC 5035). Before the
 * signature part is handed out it is checked as it will leave: the signed part
 * is hashed in the same pass that hands its bytes out, the signature must verify
 * with the signer certificate's key over attributes whose messageDigest is that
 * hash and name @p signer, and the base64 in the body must decode to exactly the
 * DER that was made; a failure throws Error{Internal} — a broken signature never
 * leaves. (The signer's chain is validated when the credential is loaded, and
 * its validity periods by the policy for every message.)
 * A message whose entity is already transport-safe is signed as received at any
 * size, read from its spool in pieces: memory use does not grow with the message.
 * @param chain certificates to embed after the signer's (intermediates, no root)
 * @param sink  when set, receives the new body instead of SignedMessage::body
 *              (the milter streams it to the MTA); when sign() throws after
 *              handing over pieces, the receiver must discard them
 * @throws Error{Malformed} as prepare() does, before any piece is handed over
 */
SignedMessage sign(const Blob& message, const Credential& signer, const std::vector<ossl::Ptr<X509>>& chain,
                   const SignOptions& options, const BodySink& sink = {});

}  // namespace segel::smime
