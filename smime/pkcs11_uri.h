#pragma once
// RFC 7512 "pkcs11:" URIs naming a private key (and its certificate) in a
// PKCS#11 token. Pure text handling: no OpenSSL, no PKCS#11 calls, so the
// parser is tested alone with hostile input.
#include <optional>
#include <string>
#include <string_view>

namespace segel::smime {

/**
 * The attributes of a pkcs11: URI that select a token and an object in it.
 * Values are percent-decoded (RFC 7512 §2.3); an unset attribute matches anything.
 */
struct Pkcs11Uri {
    std::optional<std::string> token;         ///< token label (CK_TOKEN_INFO.label)
    std::optional<std::string> manufacturer;  ///< token manufacturerID
    std::optional<std::string> model;         ///< token model
    std::optional<std::string> serial;        ///< token serialNumber
    std::optional<unsigned long> slot_id;     ///< slot-id (RFC 7512 §2.3, decimal)
    std::optional<std::string> object;        ///< CKA_LABEL of the key (and of its certificate)
    std::optional<std::string> id;            ///< CKA_ID, raw bytes (e.g. "%01" → "\x01")
    std::optional<std::string> type;          ///< "private" or "cert" when written
    /** The URI as written, which never holds a PIN (they are refused): for logs and explain. */
    std::string text;
};

/**
 * Parses an RFC 7512 URI that names a private key: "pkcs11:" then path
 * attributes separated by ';' (token, manufacturer, model, serial, slot-id,
 * object, id, type), and no query. It must name the key (object or id) and a
 * token (token, serial or slot-id), so that a token holding several keys never
 * signs with the wrong one.
 * @throws Error{Credential} saying what is wrong and how to write it, e.g. for
 *         pin-value ("the PIN goes in pin_file, never in the URI"), an unknown
 *         or repeated attribute, a bad percent escape, a space or non-ASCII byte
 *         written unescaped.
 */
Pkcs11Uri parse_pkcs11_uri(std::string_view text);

/** @p bytes percent-encoded for a URI value (unreserved characters kept). */
std::string pkcs11_uri_escape(std::string_view bytes);

}  // namespace segel::smime
