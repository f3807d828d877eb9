#include "index/store.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <system_error>
#include <unordered_map>

#include "core/check.hpp"
#include "core/config_json.hpp"
#include "index/fts5_extension.hpp"
#include "index/store_internal.hpp"
#include "index/vector_index_types.hpp"
#include "text/text_analyzer.hpp"

namespace ragline::index {
namespace {

// What decides the vectors an embedder produces; the rest (endpoint, batching, timeouts) may
// change between runs.
nlohmann::json embedder_identity(const EmbedderConfig& config) {
  nlohmann::json identity = {{"name", config.name}, {"dimension", config.dimension}, {"model", config.model}};
  // Prefixes change vectors; kept out of the identity when unset so older KBs still match.
  if (!config.query_prefix.empty()) identity["query_prefix"] = config.query_prefix;
  if (!config.passage_prefix.empty()) identity["passage_prefix"] = config.passage_prefix;
  // fp32 is the default and what older KBs computed: only another precision changes the identity.
  if (!config.precision.empty() && config.precision != "fp32") identity["precision"] = config.precision;
  return identity;
}

void validate_vector_index(const VectorIndexConfig& config) {
  // The type's own checks, from the one registry (the dimension is not known before vectors).
  validate_vector_index_config(config);
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
  RAGLINE_CHECK(config.precision.empty() || config.precision == "fp32" || config.precision == "int8", invalid_argument,
                "embedder precision \"" << config.precision << "\" is not fp32 or int8");
}

std::string describe(const ChunkerConfig& config) { return nlohmann::json(config).dump(); }
std::string describe(const AnalyzerConfig& config) { return nlohmann::json(config).dump(); }

// 128 random bits as 32 hex digits.
std::string random_kb_id() {
  std::random_device random;
  std::string id;
  for (int word = 0; word < 4; ++word) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(random()));
    id += hex;
  }
  return id;
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

using detail::keyword_table_sql;
using detail::kSchemaV1;
using detail::kSchemaV2;
using detail::put_setting;
using detail::setting;

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
  // An existing KB that cannot be written is opened for reading (Database::open_existing).
  // The file is never opened by other means to look at it: closing a second descriptor of it
  // would drop this process's SQLite locks (POSIX advisory locks belong to the process).
  std::optional<Store> opened;
  try {
    opened.emplace(
        Store(exists ? Database::open_existing(database_path) : Database::open(database_path, true), kb_dir));
    // WAL lets readers run during an ingest; FULL syncs every commit so a committed batch
    // survives power loss, not only a crash of the process. (A KB's file is in WAL mode from its
    // creation on, so this writes nothing when opening an existing one.)
    if (!opened->database_.read_only()) opened->database_.exec("PRAGMA journal_mode = WAL");
    opened->database_.exec("PRAGMA synchronous = FULL");
  } catch (const Error& failure) {
    // Corruption this early is the file's header or first page: SQLite's "file is not a
    // database" said in words, with what to do.
    if (failure.kind() != ErrorKind::corrupt) throw;
    RAGLINE_THROW(corrupt, "KB " << kb_dir.string()
                                 << ": kb.sqlite is not an SQLite database, so this is not a ragline KB (or its "
                                    "kb.sqlite was overwritten: restore it from a backup, or ingest the sources into "
                                    "a new KB directory)");
  }
  Store store = std::move(*opened);
  Database& database = store.database_;
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
  if (current_version() != kSchemaVersion) {
    require_writable("upgrading its schema to version " + std::to_string(kSchemaVersion));
    transaction.emplace(database_);
  }
  int version = current_version();
  const bool empty = database_.query_int64("SELECT count(*) FROM sqlite_schema").value_or(0) == 0;
  RAGLINE_CHECK(version <= kSchemaVersion, unsupported,
                "KB " << kb_dir_.string() << " has schema version " << version << ", newer than this ragline ("
                      << kSchemaVersion << "); upgrade ragline");
  if (version == 0) {
    RAGLINE_CHECK(fresh || empty, corrupt,
                  "KB " << kb_dir_.string()
                        << ": kb.sqlite is an SQLite database of something else, not a ragline KB (it has tables "
                           "but no ragline schema version); give --kb a ragline KB directory, or a new one");
    const ChunkerConfig chunker_config = chunker.value_or(ChunkerConfig{});
    const AnalyzerConfig analyzer_config = analyzer.value_or(AnalyzerConfig{});
    text::TextAnalyzer validate_language(analyzer_config);
    database_.exec(kSchemaV1);
    database_.exec(keyword_table_sql(analyzer_config));
    auto put = database_.prepare("INSERT INTO settings(key, value) VALUES(?1, ?2)");
    put.bind(1, "chunker").bind(2, nlohmann::json(chunker_config).dump()).run();
    put.reset();
    put.bind(1, "analyzer").bind(2, nlohmann::json(analyzer_config).dump()).run();
    put.reset();
    put.bind(1, "generation").bind(2, "0").run();
    put.reset();
    put.bind(1, "kb_id").bind(2, random_kb_id()).run();
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
    put.bind(1, "embedder").bind(2, nlohmann::json(embedder_config).dump()).run();
    put.reset();
    put.bind(1, "embedder_id").bind(2, "").run();
    put.reset();
    put.bind(1, "vector_dimension").bind(2, "0").run();
    put.reset();
    put.bind(1, "vector_index").bind(2, nlohmann::json(vector_index_config).dump()).run();
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
    // Endpoint, batching and timeouts may change from run to run; an endpoint left empty keeps
    // the stored one rather than silently becoming the embedder's default (a public service).
    const EmbedderConfig recorded = embedder_;
    embedder_ = *embedder;
    if (embedder_.base_url.empty()) embedder_.base_url = recorded.base_url;
    if (embedder_.region.empty()) embedder_.region = recorded.region;
  }
  if (vector_index && !(*vector_index == vector_index_)) {
    // The index type is derived data: the new one is recorded and vectors.faiss rebuilt on use.
    require_writable("changing the vector index type");
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
      // Fields a newer version added are ignored, so its KBs still open here.
      constexpr auto unknown = core::UnknownFields::ignore;
      if (key == "chunker") chunker_ = core::config_from_json<ChunkerConfig>(value, key, unknown);
      if (key == "analyzer") analyzer_ = core::config_from_json<AnalyzerConfig>(value, key, unknown);
      if (key == "embedder") embedder_ = core::config_from_json<EmbedderConfig>(value, key, unknown);
      if (key == "vector_index") vector_index_ = core::config_from_json<VectorIndexConfig>(value, key, unknown);
      ++found;
    } catch (const nlohmann::json::exception& error) {
      RAGLINE_THROW(corrupt, "KB setting \"" << key << "\" in " << database_.path().string()
                                             << " is unreadable: " << error.what());
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::format) throw;
      RAGLINE_THROW(corrupt, "KB setting \"" << key << "\" in " << database_.path().string()
                                             << " is unreadable: " << error.what());
    }
  }
  RAGLINE_CHECK(found == 4, corrupt, "KB settings are missing from " << database_.path().string());
}

