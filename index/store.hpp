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
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/document.hpp"
#include "index/sqlite.hpp"
#include "ragline/types.hpp"

namespace ragline::index {

inline constexpr int kSchemaVersion = 2;

// Settings for a KB this call creates; for an existing KB, set fields must match it (the vector
// index type and the embedder's endpoint and batching options may change; they are derived or
// operational; an empty base_url or region keeps the stored one).
struct StoreSettings {
  std::optional<ChunkerConfig> chunker;
  std::optional<AnalyzerConfig> analyzer;
  std::optional<EmbedderConfig> embedder;
  std::optional<VectorIndexConfig> vector_index;
};

// Chunk vectors read back from kb.sqlite: ids[i] owns values[i * dimension ...].
struct StoredVectors {
  std::vector<std::int64_t> ids;
  std::vector<float> values;
};

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
  static Store open(const std::filesystem::path& kb_dir, bool create, const StoreSettings& settings);
  static Store open(const std::filesystem::path& kb_dir, bool create, const std::optional<ChunkerConfig>& chunker,
                    const std::optional<AnalyzerConfig>& analyzer) {
    return open(kb_dir, create, StoreSettings{chunker, analyzer, std::nullopt, std::nullopt});
  }

  const ChunkerConfig& chunker() const { return chunker_; }
  const AnalyzerConfig& analyzer() const { return analyzer_; }
  // The embedder the KB was created with, with this session's operational overrides.
  const EmbedderConfig& embedder() const { return embedder_; }
  const VectorIndexConfig& vector_index_config() const { return vector_index_; }
  const std::filesystem::path& directory() const { return kb_dir_; }
  int schema_version() const { return schema_version_; }
  Database& database() { return database_; }
  // True when kb.sqlite was opened for reading only (its directory or files are not writable:
  // another user's KB, a read-only mount, a full disk); reads work, writes throw.
  bool read_only() const { return database_.read_only(); }
  // Error(io) "KB <dir> is read-only: <operation> needs write access" on a read-only store.
  void require_writable(std::string_view operation) const;

  std::optional<StoredDocumentState> find_document(const std::string& uri);

  // Inserts or replaces a document with its chunks, metadata and keyword-index entries. Must run
  // inside a WriteTransaction. Returns the document id (kept when replacing).
  // `chunk_ids`, when given, receives the new chunks' ids in chunk order.
  std::int64_t put_document(const Document& document, const std::string& content_hash, const std::vector<Chunk>& chunks,
                            std::int64_t ingested_at, std::vector<std::int64_t>* chunk_ids = nullptr);

  // Removes a document and everything derived from it; false when there is none. Must run inside
  // a WriteTransaction.
  bool delete_document(std::int64_t document_id);

  // Documents whose source_path is `path` or lies below it (directory roots).
  std::vector<std::pair<std::int64_t, std::string>> documents_from(const std::filesystem::path& path);

  // Bumped once per committed write batch; the vector index records it (DESIGN.md). A KB made
  // before KB ids gets its kb_id here, on its first write.
  void bump_generation();
  std::int64_t generation();
  // The KB's identity: 32 random hex digits made at creation (settings "kb_id"), written into
  // vectors.faiss so that a file copied from another KB is refused; empty for a KB from before
  // KB ids that has not been written since.
  std::string kb_id();

