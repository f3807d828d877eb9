#include "index/store.hpp"

#include <cctype>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unordered_map>

#include "core/check.hpp"
#include "index/fts5_extension.hpp"
#include "text/text_analyzer.hpp"

namespace ragline::index {
namespace {

// Schema version 1. Chunk ids are the FTS5 rowids and (later) the FAISS ids. The keyword index
// is an external-content FTS5 table over a view, so chunk text is stored once, in `chunks`.
constexpr const char* kSchemaV1 = R"sql(
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
constexpr const char* kSchemaV2 = R"sql(
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

nlohmann::json chunker_json(const ChunkerConfig& config) {
  return {{"name", config.name},
          {"max_tokens", config.max_tokens},
          {"overlap_tokens", config.overlap_tokens},
          {"parent_tokens", config.parent_tokens},
          {"child_tokens", config.child_tokens}};
}

ChunkerConfig chunker_from_json(const nlohmann::json& json) {
  ChunkerConfig config;
  config.name = json.at("name").get<std::string>();
  config.max_tokens = json.at("max_tokens").get<int>();
  config.overlap_tokens = json.at("overlap_tokens").get<int>();
  config.parent_tokens = json.at("parent_tokens").get<int>();
  config.child_tokens = json.at("child_tokens").get<int>();
  return config;
}

nlohmann::json analyzer_json(const AnalyzerConfig& config) {
  return {{"language", config.language}, {"stemming", config.stemming}, {"stopwords", config.stopwords}};
}

AnalyzerConfig analyzer_from_json(const nlohmann::json& json) {
  AnalyzerConfig config;
  config.language = json.at("language").get<std::string>();
  config.stemming = json.at("stemming").get<bool>();
  config.stopwords = json.at("stopwords").get<bool>();
  return config;
}

nlohmann::json embedder_json(const EmbedderConfig& config) {
  return {{"name", config.name},
          {"dimension", config.dimension},
          {"model", config.model},
          {"base_url", config.base_url},
          {"api_key_env", config.api_key_env},
          {"region", config.region},
          {"batch_size", config.batch_size},
          {"batch_bytes", config.batch_bytes},
          {"max_in_flight", config.max_in_flight},
          {"timeout_seconds", config.timeout_seconds},
          {"max_retries", config.max_retries},
          {"models_dir", config.models_dir},
          {"query_prefix", config.query_prefix},
          {"passage_prefix", config.passage_prefix}};
}

EmbedderConfig embedder_from_json(const nlohmann::json& json) {
  EmbedderConfig config;
  config.name = json.at("name").get<std::string>();
  config.dimension = json.value("dimension", 0);
  config.model = json.value("model", std::string());
  config.base_url = json.value("base_url", std::string());
  config.api_key_env = json.value("api_key_env", config.api_key_env);
  config.region = json.value("region", std::string());
  config.batch_size = json.value("batch_size", config.batch_size);
  config.batch_bytes = json.value("batch_bytes", config.batch_bytes);
  config.max_in_flight = json.value("max_in_flight", config.max_in_flight);
  config.timeout_seconds = json.value("timeout_seconds", config.timeout_seconds);
  config.max_retries = json.value("max_retries", config.max_retries);
  config.models_dir = json.value("models_dir", std::string());
  config.query_prefix = json.value("query_prefix", std::string());
  config.passage_prefix = json.value("passage_prefix", std::string());
  return config;
}

// What decides the vectors an embedder produces; the rest (endpoint, batching, timeouts) may
// change between runs.
nlohmann::json embedder_identity(const EmbedderConfig& config) {
  nlohmann::json identity = {{"name", config.name}, {"dimension", config.dimension}, {"model", config.model}};
  // Prefixes change vectors; kept out of the identity when unset so older KBs still match.
  if (!config.query_prefix.empty()) identity["query_prefix"] = config.query_prefix;
  if (!config.passage_prefix.empty()) identity["passage_prefix"] = config.passage_prefix;
  return identity;
}

nlohmann::json vector_index_json(const VectorIndexConfig& config) {
  return {{"type", config.type},           {"hnsw_m", config.hnsw_m},  {"ef_construction", config.ef_construction},
          {"ef_search", config.ef_search}, {"nlist", config.nlist},    {"nprobe", config.nprobe},
          {"pq_m", config.pq_m},           {"pq_bits", config.pq_bits}};
}

VectorIndexConfig vector_index_from_json(const nlohmann::json& json) {
  VectorIndexConfig config;
  config.type = json.at("type").get<std::string>();
  config.hnsw_m = json.value("hnsw_m", config.hnsw_m);
  config.ef_construction = json.value("ef_construction", config.ef_construction);
  config.ef_search = json.value("ef_search", config.ef_search);
  config.nlist = json.value("nlist", config.nlist);
  config.nprobe = json.value("nprobe", config.nprobe);
  config.pq_m = json.value("pq_m", config.pq_m);
  config.pq_bits = json.value("pq_bits", config.pq_bits);
  return config;
}

void validate_vector_index(const VectorIndexConfig& config) {
  RAGLINE_CHECK(config.type == "flat" || config.type == "hnsw" || config.type == "ivf", invalid_argument,
                "unknown vector index type \"" << config.type << "\" (known: flat, hnsw, ivf)");
  RAGLINE_CHECK(config.hnsw_m >= 2 && config.hnsw_m <= 256, invalid_argument, "hnsw_m must be in 2..256");
  RAGLINE_CHECK(config.ef_construction >= 1, invalid_argument, "ef_construction must be at least 1");
  RAGLINE_CHECK(config.ef_search >= 1, invalid_argument, "ef_search must be at least 1");
  RAGLINE_CHECK(config.nlist >= 0, invalid_argument, "nlist must not be negative");
  RAGLINE_CHECK(config.nprobe >= 1, invalid_argument, "nprobe must be at least 1");
  RAGLINE_CHECK(config.pq_m >= 0, invalid_argument, "pq_m must not be negative");
  RAGLINE_CHECK(config.pq_bits >= 1 && config.pq_bits <= 16, invalid_argument, "pq_bits must be in 1..16");
}

// The name is the embedder registry's to check (KnowledgeBase::open, models/embedder.hpp): an
// application's embedder may be recorded under a name this process has not registered.
void validate_embedder(const EmbedderConfig& config) {
  RAGLINE_CHECK(!config.name.empty(), invalid_argument, "embedder name must not be empty");
  RAGLINE_CHECK(config.dimension >= 0, invalid_argument, "embedder dimension must not be negative");
  RAGLINE_CHECK(config.batch_size >= 1, invalid_argument, "embedder batch_size must be at least 1");
  RAGLINE_CHECK(config.max_in_flight >= 1, invalid_argument, "embedder max_in_flight must be at least 1");
  RAGLINE_CHECK(config.timeout_seconds > 0, invalid_argument, "embedder timeout_seconds must be positive");
  RAGLINE_CHECK(config.max_retries >= 0, invalid_argument, "embedder max_retries must not be negative");
}

std::string describe(const ChunkerConfig& config) { return chunker_json(config).dump(); }
std::string describe(const AnalyzerConfig& config) { return analyzer_json(config).dump(); }

void bind_metadata_value(Statement& statement, int type_index, int value_index, const MetadataValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          statement.bind(type_index, "string").bind(value_index, v);
        } else if constexpr (std::is_same_v<T, double>) {
          statement.bind(type_index, "number").bind(value_index, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          statement.bind(type_index, "boolean").bind(value_index, static_cast<std::int64_t>(v ? 1 : 0));
        } else {
          statement.bind(type_index, "string_list").bind(value_index, nlohmann::json(v).dump());
        }
      },
      value);
}

