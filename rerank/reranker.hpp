#pragma once
// Rerankers: stages applied to the fused hits of a query, in order (Query::rerank). Each stage
// takes the first `candidates` hits it is given, reorders them and passes on at most `top_n`.
// The interface is public (ragline/reranker.hpp); implementations are looked up by name
// (make_reranker; applications add theirs with register_reranker). The built-in ones are
//  - mmr:     maximal marginal relevance over the chunk vectors (Carbonell & Goldstein 1998);
//  - http:    a cross-encoder rerank service (Cohere v2, Jina, text-embeddings-inference,
//             llama.cpp server request and response shapes);
//  - bedrock: Amazon Bedrock's Rerank API (bedrock-agent-runtime), signed with SigV4;
//  - cross-encoder: a BERT cross-encoder (BertForSequenceClassification) run in this process on
//             the local runtime (models/local/cross_encoder.hpp);
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

#include "ragline/reranker.hpp"
#include "ragline/types.hpp"

namespace ragline::rerank {

// A first stage without `candidates` takes this many hits from the retriever (or k if larger).
inline constexpr std::size_t kDefaultRerankCandidates = 50;

using ragline::Reranker;
using ragline::RerankerFactory;
using ragline::RerankRequest;

// The reranker `config.name` names, through the registry (the single place a reranker name is
// resolved). Throws Error(invalid_argument) for an unknown name (listing the registered ones) or
// a bad setting (naming the field).
std::unique_ptr<Reranker> make_reranker(const RerankerConfig& config);

// The built-in rerankers.
std::unique_ptr<Reranker> make_mmr_reranker(const RerankerConfig& config);
std::unique_ptr<Reranker> make_reorder_reranker(const RerankerConfig& config);
std::unique_ptr<Reranker> make_http_reranker(const RerankerConfig& config);
std::unique_ptr<Reranker> make_bedrock_reranker(const RerankerConfig& config);
// The local cross-encoder (reranker_cross_encoder.cpp): config.model is a folder name in the
// models folder ($RAGLINE_MODELS_DIR, else ./models) or a path; batch_size pairs per forward
// pass (at most 64). Throws Error(not_found) naming the folder and the fetch script when it is
// missing. Each folder is loaded once per process and shared by every stage that names it.
std::unique_ptr<Reranker> make_cross_encoder_reranker(const RerankerConfig& config);

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
