#pragma once
// Retriever: answers a Query over one KB. BM25 and dense search run over the same filtered set
// of chunks (the filter is evaluated once, in SQL, before ranking), and hybrid queries fuse the
// two candidate lists (retrieve/README.md).
//
// Not thread-safe: one Retriever per KnowledgeBase object, used from one thread at a time.

#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "index/vector_sync.hpp"
#include "ingest/embedder.hpp"
#include "ragline/types.hpp"

namespace ragline::retrieve {

// Filters that pass at most this many chunks are scored exactly on the dense side, unless the
// query says otherwise; above it, the ANN index searches with the filter as an id selector.
inline constexpr std::size_t kDefaultExactSearchThreshold = 4096;

class Retriever {
 public:
  // `embedder` may be null for a KB without vectors (the embedder "none"): only bm25 queries
  // are answered then, and hybrid ones fall back to bm25 (the explanation says so).
  Retriever(index::Store& store, index::KeywordIndex& keywords, index::SyncedVectorIndex& vectors,
            std::unique_ptr<ingest::Embedder> embedder, LogCallback log);

  SearchResult search(const Query& query);

  // The query's vector (through a small in-memory cache: a repeated query is not embedded twice).
  std::vector<float> embed_query(const std::string& text);

 private:
  index::Store& store_;
  index::KeywordIndex& keywords_;
  index::SyncedVectorIndex& vectors_;
  std::unique_ptr<ingest::Embedder> embedder_;
  LogCallback log_;
  // Most recently used query vectors, newest first.
  std::list<std::pair<std::string, std::vector<float>>> query_cache_;
  std::unordered_map<std::string, decltype(query_cache_)::iterator> query_cache_index_;
};

std::string_view to_string(SearchMode mode);
// Throws Error(invalid_argument) for an unknown name.
SearchMode parse_search_mode(std::string_view name);

}  // namespace ragline::retrieve