MetadataValue read_metadata_value(std::string_view type, const Statement& statement, int column) {
  if (type == "number") return statement.column_double(column);
  if (type == "boolean") return statement.column_int64(column) != 0;
  if (type == "string_list")
    return nlohmann::json::parse(statement.column_text(column)).get<std::vector<std::string>>();
  return statement.column_string(column);
}

std::uint64_t directory_size(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  }
  return total;
}

}  // namespace

Store::Store(Database database, std::filesystem::path kb_dir)
    : database_(std::move(database)), statements_(database_.get()), kb_dir_(std::move(kb_dir)) {}

Store Store::open(const std::filesystem::path& kb_dir, bool create, const StoreSettings& options) {
  const auto& analyzer = options.analyzer;
  const auto database_path = kb_dir / "kb.sqlite";
  std::error_code error;
  const bool exists = std::filesystem::exists(database_path, error);
  if (!exists) {
    RAGLINE_CHECK(create, not_found, "no knowledge base at " << kb_dir.string() << " (kb.sqlite is missing)");
    // Bad settings are refused before anything is created on disk (the chunker and the embedder
    // name by the caller, which knows their registries: KnowledgeBase::open).
    text::TextAnalyzer validate_language(analyzer.value_or(AnalyzerConfig{}));
    validate_embedder(options.embedder.value_or(EmbedderConfig{}));
    validate_vector_index(options.vector_index.value_or(VectorIndexConfig{}));
    std::filesystem::create_directories(kb_dir, error);
    RAGLINE_CHECK(!error, io, "cannot create KB directory " << kb_dir.string() << ": " << error.message());
  }
  Store store(Database::open(database_path, !exists), kb_dir);
  Database& database = store.database_;
  // WAL lets readers run during an ingest; FULL syncs every commit so a committed batch
  // survives power loss, not only a crash of the process.
  database.exec("PRAGMA journal_mode = WAL");
  database.exec("PRAGMA synchronous = FULL");
  register_fts5_extensions(database.get());
  store.migrate(!exists, options.chunker, options.analyzer, options.embedder, options.vector_index);
  return store;
}

