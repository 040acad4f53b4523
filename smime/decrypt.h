#pragma once
// Decryption of RFC 8551 enveloped-data and authEnveloped-data with a key the
// caller chose. The caller (engine) decides *which* key may be used for whom;
// this layer only says which of the offered certificates the message is
// addressed to, and decrypts with exactly one of them.
#include "smime/blob.h"
#include "smime/certificate.h"
#include "smime/limits.h"
#include "smime/sign.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

/**
 * The DER CMS of a message whose top-level entity is application/pkcs7-mime
 * (or the x- form), whatever its smime-type parameter says: the parameter
 * lies in the wild (.NET labels EnvelopedData "signed-data"), so callers
 * dispatch on the CMS content type instead. nullopt when the top-level entity
 * is not pkcs7-mime, or when its header does not end within max_header_bytes.
 * Read from the head and the body alone, never as a parsed tree: the first
 * Content-Type field decides (as for verification), and the body is decoded
 * per the first Content-Transfer-Encoding as GMime decodes a part's content.
 * @throws Error{Malformed} when it is pkcs7-mime but empty; Error{Limit} when its
 *         Content-Type holds more than max_parameters parameters
 */
std::optional<std::string> pkcs7_mime_der(const Blob& message, const Limits& limits = {});

/** How a decryption attempt ended. A failure is a result, not an Error. */
enum class DecryptStatus {
    Decrypted,     ///< entity holds the plaintext
    NotAddressed,  ///< no RecipientInfo names the certificate that was offered
    Malformed,     ///< the structure or its key material is inconsistent (e.g. a 24-byte key for AES-128)
    Failed,        ///< the key did not open it (wrong key, damaged ciphertext, failed GCM tag, ...)
};

struct DecryptResult {
    DecryptStatus status = DecryptStatus::Failed;
    std::string detail;  ///< for people and logs; never key material or content
    std::string entity;  ///< the decrypted MIME entity (Decrypted only)
};

/** A parsed EnvelopedData or AuthEnvelopedData. Not thread-safe; one per message. */
class EncryptedContent {
public:
    /**
     * Parses @p der, once it is known to be within @p limits (check_cms_limits:
     * recipients, certificates, ASN.1 elements). nullopt when it is CMS of
     * another type (e.g. signed-data).
     * @throws Error{Malformed} when @p der is not CMS at all; Error{Limit} beyond a limit
     */
    static std::optional<EncryptedContent> parse(std::string_view der, const Limits& limits = {});

    /** "enveloped-data" or "authEnveloped-data" (the RFC 8551 smime-type names). */
    [[nodiscard]] const std::string& smime_type() const { return m_type; }
    [[nodiscard]] bool authenticated() const { return m_type == "authEnveloped-data"; }
    /** The content-encryption algorithm, e.g. "aes-256-cbc", "des-ede3-cbc", "aes-128-gcm". */
    [[nodiscard]] const std::string& cipher() const { return m_cipher; }
    /** How many RecipientInfos there are (key transport and key agreement recipients each count). */
    [[nodiscard]] std::size_t recipient_count() const { return m_recipients; }

    /**
     * True when a RecipientInfo identifies @p cert (issuer and serial, or
     * subject key identifier as Outlook 2010 writes it; RFC 5652 §6.2.1).
     */
    [[nodiscard]] bool addressed_to(X509* cert) const;

    /**
     * Decrypts with @p key for the RecipientInfo of @p cert only: never tries
     * the key on other recipients' entries.
     */
    DecryptResult decrypt(X509* cert, EVP_PKEY* key);

private:
    std::shared_ptr<CMS_ContentInfo> m_cms;
    std::string m_type;
    std::string m_cipher;
    std::size_t m_recipients = 0;
};

/** A decrypted MIME entity: what may replace the top-level Content-* fields, and its body. */
struct Entity {
    /** Its Content-* (and MIME-Version) fields; empty: the RFC 2045 default, text/plain; charset=us-ascii. */
    std::vector<Header> headers;
    std::string body;  ///< CRLF line ends
    /** Names (mime::printable) of its other fields, which are never applied: the sender wrote them. */
    std::vector<std::string> ignored;
};
/**
 * Splits a decrypted entity into the fields that may replace the top-level
 * ones and its body, line ends made CRLF; header values keep their folding as
 * "\n" + white space (the Header convention). Only Content-* fields (and
 * MIME-Version) are kept (RFC 8551 §3.1: the inner entity is a MIME entity,
 * not a message): anyone holding a recipient's certificate can encrypt an
 * entity whose header says From, Subject, Authentication-Results or
 * X-Segel-Decryption, so those go to @c ignored and never into the message.
 * Content that starts with no header field at all is all body.
 * @throws Error{Malformed} when a header line in the middle is no field, or a
 *         Content-* field is not well formed (mime::field_problem);
 *         Error{Limit} when its header block is larger than max_header_bytes
 */
Entity split_entity(std::string entity, const Limits& limits = {});

}  // namespace segel::smime
