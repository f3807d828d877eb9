// Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998): hits are picked one at a time,
// each maximising  lambda * sim(query, hit) - (1 - lambda) * max over picked p of sim(hit, p),
// with cosine similarity over the KB's vectors for sim(hit, p). sim(query, hit) is the hit's
// retrieval score min-max normalised over the candidates (mmr_relevance "score", the default) or
// the query-chunk cosine ("cosine"). With a dense side weaker than the fused ranking, cosine
// relevance throws the fusion's judgement away (bench/README.md). lambda 1 keeps the relevance
// order; lower values trade relevance for diversity. Ties go to the better retrieval rank.

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/check.hpp"
#include "models/embedder.hpp"
#include "rerank/reranker.hpp"

namespace ragline::rerank {
namespace {

// Of unit vectors; 0 for a missing vector (a hit without one is neither relevant nor redundant).
double dot(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 0;
  float sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

class MmrReranker final : public Reranker {
 public:
  explicit MmrReranker(const RerankerConfig& config) : config_(config) {
    RAGLINE_CHECK(std::isfinite(config.lambda) && config.lambda >= 0 && config.lambda <= 1, invalid_argument,
                  "reranker mmr: lambda is " << config.lambda << "; it must be between 0 and 1");
    RAGLINE_CHECK(config.mmr_relevance == "score" || config.mmr_relevance == "cosine", invalid_argument,
                  "reranker mmr: relevance is \"" << config.mmr_relevance << "\"; it must be score or cosine");
  }

  std::string describe() const override {
    std::ostringstream text;
    text << "mmr lambda=" << config_.lambda << " relevance=" << config_.mmr_relevance;
    if (config_.min_score) text << " min_score=" << *config_.min_score;
    return text.str();
  }

  std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const override {
    if (candidates.empty()) return candidates;
    RAGLINE_CHECK(request.query_vector && request.hit_vectors, unsupported,
                  "reranker mmr needs vectors: the KB has no embedder (created with \"none\")");
    std::vector<float> query = request.query_vector();
    std::vector<std::vector<float>> vectors = request.hit_vectors(candidates);
    RAGLINE_CHECK(vectors.size() == candidates.size(), internal,
                  "reranker mmr: " << vectors.size() << " vectors for " << candidates.size() << " hits");
    // Unit vectors once, so that every similarity below is a dot product.
    models::normalize_vector(query);
    for (auto& vector : vectors) models::normalize_vector(vector);

    std::vector<double> relevance(candidates.size());
    if (config_.mmr_relevance == "score") {
      const auto [low, high] = std::minmax_element(candidates.begin(), candidates.end(),
                                                   [](const Hit& a, const Hit& b) { return a.score < b.score; });
      const double range = high->score - low->score;
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        relevance[i] = range > 0 ? (candidates[i].score - low->score) / range : 1.0;
      }
    } else {
      for (std::size_t i = 0; i < candidates.size(); ++i) relevance[i] = dot(query, vectors[i]);
    }
    std::vector<std::size_t> remaining;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (!config_.min_score || relevance[i] >= *config_.min_score) remaining.push_back(i);
    }
    // The largest similarity of each remaining hit to any picked one, updated after each pick.
    std::vector<double> redundancy(candidates.size(), 0.0);
    std::vector<Hit> picked;
    const std::size_t wanted = std::min(remaining.size(), output_size(config_, request));
    picked.reserve(wanted);
    while (picked.size() < wanted) {
      std::size_t best_slot = 0;
      double best_value = -std::numeric_limits<double>::infinity();
      for (std::size_t slot = 0; slot < remaining.size(); ++slot) {
        const std::size_t i = remaining[slot];
        const double value = config_.lambda * relevance[i] - (1 - config_.lambda) * redundancy[i];
        if (value > best_value) {
          best_value = value;
          best_slot = slot;
        }
      }
      const std::size_t chosen = remaining[best_slot];
      remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(best_slot));
      for (const std::size_t i : remaining) {
        redundancy[i] = std::max(redundancy[i], dot(vectors[i], vectors[chosen]));
      }
      candidates[chosen].rerank_score = best_value;
      picked.push_back(std::move(candidates[chosen]));
    }
    return picked;
  }

 private:
  RerankerConfig config_;
};

}  // namespace

std::unique_ptr<Reranker> make_mmr_reranker(const RerankerConfig& config) {
  return std::make_unique<MmrReranker>(config);
}

}  // namespace ragline::rerank
