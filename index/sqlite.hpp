#pragma once
// Thin RAII layer over the SQLite C API. Every return code is checked; failures throw
// ragline::Error carrying sqlite3_errmsg and, where given, what was being done.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ragline::index {

// How long a connection waits for another writer before SQLITE_BUSY (ErrorKind::busy).
inline constexpr int kBusyTimeoutMs = 10000;

struct DatabaseCloser {
  void operator()(sqlite3* database) const noexcept { sqlite3_close_v2(database); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Throws the Error for result code `rc` on `database` (kind busy for SQLITE_BUSY/LOCKED,
// corrupt for SQLITE_CORRUPT/NOTADB, io for SQLITE_IOERR/FULL/CANTOPEN, database otherwise).
[[noreturn]] void throw_sqlite_error(sqlite3* database, int rc, std::string_view context);

// A prepared statement. Bind indices are 1-based, column indices 0-based (as in SQLite).
class Statement {
 public:
  Statement(sqlite3* database, std::string_view sql);

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);  // copied by SQLite (SQLITE_TRANSIENT)
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind_null(int index);
  Statement& bind_blob(int index, const void* data, std::size_t size);

  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();
  // Resets to run again with new bindings (bindings are cleared).
  void reset();

  std::int64_t column_int64(int column) const { return sqlite3_column_int64(handle_.get(), column); }
  double column_double(int column) const { return sqlite3_column_double(handle_.get(), column); }
  std::string_view column_text(int column) const;
  std::string column_string(int column) const { return std::string(column_text(column)); }
  bool column_is_null(int column) const { return sqlite3_column_type(handle_.get(), column) == SQLITE_NULL; }
  int column_type(int column) const { return sqlite3_column_type(handle_.get(), column); }
  sqlite3_stmt* get() const { return handle_.get(); }

 private:
  sqlite3* database_;
  StatementHandle handle_;
};

// How a connection reads its file (Database::open_existing).
enum class OpenMode {
  read_write,  // the normal case
  read_only,   // SQLITE_OPEN_READONLY: WAL readers share -shm, or read the -wal through a private
               // copy of its index when -shm cannot be written (SQLite 3.22+)
  immutable,   // read-only and `immutable=1`: no -wal holds data and no -shm can be made, so
               // kb.sqlite is read as it is, without locks; a writer starting later is not seen
};

class Database {
 public:
  // Opens (and with `create`, creates) the database file; enables foreign keys, sets the busy
  // timeout. Use read_only for connections that never write.
  static Database open(const std::filesystem::path& path, bool create, bool read_only = false);
  // Opens an existing database read-write when it can be written, else for reading only (the
  // directory, the file or its -wal/-shm not writable: another user's KB, a read-only mount, an
  // immutable file, a full disk): read_only when SQLite can read the WAL that way, else immutable
  // when no -wal holds data. Error(io) naming the file when neither is possible. Reads nothing
  // but the header page (to find out).
  static Database open_existing(const std::filesystem::path& path);

  void exec(std::string_view sql);  // runs one or more statements without results
  Statement prepare(std::string_view sql) { return Statement(handle_.get(), sql); }
  // The first column of the first row as an integer; nullopt when there is no row.
  std::optional<std::int64_t> query_int64(std::string_view sql);
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(handle_.get()); }
  int changes() const { return sqlite3_changes(handle_.get()); }
  sqlite3* get() const { return handle_.get(); }
  const std::filesystem::path& path() const { return path_; }
  OpenMode mode() const { return mode_; }
  bool read_only() const { return mode_ != OpenMode::read_write; }

 private:
  static Database open_with(const std::string& name, int flags, const std::filesystem::path& path, OpenMode mode);

  DatabaseHandle handle_;
  std::filesystem::path path_;
  OpenMode mode_ = OpenMode::read_write;
};

// Prepared statements kept for the life of a connection, keyed by their SQL. get() hands one
// out wrapped so that it is reset (and its bindings cleared) when the caller's scope ends: an
// active statement would otherwise hold its read snapshot open.
class StatementCache {
 public:
  class Lease {
   public:
    explicit Lease(Statement& statement) : statement_(&statement) {}
    ~Lease() { statement_->reset(); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Statement* operator->() const { return statement_; }
    Statement& operator*() const { return *statement_; }

   private:
    Statement* statement_;
  };

  explicit StatementCache(sqlite3* database) : database_(database) {}
  Lease get(std::string_view sql);

 private:
  sqlite3* database_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (e.g. by an exception).
// Error(io) "... is read-only" at once on a connection that Database::open_existing opened for
// reading only.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& database);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit();

 private:
  Database& database_;
  bool open_ = true;
};

// BEGIN (deferred) for a consistent read snapshot across several statements; ends on destruction.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& database);
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Database& database_;
};

}  // namespace ragline::index
