#include "index/sqlite.hpp"

#include "core/check.hpp"

namespace ragline::index {

void throw_sqlite_error(sqlite3* database, int rc, std::string_view context) {
  const int primary = rc & 0xff;
  const char* message = database != nullptr ? sqlite3_errmsg(database) : sqlite3_errstr(rc);
  std::string text = std::string(context) + ": " + message + " (SQLite code " + std::to_string(rc) + ")";
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw Error(ErrorKind::busy, text);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      throw Error(ErrorKind::corrupt, text);
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      throw Error(ErrorKind::io, text);
    default:
      throw Error(ErrorKind::database, text);
  }
}

Statement::Statement(sqlite3* database, std::string_view sql) : database_(database) {
  sqlite3_stmt* raw = nullptr;
  int rc =
      sqlite3_prepare_v3(database, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(database, rc, "preparing SQL `" + std::string(sql.substr(0, 80)) + "`");
  handle_.reset(raw);
}

Statement& Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(handle_.get(), index, value);
  if (rc != SQLITE_OK) throw_sqlite_error(database_, rc, "binding parameter " + std::to_string(index));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  int rc = sqlite3_bind_double(handle_.get(), index, value);
  if (rc != SQLITE_OK) throw_sqlite_error(database_, rc, "binding parameter " + std::to_string(index));
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(handle_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_sqlite_error(database_, rc, "binding parameter " + std::to_string(index));
  return *this;
}

Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(handle_.get(), index);
  if (rc != SQLITE_OK) throw_sqlite_error(database_, rc, "binding parameter " + std::to_string(index));
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
  int rc = sqlite3_bind_blob64(handle_.get(), index, data, size, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw_sqlite_error(database_, rc, "binding parameter " + std::to_string(index));
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(handle_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(handle_.get()) ? sqlite3_sql(handle_.get()) : "";
  sqlite3_reset(handle_.get());
  throw_sqlite_error(database_, rc, "running SQL `" + sql.substr(0, 80) + "`");
}

void Statement::run() {
  while (step()) {
  }
  sqlite3_reset(handle_.get());
}

void Statement::reset() {
  sqlite3_reset(handle_.get());
  sqlite3_clear_bindings(handle_.get());
}

std::string_view Statement::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(handle_.get(), column));
  if (text == nullptr) return {};
  return std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(handle_.get(), column)));
}

Database Database::open(const std::filesystem::path& path, bool create, bool read_only) {
  Database database;
  database.path_ = path;
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  database.handle_.reset(raw);
  if (rc != SQLITE_OK) throw_sqlite_error(raw, rc, "opening " + path.string());
  sqlite3_extended_result_codes(raw, 1);
  // Writers wait for each other this long before reporting the KB as busy.
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  database.exec("PRAGMA foreign_keys = ON");
  return database;
}

void Database::exec(std::string_view sql) {
  std::string owned(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(handle_.get(), owned.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // sqlite3_errmsg still holds the same text for the error below
  if (rc != SQLITE_OK) throw_sqlite_error(handle_.get(), rc, "running SQL `" + owned.substr(0, 80) + "`");
}

std::optional<std::int64_t> Database::query_int64(std::string_view sql) {
  Statement statement = prepare(sql);
  if (!statement.step()) return std::nullopt;
  return statement.column_int64(0);
}

StatementCache::Lease StatementCache::get(std::string_view sql) {
  auto found = statements_.find(std::string(sql));
  if (found == statements_.end()) {
    found = statements_.emplace(std::string(sql), std::make_unique<Statement>(database_, sql)).first;
  }
  return Lease(*found->second);
}

WriteTransaction::WriteTransaction(Database& database) : database_(database) { database_.exec("BEGIN IMMEDIATE"); }

WriteTransaction::~WriteTransaction() {
  if (open_) sqlite3_exec(database_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void WriteTransaction::commit() {
  database_.exec("COMMIT");
  open_ = false;
}

ReadTransaction::ReadTransaction(Database& database) : database_(database) { database_.exec("BEGIN"); }

ReadTransaction::~ReadTransaction() { sqlite3_exec(database_.get(), "COMMIT", nullptr, nullptr, nullptr); }

}  // namespace ragline::index
