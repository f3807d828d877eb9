#include "ragline/knowledge_base.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>

#include "core/check.hpp"
#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "index/vector_sync.hpp"
#include "ingest/embedder.hpp"
#include "ingest/pipeline.hpp"
#include "retrieve/prompt_builder.hpp"
#include "retrieve/retriever.hpp"

namespace ragline {

struct KnowledgeBase::Impl {
  Impl(std::filesystem::path dir, index::Store opened_store, LogCallback log_callback)
      : directory(std::move(dir)),
        store(std::move(opened_store)),
        keywords(store.database(), store.analyzer()),
        vectors(directory / "vectors.faiss"),
        log(std::move(log_callback)),
        retriever(store, keywords, vectors,
                  store.embedder().name == "none" ? nullptr : ingest::make_embedder(store.embedder(), store.analyzer()),
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

  std::filesystem::path directory;
  index::Store store;
  index::KeywordIndex keywords;
  index::SyncedVectorIndex vectors;
  LogCallback log;
  retrieve::Retriever retriever;
};

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
  auto store = index::Store::open(dir, options.create_if_missing,
                                  {options.chunker, options.analyzer, options.embedder, options.vector_index});
  return KnowledgeBase(std::make_unique<Impl>(dir, std::move(store), options.log));
}

IngestReport KnowledgeBase::ingest(const std::vector<std::filesystem::path>& paths, const IngestOptions& options) {
  auto report = ingest::run_ingest(impl_->store, paths, options, impl_->log);
  impl_->sync_vector_file();
  return report;
}

SearchResult KnowledgeBase::search(const Query& query) const {
  auto result = impl_->retriever.search(query);
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
  retrieve::StorePassageSource source(impl_->store);
  return retrieve::PromptBuilder(options, &source).build(question, hits, history);
}

std::vector<float> KnowledgeBase::query_vector(const std::string& text) const {
  return impl_->retriever.embed_query(text);
}

void KnowledgeBase::reindex() { impl_->vectors.rebuild(impl_->store, impl_->log); }

bool KnowledgeBase::remove_document(const std::string& uri) {
  auto& store = impl_->store;
  index::WriteTransaction transaction(store.database());
  auto existing = store.find_document(uri);
  if (!existing) return false;
  store.delete_document(existing->id);
  store.bump_generation();
  transaction.commit();
  impl_->sync_vector_file();
  return true;
}

std::vector<DocumentInfo> KnowledgeBase::documents() const { return impl_->store.documents(); }

Stats KnowledgeBase::stats() const {
  Stats stats = impl_->store.stats();
  const auto header = index::VectorIndex::read_header(impl_->vectors.file());
  stats.vector_index_generation = header ? header->generation : -1;
  return stats;
}

const std::filesystem::path& KnowledgeBase::directory() const { return impl_->directory; }

std::string file_uri(const std::filesystem::path& path) {
  std::error_code error;
  const std::string absolute = std::filesystem::absolute(path, error).lexically_normal().generic_string();
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = "file://";
  for (unsigned char c : absolute) {
    const bool unreserved = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (unreserved) {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 0xf];
    }
  }
  return uri;
}

}  // namespace ragline