  // The chunks with these ids, in the order given; ids that do not exist are left out.
  std::vector<StoredChunk> chunks_by_id(const std::vector<std::int64_t>& chunk_ids);
  // For each chunk id, its parent's id, or the id itself for a chunk without a parent.
  std::vector<std::int64_t> parents_of(const std::vector<std::int64_t>& chunk_ids);
  // Metadata of each listed document (an empty map for documents without any).
  std::unordered_map<std::int64_t, Metadata> metadata_of(const std::vector<std::int64_t>& document_ids);
  Metadata document_metadata(std::int64_t document_id);
  // Documents in URI order with their metadata: `offset` of them passed over, then at most
  // `limit` (0: no limit); with `only`, just the documents with those ids.
  std::vector<DocumentInfo> documents(const std::vector<std::int64_t>* only = nullptr, std::size_t limit = 0,
                                      std::size_t offset = 0);
  // The document with this URI as stored (text, title, metadata, hash, chunk count), if any.
  std::optional<StoredDocument> stored_document(const std::string& uri);
  Stats stats();
  // Bytes of all files in the KB directory (kb.sqlite, its WAL, vectors.faiss).
  std::uint64_t bytes_on_disk() const;
  // Whether more than half of kb.sqlite's pages are free (PRAGMA freelist_count against
  // page_count): after large removals, when compacting pays for its full rewrite.
  bool mostly_free_pages();
  // Rewrites kb.sqlite without its free pages (VACUUM) and truncates the WAL. A writer; call
  // outside any transaction. Readers keep their snapshots meanwhile (WAL).
  void vacuum();

  // --- Vectors (schema 2) ---
  // The embedder id and dimension the KB's vectors have; empty / 0 before the first vector.
  std::string embedder_id();
  std::size_t vector_dimension();
  // Records the identity on the first vectors; afterwards throws Error(invalid_argument) naming
  // both when `id` or `dimension` differ. Must run inside a WriteTransaction.
  void claim_embedder(const std::string& id, std::size_t dimension);
  // Stores vectors (rows of vector_dimension() floats) for chunks, as written in `generation`.
  void put_vectors(std::span<const std::int64_t> chunk_ids, std::span<const float> values, std::int64_t generation);
  // Searchable chunks without a vector (ingest completes them first), at most `limit`.
  std::vector<std::pair<std::int64_t, std::string>> chunks_missing_vectors(std::size_t limit);
  std::int64_t vector_count();
  // Vectors written after `generation` (all of them for -1) with ids above `after_id`,
  // ascending, at most `limit`: callers page through large sets.
  StoredVectors vectors_since(std::int64_t generation, std::int64_t after_id = -1,
                              std::size_t limit = static_cast<std::size_t>(INT64_MAX));
  // The vectors of these chunks (those that have one).
  StoredVectors vectors_of(std::span<const std::int64_t> chunk_ids);
  // Chunk ids whose vectors were removed after `generation`.
  std::vector<std::int64_t> vector_removals_since(std::int64_t generation);
  // Removals up to `generation` are forgotten once vectors.faiss reflects them; an index older
  // than removals_pruned_through() cannot catch up incrementally and reloads or rebuilds.
  void prune_vector_removals(std::int64_t generation);
  std::int64_t removals_pruned_through();
  void set_vector_index_config(const VectorIndexConfig& config);
  // Settings other modules record in the KB (ingest's "redaction"): the value, empty when unset.
  // write_setting must run inside a WriteTransaction.
  std::string read_setting(std::string_view key);
  void write_setting(std::string_view key, std::string_view value);
  // Embedding cache: vectors by SHA-256 of the text, for one embedder id.
  std::unordered_map<std::string, std::vector<float>> cached_embeddings(const std::string& embedder_id,
                                                                        const std::vector<std::string>& text_hashes);
  void put_cached_embeddings(const std::string& embedder_id, const std::vector<std::string>& text_hashes,
                             std::span<const float> values, std::size_t dimension);

 private:
  Store(Database database, std::filesystem::path kb_dir);
  void migrate(bool fresh, const std::optional<ChunkerConfig>& chunker, const std::optional<AnalyzerConfig>& analyzer,
               const std::optional<EmbedderConfig>& embedder, const std::optional<VectorIndexConfig>& vector_index);
  void load_settings();
  void delete_keyword_entries(std::int64_t document_id);

  Database database_;
  StatementCache statements_;
  std::filesystem::path kb_dir_;
  ChunkerConfig chunker_;
  AnalyzerConfig analyzer_;
  EmbedderConfig embedder_;
  VectorIndexConfig vector_index_;
  int schema_version_ = 0;
};

}  // namespace ragline::index
