#include "audit/sqlite.h"

namespace segel::audit::sql {

Db Db::open(const std::string& path, bool create, bool read_only) {
    sqlite3* raw = nullptr;
    const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)) |
                      SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    Db db;
    db.m_db.reset(raw);
    db.m_path = path;
    if (rc != SQLITE_OK) {
        throw Error(Category::Unavailable, "cannot open the audit trail " + path + ": " +
                                               (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 10000);  // another process appending (segelctl) holds the lock for milliseconds
    return db;
}

std::string Db::message(const std::string& what) const {
    return m_path + ": " + what + ": " + sqlite3_errmsg(m_db.get());
}

void Db::fail(const std::string& what) const {
    throw Error(Category::Unavailable, message(what));
}

void Db::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err != nullptr ? err : "unknown error";
        sqlite3_free(err);
        throw Error(Category::Unavailable, m_path + ": " + msg + " (in: " + std::string(sql).substr(0, 60) + ")");
    }
}

Stmt Db::prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(m_db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        fail("cannot prepare a statement");
    }
    return {*this, s};
}

Stmt& Stmt::bind(int i, std::int64_t v) {
    if (sqlite3_bind_int64(m_stmt.get(), i, v) != SQLITE_OK) {
        m_db->fail("bind");
    }
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view text) {
    if (sqlite3_bind_text64(m_stmt.get(), i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK) {
        m_db->fail("bind");
    }
    return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
    if (sqlite3_bind_blob64(m_stmt.get(), i, bytes.empty() ? "" : bytes.data(), bytes.size(), SQLITE_STATIC) !=
        SQLITE_OK) {
        m_db->fail("bind");
    }
    return *this;
}

bool Stmt::step() {
    const int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    const std::string msg = m_db->message("cannot " + std::string(sqlite3_sql(m_stmt.get())).substr(0, 40));
    sqlite3_reset(m_stmt.get());
    throw Error(Category::Unavailable, msg);
}

void Stmt::run() {
    while (step()) {
    }
    reset();
}

void Stmt::reset() {
    sqlite3_reset(m_stmt.get());
    sqlite3_clear_bindings(m_stmt.get());
}

std::string_view Stmt::text(int col) const {
    const auto* p = sqlite3_column_text(m_stmt.get(), col);
    const int n = sqlite3_column_bytes(m_stmt.get(), col);
    return p != nullptr ? std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
                        : std::string_view();
}

std::string_view Stmt::blob(int col) const {
    const void* p = sqlite3_column_blob(m_stmt.get(), col);
    const int n = sqlite3_column_bytes(m_stmt.get(), col);
    return p != nullptr ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
                        : std::string_view();
}

}  // namespace segel::audit::sql
