#pragma once
// The figures of one rag-bench run, and their two renderings: a report for people and a
// single-line JSON object for scripts (always the last line of stdout with --json).
//
// JSON shape (keys are stable; scripts depend on them):
//   {"dataset", "mode", "metrics": {"ndcg@10", "recall@100", "mrr@10", "map@100"},
//    "latency_ms": {"p50", "p95", "p99"}, "qps", "ingest_mb_s", "kb_bytes", ...,
//    "latency_k10_ms": {"p50", "p95", "p99"}, "qps_k10",
//    "baseline": {"name", "metrics": {...}, "latency_ms": {...}, "qps", "latency_k10_ms": {...},
//                 "qps_k10", "ingest_mb_s"} | null,
//    "ratios": {"p50_k10_vs_baseline", "ndcg10_vs_baseline"}}
// "ingest_mb_s" is null when the KB already held documents and ingest was skipped; "baseline" is
// null with --no-baseline, and a ratio is null when there is no baseline or its figure is 0.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bench/latency.hpp"
#include "bench/metrics.hpp"

namespace ragline::bench {

// Results asked for in the second latency pass: a typical RAG request, where the cost of building
// full hits is not hidden behind a deep candidate list.
inline constexpr std::size_t kLatencyTopK = 10;

// The raw-FTS5 floor measured in the same run, on the same queries (bench/fts5_baseline.hpp).
struct BaselineReport {
  std::string name;
  std::size_t documents_per_query = 0;  // LIMIT of the quality pass
  QueryMetrics metrics;
  LatencySummary latency;      // at documents_per_query
  LatencySummary latency_k10;  // at LIMIT kLatencyTopK
  double ingest_mb_s = 0;      // same numerator as ragline's: corpus.jsonl bytes
  double ingest_seconds = 0;
  std::size_t queries_without_results = 0;
};

struct BenchReport {
  std::string dataset;  // the dataset directory's name
  std::string mode;

  std::size_t corpus_documents = 0;  // records in corpus.jsonl
  std::size_t kb_documents = 0;      // documents in the KB after ingest
  std::size_t kb_chunks = 0;
  std::size_t queries_total = 0;   // records in queries.jsonl
  std::size_t queries_scored = 0;  // those with judgments
  std::size_t queries_without_results = 0;
  std::size_t warmup_queries = 0;       // run once, untimed, before the timed pass
  std::size_t documents_per_query = 0;  // -k: ranked documents kept per query
  std::size_t chunk_depth = 0;          // chunks asked of retrieve() per query

  QueryMetrics metrics;        // means over scored queries
  LatencySummary latency;      // retrieve() at chunk_depth
  LatencySummary latency_k10;  // retrieve() of kLatencyTopK full hits

  std::optional<double> ingest_mb_s;  // MB = 10^6 bytes of corpus.jsonl; nullopt when skipped
  double ingest_seconds = 0;
  std::size_t ingest_failures = 0;
  std::uint64_t kb_bytes = 0;  // sum of the sizes of the files in the KB directory

  std::optional<BaselineReport> baseline;  // nullopt with --no-baseline

  std::vector<std::string> self_check_failures;  // empty when the run is trustworthy
};

// ragline's p50 at k=10 over the baseline's ("overhead"), and ragline's nDCG@10 over the
// baseline's. nullopt without a baseline or when the baseline's figure is 0.
std::optional<double> p50_k10_vs_baseline(const BenchReport& report);
std::optional<double> ndcg10_vs_baseline(const BenchReport& report);

// One line, no trailing newline.
std::string to_json_line(const BenchReport& report);

void print_text_report(std::ostream& out, const BenchReport& report);

}  // namespace ragline::bench