void Store::migrate(bool fresh, const std::optional<ChunkerConfig>& chunker,
                    const std::optional<AnalyzerConfig>& analyzer, const std::optional<EmbedderConfig>& embedder,
                    const std::optional<VectorIndexConfig>& vector_index) {
  // Readers must not wait for an ingest's write lock: the lock is taken only when the schema is
  // missing or old, and the version is read again under it (another process may have won).
  const auto current_version = [&] {
    return static_cast<int>(database_.query_int64("PRAGMA user_version").value_or(0));
  };
  std::optional<WriteTransaction> transaction;
  if (current_version() != kSchemaVersion) transaction.emplace(database_);
  int version = current_version();
  const bool empty = database_.query_int64("SELECT count(*) FROM sqlite_schema").value_or(0) == 0;
  RAGLINE_CHECK(version <= kSchemaVersion, unsupported,
                "KB " << kb_dir_.string() << " has schema version " << version << ", newer than this ragline ("
                      << kSchemaVersion << "); upgrade ragline");
  if (version == 0) {
    RAGLINE_CHECK(fresh || empty, corrupt,
                  kb_dir_.string() << "/kb.sqlite is an SQLite database but not a ragline KB (user_version 0)");
    const ChunkerConfig chunker_config = chunker.value_or(ChunkerConfig{});
    const AnalyzerConfig analyzer_config = analyzer.value_or(AnalyzerConfig{});
    text::TextAnalyzer validate_language(analyzer_config);
    database_.exec(kSchemaV1);
    database_.exec(keyword_table_sql(analyzer_config));
    auto put = database_.prepare("INSERT INTO settings(key, value) VALUES(?1, ?2)");
    put.bind(1, "chunker").bind(2, chunker_json(chunker_config).dump()).run();
    put.reset();
    put.bind(1, "analyzer").bind(2, analyzer_json(analyzer_config).dump()).run();
    put.reset();
    put.bind(1, "generation").bind(2, "0").run();
    database_.exec("PRAGMA user_version = 1");
    version = 1;
  }
  if (version == 1) {
    // A KB from before vectors gets the default embedder; its chunks are embedded by the next
    // ingest (chunks without vectors are always completed first).
    const EmbedderConfig embedder_config = fresh || empty ? embedder.value_or(EmbedderConfig{}) : EmbedderConfig{};
    const VectorIndexConfig vector_index_config = vector_index.value_or(VectorIndexConfig{});
    validate_embedder(embedder_config);
    validate_vector_index(vector_index_config);
    database_.exec(kSchemaV2);
    auto put = database_.prepare("INSERT INTO settings(key, value) VALUES(?1, ?2)");
    put.bind(1, "embedder").bind(2, embedder_json(embedder_config).dump()).run();
    put.reset();
    put.bind(1, "embedder_id").bind(2, "").run();
    put.reset();
    put.bind(1, "vector_dimension").bind(2, "0").run();
    put.reset();
    put.bind(1, "vector_index").bind(2, vector_index_json(vector_index_config).dump()).run();
    put.reset();
    put.bind(1, "removals_pruned_through").bind(2, "0").run();
    database_.exec("PRAGMA user_version = 2");
    version = 2;
  }
  // Later schema versions add their steps here: if (version == 2) { ...; version = 3; }
  if (transaction) transaction->commit();
  schema_version_ = version;
  load_settings();

  if (chunker && !(*chunker == chunker_)) {
    RAGLINE_THROW(invalid_argument, "KB " << kb_dir_.string() << " was created with chunker " << describe(chunker_)
                                          << "; requested " << describe(*chunker)
                                          << ". Chunking is fixed per KB: use a new KB directory.");
  }
  if (analyzer && !(*analyzer == analyzer_)) {
    RAGLINE_THROW(invalid_argument, "KB " << kb_dir_.string() << " was created with analyzer " << describe(analyzer_)
                                          << "; requested " << describe(*analyzer)
                                          << ". The keyword index is built with it: use a new KB directory.");
  }
  if (embedder) {
    validate_embedder(*embedder);
    if (embedder_identity(*embedder) != embedder_identity(embedder_)) {
      RAGLINE_THROW(invalid_argument, "KB " << kb_dir_.string() << " holds vectors of embedder "
                                            << embedder_identity(embedder_).dump() << "; requested "
                                            << embedder_identity(*embedder).dump()
                                            << ". Vectors of different models never mix: use a new KB directory.");
    }
    // Endpoint, batching and timeouts may change from run to run.
    embedder_ = *embedder;
  }
  if (vector_index && !(*vector_index == vector_index_)) {
    // The index type is derived data: the new one is recorded and vectors.faiss rebuilt on use.
    WriteTransaction change(database_);
    set_vector_index_config(*vector_index);
    change.commit();
  }
}

