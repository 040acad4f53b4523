#pragma once
// Expiry notices (R5) for segelctl notify-expiry: the durable record of what
// was sent (SQLite), and the bilingual notice itself.
#include "policy/expiry.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace segel::tools {

/**
 * What was sent, once per (certificate, threshold): a SQLite file. A notice
 * is claimed before it is sent and marked sent after; two runs (a rerun, or
 * a second node on the same file) cannot both claim it. A claim left by a run
 * that died is taken over after an hour.
 *
 * Fleet: every node's timer may run notify-expiry when all point
 * notices.state_file at one file on storage with working POSIX locks (SQLite's
 * rule; not NFS), or run the timer on one node only (docs/operations.md).
 */
class NoticeLedger {
public:
    /** Opens (creating) the file. @throws std::runtime_error naming the file */
    explicit NoticeLedger(const std::string& file);
    ~NoticeLedger();
    NoticeLedger(const NoticeLedger&) = delete;
    NoticeLedger& operator=(const NoticeLedger&) = delete;

    /** True when this run may send it (nobody sent it, and no live claim is held). */
    bool claim(const std::string& key, int threshold, const std::string& node,
               std::chrono::system_clock::time_point now);
    void sent(const std::string& key, int threshold, const std::string& recipients,
              std::chrono::system_clock::time_point now);
    /** Gives a claim back (sending failed: the next run tries again). */
    void release(const std::string& key, int threshold);
    /** When it was sent, or 0. */
    long long sent_at(const std::string& key, int threshold);

private:
    void exec(const char* sql);
    std::string m_file;
    sqlite3* m_db = nullptr;
};

/** The notice for @p cert at @p threshold, as a whole RFC 5322 message (CRLF), Indonesian first, English below. */
std::string compose_notice(const policy::Expiring& cert, int threshold, const std::string& from,
                           const std::vector<std::string>& to, std::chrono::system_clock::time_point now,
                           const std::string& host);

}  // namespace segel::tools
