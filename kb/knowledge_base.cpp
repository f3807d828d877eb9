#include "ragline/knowledge_base.hpp"

#include <algorithm>
#include <map>
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
#include "retrieve/retriever.hpp"
#include "text/redact.hpp"

namespace ragline {

struct KnowledgeBase::Impl {
  Impl(std::filesystem::path dir, index::Store opened_store, LogCallback log_callback)
      : directory(std::move(dir)),
        store(std::move(opened_store)),
        keywords(store.database(), store.analyzer()),
        vectors(directory / "vectors.faiss"),
        log(std::move(log_callback)),
        retriever(store, keywords, vectors,
                  store.embedder().name == "none" ? nullptr : models::make_embedder(store.embedder(), store.analyzer()),
                  log) {}

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
  auto store = index::Store::open(dir, options.create_if_missing,
                                  {options.chunker, options.analyzer, options.embedder, options.vector_index});
  return KnowledgeBase(std::make_unique<Impl>(dir, std::move(store), options.log));
}

IngestReport KnowledgeBase::ingest(const std::vector<std::filesystem::path>& paths, const IngestOptions& options) {
  return naming_kb(impl_->directory, [&] {
    auto report = ingest::run_ingest(impl_->store, paths, options, impl_->log);
    impl_->sync_vector_file();
    return report;
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
    if (impl_->store.embedder().name != "none") {
      request.query_vector = [this, &redacted_query] { return impl_->retriever.embed_query(redacted_query.text); };
      request.hit_vectors = [this](std::span<const Hit> hits) { return impl_->retriever.hit_vectors(hits); };
    }
    result.hits = rerank::run_rerank_chain(query.rerank, request, std::move(result.hits), result.explanation);
  }
  impl_->retriever.save_query_vectors();
  // The first dense query after opening a KB whose vectors.faiss was missing or stale leaves
  // the file up to date for the next process.
  if (impl_->vectors.index() && impl_->vectors.file_is_stale()) {
    try {
      impl_->vectors.save(impl_->store);
    } catch (const Error& error) {
      if (impl_->log) impl_->log(LogLevel::warning, std::string("vectors.faiss not written: ") + error.what());
    }
  }
  return result;
}

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

void KnowledgeBase::reindex() { impl_->vectors.rebuild(impl_->store, impl_->log); }

CheckReport KnowledgeBase::check() const { return index::check_kb(impl_->store, impl_->vectors.file()); }

RepairReport KnowledgeBase::repair() {
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
    RepairReport report;
    report.actions = index::repair_store(store);
    if (store.embedder().name != "none") {
      const auto embedded = ingest::run_ingest(store, {}, IngestOptions{}, impl_->log);
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

bool KnowledgeBase::remove_document(const std::string& uri) {
  return naming_kb(impl_->directory, [&] {
    auto& store = impl_->store;
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

std::vector<DocumentInfo> KnowledgeBase::documents() const { return impl_->store.documents(); }

Stats KnowledgeBase::stats() const {
  Stats stats = impl_->store.stats();
  const auto header = index::VectorIndex::read_header(impl_->vectors.file());
  stats.vector_index_generation = header ? header->generation : -1;
  stats.redaction = impl_->recorded_redaction(impl_->store.read_setting(text::kRedactionSetting));
  return stats;
}

const std::filesystem::path& KnowledgeBase::directory() const { return impl_->directory; }

}  // namespace ragline
