#include "ragline/knowledge_base.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "core/check.hpp"
#include "generate/prompt_builder.hpp"
#include "index/kb_check.hpp"
#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "index/vector_sync.hpp"
#include "ingest/chunker.hpp"
#include "ingest/pipeline.hpp"
#include "models/embedder.hpp"
#include "rerank/reranker.hpp"
#include "retrieve/filter.hpp"
#include "retrieve/retriever.hpp"
#include "text/redact.hpp"

namespace ragline {

namespace {

// Stands in for an application's embedder that a KB was created with and that this open did not
// supply (OpenOptions::embedder_instance, or a factory under the KB's recorded name): the KB
// opens and answers keyword queries; whatever needs a new vector fails, saying what to pass.
class MissingEmbedder final : public models::Embedder {
 public:
  MissingEmbedder(std::string message, std::string id, std::size_t dimension)
      : message_(std::move(message)), id_(std::move(id)), dimension_(dimension) {}

  std::string id() const override { return id_; }
  std::size_t dimension() const override { return dimension_; }
  models::EmbeddingMatrix embed(std::span<const std::string>, models::EmbedPurpose) override {
    throw Error(ErrorKind::invalid_argument, message_);
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  std::string id_;
  std::size_t dimension_;
};

// The KB's embedder: the application's object when given, else the one the recorded name finds
// in the registry; null for a KB without vectors.
std::shared_ptr<models::Embedder> kb_embedder(index::Store& store, const std::shared_ptr<Embedder>& instance) {
  const EmbedderConfig& recorded = store.embedder();
  const std::string dir = store.directory().string();
  const std::string stored_id = store.embedder_id();
  if (instance) {
    RAGLINE_CHECK(recorded.name != "none", invalid_argument,
                  "KB " << dir << " was created without an embedder (\"none\") and keeps no vectors: it cannot take "
                        << "OpenOptions::embedder_instance (" << instance->id() << "); use a new KB directory");
    RAGLINE_CHECK(stored_id.empty() || instance->dimension() == 0 || instance->id() == stored_id, invalid_argument,
                  "KB " << dir << " holds vectors of embedder " << stored_id << "; OpenOptions::embedder_instance is "
                        << instance->id() << ". Vectors of different models never mix: use a new KB directory.");
    return instance;
  }
  if (recorded.name == "none") return nullptr;
  if (models::is_registered_embedder(recorded.name)) return models::make_embedder(recorded, store.analyzer());
  std::string message = "KB " + dir + " was created with an application's embedder (recorded name \"" + recorded.name +
                        "\"" + (stored_id.empty() ? std::string() : ", vectors of " + stored_id) +
                        ") that this open did not supply: pass it as OpenOptions::embedder_instance";
  if (recorded.name != "application") {
    message += ", or register it with register_embedder(\"" + recorded.name + "\", factory) before opening";
  }
  return std::make_shared<MissingEmbedder>(std::move(message), stored_id.empty() ? recorded.name : stored_id,
                                           store.vector_dimension());
}

}  // namespace

struct KnowledgeBase::Impl {
  Impl(std::filesystem::path dir, index::Store opened_store, std::shared_ptr<models::Embedder> kb_embedder,
       LogCallback log_callback)
      : directory(std::move(dir)),
        store(std::move(opened_store)),
        keywords(store.database(), store.analyzer()),
        vectors(directory / "vectors.faiss"),
        log(std::move(log_callback)),
        embedder(std::move(kb_embedder)),
        retriever(store, keywords, vectors, embedder, log) {}

  // Writers that would embed refuse to start without the KB's embedder (its error says what to
  // pass); queries fail only when they need a vector.
  void require_embedder() const {
    if (const auto* missing = dynamic_cast<const MissingEmbedder*>(embedder.get())) {
      throw Error(ErrorKind::invalid_argument, missing->message());
    }
  }

  // Brings vectors.faiss up to date with kb.sqlite after a change (or on first use, when the
  // file is missing or stale). A failure to write the file loses nothing: it is derived, and
  // the next refresh catches up from kb.sqlite again.
  void sync_vector_file() {
    {
      index::ReadTransaction snapshot(store.database());
      vectors.refresh(store, log);
    }
    try {
      vectors.save(store);
    } catch (const Error& error) {
      if (log) log(LogLevel::warning, std::string("vectors.faiss not written: ") + error.what());
    }
    compact_if_mostly_free();
  }

