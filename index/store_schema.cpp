// The schema SQL of kb.sqlite, one constant per schema version (migrations: Store::migrate).

#include <cctype>

#include "core/check.hpp"
#include "index/store_internal.hpp"

namespace ragline::index::detail {

// Schema version 1. Chunk ids are the FTS5 rowids and (later) the FAISS ids. The keyword index
// is an external-content FTS5 table over a view, so chunk text is stored once, in `chunks`.
const char* const kSchemaV1 = R"sql(
CREATE TABLE settings(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  uri TEXT NOT NULL UNIQUE,
  source_path TEXT NOT NULL,
  title TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  ingested_at INTEGER NOT NULL,
  text TEXT NOT NULL,
  page_starts TEXT
);
CREATE INDEX documents_by_source ON documents(source_path);

CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  parent_id INTEGER REFERENCES chunks(id) ON DELETE CASCADE,
  searchable INTEGER NOT NULL,
  text TEXT NOT NULL,
  byte_start INTEGER NOT NULL,
  byte_end INTEGER NOT NULL,
  heading_path TEXT NOT NULL,
  token_count INTEGER NOT NULL,
  page INTEGER,
  UNIQUE(document_id, ordinal)
);
CREATE INDEX chunks_by_parent ON chunks(parent_id);

CREATE TABLE metadata(
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  type TEXT NOT NULL CHECK(type IN ('string', 'number', 'boolean', 'string_list')),
  value NOT NULL,
  PRIMARY KEY(document_id, key)
) WITHOUT ROWID;
CREATE INDEX metadata_by_key_value ON metadata(key, value);

CREATE VIEW chunk_keyword_source AS
  SELECT c.id AS id, c.text AS text, d.title AS title, c.heading_path AS heading_path
  FROM chunks c JOIN documents d ON d.id = c.document_id;
)sql";

// Schema version 2: chunk vectors (float32 BLOBs) with the generation that wrote them, a log
// of removed vectors (so vectors.faiss can be brought up to date incrementally, DESIGN.md), and
// the embedding cache keyed by (embedder id, SHA-256 of the text).
const char* const kSchemaV2 = R"sql(
CREATE TABLE chunk_vectors(
  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  generation INTEGER NOT NULL,
  vector BLOB NOT NULL
);
CREATE INDEX chunk_vectors_by_generation ON chunk_vectors(generation);

CREATE TABLE vector_removals(
  chunk_id INTEGER NOT NULL,
  generation INTEGER NOT NULL
);
CREATE INDEX vector_removals_by_generation ON vector_removals(generation);

-- Every write transaction bumps the generation once, at its end: a removal belongs to the
-- generation that transaction commits.
CREATE TRIGGER chunk_vectors_removed AFTER DELETE ON chunk_vectors BEGIN
  INSERT INTO vector_removals(chunk_id, generation)
    SELECT old.chunk_id, CAST(value AS INTEGER) + 1 FROM settings WHERE key = 'generation';
END;

-- Filters (retrieve/filter.cpp) select documents by (key, type, value) and then their
-- searchable chunks: both lookups are answered from these indexes alone.
DROP INDEX metadata_by_key_value;
CREATE INDEX metadata_by_key_type_value ON metadata(key, type, value);
CREATE INDEX chunks_searchable_by_document ON chunks(document_id) WHERE searchable = 1;

CREATE TABLE embedding_cache(
  embedder_id TEXT NOT NULL,
  text_hash BLOB NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY(embedder_id, text_hash)
) WITHOUT ROWID;
)sql";

std::string keyword_table_sql(const AnalyzerConfig& analyzer) {
  for (char c : analyzer.language) {
    RAGLINE_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_', invalid_argument,
                  "language name \"" << analyzer.language << "\" has characters other than letters, digits and _");
  }
  return "CREATE VIRTUAL TABLE chunk_keywords USING fts5(text, title, heading_path, "
         "content='chunk_keyword_source', content_rowid='id', tokenize='ragline " +
         analyzer.language + (analyzer.stemming ? " 1" : " 0") + (analyzer.stopwords ? " 1" : " 0") + "')";
}

}  // namespace ragline::index::detail
