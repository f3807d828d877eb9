#pragma once
// Retriever: answers a Query over one KB. BM25 and dense search run over the same filtered set
// of chunks (the filter is evaluated once, in SQL, before ranking), and hybrid queries fuse the
// two candidate lists (retrieve/README.md).
//
// Not thread-safe: one Retriever per KnowledgeBase object, used from one thread at a time.

#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "index/vector_sync.hpp"
#include "models/embedder.hpp"
#include "ragline/types.hpp"

namespace ragline::retrieve {

// Filters that pass at most max(kDefaultExactSearchThreshold, kExactSearchFloats / dimension)
// chunks are scored exactly on the dense side (just kDefaultExactSearchThreshold for IVF-PQ, whose
// full vectors are read from kb.sqlite), unless the query says otherwise; above it, the ANN index
// searches with the filter as an id selector. Evaluating a filter in SQL already costs time in
// proportion to the chunks it passes (about 1-10 us each), more than scoring them exactly from
// memory (256 floats: ~0.1 us), so exact scoring adds a fraction of the filter's own cost while
// an ANN graph walked under a selective filter loses recall (bench/README.md, rag-bench-vectors).
inline constexpr std::size_t kDefaultExactSearchThreshold = 4096;
inline constexpr std::size_t kExactSearchFloats = std::size_t{1} << 26;

class Retriever {
 public:
  // `embedder` may be null for a KB without vectors (the embedder "none"): only bm25 queries
  // are answered then, and hybrid ones fall back to bm25 (the explanation says so).
  Retriever(index::Store& store, index::KeywordIndex& keywords, index::SyncedVectorIndex& vectors,
            std::unique_ptr<models::Embedder> embedder, LogCallback log);

  SearchResult search(const Query& query);

  // The query's vector (through a small in-memory cache: a repeated query is not embedded twice).
  // An embedder that can weight query terms (the lexical one) gets each term's inverse document
  // frequency in this KB: documents are embedded without corpus statistics, and the query side
  // supplies them, as BM25 does.
  std::vector<float> embed_query(const std::string& text);

  // Writes model query vectors computed by earlier searches into the KB's embedding cache. Call
  // outside any transaction; skipped (kept for later) while another writer holds the KB.
  void save_query_vectors();

  // One vector per hit, for rerankers: the chunk's stored vector, or its text embedded as a
  // document when it has none (hierarchical parents). Throws Error(unsupported) without an embedder.
  std::vector<std::vector<float>> hit_vectors(std::span<const Hit> hits);

 private:
  // Inverse document frequency of an analysed term among searchable chunks (Lucene's form).
  float term_idf(std::string_view term);

  index::Store& store_;
  index::KeywordIndex& keywords_;
  std::optional<index::Statement> vocabulary_;
  std::int64_t searchable_generation_ = -1;
  std::int64_t searchable_chunks_ = 0;
  index::SyncedVectorIndex& vectors_;
  std::unique_ptr<models::Embedder> embedder_;
  LogCallback log_;
  // Most recently used query vectors, newest first.
  std::list<std::pair<std::string, std::vector<float>>> query_cache_;
  std::unordered_map<std::string, decltype(query_cache_)::iterator> query_cache_index_;
  std::int64_t query_cache_generation_ = -1;
  std::vector<std::pair<std::string, std::vector<float>>> pending_cache_writes_;
};

// The fusion an "auto" config stands for with this embedder (types.hpp); others unchanged.
FusionConfig resolve_fusion(const FusionConfig& config, const EmbedderConfig& embedder);
// "rrf k=5 bm25_weight=1 dense_weight=0.02 candidates=100", for explanations.
std::string describe(const FusionConfig& config);

}  // namespace ragline::retrieve
