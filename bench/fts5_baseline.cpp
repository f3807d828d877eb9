#include "bench/fts5_baseline.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "bench/beir_dataset.hpp"
#include "ragline/error.hpp"

namespace ragline::bench {
namespace {

namespace fs = std::filesystem;

bool is_separator(unsigned char byte) {
  const bool ascii_alphanumeric =
      (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z');
  return byte < 0x80 && !ascii_alphanumeric;
}

void append_quoted(std::string& out, std::string_view word) {
  out.push_back('"');
  for (const char c : word) {
    // The split above never leaves a '"' in a word; doubling it anyway keeps the expression
    // well-formed if the definition of a word ever changes.
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

[[noreturn]] void throw_database(sqlite3* database, const std::string& what) {
  throw Error(ErrorKind::database,
              "fts5 baseline: " + what + ": " + (database ? sqlite3_errmsg(database) : "out of memory"));
}

void execute(sqlite3* database, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(database, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw Error(ErrorKind::database, std::string("fts5 baseline: ") + sql + ": " + text);
  }
}

// Finalizes on every path out of ingest(), errors included.
class Statement {
 public:
  Statement(sqlite3* database, const char* sql) {
    if (sqlite3_prepare_v2(database, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw_database(database, std::string("prepare ") + sql);
    }
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return statement_; }

 private:
  sqlite3_stmt* statement_ = nullptr;
};

// The same id rule as the BEIR loader, so rowids map back to the ids the qrels use.
std::string record_id(const fs::path& path, std::size_t line_number, const nlohmann::json& record,
                      std::string_view id_field) {
  const auto found = record.find(id_field);
  if (found != record.end() && found->is_string() && !found->get_ref<const std::string&>().empty()) {
    return found->get<std::string>();
  }
  if (found != record.end() && found->is_number_integer()) return found->dump();
  throw_at(path, line_number, "record has no string or integer \"" + std::string(id_field) + '"');
}

// An absent or null field is indexed as NULL; FTS5 then sees an empty column.
void bind_field(sqlite3* database, sqlite3_stmt* statement, int index, const nlohmann::json& record, const char* field,
                const fs::path& path, std::size_t line_number) {
  const auto found = record.find(field);
  int rc = SQLITE_OK;
  if (found == record.end() || found->is_null()) {
    rc = sqlite3_bind_null(statement, index);
  } else if (found->is_string()) {
    const std::string& value = found->get_ref<const std::string&>();
    rc = sqlite3_bind_text(statement, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  } else {
    throw_at(path, line_number, std::string("\"") + field + "\" must be a string");
  }
  if (rc != SQLITE_OK) throw_database(database, std::string("bind ") + field);
}

}  // namespace

std::string fts5_match_expression(std::string_view query) {
  std::string expression;
  std::size_t index = 0;
  while (index < query.size()) {
    while (index < query.size() && is_separator(static_cast<unsigned char>(query[index]))) ++index;
    const std::size_t start = index;
    while (index < query.size() && !is_separator(static_cast<unsigned char>(query[index]))) ++index;
    if (index == start) break;
    if (!expression.empty()) expression += " OR ";
    append_quoted(expression, query.substr(start, index - start));
  }
  return expression;
}

Fts5Baseline::Fts5Baseline() { open(":memory:", false); }

Fts5Baseline::Fts5Baseline(const fs::path& database_file) {
  std::error_code error;
  const bool exists = fs::exists(database_file, error);
  if (error) throw Error(ErrorKind::io, "fts5 baseline: " + database_file.string() + ": " + error.message());
  if (exists) {
    throw Error(ErrorKind::invalid_argument,
                "fts5 baseline: " + database_file.string() + " already exists; the baseline is built in a new file");
  }
  open(database_file.string(), true);
}

void Fts5Baseline::open(const std::string& filename, bool file_backed) {
  if (sqlite3_open_v2(filename.c_str(), &database_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string message = database_ ? sqlite3_errmsg(database_) : "out of memory";
    sqlite3_close(database_);
    database_ = nullptr;
    throw Error(ErrorKind::database, "fts5 baseline: open " + filename + ": " + message);
  }
  try {
    if (file_backed) {
      execute(database_, "PRAGMA journal_mode = WAL");
      execute(database_, "PRAGMA synchronous = FULL");
    }
    execute(database_,
            "CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize='porter unicode61 remove_diacritics 2')");
    const char* search_sql = "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY bm25(t) LIMIT ?2";
    if (sqlite3_prepare_v2(database_, search_sql, -1, &search_, nullptr) != SQLITE_OK) {
      throw_database(database_, std::string("prepare ") + search_sql);
    }
    const char* count_sql = "SELECT count(*) FROM t WHERE t MATCH ?1";
    if (sqlite3_prepare_v2(database_, count_sql, -1, &count_, nullptr) != SQLITE_OK) {
      throw_database(database_, std::string("prepare ") + count_sql);
    }
  } catch (...) {
    sqlite3_finalize(search_);
    sqlite3_finalize(count_);
    sqlite3_close(database_);
    search_ = nullptr;
    count_ = nullptr;
    database_ = nullptr;
    throw;
  }
}

Fts5Baseline::~Fts5Baseline() {
  sqlite3_finalize(search_);
  sqlite3_finalize(count_);
  sqlite3_close(database_);
}

void Fts5Baseline::ingest(const fs::path& corpus_path, std::string_view id_field) {
  execute(database_, "BEGIN");
  try {
    const Statement insert(database_, "INSERT INTO t(rowid, title, text) VALUES (?1, ?2, ?3)");
    // Same leniency as the BEIR loader: a BOM, CRLF endings and blank lines are not records.
    for_each_line(corpus_path, [&](std::string_view view, std::size_t line_number) {
      const nlohmann::json record = parse_record(corpus_path, line_number, view);
      document_ids_.push_back(record_id(corpus_path, line_number, record, id_field));

      sqlite3_stmt* statement = insert.get();
      sqlite3_reset(statement);
      if (sqlite3_bind_int64(statement, 1, static_cast<sqlite3_int64>(document_ids_.size())) != SQLITE_OK) {
        throw_database(database_, "bind rowid");
      }
      bind_field(database_, statement, 2, record, "title", corpus_path, line_number);
      bind_field(database_, statement, 3, record, "text", corpus_path, line_number);
      if (sqlite3_step(statement) != SQLITE_DONE) {
        throw_database(database_, corpus_path.string() + ':' + std::to_string(line_number) + ": insert");
      }
    });
    execute(database_, "COMMIT");
  } catch (...) {
    sqlite3_exec(database_, "ROLLBACK", nullptr, nullptr, nullptr);
    document_ids_.clear();
    throw;
  }
}

std::vector<std::int64_t> Fts5Baseline::search(std::string_view query, std::size_t limit) {
  std::vector<std::int64_t> rowids;
  const std::string expression = fts5_match_expression(query);
  if (expression.empty() || limit == 0) return rowids;
  rowids.reserve(limit);

  const auto clamped_limit =
      static_cast<sqlite3_int64>(std::min<std::size_t>(limit, std::numeric_limits<sqlite3_int64>::max()));
  if (sqlite3_bind_text(search_, 1, expression.data(), static_cast<int>(expression.size()), SQLITE_STATIC) !=
          SQLITE_OK ||
      sqlite3_bind_int64(search_, 2, clamped_limit) != SQLITE_OK) {
    sqlite3_reset(search_);
    throw_database(database_, "bind query");
  }
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(search_)) == SQLITE_ROW) rowids.push_back(sqlite3_column_int64(search_, 0));
  const std::string message = rc == SQLITE_DONE ? std::string() : sqlite3_errmsg(database_);
  // Reset and unbind (the text points into `expression`) on every path, so the statement is
  // reusable after an error.
  sqlite3_reset(search_);
  sqlite3_clear_bindings(search_);
  if (rc != SQLITE_DONE) throw Error(ErrorKind::database, "fts5 baseline: search " + expression + ": " + message);
  return rowids;
}

std::size_t Fts5Baseline::count_matches(std::string_view query) {
  const std::string expression = fts5_match_expression(query);
  if (expression.empty()) return 0;
  if (sqlite3_bind_text(count_, 1, expression.data(), static_cast<int>(expression.size()), SQLITE_STATIC) !=
      SQLITE_OK) {
    sqlite3_reset(count_);
    throw_database(database_, "bind count query");
  }
  const int rc = sqlite3_step(count_);
  const std::int64_t rows = rc == SQLITE_ROW ? sqlite3_column_int64(count_, 0) : 0;
  const std::string message = rc == SQLITE_ROW ? std::string() : sqlite3_errmsg(database_);
  sqlite3_reset(count_);
  sqlite3_clear_bindings(count_);
  if (rc != SQLITE_ROW) throw Error(ErrorKind::database, "fts5 baseline: count " + expression + ": " + message);
  return static_cast<std::size_t>(rows);
}

const std::string& Fts5Baseline::document_id(std::int64_t rowid) const {
  if (rowid < 1 || static_cast<std::uint64_t>(rowid) > document_ids_.size()) {
    throw Error(ErrorKind::internal, "fts5 baseline: rowid " + std::to_string(rowid) + " is not a corpus record");
  }
  return document_ids_[static_cast<std::size_t>(rowid - 1)];
}

}  // namespace ragline::bench
