#pragma once
// Latency samples and their percentiles.
//
// Percentiles use the nearest-rank method: the p-th percentile of n sorted samples is the
// sample at 1-based rank ceil(p / 100 * n). It always returns a value that was measured (no
// interpolation between two queries), so p99 of fewer than 100 samples is the slowest query.

#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

namespace ragline::bench {

// Nearest-rank percentile, p in (0, 100]. Throws std::invalid_argument for an empty sample set
// or p outside that range. The samples need not be sorted.
double percentile_nearest_rank(std::span<const double> samples, double p);

struct LatencySummary {
  std::size_t samples = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double total_seconds = 0;       // sum of all samples
  double queries_per_second = 0;  // samples / total_seconds: one thread, back to back
};

// Collects one duration per query, in milliseconds.
class LatencyRecorder {
 public:
  void add(std::chrono::steady_clock::duration elapsed);
  void add_ms(double milliseconds);
  std::size_t size() const { return samples_ms_.size(); }
  // Zeros for no samples.
  LatencySummary summary() const;

 private:
  std::vector<double> samples_ms_;
};

// Runs `first(index)` and `second(index)` for every index in [0, count), alternating which of the
// two goes first: on a shared machine, drift (other jobs, clock changes) and whatever one leaves
// in the CPU caches for the other then fall on both sides alike. For timing ragline beside a
// baseline in the same run.
template <typename First, typename Second>
void interleave(std::size_t count, First&& first, Second&& second) {
  for (std::size_t index = 0; index < count; ++index) {
    if (index % 2 == 0) {
      first(index);
      second(index);
    } else {
      second(index);
      first(index);
    }
  }
}

}  // namespace ragline::bench