  // After a writer's commit: SQLite reuses free pages but never gives them back, so a KB that
  // lost most of its documents keeps its size until compacted. More than half free pays for
  // the rewrite. A failure (a full disk: VACUUM needs room for a copy) costs nothing but a warning.
  void compact_if_mostly_free() {
    try {
      if (!store.mostly_free_pages()) return;
      const auto before = store.bytes_on_disk();
      store.vacuum();
      if (log) {
        log(LogLevel::info, "compacted kb.sqlite (more than half of it was free pages): " + std::to_string(before) +
                                " -> " + std::to_string(store.bytes_on_disk()) + " bytes in the KB directory");
      }
    } catch (const Error& error) {
      if (log) log(LogLevel::warning, std::string("kb.sqlite not compacted: ") + error.what());
    }
  }

  // The KB's recorded redaction, re-read on every query (an ingest, here or in another process,
  // may have changed it); rebuilt only when the recorded JSON changes.
  const text::Redactor* redactor() {
    const std::string json = store.read_setting(text::kRedactionSetting);
    if (json != redaction_json) {
      redaction.reset();
      const auto config = recorded_redaction(json);
      if (config) redaction.emplace(*config);
      redaction_json = json;
    }
    return redaction ? &*redaction : nullptr;
  }

  std::optional<RedactionConfig> recorded_redaction(const std::string& json) {
    if (json.empty()) return std::nullopt;
    auto config = text::redaction_config_from_json(json, store.database().path().string());
    if (!text::redaction_active(config)) return std::nullopt;
    return config;
  }

  // Queries are redacted as the documents were, so "[EMAIL]" in a chunk and an address in a
  // query meet on the same terms, and no PII from a query reaches the query-vector cache.
  std::string redacted(const std::string& text) {
    const auto* active = redactor();
    return active ? active->redact(text).text : text;
  }