void Store::bump_generation() {
  database_.exec("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'");
  if (kb_id().empty()) put_setting(statements_, "kb_id", random_kb_id());
}

std::string Store::kb_id() { return setting(statements_, "kb_id"); }

void Store::require_writable(std::string_view operation) const {
  RAGLINE_CHECK(!read_only(), io,
                "KB " << kb_dir_.string() << " is read-only: " << operation
                      << " needs write access (kb.sqlite, or its directory, is not writable by this process)");
}

std::int64_t Store::generation() {
  return database_.query_int64("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'generation'").value_or(0);
}

Stats Store::stats() {
  ReadTransaction snapshot(database_);
  Stats stats;
  stats.documents = database_.query_int64("SELECT count(*) FROM documents").value_or(0);
  stats.chunks = database_.query_int64("SELECT count(*) FROM chunks").value_or(0);
  stats.searchable_chunks = database_.query_int64("SELECT count(*) FROM chunks WHERE searchable = 1").value_or(0);
  stats.tokens =
      database_.query_int64("SELECT coalesce(sum(token_count), 0) FROM chunks WHERE searchable = 1").value_or(0);
  stats.bytes_on_disk = bytes_on_disk();
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

void Store::set_vector_index_config(const VectorIndexConfig& config) {
  validate_vector_index(config);
  put_setting(statements_, "vector_index", nlohmann::json(config).dump());
  vector_index_ = config;
}

std::string Store::read_setting(std::string_view key) { return setting(statements_, key); }

void Store::write_setting(std::string_view key, std::string_view value) { put_setting(statements_, key, value); }

std::uint64_t Store::bytes_on_disk() const { return directory_size(kb_dir_); }

bool Store::mostly_free_pages() {
  const auto pages = database_.query_int64("PRAGMA page_count").value_or(0);
  const auto free_pages = database_.query_int64("PRAGMA freelist_count").value_or(0);
  return pages > 0 && free_pages * 2 > pages;
}

void Store::vacuum() {
  require_writable("compact");
  database_.exec("VACUUM");
  // The rewrite went through the WAL; move it into kb.sqlite and give the space back. A reader
  // holding an old snapshot makes this a partial checkpoint, which the next writer completes.
  database_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace ragline::index