void Store::load_settings() {
  auto statement = database_.prepare(
      "SELECT key, value FROM settings WHERE key IN ('chunker', 'analyzer', 'embedder', 'vector_index')");
  int found = 0;
  while (statement.step()) {
    const auto key = statement.column_text(0);
    try {
      const auto value = nlohmann::json::parse(statement.column_text(1));
      if (key == "chunker") chunker_ = chunker_from_json(value);
      if (key == "analyzer") analyzer_ = analyzer_from_json(value);
      if (key == "embedder") embedder_ = embedder_from_json(value);
      if (key == "vector_index") vector_index_ = vector_index_from_json(value);
      ++found;
    } catch (const nlohmann::json::exception& error) {
      RAGLINE_THROW(corrupt, "KB setting \"" << key << "\" in " << database_.path().string()
                                             << " is unreadable: " << error.what());
    }
  }
  RAGLINE_CHECK(found == 4, corrupt, "KB settings are missing from " << database_.path().string());
}

std::optional<StoredDocumentState> Store::find_document(const std::string& uri) {
  auto statement = statements_.get("SELECT id, content_hash, source_path FROM documents WHERE uri = ?1");
  statement->bind(1, uri);
  if (!statement->step()) return std::nullopt;
  return StoredDocumentState{statement->column_int64(0), statement->column_string(1), statement->column_string(2)};
}

void Store::delete_keyword_entries(std::int64_t document_id) {
  // External-content FTS5 needs the exact indexed values to remove a row's terms, so they are
  // read back through the same view before the chunks go.
  auto statement = statements_.get(
      "INSERT INTO chunk_keywords(chunk_keywords, rowid, text, title, heading_path) "
      "SELECT 'delete', c.id, c.text, d.title, c.heading_path FROM chunks c JOIN documents d ON d.id = c.document_id "
      "WHERE c.document_id = ?1 AND c.searchable = 1");
  statement->bind(1, document_id).run();
}

