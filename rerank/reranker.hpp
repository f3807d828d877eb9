#pragma once
// Rerankers: stages applied to the fused hits of a query, in order (Query::rerank). Each stage
// takes the first `candidates` hits it is given, reorders them and passes on at most `top_n`.
// Implementations are looked up by name (make_reranker); the built-in ones are
//  - mmr:     maximal marginal relevance over the chunk vectors (Carbonell & Goldstein 1998);
//  - http:    a cross-encoder rerank service (Cohere v2, Jina, text-embeddings-inference,
//             llama.cpp server request and response shapes);
//  - bedrock: Amazon Bedrock's Rerank API (bedrock-agent-runtime), signed with SigV4;
//  - reorder: long-context reordering ("lost in the middle", Liu et al. 2023): the strongest
//             hits at both ends of the list, the weakest in the middle.
//
// A Reranker is immutable after construction and may be used from several threads at once.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ragline/types.hpp"

namespace ragline::rerank {

// A first stage without `candidates` takes this many hits from the retriever (or k if larger).
inline constexpr std::size_t kDefaultRerankCandidates = 50;

// What a reranker may consult besides the hits.
struct RerankRequest {
  std::string query;   // the query text
  std::size_t k = 10;  // the query's k: the output size of a stage whose top_n is 0
  // The query's vector (the KB's embedder). Null when the KB has none.
  std::function<std::vector<float>()> query_vector;
  // One vector per hit, in order; an empty vector for a hit that has none. Null when the KB has
  // no vectors.
  std::function<std::vector<std::vector<float>>(std::span<const Hit>)> hit_vectors;
};

class Reranker {
 public:
  virtual ~Reranker() = default;
  // The stage and its settings, e.g. "mmr lambda=0.5", for explanations.
  virtual std::string describe() const = 0;
  // Returns `candidates` reordered, best first, at most output_size() of them, with
  // Hit::rerank_score set where the stage scores hits. Retrieval scores and ranks are kept.
  virtual std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const = 0;
};

using RerankerFactory = std::function<std::unique_ptr<Reranker>(const RerankerConfig&)>;

// The reranker `config.name` names. Throws Error(invalid_argument) for an unknown name (listing
// the known ones) or a bad setting (naming the field).
std::unique_ptr<Reranker> make_reranker(const RerankerConfig& config);
// Adds (or replaces) a reranker name. Not thread-safe against concurrent make_reranker calls.
void register_reranker(const std::string& name, RerankerFactory factory);
std::vector<std::string> reranker_names();

// The built-in rerankers.
std::unique_ptr<Reranker> make_mmr_reranker(const RerankerConfig& config);
std::unique_ptr<Reranker> make_reorder_reranker(const RerankerConfig& config);
std::unique_ptr<Reranker> make_http_reranker(const RerankerConfig& config);
std::unique_ptr<Reranker> make_bedrock_reranker(const RerankerConfig& config);

// Hits a retriever should fetch for `stages` and a query asking for k: max(k, the first
// stage's candidates, or kDefaultRerankCandidates when it has none).
std::size_t rerank_input_size(const std::vector<RerankerConfig>& stages, std::size_t k);

// Builds every stage first (so a bad setting fails before any service is called), then runs
// them in order. Each stage's description, with its input and output counts and time, is
// appended to `explanation.rerankers` and the total time to `explanation.rerank_ms`.
std::vector<Hit> run_rerank_chain(const std::vector<RerankerConfig>& stages, const RerankRequest& request,
                                  std::vector<Hit> hits, SearchExplanation& explanation);

// Shared by the implementations: the number of hits a stage passes on (top_n, or k when 0).
std::size_t output_size(const RerankerConfig& config, const RerankRequest& request);

}  // namespace ragline::rerank
