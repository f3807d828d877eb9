#include "ragline/knowledge_base.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>

#include "core/check.hpp"
#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "ingest/pipeline.hpp"

namespace ragline {

struct KnowledgeBase::Impl {
  Impl(std::filesystem::path dir, index::Store opened_store, LogCallback log_callback)
      : directory(std::move(dir)),
        store(std::move(opened_store)),
        keywords(store.database(), store.analyzer()),
        log(std::move(log_callback)) {}

  std::filesystem::path directory;
  index::Store store;
  index::KeywordIndex keywords;
  LogCallback log;
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
  auto store = index::Store::open(dir, options.create_if_missing, options.chunker, options.analyzer);
  return KnowledgeBase(std::make_unique<Impl>(dir, std::move(store), options.log));
}

IngestReport KnowledgeBase::ingest(const std::vector<std::filesystem::path>& paths, const IngestOptions& options) {
  return ingest::run_ingest(impl_->store, paths, options, impl_->log);
}

std::vector<Hit> KnowledgeBase::retrieve(const Query& query) const {
  auto& store = impl_->store;
  index::ReadTransaction snapshot(store.database());
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, double> scores;
  if (store.chunker().name == "hierarchical") {
    // Children are searched and each parent is returned once, scored by its best child. Children
    // of one parent can crowd the top, so the search deepens until k parents are found or the
    // matches run out.
    for (std::size_t depth = query.k * 4;; depth *= 4) {
      const auto child_hits = impl_->keywords.search(query.text, depth, query.bm25);
      std::vector<std::int64_t> child_ids;
      for (const auto& hit : child_hits) child_ids.push_back(hit.chunk_id);
      const auto parents = store.parents_of(child_ids);
      ids.clear();
      scores.clear();
      for (std::size_t i = 0; i < child_hits.size() && ids.size() < query.k; ++i) {
        if (scores.emplace(parents[i], child_hits[i].score).second) ids.push_back(parents[i]);
      }
      if (ids.size() >= query.k || child_hits.size() < depth) break;
    }
  } else {
    for (const auto& hit : impl_->keywords.search(query.text, query.k, query.bm25)) {
      ids.push_back(hit.chunk_id);
      scores.emplace(hit.chunk_id, hit.score);
    }
  }
  auto chunks = store.chunks_by_id(ids);

  if (chunks.size() > query.k) chunks.resize(query.k);
  std::vector<std::int64_t> document_ids;
  for (const auto& chunk : chunks) document_ids.push_back(chunk.document_id);
  auto metadata = store.metadata_of(document_ids);

  std::vector<Hit> hits;
  hits.reserve(chunks.size());
  for (auto& chunk : chunks) {
    Hit hit;
    hit.chunk_id = chunk.id;
    hit.document_uri = std::move(chunk.document_uri);
    hit.title = std::move(chunk.title);
    hit.heading_path = std::move(chunk.heading_path);
    hit.text = std::move(chunk.text);
    hit.byte_start = chunk.byte_start;
    hit.byte_end = chunk.byte_end;
    hit.page = chunk.page;
    hit.metadata = metadata[chunk.document_id];
    hit.score = scores[chunk.id];
    hits.push_back(std::move(hit));
  }
  return hits;
}

bool KnowledgeBase::remove_document(const std::string& uri) {
  auto& store = impl_->store;
  index::WriteTransaction transaction(store.database());
  auto existing = store.find_document(uri);
  if (!existing) return false;
  store.delete_document(existing->id);
  store.bump_generation();
  transaction.commit();
  return true;
}

std::vector<DocumentInfo> KnowledgeBase::documents() const { return impl_->store.documents(); }

Stats KnowledgeBase::stats() const { return impl_->store.stats(); }

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