std::int64_t Store::put_document(const Document& document, const std::string& content_hash,
                                 const std::vector<Chunk>& chunks, std::int64_t ingested_at,
                                 std::vector<std::int64_t>* chunk_ids_out) {
  std::optional<std::int64_t> document_id;
  if (auto existing = find_document(document.uri)) {
    document_id = existing->id;
    delete_keyword_entries(existing->id);
    statements_.get("DELETE FROM chunks WHERE document_id = ?1")->bind(1, existing->id).run();
    statements_.get("DELETE FROM metadata WHERE document_id = ?1")->bind(1, existing->id).run();
  }

  std::string page_starts;
  if (!document.page_starts.empty()) page_starts = nlohmann::json(document.page_starts).dump();
  auto upsert = statements_.get(
      "INSERT INTO documents(id, uri, source_path, title, content_hash, mime_type, size_bytes, mtime, ingested_at, "
      "text, page_starts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "ON CONFLICT(id) DO UPDATE SET uri = excluded.uri, source_path = excluded.source_path, title = excluded.title, "
      "content_hash = excluded.content_hash, mime_type = excluded.mime_type, size_bytes = excluded.size_bytes, "
      "mtime = excluded.mtime, ingested_at = excluded.ingested_at, text = excluded.text, "
      "page_starts = excluded.page_starts");
  if (document_id) {
    upsert->bind(1, *document_id);
  } else {
    upsert->bind_null(1);
  }
  upsert->bind(2, document.uri)
      .bind(3, document.source_path)
      .bind(4, document.title)
      .bind(5, content_hash)
      .bind(6, document.mime_type)
      .bind(7, document.size_bytes)
      .bind(8, document.mtime)
      .bind(9, ingested_at)
      .bind(10, document.text);
  if (page_starts.empty()) {
    upsert->bind_null(11);
  } else {
    upsert->bind(11, page_starts);
  }
  upsert->run();
  if (!document_id) document_id = database_.last_insert_rowid();

  auto put_metadata = statements_.get("INSERT INTO metadata(document_id, key, type, value) VALUES(?1, ?2, ?3, ?4)");
  for (const auto& [key, value] : document.metadata) {
    put_metadata->bind(1, *document_id).bind(2, key);
    bind_metadata_value(*put_metadata, 3, 4, value);
    put_metadata->run();
    put_metadata->reset();
  }

  auto put_chunk = statements_.get(
      "INSERT INTO chunks(document_id, ordinal, parent_id, searchable, text, byte_start, byte_end, heading_path, "
      "token_count, page) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  auto put_keywords =
      statements_.get("INSERT INTO chunk_keywords(rowid, text, title, heading_path) VALUES(?1, ?2, ?3, ?4)");
  std::vector<std::int64_t> chunk_ids;
  chunk_ids.reserve(chunks.size());
  for (const auto& chunk : chunks) {
    put_chunk->bind(1, *document_id).bind(2, chunk.ordinal);
    if (chunk.parent_ordinal) {
      const auto parent = static_cast<std::size_t>(*chunk.parent_ordinal);
      RAGLINE_CHECK(parent < chunk_ids.size(), internal,
                    "chunk " << chunk.ordinal << " of " << document.uri << " names a later parent " << parent);
      put_chunk->bind(3, chunk_ids[parent]);
    } else {
      put_chunk->bind_null(3);
    }
    put_chunk->bind(4, chunk.searchable ? 1 : 0)
        .bind(5, chunk.text)
        .bind(6, static_cast<std::int64_t>(chunk.byte_start))
        .bind(7, static_cast<std::int64_t>(chunk.byte_end))
        .bind(8, chunk.heading_path)
        .bind(9, chunk.token_count);
    if (auto page = page_at(document, chunk.byte_start)) {
      put_chunk->bind(10, *page);
    } else {
      put_chunk->bind_null(10);
    }
    put_chunk->run();
    put_chunk->reset();
    const std::int64_t chunk_id = database_.last_insert_rowid();
    chunk_ids.push_back(chunk_id);
    if (chunk.searchable) {
      put_keywords->bind(1, chunk_id).bind(2, chunk.text).bind(3, document.title).bind(4, chunk.heading_path).run();
      put_keywords->reset();
    }
  }
  if (chunk_ids_out) *chunk_ids_out = std::move(chunk_ids);
  return *document_id;
}

bool Store::delete_document(std::int64_t document_id) {
  delete_keyword_entries(document_id);
  statements_.get("DELETE FROM documents WHERE id = ?1")->bind(1, document_id).run();
  return database_.changes() > 0;
}

std::vector<std::pair<std::int64_t, std::string>> Store::documents_from(const std::filesystem::path& path) {
  // '0' is the character after '/', so [p + "/", p + "0") is every path below directory p.
  std::string root = path.string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  auto statement = database_.prepare(
      "SELECT id, uri FROM documents WHERE source_path = ?1 OR (source_path >= ?2 AND source_path < ?3)");
  statement.bind(1, root).bind(2, root == "/" ? root : root + "/").bind(3, root == "/" ? "0" : root + "0");
  std::vector<std::pair<std::int64_t, std::string>> found;
  while (statement.step()) found.emplace_back(statement.column_int64(0), statement.column_string(1));
  return found;
}

void Store::bump_generation() {
  database_.exec("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'");
}

std::int64_t Store::generation() {
  return database_.query_int64("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'generation'").value_or(0);
}

namespace {
std::string json_id_array(const std::vector<std::int64_t>& ids) {
  std::string array = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) array += ',';
    array += std::to_string(ids[i]);
  }
  return array + "]";
}
}  // namespace

