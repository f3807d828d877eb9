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

nlohmann::ordered_json metrics_json(const QueryMetrics& metrics) {
  return {{"ndcg@10", metrics.ndcg_at_10},
          {"recall@100", metrics.recall_at_100},
          {"mrr@10", metrics.mrr_at_10},
          {"map@100", metrics.map_at_100}};
}

nlohmann::ordered_json latency_json(const LatencySummary& latency) {
  return {{"p50", latency.p50_ms}, {"p95", latency.p95_ms}, {"p99", latency.p99_ms}};
}

nlohmann::ordered_json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json();
}

std::optional<double> ratio(double numerator, double denominator) {
  if (!(denominator > 0)) return std::nullopt;
  return numerator / denominator;
}

// One row of the side-by-side table; the baseline column only when there is a baseline.
void print_row(std::ostream& out, const std::string& label, const std::string& ragline_value,
               const std::optional<std::string>& baseline_value) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-24s%14s", label.c_str(), ragline_value.c_str());
  out << line;
  if (baseline_value) {
    std::snprintf(line, sizeof line, "%20s", baseline_value->c_str());
    out << line;
  }
  out << '\n';
}

}  // namespace

std::optional<double> p50_k10_vs_baseline(const BenchReport& report) {
  if (!report.baseline) return std::nullopt;
  return ratio(report.latency_k10.p50_ms, report.baseline->latency_k10.p50_ms);
}

std::optional<double> ndcg10_vs_baseline(const BenchReport& report) {
  if (!report.baseline) return std::nullopt;
  return ratio(report.metrics.ndcg_at_10, report.baseline->metrics.ndcg_at_10);
}

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
  json["latency_k10_ms"] = latency_json(report.latency_k10);
  json["qps_k10"] = report.latency_k10.queries_per_second;
  if (report.baseline) {
    const BaselineReport& baseline = *report.baseline;
    json["baseline"] = {{"name", baseline.name},
                        {"metrics", metrics_json(baseline.metrics)},
                        {"latency_ms", latency_json(baseline.latency)},
                        {"qps", baseline.latency.queries_per_second},
                        {"latency_k10_ms", latency_json(baseline.latency_k10)},
                        {"qps_k10", baseline.latency_k10.queries_per_second},
                        {"ingest_mb_s", baseline.ingest_mb_s},
                        {"documents_per_query", baseline.documents_per_query},
                        {"queries_without_results", baseline.queries_without_results}};
  } else {
    json["baseline"] = nullptr;
  }
  json["ratios"] = {{"p50_k10_vs_baseline", optional_json(p50_k10_vs_baseline(report))},
                    {"ndcg10_vs_baseline", optional_json(ndcg10_vs_baseline(report))}};
  return json.dump();
}

void print_text_report(std::ostream& out, const BenchReport& report) {
  const BaselineReport* baseline = report.baseline ? &*report.baseline : nullptr;
  out << "rag-bench: " << report.dataset << " (mode " << report.mode << ")\n"
      << "  documents   " << report.kb_documents << " in the KB (" << report.corpus_documents << " in corpus.jsonl), "
      << report.kb_chunks << " chunks\n"
      << "  queries     " << report.queries_scored << " scored of " << report.queries_total << " ("
      << report.queries_without_results << " returned nothing";
  if (baseline) out << ", " << baseline->queries_without_results << " with the baseline";
  out << ")\n"
      << "  retrieval   top " << report.documents_per_query << " documents from up to " << report.chunk_depth
      << " chunks per query\n";
  if (baseline) {
    out << "  baseline    " << baseline->name << ": raw FTS5 in memory, porter unicode61, bm25(), top "
        << baseline->documents_per_query << " documents per query\n";
  }
  out << "  latency     nearest rank over " << report.latency.samples << " queries after " << report.warmup_queries
      << " warm-up, one thread; \"depth\": ragline " << report.chunk_depth << " chunks";
  if (baseline) out << ", baseline " << baseline->documents_per_query << " documents";
  out << "; \"k=" << kLatencyTopK << "\": " << kLatencyTopK << " results with text and metadata\n\n";

  // `figure` reads one number from either side: BenchReport and BaselineReport share the field
  // names metrics, latency and latency_k10.
  auto row = [&](const std::string& label, int decimals, auto figure) {
    print_row(out, label, fixed(figure(report), decimals),
              baseline ? std::optional<std::string>(fixed(figure(*baseline), decimals)) : std::nullopt);
  };
  print_row(out, "", "ragline", baseline ? std::optional<std::string>(baseline->name) : std::nullopt);
  row("nDCG@10", 4, [](const auto& side) { return side.metrics.ndcg_at_10; });
  row("Recall@100", 4, [](const auto& side) { return side.metrics.recall_at_100; });
  row("MRR@10", 4, [](const auto& side) { return side.metrics.mrr_at_10; });
  row("MAP@100", 4, [](const auto& side) { return side.metrics.map_at_100; });
  row("depth p50 ms", 3, [](const auto& side) { return side.latency.p50_ms; });
  row("depth p95 ms", 3, [](const auto& side) { return side.latency.p95_ms; });
  row("depth p99 ms", 3, [](const auto& side) { return side.latency.p99_ms; });
  row("depth queries/s", 1, [](const auto& side) { return side.latency.queries_per_second; });
  const std::string k = "k=" + std::to_string(kLatencyTopK);
  row(k + " p50 ms", 3, [](const auto& side) { return side.latency_k10.p50_ms; });
  row(k + " p95 ms", 3, [](const auto& side) { return side.latency_k10.p95_ms; });
  row(k + " p99 ms", 3, [](const auto& side) { return side.latency_k10.p99_ms; });
  row(k + " queries/s", 1, [](const auto& side) { return side.latency_k10.queries_per_second; });
  print_row(out, "ingest MB/s", report.ingest_mb_s ? fixed(*report.ingest_mb_s, 3) : "skipped",
            baseline ? std::optional<std::string>(fixed(baseline->ingest_mb_s, 3)) : std::nullopt);
  out << '\n';
  if (const std::optional<double> overhead = p50_k10_vs_baseline(report)) {
    out << "  overhead    ragline p50 at " << k << " is " << fixed(*overhead, 2) << "x the baseline's\n";
  }
  if (const std::optional<double> quality = ndcg10_vs_baseline(report)) {
    out << "  quality     ragline nDCG@10 is " << fixed(*quality, 3) << "x the baseline's\n";
  }
  if (report.ingest_mb_s) {
    out << "  ingest      " << fixed(report.ingest_seconds, 2) << " s, " << report.ingest_failures << " failed records";
    if (baseline) out << " (baseline " << fixed(baseline->ingest_seconds, 3) << " s, in memory)";
    out << '\n';
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