  std::filesystem::path directory;
  index::Store store;
  index::KeywordIndex keywords;
  index::SyncedVectorIndex vectors;
  LogCallback log;
  std::shared_ptr<models::Embedder> embedder;  // null for a KB without vectors
  retrieve::Retriever retriever;
  std::string redaction_json;
  std::optional<text::Redactor> redaction;
};

namespace {

// Errors of the KB itself (not of one input) name the KB directory, and a busy one says plainly
// that another writer holds it.
template <typename Operation>
auto naming_kb(const std::filesystem::path& dir, Operation&& operation) -> decltype(operation()) {
  try {
    return operation();
  } catch (const Error& error) {
    const ErrorKind kind = error.kind();
    if (kind == ErrorKind::busy) {
      throw Error(kind, "KB " + dir.string() + " is busy: another process or thread is writing to it (waited " +
                            std::to_string(index::kBusyTimeoutMs / 1000) + " s). " + error.what());
    }
    const bool store_error = kind == ErrorKind::io || kind == ErrorKind::database || kind == ErrorKind::corrupt;
    if (store_error && std::string_view(error.what()).find(dir.string()) == std::string_view::npos) {
      throw Error(kind, "KB " + dir.string() + ": " + error.what());
    }
    throw;
  }
}

}  // namespace

KnowledgeBase::KnowledgeBase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KnowledgeBase::KnowledgeBase(KnowledgeBase&&) noexcept = default;
KnowledgeBase& KnowledgeBase::operator=(KnowledgeBase&&) noexcept = default;
KnowledgeBase::~KnowledgeBase() = default;

KnowledgeBase KnowledgeBase::open(const std::filesystem::path& dir, const OpenOptions& options) {
  std::error_code error;
  if (std::filesystem::exists(dir, error)) {
    RAGLINE_CHECK(std::filesystem::is_directory(dir, error), invalid_argument,
                  "KB path " << dir.string() << " exists and is not a directory");
  }
  // Bad settings are refused before anything is created on disk; the store validates the rest.
  ingest::make_chunker(options.chunker.value_or(ChunkerConfig{}));
  std::optional<EmbedderConfig> embedder = options.embedder;
  if (options.embedder_instance) {
    RAGLINE_CHECK(!embedder || embedder->name != "none", invalid_argument,
                  "OpenOptions::embedder_instance was given with the embedder name \"none\" (no vectors)");
    // A new KB records the application's name for it, else "application" (ragline/embedder.hpp).
    if (!embedder && !std::filesystem::exists(dir / "kb.sqlite", error)) {
      embedder.emplace();
      embedder->name = "application";
    }
  } else if (embedder) {
    models::check_embedder_name(embedder->name);
  }
  // A new KB's embedder is made before anything is created on disk, so that settings only the
  // embedder can check (openai without a model, a bert folder that is missing) fail the create
  // instead of leaving a KB no later open could use.
  std::shared_ptr<Embedder> new_kb_embedder = options.embedder_instance;
  const EmbedderConfig new_kb_config = embedder.value_or(EmbedderConfig{});
  if (!new_kb_embedder && options.create_if_missing && !std::filesystem::exists(dir / "kb.sqlite", error) &&
      new_kb_config.name != "none" && models::is_registered_embedder(new_kb_config.name)) {
    new_kb_embedder = models::make_embedder(new_kb_config, options.analyzer.value_or(AnalyzerConfig{}));
  }
  auto store = naming_kb(dir, [&] {
    return index::Store::open(dir, options.create_if_missing,
                              {options.chunker, options.analyzer, embedder, options.vector_index});
  });
  // Another process may have created the KB meanwhile, with other settings: then the registry
  // makes the embedder it recorded.
  if (!options.embedder_instance && !(store.embedder() == new_kb_config)) new_kb_embedder = nullptr;
  auto kb_embedder_object = kb_embedder(store, new_kb_embedder);
  return KnowledgeBase(std::make_unique<Impl>(dir, std::move(store), std::move(kb_embedder_object), options.log));
}

IngestReport KnowledgeBase::ingest(const std::vector<std::filesystem::path>& paths, const IngestOptions& options) {
  return naming_kb(impl_->directory, [&] {
    impl_->store.require_writable("ingest");
    impl_->require_embedder();
    auto report = ingest::run_ingest(impl_->store, impl_->embedder.get(), paths, options, impl_->log);
    impl_->sync_vector_file();
    return report;
  });
}

IngestReport KnowledgeBase::upsert(const std::vector<DocumentInput>& documents, const IngestOptions& options) {
  return naming_kb(impl_->directory, [&] {
    impl_->store.require_writable("upsert");
    impl_->require_embedder();
    auto report = ingest::run_upsert(impl_->store, impl_->embedder.get(), documents, options, impl_->log);
    impl_->sync_vector_file();
    return report;
  });
}

std::optional<StoredDocument> KnowledgeBase::get(const std::string& id) const {
  return naming_kb(impl_->directory, [&] {
    // One snapshot: the document and its metadata from the same commit.
    index::ReadTransaction snapshot(impl_->store.database());
    return impl_->store.stored_document(id);
  });
}

std::size_t KnowledgeBase::remove(const std::vector<std::string>& ids) {
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
    store.require_writable("remove");
    index::WriteTransaction transaction(store.database());
    std::size_t removed = 0;
    for (const auto& id : ids) {
      if (auto existing = store.find_document(id); existing && store.delete_document(existing->id)) ++removed;
    }
    if (removed == 0) return removed;
    store.bump_generation();
    transaction.commit();
    impl_->sync_vector_file();
    return removed;
  });
}

std::size_t KnowledgeBase::remove_where(const std::string& filter) {
  RAGLINE_CHECK(!filter.empty(), invalid_argument,
                "remove_where: the filter is empty (it would remove every document; name what to remove)");
  const retrieve::Filter parsed = retrieve::Filter::parse(filter);
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
    store.require_writable("remove_where");
    index::WriteTransaction transaction(store.database());
    std::size_t removed = 0;
    for (const std::int64_t document_id : retrieve::matching_documents(store.database(), parsed)) {
      if (store.delete_document(document_id)) ++removed;
    }
    if (removed == 0) return removed;
    store.bump_generation();
    transaction.commit();
    impl_->sync_vector_file();
    return removed;
  });
}

SearchResult KnowledgeBase::search(const Query& query) const {
  Query redacted_query = query;
  redacted_query.text = impl_->redacted(query.text);
  SearchResult result;
  if (query.rerank.empty()) {
    result = impl_->retriever.search(redacted_query);
  } else {
    Query widened = redacted_query;
    widened.k = query.k == 0 ? 0 : rerank::rerank_input_size(query.rerank, query.k);
    result = impl_->retriever.search(widened);
    rerank::RerankRequest request;
    request.query = redacted_query.text;
    request.k = query.k;
    if (impl_->embedder) {
      request.query_vector = [this, &redacted_query] { return impl_->retriever.embed_query(redacted_query.text); };
      request.hit_vectors = [this](std::span<const Hit> hits) { return impl_->retriever.hit_vectors(hits); };
    }
    result.hits = rerank::run_rerank_chain(query.rerank, request, std::move(result.hits), result.explanation);
  }
  // A read writes nothing: a stale vectors.faiss is caught up in memory, and saved by the next
  // writer (ingest, remove_document, reindex, repair).
  return result;
}

