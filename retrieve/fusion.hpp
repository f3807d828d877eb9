#pragma once
// Fusion: merges the BM25 and dense candidate lists of a hybrid query into one ranking, keeping
// each side's rank and raw score for --explain. Methods (FusionConfig::method; formulas in
// retrieve/README.md):
//
//  - rrf: reciprocal rank fusion (Cormack, Clarke & Buettcher 2009),
//    score = bm25_weight / (rrf_k + rank_bm25) + dense_weight / (rrf_k + rank_dense); ranks are
//    1-based and a side that did not find the hit adds nothing.
//  - weighted: (1 - alpha) * norm(bm25) + alpha * norm(dense), each list normalised on its own
//    by minmax ((s - min) / (max - min); 1 when all scores are equal) or zscore ((s - mean) /
//    population std; 0 when the std is 0). A side that did not find the hit contributes that
//    list's smallest normalised value (minmax: 0), i.e. as if it ranked last there.
//  - dbsf: distribution-based score fusion (as in Qdrant): each list is mapped linearly from
//    [mean - 3 std, mean + 3 std] onto [0, 1] and clipped (0.5 when the std is 0), then
//    (1 - alpha) * bm25 + alpha * dense; a missing side contributes 0.
//
// Inputs are ranked lists, best first; an id repeated within one list counts at its first
// (best) position only. Output: every id of either list once, by fused score descending, ties
// broken by the smaller id. Pure functions, thread safe.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ragline/types.hpp"

namespace ragline::retrieve {

struct ScoredId {
  std::int64_t id = 0;
  double score = 0;  // raw score of its source (BM25, cosine similarity); higher is better
};

struct FusedHit {
  std::int64_t id = 0;
  double score = 0;                        // fused
  std::optional<SourceScore> bm25, dense;  // 1-based rank and raw score, where that side found it
};

// Throws Error(invalid_argument) naming the field: method not rrf | weighted | dbsf, rrf_k not
// > 0, alpha outside [0, 1], a weight < 0, normalization not minmax | zscore, candidates 0.
// Every field is checked whatever the method, so a typo never waits for a method switch.
void validate(const FusionConfig& config);

// Validates `config`, then fuses. Either list may be empty.
std::vector<FusedHit> fuse(const FusionConfig& config, std::span<const ScoredId> bm25, std::span<const ScoredId> dense);

}  // namespace ragline::retrieve