std::vector<StoredChunk> Store::chunks_by_id(const std::vector<std::int64_t>& chunk_ids) {
  // One statement for the whole list; json_each's key keeps the order the ids were given in.
  auto statement = statements_.get(
      "SELECT c.id, c.document_id, c.parent_id, d.uri, d.title, c.heading_path, c.text, c.byte_start, c.byte_end, "
      "c.page FROM json_each(?1) j JOIN chunks c ON c.id = j.value JOIN documents d ON d.id = c.document_id "
      "ORDER BY j.key");
  statement->bind(1, json_id_array(chunk_ids));
  std::vector<StoredChunk> found;
  found.reserve(chunk_ids.size());
  while (statement->step()) {
    StoredChunk chunk;
    chunk.id = statement->column_int64(0);
    chunk.document_id = statement->column_int64(1);
    if (!statement->column_is_null(2)) chunk.parent_id = statement->column_int64(2);
    chunk.document_uri = statement->column_string(3);
    chunk.title = statement->column_string(4);
    chunk.heading_path = statement->column_string(5);
    chunk.text = statement->column_string(6);
    chunk.byte_start = static_cast<std::size_t>(statement->column_int64(7));
    chunk.byte_end = static_cast<std::size_t>(statement->column_int64(8));
    if (!statement->column_is_null(9)) chunk.page = static_cast<int>(statement->column_int64(9));
    found.push_back(std::move(chunk));
  }
  return found;
}

std::vector<std::int64_t> Store::parents_of(const std::vector<std::int64_t>& chunk_ids) {
  auto statement = statements_.get(
      "SELECT coalesce(c.parent_id, j.value) FROM json_each(?1) j LEFT JOIN chunks c ON c.id = j.value "
      "ORDER BY j.key");
  statement->bind(1, json_id_array(chunk_ids));
  std::vector<std::int64_t> parents;
  parents.reserve(chunk_ids.size());
  while (statement->step()) parents.push_back(statement->column_int64(0));
  return parents;
}

std::unordered_map<std::int64_t, Metadata> Store::metadata_of(const std::vector<std::int64_t>& document_ids) {
  auto statement = statements_.get(
      "SELECT m.document_id, m.key, m.type, m.value FROM json_each(?1) j JOIN metadata m ON m.document_id = j.value");
  statement->bind(1, json_id_array(document_ids));
  std::unordered_map<std::int64_t, Metadata> metadata;
  for (std::int64_t document_id : document_ids) metadata.try_emplace(document_id);
  while (statement->step()) {
    metadata[statement->column_int64(0)].emplace(statement->column_string(1),
                                                 read_metadata_value(statement->column_text(2), *statement, 3));
  }
  return metadata;
}

Metadata Store::document_metadata(std::int64_t document_id) {
  return std::move(metadata_of({document_id})[document_id]);
}

std::vector<DocumentInfo> Store::documents() {
  auto statement = database_.prepare(
      "SELECT d.id, d.uri, d.title, d.mime_type, d.content_hash, d.size_bytes, d.mtime, d.ingested_at, "
      "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) FROM documents d ORDER BY d.uri");
  std::vector<DocumentInfo> found;
  while (statement.step()) {
    DocumentInfo info;
    info.id = statement.column_int64(0);
    info.uri = statement.column_string(1);
    info.title = statement.column_string(2);
    info.mime_type = statement.column_string(3);
    info.content_hash = statement.column_string(4);
    info.size_bytes = statement.column_int64(5);
    info.mtime = statement.column_int64(6);
    info.ingested_at = statement.column_int64(7);
    info.chunk_count = statement.column_int64(8);
    found.push_back(std::move(info));
  }
  return found;
}

