#pragma once
// Shared by the libFuzzer harnesses in fuzz/ (docs/fuzzing.md): the fixed test PKI
// (tests/fuzz-pki, plus the interop corpus' keys when ../shared is there), a pinned clock, and
// the check that turns a broken property into a crash libFuzzer keeps the input of.
#include "smime/blob.h"
#include "smime/certificate.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

/** libFuzzer's entry points, defined by each harness. */
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace segel::fuzz {

/**
 * Aborts (a crash libFuzzer saves the input of) when @p ok is false: the harness found an
 * input for which a property the code promises does not hold. @p what says which.
 */
void require(bool ok, const char* what);

/** The bytes libFuzzer hands over, as a view. */
inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

/** The harnesses' "now": 2026-06-01T00:00:00Z, inside every key's validity (as the unit tests). */
smime::TimePoint now();

/** A private key with its certificate. */
struct Key {
    std::string name;  ///< for messages: "fuzz-rsa", "Alice", ...
    smime::ossl::Ptr<X509> cert;
    smime::ossl::Ptr<EVP_PKEY> key;
};

/**
 * Decryption keys: tests/fuzz-pki/rsa and ec, and, when the shared interop corpus is there,
 * the Thunderbird/NSS test users' (Alice, Alice-ec, Bob, Fran, Fran-ec) and Bouncy Castle's.
 * Loaded once.
 */
const std::vector<Key>& keys();

/**
 * Trust anchors: the fuzz root (tests/fuzz-pki/root.pem, with its intermediate) and the interop
 * corpus' roots (NSS Test CA, Bouncy Castle's validator and certpath roots). Loaded once.
 */
const smime::TrustStore& trust();

/** CRLs the verification harness checks against (the Bouncy Castle validator's). */
const std::vector<smime::ossl::Ptr<X509_CRL>>& crls();

/**
 * @p bytes in a Blob that spilled to a spool file (a small memory limit, a directory of the
 * harness' own), so the file-backed readers run: mapped windows, bounded GMime streams, and
 * spool files reused from earlier inputs (longer than this one: stale bytes past its end).
 */
smime::Blob spooled(std::string_view bytes);

/**
 * A file of the fixed fuzz PKI, tests/fuzz-pki/ (test keys, committed with the tests: the stored
 * corpus holds messages signed and encrypted with them; docs/fuzzing.md), found from the source
 * tree the harness was built from.
 */
std::string pki_file(const std::string& name);

/** A file of the shared interop corpus ($SEGEL_SHARED or the source tree's ../shared); "" when absent. */
std::string shared_file(const std::string& relative);

}  // namespace segel::fuzz
