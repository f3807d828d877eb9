#include "bench/report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace ragline::bench {
namespace {

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return fixed(value, unit == 0 ? 0 : 1) + " " + units[unit];
}

}  // namespace

std::string to_json_line(const BenchReport& report) {
  nlohmann::ordered_json json;
  json["dataset"] = report.dataset;
  json["mode"] = report.mode;
  json["metrics"] = {{"ndcg@10", report.metrics.ndcg_at_10},
                     {"recall@100", report.metrics.recall_at_100},
                     {"mrr@10", report.metrics.mrr_at_10},
                     {"map@100", report.metrics.map_at_100}};
  json["latency_ms"] = {{"p50", report.latency.p50_ms}, {"p95", report.latency.p95_ms}, {"p99", report.latency.p99_ms}};
  json["qps"] = report.latency.queries_per_second;
  json["ingest_mb_s"] = report.ingest_mb_s ? nlohmann::ordered_json(*report.ingest_mb_s) : nlohmann::ordered_json();
  json["kb_bytes"] = report.kb_bytes;
  json["documents"] = report.kb_documents;
  json["chunks"] = report.kb_chunks;
  json["queries"] = report.queries_scored;
  json["queries_without_results"] = report.queries_without_results;
  json["ingest_seconds"] =
      report.ingest_mb_s ? nlohmann::ordered_json(report.ingest_seconds) : nlohmann::ordered_json();
  json["ingest_failures"] = report.ingest_failures;
  json["self_check_failures"] = report.self_check_failures;
  return json.dump();
}

void print_text_report(std::ostream& out, const BenchReport& report) {
  out << "rag-bench: " << report.dataset << " (mode " << report.mode << ")\n"
      << "  documents   " << report.kb_documents << " in the KB (" << report.corpus_documents << " in corpus.jsonl), "
      << report.kb_chunks << " chunks\n"
      << "  queries     " << report.queries_scored << " scored of " << report.queries_total << " ("
      << report.queries_without_results << " returned nothing)\n"
      << "  retrieval   top " << report.documents_per_query << " documents from up to " << report.chunk_depth
      << " chunks per query\n"
      << "\n"
      << "  nDCG@10     " << fixed(report.metrics.ndcg_at_10, 4) << '\n'
      << "  Recall@100  " << fixed(report.metrics.recall_at_100, 4) << '\n'
      << "  MRR@10      " << fixed(report.metrics.mrr_at_10, 4) << '\n'
      << "  MAP@100     " << fixed(report.metrics.map_at_100, 4) << '\n'
      << "\n"
      << "  latency     p50 " << fixed(report.latency.p50_ms, 3) << " ms, p95 " << fixed(report.latency.p95_ms, 3)
      << " ms, p99 " << fixed(report.latency.p99_ms, 3) << " ms (nearest rank, " << report.latency.samples
      << " queries after " << report.warmup_queries << " warm-up)\n"
      << "  throughput  " << fixed(report.latency.queries_per_second, 1) << " queries/s on one thread\n";
  if (report.ingest_mb_s) {
    out << "  ingest      " << fixed(*report.ingest_mb_s, 3) << " MB/s (" << fixed(report.ingest_seconds, 2) << " s, "
        << report.ingest_failures << " failed records)\n";
  } else {
    out << "  ingest      skipped: the KB already held documents, so there is no ingest figure\n";
  }
  out << "  KB on disk  " << report.kb_bytes << " bytes (" << human_bytes(report.kb_bytes) << ")\n";
  if (!report.self_check_failures.empty()) {
    out << "\n  SELF-CHECK FAILED:\n";
    for (const std::string& failure : report.self_check_failures) out << "    - " << failure << '\n';
  }
}

}  // namespace ragline::bench
