#include "bench/latency.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace ragline::bench {

double percentile_nearest_rank(std::span<const double> samples, double p) {
  if (samples.empty()) throw std::invalid_argument("percentile of an empty sample set");
  if (!(p > 0 && p <= 100)) throw std::invalid_argument("percentile must be in (0, 100]");
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  // The small epsilon keeps p * n that is an exact integer in theory (95 * 20 / 100 = 19) from
  // rounding up to the next rank through floating-point error.
  const double exact_rank = p / 100.0 * static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(exact_rank - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void LatencyRecorder::add(std::chrono::steady_clock::duration elapsed) {
  add_ms(std::chrono::duration<double, std::milli>(elapsed).count());
}

void LatencyRecorder::add_ms(double milliseconds) { samples_ms_.push_back(milliseconds); }

LatencySummary LatencyRecorder::summary() const {
  LatencySummary summary;
  summary.samples = samples_ms_.size();
  if (samples_ms_.empty()) return summary;
  summary.p50_ms = percentile_nearest_rank(samples_ms_, 50);
  summary.p95_ms = percentile_nearest_rank(samples_ms_, 95);
  summary.p99_ms = percentile_nearest_rank(samples_ms_, 99);
  summary.total_seconds = std::accumulate(samples_ms_.begin(), samples_ms_.end(), 0.0) / 1000.0;
  if (summary.total_seconds > 0) {
    summary.queries_per_second = static_cast<double>(summary.samples) / summary.total_seconds;
  }
  return summary;
}

}  // namespace ragline::bench
