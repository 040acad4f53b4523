#pragma once
// Fitness for mail (R4): exactly why a certificate cannot sign official mail
// or receive encrypted mail — the extended key usage with the OIDs found, the
// key usage, the address, the official domain — in Indonesian and English,
// with what to ask the Registration Authority (Dinas Kominfo) for. Pure: no
// I/O. Used by segelctl certs / check-config / explain and the refusal text.
#include "config/settings.h"
#include "policy/decide.h"

#include <string>
#include <vector>

namespace segel::policy {

/** One reason, in both languages. */
struct Unfit {
    std::string code;    ///< "eku", "key-usage", "no-address", "not-official", "subject-address" (a note)
    std::string en;      ///< what is wrong, English
    std::string id;      ///< the same, Indonesian
    std::string ask_en;  ///< what to ask the RA for, English ("" for notes)
    std::string ask_id;  ///< the same, Indonesian
};

struct Fitness {
    std::vector<Unfit> signing;     ///< why it cannot sign mail (empty: it can)
    std::vector<Unfit> encryption;  ///< why nobody can encrypt to it (empty: they can)
    std::vector<Unfit> notes;       ///< usable, but worth knowing (address only in the subject, compatibility)
    [[nodiscard]] bool can_sign() const { return signing.empty(); }
    [[nodiscard]] bool can_receive() const { return encryption.empty(); }
};

/** Judges the usage, address and domain of @p cert for mail under @p settings. */
Fitness fitness(const CertFacts& cert, const config::Settings& settings);

/**
 * The explanation as indented lines, Indonesian first, English below (the
 * house order for people), e.g.
 *   tidak dapat menandatangani e-mail: … / cannot sign mail: …
 *     minta kepada RA: … / ask the RA for: …
 */
std::vector<std::string> explain(const Fitness& f);

/**
 * What a sender is told after the English reason of a refusal for certificate
 * @p code ("eku", "key-usage"): "; ask the RA … / <Indonesian reason and ask>"
 * (ASCII, one line, short enough for an SMTP reply); "" for other codes.
 */
std::string refusal_suffix(const std::string& code);

/** The certificate's extended key usages for people: "1.2.840.113583.1.1.5 (Adobe PDF signing), critical". */
std::string eku_text(const CertUsage& usage);

/** Known names of extended key usage OIDs ("emailProtection", "Adobe PDF signing"); "" when unknown. */
std::string eku_name(const std::string& oid);

}  // namespace segel::policy
