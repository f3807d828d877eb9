#include "index/sqlite.hpp"

#include <unistd.h>

#include <system_error>

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
      // What to do, since SQLite's words alone ("database disk image is malformed") do not say.
      throw Error(ErrorKind::corrupt, text +
                                          "; the KB's database is damaged: `rag-query check` says where, "
                                          "`rag-query repair` rebuilds the keyword index and vectors.faiss, and "
                                          "damage it cannot rebuild needs kb.sqlite from a backup");
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

Database Database::open_with(const std::string& name, int flags, const std::filesystem::path& path, OpenMode mode) {
  Database database;
  database.path_ = path;
  database.mode_ = mode;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  database.handle_.reset(raw);
  if (rc != SQLITE_OK) throw_sqlite_error(raw, rc, "opening " + path.string());
  sqlite3_extended_result_codes(raw, 1);
  // Writers wait for each other this long before reporting the KB as busy.
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  database.exec("PRAGMA foreign_keys = ON");
  return database;
}

Database Database::open(const std::filesystem::path& path, bool create, bool read_only) {
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  return open_with(path.string(), flags, path, read_only ? OpenMode::read_only : OpenMode::read_write);
}

namespace {

bool writable(const std::filesystem::path& path) {
  std::error_code error;
  // A file that does not exist yet is created in the directory, checked separately.
  return !std::filesystem::exists(path, error) || ::access(path.c_str(), W_OK) == 0;
}

// SQLite opens lazily: the first read opens -wal and -shm, and is where a KB that cannot be
// written fails ("unable to open database file", "attempt to write a readonly database").
int probe(Database& database) {
  return sqlite3_exec(database.get(), "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
}

bool cannot_write(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_FULL ||
         rc == SQLITE_IOERR_SHMOPEN || rc == SQLITE_IOERR_SHMSIZE || rc == SQLITE_IOERR_SHMMAP;
}

// `file:` URI of a path (RFC 3986 escapes for the characters SQLite's URI parser gives meaning).
std::string file_uri(const std::filesystem::path& path) {
  std::string uri = "file:";
  for (const unsigned char c : path.string()) {
    if (c == '%' || c == '?' || c == '#' || c < 0x21 || c >= 0x7f) {
      static const char* const kHex = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 15];
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri;
}

}  // namespace

Database Database::open_existing(const std::filesystem::path& path) {
  const auto directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  auto sibling = [&](const char* suffix) { return std::filesystem::path(path.string() + suffix); };
  const bool can_write = ::access(directory.c_str(), W_OK) == 0 && ::access(path.c_str(), W_OK) == 0 &&
                         writable(sibling("-wal")) && writable(sibling("-shm"));
  int rc = SQLITE_OK;
  if (can_write) {
    Database database = open(path, false);
    rc = probe(database);
    if (rc == SQLITE_OK) return database;
    if (!cannot_write(rc)) throw_sqlite_error(database.get(), rc, "reading " + path.string());
  }
  {
    Database database = open(path, false, true);
    rc = probe(database);
    if (rc == SQLITE_OK) return database;
    if (!cannot_write(rc)) throw_sqlite_error(database.get(), rc, "reading " + path.string());
  }
  // No -shm can be made (a read-only directory after a clean close). Without a -wal holding data,
  // kb.sqlite has every committed transaction, and SQLite may read it as immutable media.
  std::error_code error;
  const auto wal = sibling("-wal");
  const bool wal_holds_data = std::filesystem::exists(wal, error) && std::filesystem::file_size(wal, error) > 0;
  RAGLINE_CHECK(!wal_holds_data, io,
                "cannot read " << path.string() << ": it is not writable here, and its kb.sqlite-wal holds "
                               << "committed data that SQLite can only read with a kb.sqlite-shm it cannot create "
                               << "(open it once with write access to checkpoint it)");
  Database database =
      open_with(file_uri(path) + "?immutable=1", SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, path,
                OpenMode::immutable);
  rc = probe(database);
  if (rc != SQLITE_OK) throw_sqlite_error(database.get(), rc, "reading " + path.string() + " read-only");
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

WriteTransaction::WriteTransaction(Database& database) : database_(database) {
  RAGLINE_CHECK(!database.read_only(), io,
                database.path().string() << " is read-only (opened for reading: the file or its directory is not "
                                            "writable): this needs write access");
  database_.exec("BEGIN IMMEDIATE");
}

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
