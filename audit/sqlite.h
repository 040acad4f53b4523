#pragma once
// Internal to audit/: RAII owners for SQLite handles and the few calls the
// store makes. Every failure becomes Error{Unavailable} naming the file.
#include "audit/error.h"

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace segel::audit::sql {

class Stmt;

class Db {
public:
    /** Opens (creating when @p create) the database at @p path. @throws Error{Unavailable} */
    static Db open(const std::string& path, bool create, bool read_only = false);

    void exec(const char* sql);
    Stmt prepare(const char* sql);
    [[nodiscard]] sqlite3* get() const { return m_db.get(); }
    [[nodiscard]] const std::string& path() const { return m_path; }
    /** "PATH: what" with SQLite's message. */
    [[nodiscard]] std::string message(const std::string& what) const;
    [[noreturn]] void fail(const std::string& what) const;

private:
    struct Closer {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    std::unique_ptr<sqlite3, Closer> m_db;
    std::string m_path;
};

class Stmt {
public:
    Stmt(const Db& db, sqlite3_stmt* stmt) : m_db(&db), m_stmt(stmt) {}

    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
    Stmt& bind(int i, std::string_view text);
    Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
    Stmt& bind_blob(int i, std::string_view bytes);
    /** Runs one step. @return true when a row is available */
    bool step();
    /** Steps to completion (statements that return no rows). */
    void run();
    void reset();

    [[nodiscard]] std::int64_t i64(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
    [[nodiscard]] std::uint64_t u64(int col) const { return static_cast<std::uint64_t>(i64(col)); }
    [[nodiscard]] std::string_view text(int col) const;
    [[nodiscard]] std::string_view blob(int col) const;
    [[nodiscard]] bool null(int col) const { return sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL; }

private:
    struct Finalizer {
        void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
    };
    const Db* m_db;
    std::unique_ptr<sqlite3_stmt, Finalizer> m_stmt;
};

}  // namespace segel::audit::sql
