#pragma once
// What the files of Store share (store.cpp: open, migrations, settings; store_schema.cpp: the
// schema SQL; store_documents.cpp, store_chunks.cpp, store_vectors.cpp: the tables' reads and
// writes). Internal to index/: nothing outside the Store includes it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index/sqlite.hpp"
#include "ragline/types.hpp"

namespace ragline::index::detail {

// Schema version 1: settings, documents, chunks, metadata, the FTS5 content view
// (store_schema.cpp). The FTS5 table itself is keyword_table_sql(), built from the analyser.
extern const char* const kSchemaV1;
// Schema version 2: chunk vectors, the removal log, the embedding cache, filter indexes.
extern const char* const kSchemaV2;
// CREATE VIRTUAL TABLE chunk_keywords with the `ragline` tokenizer for `analyzer`; throws
// Error(invalid_argument) for a language name that is not [A-Za-z0-9_]+.
std::string keyword_table_sql(const AnalyzerConfig& analyzer);

// A settings row's value, empty when unset.
inline std::string setting(StatementCache& statements, std::string_view key) {
  auto statement = statements.get("SELECT value FROM settings WHERE key = ?1");
  statement->bind(1, key);
  return statement->step() ? statement->column_string(0) : std::string();
}

inline void put_setting(StatementCache& statements, std::string_view key, std::string_view value) {
  statements
      .get("INSERT INTO settings(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      ->bind(1, key)
      .bind(2, value)
      .run();
}

// "[1,2,3]": a list of ids as one bound parameter, read back in SQL with json_each.
inline std::string json_id_array(const std::vector<std::int64_t>& ids) {
  std::string array = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) array += ',';
    array += std::to_string(ids[i]);
  }
  return array + "]";
}

}  // namespace ragline::index::detail
