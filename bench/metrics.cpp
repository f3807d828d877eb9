#include "bench/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <unordered_set>

namespace ragline::bench {
namespace {

// trec_eval's ndcg_cut gives negative judgments no gain rather than a penalty.
double gain_of(int grade) { return grade > 0 ? static_cast<double>(grade) : 0.0; }

double discount(std::size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 1.0); }

}  // namespace

QueryMetrics evaluate_query(std::span<const std::string> ranking, const Judgments& judgments) {
  if (judgments.empty()) throw std::invalid_argument("evaluate_query: a query without judgments is not scored");

  std::unordered_set<std::string_view> seen;
  for (const std::string& doc_id : ranking) {
    if (!seen.insert(doc_id).second) {
      throw std::invalid_argument("evaluate_query: document '" + doc_id + "' appears twice in the ranking");
    }
  }

  std::vector<double> ideal_gains;
  std::size_t relevant_total = 0;
  for (const auto& [doc_id, grade] : judgments) {
    if (grade > 0) {
      ++relevant_total;
      ideal_gains.push_back(gain_of(grade));
    }
  }
  std::sort(ideal_gains.begin(), ideal_gains.end(), std::greater<>());

  QueryMetrics metrics;
  double dcg = 0;
  std::size_t relevant_found_recall = 0;
  std::size_t relevant_found_map = 0;
  double precision_sum = 0;
  for (std::size_t index = 0; index < ranking.size(); ++index) {
    const std::size_t rank = index + 1;
    const auto judged = judgments.find(ranking[index]);
    const int grade = judged == judgments.end() ? 0 : judged->second;
    if (rank <= kNdcgCutoff) dcg += gain_of(grade) * discount(rank);
    if (grade <= 0) continue;
    if (rank <= kRecallCutoff) ++relevant_found_recall;
    if (rank <= kMrrCutoff && metrics.mrr_at_10 == 0) metrics.mrr_at_10 = 1.0 / static_cast<double>(rank);
    if (rank <= kMapCutoff) {
      ++relevant_found_map;
      precision_sum += static_cast<double>(relevant_found_map) / static_cast<double>(rank);
    }
  }

  double ideal_dcg = 0;
  for (std::size_t index = 0; index < ideal_gains.size() && index < kNdcgCutoff; ++index) {
    ideal_dcg += ideal_gains[index] * discount(index + 1);
  }
  metrics.ndcg_at_10 = ideal_dcg > 0 ? dcg / ideal_dcg : 0.0;
  if (relevant_total > 0) {
    metrics.recall_at_100 = static_cast<double>(relevant_found_recall) / static_cast<double>(relevant_total);
    metrics.map_at_100 = precision_sum / static_cast<double>(relevant_total);
  }
  return metrics;
}

QueryMetrics mean_metrics(std::span<const QueryMetrics> per_query) {
  QueryMetrics mean;
  if (per_query.empty()) return mean;
  for (const QueryMetrics& metrics : per_query) {
    mean.ndcg_at_10 += metrics.ndcg_at_10;
    mean.recall_at_100 += metrics.recall_at_100;
    mean.mrr_at_10 += metrics.mrr_at_10;
    mean.map_at_100 += metrics.map_at_100;
  }
  const auto count = static_cast<double>(per_query.size());
  mean.ndcg_at_10 /= count;
  mean.recall_at_100 /= count;
  mean.mrr_at_10 /= count;
  mean.map_at_100 /= count;
  return mean;
}

}  // namespace ragline::bench
