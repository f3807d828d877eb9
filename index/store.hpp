#pragma once
// Store: the durable source of truth, kb.sqlite. Owns the schema and its migrations, documents,
// chunks, typed metadata, KB settings, and keeps the FTS5 keyword index in step with chunks
// inside the same transactions.
//
// One Store is one SQLite connection: use it from one thread at a time. Several Stores (threads
// or processes) may open the same KB; SQLite's WAL gives readers a consistent snapshot while
// one writer commits.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/sqlite.hpp"
#include "ingest/document.hpp"
#include "ragline/types.hpp"

namespace ragline::index {

inline constexpr int kSchemaVersion = 1;

struct StoredDocumentState {
  std::int64_t id = 0;
  std::string content_hash;
  std::string source_path;
};

struct StoredChunk {
  std::int64_t id = 0;
  std::int64_t document_id = 0;
  std::optional<std::int64_t> parent_id;
  std::string document_uri;
  std::string title;
  std::string heading_path;
  std::string text;
  std::size_t byte_start = 0;
  std::size_t byte_end = 0;
  std::optional<int> page;
};

class Store {
 public:
  // Opens <kb_dir>/kb.sqlite, creating and initialising it when `create` is true and it does not
  // exist. New KBs take `chunker` and `analyzer` (defaults when unset); an existing KB checks
  // them against its stored settings and throws Error(invalid_argument) naming both on mismatch.
  static Store open(const std::filesystem::path& kb_dir, bool create, const std::optional<ChunkerConfig>& chunker,
                    const std::optional<AnalyzerConfig>& analyzer);

  const ChunkerConfig& chunker() const { return chunker_; }
  const AnalyzerConfig& analyzer() const { return analyzer_; }
  int schema_version() const { return schema_version_; }
  Database& database() { return database_; }

  std::optional<StoredDocumentState> find_document(const std::string& uri);

  // Inserts or replaces a document with its chunks, metadata and keyword-index entries. Must run
  // inside a WriteTransaction. Returns the document id (kept when replacing).
  std::int64_t put_document(const ingest::Document& document, const std::string& content_hash,
                            const std::vector<ingest::Chunk>& chunks, std::int64_t ingested_at);

  // Removes a document and everything derived from it; false when there is none. Must run inside
  // a WriteTransaction.
  bool delete_document(std::int64_t document_id);

  // Documents whose source_path is `path` or lies below it (directory roots).
  std::vector<std::pair<std::int64_t, std::string>> documents_from(const std::filesystem::path& path);

  // Bumped once per committed write batch; the vector index records it (DESIGN.md).
  void bump_generation();
  std::int64_t generation();

  // The chunks with these ids, in the order given; ids that do not exist are left out.
  std::vector<StoredChunk> chunks_by_id(const std::vector<std::int64_t>& chunk_ids);
  // For each chunk id, its parent's id, or the id itself for a chunk without a parent.
  std::vector<std::int64_t> parents_of(const std::vector<std::int64_t>& chunk_ids);
  // Metadata of each listed document (an empty map for documents without any).
  std::unordered_map<std::int64_t, Metadata> metadata_of(const std::vector<std::int64_t>& document_ids);
  Metadata document_metadata(std::int64_t document_id);
  std::vector<DocumentInfo> documents();
  Stats stats();

 private:
  Store(Database database, std::filesystem::path kb_dir);
  void migrate(bool fresh, const std::optional<ChunkerConfig>& chunker, const std::optional<AnalyzerConfig>& analyzer);
  void load_settings();
  void delete_keyword_entries(std::int64_t document_id);

  Database database_;
  StatementCache statements_;
  std::filesystem::path kb_dir_;
  ChunkerConfig chunker_;
  AnalyzerConfig analyzer_;
  int schema_version_ = 0;
};

}  // namespace ragline::index
