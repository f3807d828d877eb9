#pragma once
// Retriever: answers a Query over one KB. BM25 and dense search run over the same filtered set
// of chunks (the filter is evaluated once, in SQL, before ranking), and hybrid queries fuse the
// two candidate lists (retrieve/README.md).
//
// Not thread-safe: one Retriever per KnowledgeBase object, used from one thread at a time.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/chunk_id_set.hpp"
#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "index/vector_sync.hpp"
#include "models/caching_embedder.hpp"
#include "models/embedder.hpp"
#include "ragline/types.hpp"
#include "retrieve/fusion.hpp"

namespace ragline::retrieve {

// Filters that pass at most max(kDefaultExactSearchThreshold, kExactSearchFloats / dimension)
// chunks are scored exactly on the dense side (just kDefaultExactSearchThreshold for IVF-PQ and
// flat, which keep codes in memory: their full vectors are read from kb.sqlite), unless the query says otherwise; above
// it, the ANN index searches with the filter as an id selector. Evaluating a filter in SQL already costs time in
// proportion to the chunks it passes (about 1-10 us each), more than scoring them exactly from
// memory (256 floats: ~0.1 us), so exact scoring adds a fraction of the filter's own cost while
// an ANN graph walked under a selective filter loses recall (bench/README.md, rag-bench-vectors).
// flat's int8 codes give candidates only: index::search_rescored scores the top max(4k, 100)
// again from kb.sqlite's floats in the query's snapshot, so dense scores are exact.
inline constexpr std::size_t kDefaultExactSearchThreshold = 4096;
inline constexpr std::size_t kExactSearchFloats = std::size_t{1} << 26;

// The KB's embedding cache (kb.sqlite) as a read-only store for query vectors: a search reads
// it and never writes (KnowledgeBase::search() const writes nothing to disk).
class StoredEmbeddingReader final : public models::EmbeddingCacheStore {
 public:
  explicit StoredEmbeddingReader(index::Store& store) : store_(store) {}
  std::vector<float> find(const std::string& embedder_id, const std::string& key) override;
  // Does nothing: new query vectors stay in the retriever's memory.
  void keep(const std::string&, const std::string&, std::span<const float>) override {}

 private:
  index::Store& store_;
};

// Checks what a query asks for without a KB: k and fusion candidates at most 10,000, the fusion
// settings (validate(), also when the method is "auto", so a bad alpha is never silently
// ignored) and the filter's syntax. Throws Error(invalid_argument) naming the field; search()
// runs the same checks.
void validate_query(const Query& query);

class Retriever {
 public:
  // `embedder` may be null for a KB without vectors (the embedder "none"): only bm25 queries
  // are answered then, and hybrid ones fall back to bm25 (the explanation says so). A hybrid
  // query whose text cannot be embedded (ErrorKind::network: the service failed after its
  // query-time retries) is answered from BM25 too, with a warning in the explanation; a dense
  // query fails. A query without searchable terms (empty, blank, only stopwords) gets no hits in
  // every mode, and a warning saying why.
  Retriever(index::Store& store, index::KeywordIndex& keywords, index::SyncedVectorIndex& vectors,
            std::shared_ptr<models::Embedder> embedder, LogCallback log);
  Retriever(const Retriever&) = delete;  // its caching embedder refers to its own members
  Retriever& operator=(const Retriever&) = delete;

  // Reads only: nothing is written to kb.sqlite or vectors.faiss (the in-memory vector index
  // catches up with kb.sqlite; writers save the file).
  SearchResult search(const Query& query);

  // The query's vector. Model vectors come through a CachingEmbedder that reads the KB's
  // embedding cache and keeps new query vectors in memory (256, least recently used out), so a
  // repeated query is not embedded twice. An embedder that can weight query terms (the lexical
  // one) gets each term's inverse document frequency in this KB: documents are embedded without
  // corpus statistics, and the query side supplies them, as BM25 does; its vectors are kept in
  // memory for one KB generation.
  std::vector<float> embed_query(const std::string& text);

  // One vector per hit, for rerankers: the chunk's stored vector, or its text embedded as a
  // document when it has none (hierarchical parents). Throws Error(unsupported) without an embedder.
  std::vector<std::vector<float>> hit_vectors(std::span<const Hit> hits);

 private:
  // What a query asks for, resolved against this KB: the search mode after a fallback, the
  // fusion "auto" stands for, how deep each side searches first.
  struct Plan {
    SearchMode mode = SearchMode::hybrid;
    FusionConfig fusion;
    bool returns_parents = false;  // hierarchical chunks: children ranked, parents returned
    std::size_t depth = 0;         // candidates per side of the first round
  };
  // The candidate ranking a query ends with: ids to return (best first) and each one's scores.
  struct Ranking {
    std::vector<FusedHit> ranked;
    std::vector<std::int64_t> ids;
    std::unordered_map<std::int64_t, const FusedHit*> by_id;
  };
  class DenseSide;

  Plan plan(const Query& query, SearchExplanation& explanation) const;
  std::optional<index::ChunkIdSet> filter_chunks(const Query& query, SearchExplanation& explanation);
  // BM25 and dense candidates, fused; deepened while hierarchical parents are too few for k.
  // `dense` is null in bm25 mode.
  Ranking rank_candidates(const Query& query, const Plan& plan, const index::ChunkIdSet* allowed, DenseSide* dense,
                          SearchExplanation& explanation);
  std::vector<Hit> hydrate(const Ranking& ranking);
  // Inverse document frequency of an analysed term among searchable chunks (Lucene's form).
  float term_idf(std::string_view term);

  index::Store& store_;
  index::KeywordIndex& keywords_;
  std::optional<index::Statement> vocabulary_;
  std::int64_t searchable_generation_ = -1;
  std::int64_t searchable_chunks_ = 0;
  index::SyncedVectorIndex& vectors_;
  std::shared_ptr<models::Embedder> embedder_;
  models::TermWeightedEmbedder* term_weighted_ = nullptr;  // embedder_ when it weights query terms
  bool returns_parents_ = false;
  LogCallback log_;
  StoredEmbeddingReader stored_embeddings_;
  models::LruEmbeddingCache query_vectors_;
  std::optional<models::CachingEmbedder> query_embedder_;  // embedder_ through query_vectors_
  std::int64_t query_vectors_generation_ = -1;             // term-weighted vectors: of this generation
};

// The fusion an "auto" config stands for with this embedder (Embedder::fusion_defaults; without
// one, models::model_fusion_defaults()); other configs unchanged.
FusionConfig resolve_fusion(const FusionConfig& config, const models::Embedder* embedder);
// "rrf k=5 bm25_weight=1 dense_weight=0.02 candidates=100", for explanations.
std::string describe(const FusionConfig& config);

}  // namespace ragline::retrieve
