#include "retrieve/fusion.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "core/check.hpp"

namespace ragline::retrieve {
namespace {

std::vector<ScoredId> first_occurrences(std::span<const ScoredId> list) {
  std::vector<ScoredId> unique;
  unique.reserve(list.size());
  std::unordered_set<std::int64_t> seen;
  for (const auto& entry : list) {
    if (seen.insert(entry.id).second) unique.push_back(entry);
  }
  return unique;
}

struct Moments {
  double mean = 0;
  double std = 0;  // population; exactly 0 when all scores are equal
};

Moments moments_of(const std::vector<ScoredId>& list) {
  Moments moments;
  if (list.empty()) return moments;
  const auto [lowest, highest] = std::minmax_element(
      list.begin(), list.end(), [](const ScoredId& a, const ScoredId& b) { return a.score < b.score; });
  double sum = 0;
  for (const auto& entry : list) sum += entry.score;
  moments.mean = sum / static_cast<double>(list.size());
  // Equal scores would otherwise leave a rounding-noise std, and z-scores of +-1 out of nothing.
  if (lowest->score == highest->score) return moments;
  double squares = 0;
  for (const auto& entry : list) squares += (entry.score - moments.mean) * (entry.score - moments.mean);
  moments.std = std::sqrt(squares / static_cast<double>(list.size()));
  return moments;
}

// One list's normalised scores (by position) and the value a hit missing from it gets.
struct Normalised {
  std::vector<double> scores;
  double missing = 0;
};

Normalised minmax(const std::vector<ScoredId>& list) {
  Normalised normalised;
  if (list.empty()) return normalised;
  const auto [lowest, highest] = std::minmax_element(
      list.begin(), list.end(), [](const ScoredId& a, const ScoredId& b) { return a.score < b.score; });
  const double range = highest->score - lowest->score;
  for (const auto& entry : list) normalised.scores.push_back(range > 0 ? (entry.score - lowest->score) / range : 1.0);
  normalised.missing = 0;
  return normalised;
}

Normalised zscore(const std::vector<ScoredId>& list) {
  Normalised normalised;
  if (list.empty()) return normalised;
  const Moments moments = moments_of(list);
  for (const auto& entry : list) {
    normalised.scores.push_back(moments.std > 0 ? (entry.score - moments.mean) / moments.std : 0.0);
  }
  normalised.missing = *std::min_element(normalised.scores.begin(), normalised.scores.end());
  return normalised;
}

// Distribution-based score fusion: mean +- 3 std covers nearly all of a roughly normal list, so
// the scale is set by the list's spread rather than by its two extremes.
Normalised three_sigma(const std::vector<ScoredId>& list) {
  Normalised normalised;
  if (list.empty()) return normalised;
  const Moments moments = moments_of(list);
  const double lower = moments.mean - 3 * moments.std;
  const double upper = moments.mean + 3 * moments.std;
  for (const auto& entry : list) {
    normalised.scores.push_back(moments.std > 0 ? std::clamp((entry.score - lower) / (upper - lower), 0.0, 1.0) : 0.5);
  }
  normalised.missing = 0;
  return normalised;
}

}  // namespace

void validate(const FusionConfig& config) {
  RAGLINE_CHECK(config.method == "rrf" || config.method == "weighted" || config.method == "dbsf", invalid_argument,
                "fusion.method \"" << config.method << "\" is unknown; expected rrf, weighted or dbsf");
  RAGLINE_CHECK(config.rrf_k > 0 && std::isfinite(config.rrf_k), invalid_argument,
                "fusion.rrf_k must be a positive number, got " << config.rrf_k);
  RAGLINE_CHECK(config.bm25_weight >= 0 && std::isfinite(config.bm25_weight), invalid_argument,
                "fusion.bm25_weight must be >= 0, got " << config.bm25_weight);
  RAGLINE_CHECK(config.dense_weight >= 0 && std::isfinite(config.dense_weight), invalid_argument,
                "fusion.dense_weight must be >= 0, got " << config.dense_weight);
  RAGLINE_CHECK(config.alpha >= 0 && config.alpha <= 1, invalid_argument,
                "fusion.alpha must be between 0 and 1, got " << config.alpha);
  RAGLINE_CHECK(config.normalization == "minmax" || config.normalization == "zscore", invalid_argument,
                "fusion.normalization \"" << config.normalization << "\" is unknown; expected minmax or zscore");
  RAGLINE_CHECK(config.candidates > 0, invalid_argument, "fusion.candidates must be at least 1");
}

std::vector<FusedHit> fuse(const FusionConfig& config, std::span<const ScoredId> bm25,
                           std::span<const ScoredId> dense) {
  validate(config);
  const std::vector<ScoredId> bm25_list = first_occurrences(bm25);
  const std::vector<ScoredId> dense_list = first_occurrences(dense);

  std::vector<FusedHit> hits;
  hits.reserve(bm25_list.size() + dense_list.size());
  std::unordered_map<std::int64_t, std::size_t> position;
  const auto collect = [&](const std::vector<ScoredId>& list, std::optional<SourceScore> FusedHit::*side) {
    for (std::size_t index = 0; index < list.size(); ++index) {
      auto [found, inserted] = position.emplace(list[index].id, hits.size());
      if (inserted) hits.push_back({list[index].id, 0, std::nullopt, std::nullopt});
      hits[found->second].*side = SourceScore{index + 1, list[index].score};
    }
  };
  collect(bm25_list, &FusedHit::bm25);
  collect(dense_list, &FusedHit::dense);

  if (config.method == "rrf") {
    for (auto& hit : hits) {
      hit.score = 0;
      if (hit.bm25) hit.score += config.bm25_weight / (config.rrf_k + static_cast<double>(hit.bm25->rank));
      if (hit.dense) hit.score += config.dense_weight / (config.rrf_k + static_cast<double>(hit.dense->rank));
    }
  } else {
    const bool dbsf = config.method == "dbsf";
    const auto normalise = [&](const std::vector<ScoredId>& list) {
      if (dbsf) return three_sigma(list);
      return config.normalization == "zscore" ? zscore(list) : minmax(list);
    };
    const Normalised bm25_scores = normalise(bm25_list);
    const Normalised dense_scores = normalise(dense_list);
    const auto value = [](const Normalised& normalised, const std::optional<SourceScore>& side) {
      return side ? normalised.scores[side->rank - 1] : normalised.missing;
    };
    for (auto& hit : hits) {
      hit.score = (1 - config.alpha) * value(bm25_scores, hit.bm25) + config.alpha * value(dense_scores, hit.dense);
    }
  }

  std::sort(hits.begin(), hits.end(), [](const FusedHit& a, const FusedHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.id < b.id;
  });
  return hits;
}

}  // namespace ragline::retrieve
