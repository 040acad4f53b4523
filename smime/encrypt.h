#pragma once
// RFC 8551 encryption of a whole MIME entity: EnvelopedData (RFC 5652 §6) with
// AES-CBC, or AuthEnvelopedData (RFC 5083) with AES-GCM (RFC 5084), to RSA
// (key transport) and EC (ECDH key agreement, RFC 5753) recipients.
#include "smime/blob.h"
#include "smime/certificate.h"
#include "smime/sign.h"

#include "smime/ossl/ptr.h"

#include <string>
#include <string_view>
#include <vector>

namespace segel::smime {

/** The content-encryption algorithm. One is chosen per message (one encryption for all recipients). */
enum class ContentCipher {
    Aes256Cbc,  ///< EnvelopedData; what Outlook, Apple Mail and Thunderbird ESR all read (default)
    Aes128Gcm,  ///< AuthEnvelopedData (RFC 5083 / RFC 5084)
    Aes256Gcm,  ///< AuthEnvelopedData (RFC 5083 / RFC 5084)
};

/** "aes-256-cbc", "aes-128-gcm", "aes-256-gcm". */
const char* cipher_name(ContentCipher cipher);

/** True for the AEAD ciphers, which produce smime-type=authEnveloped-data. */
bool is_authenticated(ContentCipher cipher);

struct EncryptOptions {
    ContentCipher cipher = ContentCipher::Aes256Cbc;
    std::size_t memory_limit = 1 << 20;  ///< larger bodies are built in a temporary file
    std::string spool_dir;
};

/** The result of encrypting: new top-level MIME headers and a new body (like SignedMessage). */
struct EncryptedMessage {
    std::vector<Header> headers;  ///< replace every Content-* and MIME-Version header with these
    Blob body;                    ///< base64 of the DER CMS, CRLF, 76-character lines
    ContentCipher cipher = ContentCipher::Aes256Cbc;
    std::size_t recipient_count = 0;
    /**
     * The content-encryption key of this message, for check_encrypted() only:
     * a KEKRecipientInfo (RFC 5652 §6.2.3) that wraps it (AES key wrap) under a
     * one-time random key. CMS made it in the same pass that wrapped that key
     * for every recipient, and it was taken out before the message was encoded:
     * it is in no byte that leaves, never leaves the process, and opens this
     * message only. Consumed by check_encrypted().
     */
    ossl::Ptr<CMS_RecipientInfo> witness;
};

/**
 * Why @p cert cannot receive encrypted mail, or "" when it can: the key must
 * be RSA or EC; a keyUsage extension must allow keyEncipherment (RSA) or
 * keyAgreement (EC); an extendedKeyUsage must allow emailProtection
 * (RFC 8550 §4.4.2, §4.4.4). Validity and trust are the caller's checks.
 */
std::string cannot_receive(X509* cert);

/**
 * The certificates in @p der: one DER X.509 certificate, or the certificate
 * bag of a CMS/PKCS#7 SignedData (how LDAP's userSMIMECertificate holds
 * them, RFC 2798 §9.1.3). Empty when it is neither.
 */
std::vector<ossl::Ptr<X509>> certificates_from_der(std::string_view der);

/**
 * The top-level MIME entity of @p message: its Content-* header fields (not
 * MIME-Version) and its body, with CRLF line ends. This is what gets
 * encrypted when the message was not signed first.
 */
std::string entity_of(const Blob& message);

/** The MIME entity a SignedMessage describes: its headers (not MIME-Version), a blank line, its body. */
std::string entity_of(const SignedMessage& signed_message);

/**
 * Encrypts @p entity (a complete MIME entity, CRLF) to every certificate in
 * @p recipients. RSA certificates get a KeyTransRecipientInfo (PKCS#1 v1.5,
 * what every mail client decrypts), EC certificates a KeyAgreeRecipientInfo
 * (ephemeral-static ECDH, X9.63 KDF with SHA-256, AES key wrap; RFC 5753).
 * Recipients are identified by issuer and serial number.
 * RFC 8551 §3.3: the result is application/pkcs7-mime with smime-type
 * enveloped-data (CBC) or authEnveloped-data (GCM, RFC 8551 §3.4 / RFC 5083),
 * file name smime.p7m.
 * @throws Error{Credential} when a certificate has a key type that cannot receive
 *         (e.g. Ed25519), Error{Crypto} when OpenSSL fails.
 */
EncryptedMessage encrypt_entity(std::string_view entity, const std::vector<ossl::Ptr<X509>>& recipients,
                                const EncryptOptions& options);

/**
 * The self-check of an encryption, without any private key: what leaves must
 * open to exactly the entity for every recipient. @p message's body must
 * decode (base64) to an EnvelopedData (AuthEnvelopedData for GCM) of the
 * cipher chosen, of the version RFC 5652 §6.1 prescribes for its
 * RecipientInfos, with exactly one RecipientInfo per certificate of
 * @p recipients, each naming its certificate; and its content, decrypted with
 * the content-encryption key of @p message's witness, must be exactly
 * @p entity (for GCM the authentication tag must verify too). The recipients'
 * RSA and ECDH key wraps are not opened here (their private keys are not the
 * gateway's): they are CMS's wrapping of that same key, made in the same pass
 * as the witness's. Consumes the witness (a second call fails).
 * @return "" when all of that holds, else what failed (for the log; no content or key material)
 */
std::string check_encrypted(EncryptedMessage& message, std::string_view entity,
                            const std::vector<ossl::Ptr<X509>>& recipients);

}  // namespace segel::smime