Stats Store::stats() {
  ReadTransaction snapshot(database_);
  Stats stats;
  stats.documents = database_.query_int64("SELECT count(*) FROM documents").value_or(0);
  stats.chunks = database_.query_int64("SELECT count(*) FROM chunks").value_or(0);
  stats.searchable_chunks = database_.query_int64("SELECT count(*) FROM chunks WHERE searchable = 1").value_or(0);
  stats.tokens =
      database_.query_int64("SELECT coalesce(sum(token_count), 0) FROM chunks WHERE searchable = 1").value_or(0);
  stats.bytes_on_disk = directory_size(kb_dir_);
  stats.schema_version = schema_version_;
  stats.chunker = chunker_;
  stats.analyzer = analyzer_;
  stats.embedder = embedder_;
  stats.vector_index = vector_index_;
  stats.embedder_id = embedder_id();
  stats.vectors = vector_count();
  stats.vector_dimension = vector_dimension();
  stats.generation = generation();
  return stats;
}

namespace {
std::string setting(StatementCache& statements, std::string_view key) {
  auto statement = statements.get("SELECT value FROM settings WHERE key = ?1");
  statement->bind(1, key);
  return statement->step() ? statement->column_string(0) : std::string();
}

void put_setting(StatementCache& statements, std::string_view key, std::string_view value) {
  statements
      .get("INSERT INTO settings(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      ->bind(1, key)
      .bind(2, value)
      .run();
}

void read_vector_rows(Statement& statement, StoredVectors& out, std::size_t dimension, const std::string& what) {
  while (statement.step()) {
    const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement.get(), 1));
    const auto id = statement.column_int64(0);
    RAGLINE_CHECK(bytes == dimension * sizeof(float), corrupt,
                  "vector of chunk " << id << " in " << what << " has " << bytes << " bytes; expected "
                                     << dimension * sizeof(float));
    out.ids.push_back(id);
    const auto* data = static_cast<const float*>(sqlite3_column_blob(statement.get(), 1));
    out.values.insert(out.values.end(), data, data + dimension);
  }
}
}  // namespace

std::string Store::embedder_id() { return setting(statements_, "embedder_id"); }

std::size_t Store::vector_dimension() {
  const std::string value = setting(statements_, "vector_dimension");
  return value.empty() ? 0 : static_cast<std::size_t>(std::stoull(value));
}

void Store::claim_embedder(const std::string& id, std::size_t dimension) {
  const std::string stored_id = embedder_id();
  const std::size_t stored_dimension = vector_dimension();
  if (stored_id.empty()) {
    put_setting(statements_, "embedder_id", id);
    put_setting(statements_, "vector_dimension", std::to_string(dimension));
    return;
  }
  RAGLINE_CHECK(stored_id == id && stored_dimension == dimension, invalid_argument,
                "KB " << kb_dir_.string() << " holds vectors of embedder " << stored_id << " (dimension "
                      << stored_dimension << "); this embedder is " << id << " (dimension " << dimension
                      << "). Vectors of different models never mix: use a new KB directory.");
}

void Store::put_vectors(std::span<const std::int64_t> chunk_ids, std::span<const float> values,
                        std::int64_t generation) {
  const std::size_t dimension = vector_dimension();
  RAGLINE_CHECK(
      dimension > 0 && values.size() == chunk_ids.size() * dimension, internal,
      "put_vectors: " << values.size() << " floats for " << chunk_ids.size() << " chunks of dimension " << dimension);
  auto statement = statements_.get(
      "INSERT INTO chunk_vectors(chunk_id, generation, vector) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(chunk_id) DO UPDATE SET generation = excluded.generation, vector = excluded.vector");
  for (std::size_t i = 0; i < chunk_ids.size(); ++i) {
    statement->bind(1, chunk_ids[i]).bind(2, generation);
    statement->bind_blob(3, values.data() + i * dimension, dimension * sizeof(float));
    statement->run();
    statement->reset();
  }
}