void KnowledgeBase::validate(const Query& query) { retrieve::validate_query(query); }

std::vector<Hit> KnowledgeBase::retrieve(const Query& query) const { return search(query).hits; }

Prompt KnowledgeBase::build_prompt(const std::string& question, const std::vector<Hit>& hits,
                                   const PromptOptions& options, const std::vector<ChatMessage>& history) const {
  index::ReadTransaction snapshot(impl_->store.database());
  generate::StorePassageSource source(impl_->store);
  return generate::PromptBuilder(options, &source).build(question, hits, history);
}

std::vector<float> KnowledgeBase::query_vector(const std::string& text) const {
  return impl_->retriever.embed_query(impl_->redacted(text));
}

void KnowledgeBase::reindex() {
  impl_->store.require_writable("reindex");
  impl_->vectors.rebuild(impl_->store, impl_->log);
}

CheckReport KnowledgeBase::check() const { return index::check_kb(impl_->store, impl_->vectors.file()); }

RepairReport KnowledgeBase::repair() {
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
    store.require_writable("repair");
    RepairReport report;
    report.actions = index::repair_store(store);
    if (impl_->embedder) {
      const auto embedded = ingest::run_ingest(store, impl_->embedder.get(), {}, IngestOptions{}, impl_->log);
      if (embedded.chunks_embedded + embedded.embeddings_from_cache > 0) {
        report.actions.push_back("embedded " +
                                 std::to_string(embedded.chunks_embedded + embedded.embeddings_from_cache) +
                                 " chunks that waited for vectors");
      }
      for (const auto& failure : embedded.failures) report.actions.push_back(failure.location + ": " + failure.reason);
    }
    impl_->vectors.rebuild(store, impl_->log);
    const auto* rebuilt = impl_->vectors.index();
    report.actions.push_back(rebuilt ? "rebuilt vectors.faiss from " + std::to_string(rebuilt->size()) + " vectors"
                                     : "removed vectors.faiss (the KB has no vectors)");
    report.after = check();
    return report;
  });
}

CompactReport KnowledgeBase::compact() {
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
    store.require_writable("compact");
    CompactReport report;
    report.bytes_before = store.bytes_on_disk();
    store.vacuum();
    report.actions.push_back("rewrote kb.sqlite without its free pages (VACUUM)");
    impl_->vectors.rebuild(store, impl_->log);
    const auto* rebuilt = impl_->vectors.index();
    report.actions.push_back(rebuilt ? "rebuilt vectors.faiss from " + std::to_string(rebuilt->size()) + " vectors"
                                     : "no vectors.faiss (the KB has no vectors)");
    report.bytes_after = store.bytes_on_disk();
    return report;
  });
}

bool KnowledgeBase::remove_document(const std::string& uri) {
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
    store.require_writable("remove_document");
    index::WriteTransaction transaction(store.database());
    auto existing = store.find_document(uri);
    if (!existing) return false;
    store.delete_document(existing->id);
    store.bump_generation();
    transaction.commit();
    impl_->sync_vector_file();
    return true;
  });
}

std::vector<DocumentInfo> KnowledgeBase::documents() const { return documents(std::string()); }

std::vector<DocumentInfo> KnowledgeBase::documents(const std::string& filter, std::size_t limit,
                                                   std::size_t offset) const {
  const std::optional<retrieve::Filter> parsed =
      filter.empty() ? std::nullopt : std::optional<retrieve::Filter>(retrieve::Filter::parse(filter));
  return naming_kb(impl_->directory, [&] {
    // One snapshot: the filter's matches and the page of documents from the same commit.
    index::ReadTransaction snapshot(impl_->store.database());
    if (!parsed) return impl_->store.documents(nullptr, limit, offset);
    const auto ids = retrieve::matching_documents(impl_->store.database(), *parsed);
    return impl_->store.documents(&ids, limit, offset);
  });
}

Stats KnowledgeBase::stats() const {
  Stats stats = impl_->store.stats();
  const auto header = index::VectorIndex::read_header(impl_->vectors.file());
  stats.vector_index_generation = header ? header->generation : -1;
  stats.redaction = impl_->recorded_redaction(impl_->store.read_setting(text::kRedactionSetting));
  return stats;
}

const std::filesystem::path& KnowledgeBase::directory() const { return impl_->directory; }

}  // namespace ragline
