#pragma once
// Reranker: the extension point for stages applied to a query's fused hits (Query::rerank), and
// the registry that finds a stage by RerankerConfig::name. Built in: mmr, reorder, http, bedrock
// (rerank/README.md); registered_rerankers() lists what a build and an application offer.
//
// An application adds a stage with register_reranker("my-stage", factory) and asks for it with
// RerankerConfig{.name = "my-stage"} in Query::rerank; KnowledgeBase::search runs the chain,
// giving each stage the first `candidates` hits it is given and passing on at most its output.
//
// A Reranker is immutable after construction and may be used from several threads at once.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ragline/export.hpp"
#include "ragline/types.hpp"

namespace ragline {

// What a reranker may consult besides the hits.
struct RerankRequest {
  std::string query;   // the query text (redacted as the KB redacts its documents)
  std::size_t k = 10;  // the query's k: the output size of a stage whose top_n is 0
  // The query's vector (the KB's embedder). Null when the KB has none.
  std::function<std::vector<float>()> query_vector;
  // One vector per hit, in order (the chunk's stored vector, or its text embedded). Null when
  // the KB has no vectors.
  std::function<std::vector<std::vector<float>>(std::span<const Hit>)> hit_vectors;
};

class RAGLINE_API Reranker {
 public:
  virtual ~Reranker();
  // The stage and its settings, e.g. "mmr lambda=0.5", for explanations.
  virtual std::string describe() const = 0;
  // Returns `candidates` reordered, best first, at most the stage's output size (its config's
  // top_n, or request.k when 0), with Hit::rerank_score set where the stage scores hits.
  // Retrieval scores and ranks are kept. Throws Error (network for a service that failed).
  virtual std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const = 0;
};

// Makes a stage from its config; throws Error(invalid_argument) naming a bad field.
using RerankerFactory = std::function<std::unique_ptr<Reranker>(const RerankerConfig& config)>;

// Adds a reranker name, or replaces the factory registered under it (built-in names included:
// rerankers keep nothing on disk). Throws Error(invalid_argument) for an empty name or factory.
// Thread-safe.
RAGLINE_API void register_reranker(const std::string& name, RerankerFactory factory);
// Every name a RerankerConfig may carry (built-in and registered), sorted.
RAGLINE_API std::vector<std::string> registered_rerankers();

}  // namespace ragline