std::vector<std::pair<std::int64_t, std::string>> Store::chunks_missing_vectors(std::size_t limit) {
  auto statement = statements_.get(
      "SELECT c.id, c.text FROM chunks c WHERE c.searchable = 1 AND NOT EXISTS "
      "(SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id) ORDER BY c.id LIMIT ?1");
  statement->bind(1, static_cast<std::int64_t>(limit));
  std::vector<std::pair<std::int64_t, std::string>> found;
  while (statement->step()) found.emplace_back(statement->column_int64(0), statement->column_string(1));
  return found;
}

std::int64_t Store::vector_count() { return database_.query_int64("SELECT count(*) FROM chunk_vectors").value_or(0); }

StoredVectors Store::vectors_since(std::int64_t generation, std::int64_t after_id, std::size_t limit) {
  StoredVectors found;
  auto statement = statements_.get(
      "SELECT chunk_id, vector FROM chunk_vectors WHERE generation > ?1 AND chunk_id > ?2 ORDER BY chunk_id "
      "LIMIT ?3");
  statement->bind(1, generation)
      .bind(2, after_id)
      .bind(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  read_vector_rows(*statement, found, vector_dimension(), database_.path().string());
  return found;
}

StoredVectors Store::vectors_of(std::span<const std::int64_t> chunk_ids) {
  StoredVectors found;
  auto statement =
      statements_.get("SELECT v.chunk_id, v.vector FROM json_each(?1) j JOIN chunk_vectors v ON v.chunk_id = j.value");
  statement->bind(1, json_id_array(std::vector<std::int64_t>(chunk_ids.begin(), chunk_ids.end())));
  read_vector_rows(*statement, found, vector_dimension(), database_.path().string());
  return found;
}

std::vector<std::int64_t> Store::vector_removals_since(std::int64_t generation) {
  auto statement = statements_.get("SELECT chunk_id FROM vector_removals WHERE generation > ?1");
  statement->bind(1, generation);
  std::vector<std::int64_t> ids;
  while (statement->step()) ids.push_back(statement->column_int64(0));
  return ids;
}

void Store::prune_vector_removals(std::int64_t generation) {
  statements_.get("DELETE FROM vector_removals WHERE generation <= ?1")->bind(1, generation).run();
  if (generation > removals_pruned_through())
    put_setting(statements_, "removals_pruned_through", std::to_string(generation));
}

std::int64_t Store::removals_pruned_through() {
  const std::string value = setting(statements_, "removals_pruned_through");
  return value.empty() ? 0 : std::stoll(value);
}

void Store::set_vector_index_config(const VectorIndexConfig& config) {
  validate_vector_index(config);
  put_setting(statements_, "vector_index", vector_index_json(config).dump());
  vector_index_ = config;
}

std::string Store::read_setting(std::string_view key) { return setting(statements_, key); }

void Store::write_setting(std::string_view key, std::string_view value) { put_setting(statements_, key, value); }

std::unordered_map<std::string, std::vector<float>> Store::cached_embeddings(
    const std::string& embedder_id, const std::vector<std::string>& text_hashes) {
  std::unordered_map<std::string, std::vector<float>> found;
  auto statement = statements_.get("SELECT vector FROM embedding_cache WHERE embedder_id = ?1 AND text_hash = ?2");
  for (const auto& hash : text_hashes) {
    statement->bind(1, embedder_id).bind_blob(2, hash.data(), hash.size());
    if (statement->step()) {
      const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement->get(), 0));
      const auto* data = static_cast<const float*>(sqlite3_column_blob(statement->get(), 0));
      found.emplace(hash, std::vector<float>(data, data + bytes / sizeof(float)));
    }
    statement->reset();
  }
  return found;
}

void Store::put_cached_embeddings(const std::string& embedder_id, const std::vector<std::string>& text_hashes,
                                  std::span<const float> values, std::size_t dimension) {
  auto statement =
      statements_.get("INSERT OR REPLACE INTO embedding_cache(embedder_id, text_hash, vector) VALUES(?1, ?2, ?3)");
  for (std::size_t i = 0; i < text_hashes.size(); ++i) {
    statement->bind(1, embedder_id)
        .bind_blob(2, text_hashes[i].data(), text_hashes[i].size())
        .bind_blob(3, values.data() + i * dimension, dimension * sizeof(float));
    statement->run();
    statement->reset();
  }
}

}  // namespace ragline::index
