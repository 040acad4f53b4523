#pragma once
// Supervision reports (R11, docs/reports.md): per organisational unit (OPD)
// and in total, what the gateway signed, refused, verified and decrypted, the
// incidents and the certificates of a period — computed from exactly the
// events a signed audit checkpoint covers, so that `audit verify` and the
// checkpoint prove every number. Reads an audit store; writes nothing.
#include "audit/store.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::report {

/** A period of whole UTC days, [from, to] inclusive, as hours since 1970 [first_hour, end_hour). */
struct Period {
    std::string from;  ///< "2026-01-01"
    std::string to;    ///< "2026-06-30"
    std::int64_t first_hour = 0;
    std::int64_t end_hour = 0;  ///< the hour after the last one (midnight after @c to)
};

/**
 * Reads "YYYY-MM-DD" .. "YYYY-MM-DD" (both inclusive, UTC).
 * @throws std::invalid_argument naming the value and the expected form, or when @p to is before @p from
 */
Period period(const std::string& from, const std::string& to);

/** The incident words of R12 (issue 13), in report order; any other word is shown as it is. */
extern const std::vector<std::string> k_incident_kinds;

/** The numbers for one unit (or the total). Maps are keyed by the recorded word. */
struct Measures {
    std::int64_t signed_only = 0;                   ///< kind sign
    std::int64_t sign_encrypt = 0;                  ///< kind sign+encrypt
    std::int64_t passed = 0;                        ///< kind pass: outbound, sent on unsigned
    std::int64_t decrypted = 0;                     ///< kind decrypt
    std::int64_t errors = 0;                        ///< kind internal-error
    std::map<std::string, std::int64_t> refused;    ///< kind refuse, by reason_code (refusals and deferrals)
    std::map<std::string, std::int64_t> verified;   ///< kinds verify and decrypt, by verdict word ("none" if absent)
    std::map<std::string, std::int64_t> incidents;  ///< kind incident, by reason_code
    std::int64_t certs_issued = 0;                  ///< known certificates whose not_before lies in the period
    std::int64_t certs_expired = 0;                 ///< … whose not_after lies in the period
    std::int64_t certs_expiring = 0;                ///< … whose not_after lies within 90 days after the period (R5)
    std::int64_t certs_revoked = 0;                 ///< … recorded revoked (certificate-state) in the period

    [[nodiscard]] std::int64_t refused_total() const;
    [[nodiscard]] std::int64_t verified_total() const;
    [[nodiscard]] std::int64_t incidents_total() const;
    void add(const Measures& other);
    bool operator==(const Measures&) const = default;
};

/** The checkpoint a node's numbers were computed from. */
struct NodeCheckpoint {
    std::string node;
    std::uint64_t sequence = 0;
    std::uint64_t size = 0;          ///< events 0 … size-1 are covered
    std::string root;                ///< hex
    std::string time;                ///< RFC 3339
    std::string text_sha256;         ///< SHA-256 of the checkpoint's signed text (hex)
    std::uint64_t events_after = 0;  ///< events of the node not covered (left out of every number)
};

struct Options {
    Period period;
    std::string unit;                       ///< only this unit ("" = all)
    std::string node;                       ///< only this node ("" = all the store holds)
    std::optional<std::uint64_t> sequence;  ///< this checkpoint (with one node) instead of the latest
};

struct Report {
    Period period;
    std::string store;  ///< the store's name (no password)
    std::vector<NodeCheckpoint> checkpoints;
    std::map<std::string, Measures> units;   ///< by unit ("" = events without a unit)
    Measures total;                          ///< the sum of units
    std::map<std::string, Measures> months;  ///< "2026-01" … (messages and incidents; no certificates)
    std::string generated;                   ///< RFC 3339, when computed
};

/** The summary key of one stored event (what the counts table counts it under). */
audit::CountKey count_key(const audit::RowView& row);

/**
 * Adds the summary rows @p counts (hours inside @p p only) to @p r, each
 * row's n times (negative n takes away).
 */
void add_counts(Report& r, const Period& p, const std::string& unit, const audit::Counts& counts);

/**
 * The certificate facts from one node's start/reload credential lines and
 * certificate-state events (each certificate counted once, by fingerprint).
 */
struct CertificateSeen {
    std::string sha256, serial, address, unit;
    std::string not_before, not_after;  ///< "YYYY-MM-DD", or "" (recorded before these were)
    bool revoked_in_period = false;
};
/** Reads one credential line ("serial=… sha256=… address=… not_before=… not_after=… state=…"). */
std::optional<CertificateSeen> parse_credential(std::string_view line);
/** Counts the certificates of @p seen into @p r (units and total). */
void add_certificates(Report& r, const Period& p, const std::string& unit,
                      const std::map<std::string, CertificateSeen>& seen);

/**
 * Computes the report from @p store: for every node (or Options::node), the
 * latest checkpoint (or Options::sequence); the summary table for the period,
 * less the events after that checkpoint (scanned); the certificates from the
 * covered start/reload/certificate-state events.
 * @throws std::runtime_error when a node has no checkpoint yet, or the given one does not exist
 * @throws audit::Error when the store cannot be read
 */
Report compute(audit::Reader& store, const Options& options, const std::string& generated);

enum class Lang { Id, En };

/** JSON (docs/reports.md, "JSON"). */
std::string to_json(const Report& r);
/** CSV, RFC 4180: header "unit,measure,detail,count", one row per unit × measure, CRLF lines. */
std::string to_csv(const Report& r);
/** A self-contained HTML page with inline SVG charts, printable; every recorded value escaped. */
std::string to_html(const Report& r, Lang lang);

/**
 * @p s as HTML text or attribute value: well-formed UTF-8 kept (any other
 * byte, NUL and other control characters become U+FFFD), & < > " ' escaped.
 */
std::string html_escape(std::string_view s);
/** @p s as one RFC 4180 field: quoted, inner quotes doubled; bytes kept as UTF-8-safe text. */
std::string csv_field(std::string_view s);

}  // namespace segel::report
