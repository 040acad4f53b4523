#pragma once
// What every audit store holds, and how verify, show, prove, export and the
// shipper read it: the same for the node's own SQLite file and for the shared
// PostgreSQL database that holds every node's events (docs/audit.md, "Storage").
#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace segel::audit {

/**
 * The columns a store keeps beside the canonical bytes, for queries and
 * reports. They are derived from the bytes (columns_of) and `audit verify`
 * checks that they still are: a report can no more be falsified by editing a
 * column than the record by editing its bytes.
 */
struct Columns {
    std::uint64_t time_us = 0;
    std::string kind, queue_id, direction, sender, login, client, unit, decision, reason_code, verdict, cert_serial;
    bool operator==(const Columns&) const = default;
};
Columns columns_of(const Event& e);
/**
 * A field as a text column: well-formed UTF-8 without NUL passes unchanged;
 * any other byte becomes U+FFFD (PostgreSQL text holds nothing else). The
 * canonical bytes keep the original.
 */
std::string column_safe(std::string_view s);
/** column_safe(@p value) == @p column, without a copy when @p value is plain ASCII (it mostly is). */
bool column_equal(std::string_view value, std::string_view column);
/** The column names, in Columns order (for messages: "column sender says …"). */
extern const char* const k_column_names[12];

/**
 * One stored event as a store hands it out: views into the store's buffers,
 * valid during the callback only (a verify pass reads ten million of them;
 * nothing is copied that is not needed).
 */
struct RowView {
    std::uint64_t index = 0;
    std::uint64_t time_us = 0;
    std::string_view text[11];  ///< kind … cert_serial, in k_column_names[1..] order
    std::string_view data;      ///< the canonical bytes (audit::encode)
    std::string_view leaf;      ///< the stored leaf hash (32 bytes unless someone changed it)
};

/** The first column of @p row that differs from @p c, as an index into k_column_names, or -1. */
int column_mismatch(const Columns& c, const RowView& row);
/** The text of column @p i of @p row. */
std::string column_text(const RowView& row, int i);

/** One stored checkpoint with the columns kept beside it. */
struct StoredCheckpoint {
    std::uint64_t sequence = 0;
    std::uint64_t size = 0;
    Hash root{};
    std::uint64_t time_us = 0;
    SignedCheckpoint signed_checkpoint;
};

/** Key of the summary table (issue 13's reports): per UTC hour and unit, counts by kind/decision/reason/verdict. */
using CountKey = std::tuple<std::int64_t, std::string, std::string, std::string, std::string, std::string>;
using Counts = std::map<CountKey, std::int64_t>;
/** The summary key an event is counted under: (time_us / 3600e6, unit, kind, decision, reason_code, verdict). */
CountKey count_key(const Columns& c);

/** Filters for `audit show` (all optional; combined with AND). */
struct Query {
    std::optional<std::uint64_t> since_us;
    std::optional<std::uint64_t> until_us;
    std::string sender;
    std::string queue_id;
    std::string kind;
    std::string node;
    std::size_t limit = 0;  ///< 0: all
};

/** The reading side of a store. */
class Reader {
public:
    virtual ~Reader() = default;
    /** A short name for messages: the file, or the database URL without password. */
    [[nodiscard]] virtual std::string name() const = 0;
    /** The nodes whose events the store holds (one for a node's own file). */
    virtual std::vector<std::string> nodes() = 0;
    /** Events of @p node with index in [from, to), in index order; stop when @p fn returns false. */
    virtual void scan(const std::string& node, std::uint64_t from, std::uint64_t to,
                      const std::function<bool(const RowView&)>& fn) = 0;
    /** Stored leaf hashes of @p node's events in @p range, in order. */
    virtual void leaves(const std::string& node, merkle::Range range, const std::function<void(const Hash&)>& fn) = 0;
    /** The checkpoints of @p node from @p from_sequence on, by sequence. */
    virtual std::vector<StoredCheckpoint> checkpoints(const std::string& node, std::uint64_t from_sequence = 0) = 0;
    /** The number of events of @p node (its highest index + 1; 0 when none). */
    virtual std::uint64_t size(const std::string& node) = 0;
    /** The summary table for @p node. */
    virtual Counts counts(const std::string& node) = 0;
    /** The summary rows of @p node with hour in [first_hour, end_hour) (the reports, docs/reports.md). */
    virtual Counts counts(const std::string& node, std::int64_t first_hour, std::int64_t end_hour) = 0;
    /** Rows matching @p q, in (node, index) order, with their node. */
    virtual void find(const Query& q, const std::function<bool(const std::string& node, const RowView&)>& fn) = 0;
};

/**
 * Opens a store for reading: "sqlite:/path" or a bare path, or
 * "postgresql://…" / "postgres://…".
 * @throws Error{Unavailable} when it cannot be opened, Error{Usage} for an unknown scheme
 */
std::unique_ptr<Reader> open_reader(const std::string& url);

/** True for postgresql:// and postgres:// URLs. */
bool is_postgresql(const std::string& url);

/** The URL with any password removed (for messages and logs). */
std::string redact(const std::string& url);

}  // namespace segel::audit
