#pragma once
// The figures of one rag-bench run, and their two renderings: a report for people and a
// single-line JSON object for scripts (always the last line of stdout with --json).
//
// JSON shape (keys are stable; scripts depend on them):
//   {"dataset", "mode", "metrics": {"ndcg@10", "recall@100", "mrr@10", "map@100"},
//    "latency_ms": {"p50", "p95", "p99"}, "qps", "ingest_mb_s", "kb_bytes", ...}
// "ingest_mb_s" is null when the KB already held documents and ingest was skipped.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bench/latency.hpp"
#include "bench/metrics.hpp"

namespace ragline::bench {

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

  QueryMetrics metrics;  // means over scored queries
  LatencySummary latency;

  std::optional<double> ingest_mb_s;  // MB = 10^6 bytes of corpus.jsonl; nullopt when skipped
  double ingest_seconds = 0;
  std::size_t ingest_failures = 0;
  std::uint64_t kb_bytes = 0;  // sum of the sizes of the files in the KB directory

  std::vector<std::string> self_check_failures;  // empty when the run is trustworthy
};

// One line, no trailing newline.
std::string to_json_line(const BenchReport& report);

void print_text_report(std::ostream& out, const BenchReport& report);

}  // namespace ragline::bench
