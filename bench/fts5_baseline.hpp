#pragma once
// The floor rag-bench compares ragline against: raw SQLite FTS5 with its built-in tokenizer and
// its built-in bm25() (k1 1.2, b 0.75, both columns weight 1), over the same corpus.jsonl, in an
// in-memory database (rag-bench) or a database file (rag-bench-scale, whose corpora are too big
// to compare fairly against a file-backed KB from memory). No stoplist, no BM25F, no chunking:
// one row per record,
//
//   CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize='porter unicode61 remove_diacritics 2')
//
// with the record's position in corpus.jsonl (1-based) as its rowid. A query is the OR of its
// words, each a quoted FTS5 string (see fts5_match_expression), ranked by
//
//   SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY bm25(t) LIMIT ?2
//
// through one prepared statement reused for every query.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace ragline::bench {

// The FTS5 query for a free-text query: its words OR-ed, each wrapped in double quotes (with any
// '"' inside doubled), e.g. `shock "waves"?` -> `"shock" OR "waves"`. Words are the maximal runs
// of bytes other than ASCII non-alphanumerics (punctuation, whitespace, controls), so non-ASCII
// letters stay inside words and unicode61 splits and folds them. Quoting makes every word a
// string, never FTS5 syntax (OR, NOT, NEAR, '*', '^', column filters). Empty when the query has
// no words: FTS5 rejects an empty MATCH, so the caller must not run one.
std::string fts5_match_expression(std::string_view query);

class Fts5Baseline {
 public:
  // The baseline's name in reports and JSON.
  static constexpr std::string_view kName = "fts5-porter-bm25";

  // Opens the in-memory database and creates the empty table. Throws ragline::Error (database).
  Fts5Baseline();
  // Creates the database file `database_file` (which must not exist yet) with the empty table,
  // in WAL mode with synchronous = FULL as kb.sqlite is, so ingest figures compare like with
  // like. The file is left in place. Throws ragline::Error (invalid_argument when the file
  // exists; database).
  explicit Fts5Baseline(const std::filesystem::path& database_file);
  ~Fts5Baseline();
  Fts5Baseline(const Fts5Baseline&) = delete;
  Fts5Baseline& operator=(const Fts5Baseline&) = delete;

  // Reads every record of a BEIR corpus.jsonl ("_id" string or integer, optional "title" and
  // "text") and inserts it in one transaction. Timed by the caller as the baseline's ingest, so
  // reading and parsing the file count, as they do in ragline's ingest. `id_field` names the id
  // field for JSONL that is not BEIR (ragline's own default is "id"). Throws ragline::Error
  // (format, naming file and line; io; database).
  void ingest(const std::filesystem::path& corpus_path, std::string_view id_field = "_id");

  // Rowids of the best `limit` rows for `query`, best first (bm25() is lower-is-better). Empty
  // for a query without words, without touching SQLite. Throws ragline::Error (database).
  std::vector<std::int64_t> search(std::string_view query, std::size_t limit);

  // Rows matching `query` (the same MATCH expression as search()), counted without ranking: what
  // bm25() has to score for that query. 0 for a query without words. Throws ragline::Error
  // (database).
  std::size_t count_matches(std::string_view query);

  // The BEIR "_id" of a rowid returned by search().
  const std::string& document_id(std::int64_t rowid) const;
  std::size_t documents() const { return document_ids_.size(); }

 private:
  // Opens `filename` (":memory:" or a new file), creates the table and prepares the statements;
  // closes the database again on failure, since the destructor does not run for a throwing
  // constructor.
  void open(const std::string& filename, bool file_backed);

  sqlite3* database_ = nullptr;
  sqlite3_stmt* search_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
  std::vector<std::string> document_ids_;  // index rowid - 1
};

}  // namespace ragline::bench
