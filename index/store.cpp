#include "index/store.hpp"

#include <cctype>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unordered_map>

#include "core/check.hpp"
#include "index/fts5_extension.hpp"
#include "index/text_analyzer.hpp"
#include "ingest/chunker.hpp"

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

Store Store::open(const std::filesystem::path& kb_dir, bool create, const std::optional<ChunkerConfig>& chunker,
                  const std::optional<AnalyzerConfig>& analyzer) {
  const auto database_path = kb_dir / "kb.sqlite";
  std::error_code error;
  const bool exists = std::filesystem::exists(database_path, error);
  if (!exists) {
    RAGLINE_CHECK(create, not_found, "no knowledge base at " << kb_dir.string() << " (kb.sqlite is missing)");
    // Bad settings are refused before anything is created on disk.
    ingest::make_chunker(chunker.value_or(ChunkerConfig{}));
    TextAnalyzer validate_language(analyzer.value_or(AnalyzerConfig{}));
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
  store.migrate(!exists, chunker, analyzer);
  return store;
}

void Store::migrate(bool fresh, const std::optional<ChunkerConfig>& chunker,
                    const std::optional<AnalyzerConfig>& analyzer) {
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
    ingest::make_chunker(chunker_config);  // validates name and parameters before anything is written
    TextAnalyzer validate_language(analyzer_config);
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
  // Later schema versions add their steps here: if (version == 1) { ...; version = 2; }
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
}

void Store::load_settings() {
  auto statement = database_.prepare("SELECT key, value FROM settings WHERE key IN ('chunker', 'analyzer')");
  int found = 0;
  while (statement.step()) {
    const auto key = statement.column_text(0);
    try {
      const auto value = nlohmann::json::parse(statement.column_text(1));
      if (key == "chunker") chunker_ = chunker_from_json(value);
      if (key == "analyzer") analyzer_ = analyzer_from_json(value);
      ++found;
    } catch (const nlohmann::json::exception& error) {
      RAGLINE_THROW(corrupt, "KB setting \"" << key << "\" in " << database_.path().string()
                                             << " is unreadable: " << error.what());
    }
  }
  RAGLINE_CHECK(found == 2, corrupt, "KB settings are missing from " << database_.path().string());
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

std::int64_t Store::put_document(const ingest::Document& document, const std::string& content_hash,
                                 const std::vector<ingest::Chunk>& chunks, std::int64_t ingested_at) {
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
    if (auto page = ingest::page_at(document, chunk.byte_start)) {
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
  return stats;
}

}  // namespace ragline::index
