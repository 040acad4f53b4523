#include "tools/notices.h"

#include "base/time.h"
#include "policy/decide.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <stdexcept>

namespace segel::tools {

namespace {

using TimePoint = std::chrono::system_clock::time_point;

long long unix_time(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

/** One prepared statement, finalised on scope exit. */
class Statement {
public:
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr) != SQLITE_OK) {
            throw std::runtime_error(std::string("notice ledger: ") + sqlite3_errmsg(db));
        }
    }
    ~Statement() { sqlite3_finalize(m_stmt); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& text(int i, const std::string& v) {
        sqlite3_bind_text(m_stmt, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& integer(int i, long long v) {
        sqlite3_bind_int64(m_stmt, i, v);
        return *this;
    }
    int step() { return sqlite3_step(m_stmt); }
    long long column(int i) { return sqlite3_column_int64(m_stmt, i); }
    std::string column_text(int i) {
        const auto* p = sqlite3_column_text(m_stmt, i);
        return p != nullptr ? reinterpret_cast<const char*>(p) : "";
    }

private:
    sqlite3_stmt* m_stmt = nullptr;
};

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

const char* kind_id(const std::string& kind) {
    if (kind == "signing") {
        return "sertifikat penandatanganan";
    }
    if (kind == "anchor") {
        return "sertifikat CA akar (trust anchor)";
    }
    if (kind == "intermediate") {
        return "sertifikat CA perantara";
    }
    return "sertifikat responder OCSP";
}

const char* kind_en(const std::string& kind) {
    if (kind == "signing") {
        return "signing certificate";
    }
    if (kind == "anchor") {
        return "root CA certificate (trust anchor)";
    }
    if (kind == "intermediate") {
        return "intermediate CA certificate";
    }
    return "OCSP responder certificate";
}

}  // namespace

NoticeLedger::NoticeLedger(const std::string& file) : m_file(file) {
    if (sqlite3_open_v2(file.c_str(), &m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        const std::string why = m_db != nullptr ? sqlite3_errmsg(m_db) : "out of memory";
        sqlite3_close(m_db);
        m_db = nullptr;
        throw std::runtime_error("cannot open the notice ledger " + file + ": " + why +
                                 " (notices.state_file: its directory must exist and be writable)");
    }
    sqlite3_busy_timeout(m_db, 30000);
    exec(
        "CREATE TABLE IF NOT EXISTS notices ("
        " certificate TEXT NOT NULL,"
        " threshold INTEGER NOT NULL,"
        " state TEXT NOT NULL,"  // 'claimed' or 'sent'
        " claimed_at INTEGER NOT NULL,"
        " node TEXT NOT NULL,"
        " sent_at INTEGER,"
        " recipients TEXT,"
        " PRIMARY KEY (certificate, threshold))");
}

NoticeLedger::~NoticeLedger() {
    sqlite3_close(m_db);
}

void NoticeLedger::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string why = err != nullptr ? err : "unknown error";
        sqlite3_free(err);
        throw std::runtime_error("notice ledger " + m_file + ": " + why);
    }
}

bool NoticeLedger::claim(const std::string& key, int threshold, const std::string& node, TimePoint now) {
    exec("BEGIN IMMEDIATE");  // one writer at a time: the claim is atomic across processes
    bool ok = false;
    try {
        Statement q(m_db, "SELECT state, claimed_at FROM notices WHERE certificate = ?1 AND threshold = ?2");
        q.text(1, key).integer(2, threshold);
        if (q.step() != SQLITE_ROW) {
            Statement ins(m_db,
                          "INSERT INTO notices (certificate, threshold, state, claimed_at, node) "
                          "VALUES (?1, ?2, 'claimed', ?3, ?4)");
            ins.text(1, key).integer(2, threshold).integer(3, unix_time(now)).text(4, node);
            ok = ins.step() == SQLITE_DONE;
        } else if (q.column_text(0) == "claimed" && q.column(1) < unix_time(now) - 3600) {
            Statement up(m_db,
                         "UPDATE notices SET claimed_at = ?3, node = ?4 WHERE certificate = ?1 AND threshold = ?2");
            up.text(1, key).integer(2, threshold).integer(3, unix_time(now)).text(4, node);
            ok = up.step() == SQLITE_DONE;
        }
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
    exec("COMMIT");
    return ok;
}

void NoticeLedger::sent(const std::string& key, int threshold, const std::string& recipients, TimePoint now) {
    Statement up(m_db,
                 "UPDATE notices SET state = 'sent', sent_at = ?3, recipients = ?4 "
                 "WHERE certificate = ?1 AND threshold = ?2");
    up.text(1, key).integer(2, threshold).integer(3, unix_time(now)).text(4, recipients);
    if (up.step() != SQLITE_DONE) {
        throw std::runtime_error("notice ledger " + m_file + ": " + sqlite3_errmsg(m_db));
    }
}

void NoticeLedger::release(const std::string& key, int threshold) {
    Statement del(m_db, "DELETE FROM notices WHERE certificate = ?1 AND threshold = ?2 AND state = 'claimed'");
    del.text(1, key).integer(2, threshold);
    del.step();
}

long long NoticeLedger::sent_at(const std::string& key, int threshold) {
    Statement q(m_db, "SELECT sent_at FROM notices WHERE certificate = ?1 AND threshold = ?2 AND state = 'sent'");
    q.text(1, key).integer(2, threshold);
    return q.step() == SQLITE_ROW ? q.column(0) : 0;
}

std::string compose_notice(const policy::Expiring& c, int threshold, const std::string& from,
                           const std::vector<std::string>& to, TimePoint now, const std::string& host) {
    const long left = policy::days_left(c.not_after, now);
    const bool expired = now >= c.not_after;
    const std::string until = base::format_date(c.not_after);
    const std::string who = c.addresses.empty() ? c.common_name : join(c.addresses, ", ");
    const std::string days_id = expired ? "sudah berakhir" : "berakhir dalam " + std::to_string(left) + " hari";
    const std::string days_en = expired ? "has expired" : "expires in " + std::to_string(left) + " days";
    std::string ascii_who;  // the header stays 7-bit: a name with other letters shows as '?' there (not in the body)
    for (const unsigned char ch : who) {
        ascii_who += ch >= 0x20 && ch < 0x7f ? static_cast<char>(ch) : '?';
    }
    const std::string subject =
        "[segel] Sertifikat elektronik " + days_id + ": " + ascii_who + "\r\n / Certificate " + days_en;

    std::mt19937_64 rng(std::random_device{}());
    std::string body;
    auto line = [&](const std::string& l) { body += l + "\r\n"; };
    // Paragraphs wrapped at 72 columns: the notice stays 7-bit plain text that signing leaves as it is.
    auto para = [&](const std::string& text) {
        std::string current;
        std::size_t pos = 0;
        while (pos < text.size()) {
            const std::size_t sp = text.find(' ', pos);
            const std::string word = text.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
            pos = sp == std::string::npos ? text.size() : sp + 1;
            if (!current.empty() && current.size() + 1 + word.size() > 72) {
                line(current);
                current.clear();
            }
            current += (current.empty() ? "" : " ") + word;
        }
        if (!current.empty()) {
            line(current);
        }
        line("");
    };
    const std::string days = std::to_string(left);
    para("Yth. pemilik sertifikat dan administrator OPD,");
    para(std::string("Masa berlaku ") + kind_id(c.kind) + " berikut " +
         (expired ? "sudah berakhir pada " + until + "."
                  : "akan berakhir pada " + until + " (" + days + " hari lagi)."));
    line("  Pemilik        : " + c.common_name);
    if (!c.addresses.empty()) {
        line("  Alamat e-mail  : " + join(c.addresses, ", "));
    }
    line("  Nomor seri     : " + c.serial);
    line("  Berlaku        : " + base::format_date(c.not_before) + " s.d. " + until);
    line("");
    if (c.kind == "signing") {
        para(expired ? "Sejak tanggal itu gateway segel tidak lagi menandatangani e-mail dengan sertifikat ini; "
                       "e-mail dari alamat tersebut ditolak sampai sertifikat baru dipasang."
                     : "Ajukan perpanjangan kepada RA (Dinas Kominfo) sekarang: perpanjangan berarti kunci dan "
                       "sertifikat baru, dan diajukan 3 bulan sebelum masa berlaku berakhir. Setelah sertifikat "
                       "baru terbit, administrator memasangnya sebagai credential tambahan; segel langsung memakai "
                       "yang terbaru.");
    } else {
        para(
            "Administrator: pasang sertifikat CA/responder yang baru (trust.anchors, trust.intermediates) "
            "sebelum tanggal tersebut, agar verifikasi dan penandatanganan tidak terhenti.");
    }
    para("Pemberitahuan ini dikirim satu kali untuk batas " + std::to_string(threshold) + " hari oleh gateway segel (" +
         host + ").");
    line("-- English --");
    line("");
    para("Dear certificate owner and OPD administrator,");
    para(std::string("The following ") + kind_en(c.kind) + " " +
         (expired ? "expired on " + until + "." : "expires on " + until + " (in " + days + " days)."));
    line("  Owner          : " + c.common_name);
    if (!c.addresses.empty()) {
        line("  E-mail address : " + join(c.addresses, ", "));
    }
    line("  Serial number  : " + c.serial);
    line("  Valid          : " + base::format_date(c.not_before) + " to " + until);
    line("");
    if (c.kind == "signing") {
        para(expired ? "Since then the segel gateway no longer signs mail with this certificate; mail from that "
                       "address is refused until a new certificate is installed."
                     : "Ask the RA (Dinas Kominfo) for a renewal now: a renewal is a new key and certificate, "
                       "requested 3 months before expiry. Once it is issued, the administrator installs it as an "
                       "additional credential; segel signs with the newest valid certificate at once.");
    } else {
        para(
            "Administrators: install the new CA/responder certificate (trust.anchors, trust.intermediates) "
            "before that date, so that verification and signing do not stop.");
    }
    para("This notice is sent once for the " + std::to_string(threshold) + "-day threshold by the segel gateway (" +
         host + ").");
    const bool ascii =
        std::all_of(body.begin(), body.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });

    std::string msg;
    msg += "Date: " + base::format_rfc5322(now) + "\r\n";
    msg += "From: segel <" + from + ">\r\n";
    msg += "To: " + join(to, ", ") + "\r\n";
    msg += "Subject: " + subject + "\r\n";
    msg += "Message-ID: <notice." + c.key.substr(0, 16) + "." + std::to_string(threshold) + "." +
           std::to_string(rng() % 1000000000) + "@" + host + ">\r\n";
    msg += "Auto-Submitted: auto-generated\r\n";  // RFC 3834: no auto-replies
    msg += "X-Segel-Notice: expiry " + std::to_string(threshold) + " " + c.serial + "\r\n";
    msg += "MIME-Version: 1.0\r\n";
    msg += std::string("Content-Type: text/plain; charset=") + (ascii ? "us-ascii" : "utf-8") + "\r\n";
    msg += std::string("Content-Transfer-Encoding: ") + (ascii ? "7bit" : "8bit") + "\r\n";
    msg += "\r\n";
    msg += body;
    return msg;
}

}  // namespace segel::tools
