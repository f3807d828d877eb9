// rag-bench: retrieval quality and speed of a ragline KB on a BEIR-format dataset, through the
// public API only. See bench/README.md for the definitions of every figure it prints.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ragline/ragline.hpp>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/beir_dataset.hpp"
#include "bench/command_line.hpp"
#include "bench/fts5_baseline.hpp"
#include "bench/latency.hpp"
#include "bench/metrics.hpp"
#include "bench/report.hpp"
#include "bench/scale_support.hpp"
#include "tools/rerank_options.hpp"

namespace {

namespace fs = std::filesystem;
using ragline::bench::BaselineReport;
using ragline::bench::BeirDataset;
using ragline::bench::BeirQuery;
using ragline::bench::BenchReport;
using ragline::bench::Fts5Baseline;
using ragline::bench::kLatencyTopK;

using ragline::bench::interleave;
using ragline::bench::kExitSelfCheckFailed;
using ragline::bench::kExitSetupError;
using ragline::bench::seconds_since;

// More queries than this fraction returning nothing means the index or the query analyser is
// broken, not that BM25 is weak.
constexpr double kMaxNoResultFraction = 0.05;

struct Options {
  fs::path dataset;
  fs::path kb;
  std::string mode = "bm25";
  std::string split = "test";
  bool json = false;
  bool verbose = false;
  bool baseline = true;
  std::size_t documents_per_query = 100;
  std::size_t chunk_depth = 1000;
  std::size_t warmup_queries = 20;
  // Score this many of the judged queries, spread evenly over them (0: all): for stages too
  // slow to run on every query, such as a cross-encoder over 100 candidates on one core.
  std::size_t query_sample = 0;
  std::optional<double> min_ndcg;
  fs::path trec_run;
  // Settings for a KB the bench creates (an existing KB keeps its own), and ranking knobs.
  std::optional<std::string> chunker;
  std::optional<int> max_tokens;
  std::optional<std::string> language;
  bool no_stemming = false;
  bool no_stopwords = false;
  ragline::Bm25Config bm25;
  ragline::FusionConfig fusion;
  std::optional<std::string> embedder;
  std::optional<std::string> embed_model, models_dir;
  std::optional<int> dimension;
  std::optional<std::string> index_type;
  bool sweep = false;
  fs::path sweep_json;
  ragline::cli::RerankArguments rerank;

  // One retrieval of `depth` chunks in the configured mode.
  ragline::Query query(const std::string& text, std::size_t depth) const {
    ragline::Query q{text, depth, bm25};
    q.mode = ragline::parse_search_mode(mode);
    q.fusion = fusion;
    q.rerank = ragline::cli::rerankers_from(rerank);
    return q;
  }
};

std::string dataset_name(const fs::path& directory) {
  std::error_code error;
  fs::path canonical = fs::weakly_canonical(directory, error);
  if (error) canonical = directory;
  if (!canonical.has_filename()) canonical = canonical.parent_path();
  return canonical.filename().string();
}

// Ingests corpus.jsonl into an empty KB; fills the ingest fields of the report.
void ingest_corpus(ragline::KnowledgeBase& kb, const BeirDataset& dataset, BenchReport& report) {
  std::cerr << "rag-bench: ingesting " << dataset.corpus_path.string() << " ...\n";
  const auto start = std::chrono::steady_clock::now();
  const ragline::IngestReport ingest = kb.ingest({dataset.corpus_path});
  const double seconds = seconds_since(start);
  report.ingest_seconds = seconds;
  report.ingest_mb_s = seconds > 0 ? static_cast<double>(dataset.corpus_bytes) / 1e6 / seconds : 0.0;
  report.ingest_failures = ingest.failures.size();
  constexpr std::size_t kFailuresShown = 10;
  for (std::size_t index = 0; index < ingest.failures.size() && index < kFailuresShown; ++index) {
    std::cerr << "rag-bench: ingest failure: " << ingest.failures[index].location << ": "
              << ingest.failures[index].reason << '\n';
  }
  if (ingest.failures.size() > kFailuresShown) {
    std::cerr << "rag-bench: ... and " << ingest.failures.size() - kFailuresShown << " more ingest failures\n";
  }
}

ragline::OpenOptions open_options_for(const Options& options) {
  ragline::OpenOptions open_options;
  open_options.log = ragline::bench::stderr_log(options.verbose);
  if (options.chunker || options.max_tokens) {
    ragline::ChunkerConfig chunker;
    if (options.chunker) chunker.name = *options.chunker;
    if (options.max_tokens) chunker.max_tokens = *options.max_tokens;
    open_options.chunker = chunker;
  }
  if (options.language || options.no_stemming || options.no_stopwords) {
    ragline::AnalyzerConfig analyzer;
    if (options.language) analyzer.language = *options.language;
    analyzer.stemming = !options.no_stemming;
    analyzer.stopwords = !options.no_stopwords;
    open_options.analyzer = analyzer;
  }
  if (options.embedder || options.dimension) {
    ragline::EmbedderConfig embedder;
    if (options.embedder) embedder.name = *options.embedder;
    if (options.dimension) embedder.dimension = *options.dimension;
    if (options.embed_model) embedder.model = *options.embed_model;
    if (options.models_dir) embedder.models_dir = *options.models_dir;
    open_options.embedder = embedder;
  }
  if (options.index_type) {
    ragline::VectorIndexConfig index;
    index.type = *options.index_type;
    open_options.vector_index = index;
  }
  return open_options;
}

int run_sweep(const Options& options);

int run(const Options& options) {
  try {
    ragline::parse_search_mode(options.mode);
  } catch (const ragline::Error& error) {
    std::cerr << "rag-bench: --mode: " << error.what() << '\n';
    return kExitSetupError;
  }
  if (options.sweep) return run_sweep(options);
  if (options.documents_per_query == 0 || options.chunk_depth < options.documents_per_query) {
    std::cerr << "rag-bench: need 1 <= -k (" << options.documents_per_query << ") <= --chunk-depth ("
              << options.chunk_depth << ")\n";
    return kExitSetupError;
  }
  if (options.documents_per_query < ragline::bench::kRecallCutoff) {
    std::cerr << "rag-bench: warning: -k " << options.documents_per_query
              << " < 100: Recall@100 and MAP@100 only see the top " << options.documents_per_query << '\n';
  }

  const BeirDataset dataset = ragline::bench::load_beir_dataset(options.dataset, options.split);
  if (dataset.judgments_unknown_document > 0 || dataset.judgments_unknown_query > 0) {
    std::cerr << "rag-bench: warning: " << dataset.qrels_path.string() << " has " << dataset.judgments_unknown_document
              << " judgments of documents not in corpus.jsonl and " << dataset.judgments_unknown_query
              << " of queries not in queries.jsonl\n";
  }

  BenchReport report;
  report.dataset = dataset_name(options.dataset);
  report.mode = options.mode == "hybrid" ? "hybrid (fusion " + options.fusion.method + ")" : options.mode;
  for (std::size_t stage = 0; stage < options.rerank.names.size(); ++stage) {
    report.mode += (stage == 0 ? " + rerank " : ",") + options.rerank.names[stage];
    if (options.rerank.names[stage] == "mmr") report.mode += " lambda " + std::to_string(options.rerank.mmr_lambda);
    if (options.rerank.names[stage] == "cross-encoder") report.mode += " " + options.rerank.model;
    if (stage == 0 && options.rerank.candidates > 0) {
      report.mode += " candidates " + std::to_string(options.rerank.candidates);
    }
  }
  report.corpus_documents = dataset.document_ids.size();
  report.queries_total = dataset.queries.size();
  report.documents_per_query = options.documents_per_query;
  report.chunk_depth = options.chunk_depth;

  ragline::KnowledgeBase kb = ragline::KnowledgeBase::open(options.kb, open_options_for(options));

  const ragline::Stats before = kb.stats();
  if (before.documents == 0) {
    ingest_corpus(kb, dataset, report);
  } else {
    std::cerr << "rag-bench: the KB already holds " << before.documents
              << " documents: ingest skipped, no ingest MB/s figure\n";
  }
  const ragline::Stats stats = kb.stats();
  report.kb_documents = static_cast<std::size_t>(stats.documents);
  report.kb_chunks = static_cast<std::size_t>(stats.chunks);

  // The floor, built from the same corpus.jsonl (already in the OS file cache, as it was for
  // ragline's ingest). optional::emplace because the baseline owns a SQLite handle and does not move.
  std::optional<Fts5Baseline> baseline;
  if (options.baseline) {
    BaselineReport& baseline_report = report.baseline.emplace();
    baseline_report.name = std::string(Fts5Baseline::kName);
    baseline_report.documents_per_query = options.documents_per_query;
    const auto start = std::chrono::steady_clock::now();
    baseline.emplace().ingest(dataset.corpus_path);
    baseline_report.ingest_seconds = seconds_since(start);
    baseline_report.ingest_mb_s = baseline_report.ingest_seconds > 0
                                      ? static_cast<double>(dataset.corpus_bytes) / 1e6 / baseline_report.ingest_seconds
                                      : 0.0;
  }

  std::vector<const BeirQuery*> scored;
  for (const BeirQuery& query : dataset.queries) {
    if (dataset.qrels.contains(query.id)) scored.push_back(&query);
  }
  if (options.query_sample > 0 && options.query_sample < scored.size()) {
    std::vector<const BeirQuery*> sample;
    for (std::size_t i = 0; i < options.query_sample; ++i)
      sample.push_back(scored[i * scored.size() / options.query_sample]);
    std::cerr << "rag-bench: scoring " << sample.size() << " of the " << scored.size()
              << " judged queries (--query-sample), spread evenly\n";
    scored = std::move(sample);
  }
  report.queries_scored = scored.size();

  // Untimed: the first queries pay for opening SQLite pages and the OS file cache, which a
  // long-running service pays once. Every call shape that is timed later is warmed up here.
  report.warmup_queries = std::min(options.warmup_queries, scored.size());
  for (std::size_t index = 0; index < report.warmup_queries; ++index) {
    const std::string& text = scored[index]->text;
    (void)kb.retrieve(options.query(text, options.chunk_depth));
    (void)kb.retrieve(options.query(text, kLatencyTopK));
    if (baseline) {
      (void)baseline->search(text, options.documents_per_query);
      (void)baseline->search(text, kLatencyTopK);
    }
  }

  std::ofstream run_file;
  if (!options.trec_run.empty()) {
    run_file.open(options.trec_run);
    if (!run_file) {
      std::cerr << "rag-bench: cannot write " << options.trec_run.string() << '\n';
      return kExitSetupError;
    }
  }

  ragline::bench::LatencyRecorder latency;
  std::vector<ragline::bench::QueryMetrics> per_query;
  per_query.reserve(scored.size());
  std::size_t hits_outside_corpus = 0;
  std::string example_outside_corpus;
  std::size_t queries_short_of_k = 0;
  auto ragline_at_depth = [&](std::size_t query_index) {
    const BeirQuery* query = scored[query_index];
    const auto start = std::chrono::steady_clock::now();
    const std::vector<ragline::Hit> hits = kb.retrieve(options.query(query->text, options.chunk_depth));
    latency.add(std::chrono::steady_clock::now() - start);

    std::vector<std::string> chunk_document_ids;
    std::vector<double> chunk_scores;
    chunk_document_ids.reserve(hits.size());
    for (const ragline::Hit& hit : hits) {
      std::optional<std::string> id = ragline::bench::document_id_from_uri(hit.document_uri);
      if (!id || !dataset.document_ids.contains(*id)) {
        if (hits_outside_corpus++ == 0) example_outside_corpus = hit.document_uri;
        continue;
      }
      chunk_document_ids.push_back(std::move(*id));
      chunk_scores.push_back(hit.score);
    }
    const std::vector<std::string> ranking =
        ragline::bench::collapse_to_documents(chunk_document_ids, options.documents_per_query);
    if (hits.empty()) ++report.queries_without_results;
    if (hits.size() >= options.chunk_depth && ranking.size() < options.documents_per_query) ++queries_short_of_k;
    per_query.push_back(ragline::bench::evaluate_query(ranking, dataset.qrels.at(query->id)));

    if (run_file.is_open()) {
      // Scores of the best chunk of each document: the first occurrence, as in the collapse.
      std::unordered_set<std::string> written;
      std::size_t rank = 0;
      for (std::size_t index = 0; index < chunk_document_ids.size() && rank < ranking.size(); ++index) {
        if (!written.insert(chunk_document_ids[index]).second) continue;
        run_file << query->id << " Q0 " << chunk_document_ids[index] << ' ' << ++rank << ' ' << chunk_scores[index]
                 << " ragline-" << options.mode << '\n';
      }
    }
  };

  // The baseline's ranking is already one row per document, so it is scored as it comes.
  ragline::bench::LatencyRecorder baseline_latency;
  std::vector<ragline::bench::QueryMetrics> baseline_per_query;
  auto baseline_at_depth = [&](std::size_t query_index) {
    if (!baseline) return;
    const BeirQuery* query = scored[query_index];
    const auto start = std::chrono::steady_clock::now();
    const std::vector<std::int64_t> rowids = baseline->search(query->text, options.documents_per_query);
    baseline_latency.add(std::chrono::steady_clock::now() - start);
    std::vector<std::string> ranking;
    ranking.reserve(rowids.size());
    for (const std::int64_t rowid : rowids) ranking.push_back(baseline->document_id(rowid));
    if (ranking.empty()) ++report.baseline->queries_without_results;
    baseline_per_query.push_back(ragline::bench::evaluate_query(ranking, dataset.qrels.at(query->id)));
  };
  interleave(scored.size(), ragline_at_depth, baseline_at_depth);

  // The shape of a RAG request: a few full hits (text, metadata) against a few rowids.
  ragline::bench::LatencyRecorder latency_k10;
  ragline::bench::LatencyRecorder baseline_latency_k10;
  interleave(
      scored.size(),
      [&](std::size_t query_index) {
        const auto start = std::chrono::steady_clock::now();
        (void)kb.retrieve(options.query(scored[query_index]->text, kLatencyTopK));
        latency_k10.add(std::chrono::steady_clock::now() - start);
      },
      [&](std::size_t query_index) {
        if (!baseline) return;
        const auto start = std::chrono::steady_clock::now();
        (void)baseline->search(scored[query_index]->text, kLatencyTopK);
        baseline_latency_k10.add(std::chrono::steady_clock::now() - start);
      });

  report.metrics = ragline::bench::mean_metrics(per_query);
  report.latency = latency.summary();
  report.latency_k10 = latency_k10.summary();
  if (report.baseline) {
    report.baseline->metrics = ragline::bench::mean_metrics(baseline_per_query);
    report.baseline->latency = baseline_latency.summary();
    report.baseline->latency_k10 = baseline_latency_k10.summary();
  }
  report.kb_bytes = ragline::bench::path_bytes(options.kb);

  if (queries_short_of_k > 0) {
    std::cerr << "rag-bench: warning: " << queries_short_of_k << " queries used all " << options.chunk_depth
              << " chunks before reaching " << options.documents_per_query
              << " documents; raise --chunk-depth for exact @100 figures\n";
  }

  // Self-checks: a fast run with wrong or missing results must not pass for a good one.
  if (report.kb_documents == 0) report.self_check_failures.push_back("the KB has no documents after ingest");
  if (scored.empty()) report.self_check_failures.push_back("no query has judgments: nothing was scored");
  if (report.ingest_mb_s && report.ingest_failures * 100 > report.corpus_documents) {
    report.self_check_failures.push_back(std::to_string(report.ingest_failures) +
                                         " corpus records failed to ingest (more than 1%)");
  }
  if (!scored.empty() &&
      static_cast<double>(report.queries_without_results) > kMaxNoResultFraction * static_cast<double>(scored.size())) {
    report.self_check_failures.push_back(std::to_string(report.queries_without_results) + " of " +
                                         std::to_string(scored.size()) +
                                         " scored queries returned no results (more than 5%)");
  }
  // A baseline that finds nothing for any query means the harness (query conversion, baseline
  // table) is broken. Some empty results are the floor being a floor: unicode61 does not segment
  // Chinese or Japanese, so such a query is one unmatched token (the handbook has four).
  if (report.baseline && !scored.empty()) {
    const std::size_t empty = report.baseline->queries_without_results;
    if (empty == scored.size()) {
      report.self_check_failures.push_back("baseline: none of the " + std::to_string(scored.size()) +
                                           " scored queries returned a result");
    } else if (static_cast<double>(empty) > kMaxNoResultFraction * static_cast<double>(scored.size())) {
      std::cerr << "rag-bench: warning: the baseline returned nothing for " << empty << " of " << scored.size()
                << " scored queries (its quality figures count them as misses)\n";
    }
  }
  if (hits_outside_corpus > 0) {
    report.self_check_failures.push_back(std::to_string(hits_outside_corpus) +
                                         " hits name documents that are not in this corpus (e.g. " +
                                         example_outside_corpus + "): is --kb a KB of another dataset?");
  }
  if (options.min_ndcg && report.metrics.ndcg_at_10 < *options.min_ndcg) {
    report.self_check_failures.push_back("nDCG@10 " + std::to_string(report.metrics.ndcg_at_10) +
                                         " is below --min-ndcg " + std::to_string(*options.min_ndcg));
  }

  print_text_report(std::cout, report);
  if (options.json) std::cout << to_json_line(report) << '\n';
  std::cout.flush();
  return ragline::bench::self_check_status("rag-bench", report.self_check_failures);
}

// --sweep: one BM25 list and one dense list per query, fused offline under every setting of a
// grid; each fused ranking is collapsed to documents and scored like a normal run.
int run_sweep(const Options& options) {
  const BeirDataset dataset = ragline::bench::load_beir_dataset(options.dataset, options.split);
  ragline::KnowledgeBase kb = ragline::KnowledgeBase::open(options.kb, open_options_for(options));
  BenchReport ingest_report;
  if (kb.stats().documents == 0) ingest_corpus(kb, dataset, ingest_report);

  struct Lists {
    const BeirQuery* query;
    std::vector<ragline::RankedId> bm25, dense;
  };
  std::unordered_map<std::int64_t, std::string> document_of_chunk;
  std::vector<Lists> lists;
  constexpr std::size_t kSweepDepth = 1000;
  for (const BeirQuery& query : dataset.queries) {
    if (!dataset.qrels.contains(query.id)) continue;
    Lists entry{&query, {}, {}};
    for (auto mode : {ragline::SearchMode::bm25, ragline::SearchMode::dense}) {
      ragline::Query q{query.text, kSweepDepth, options.bm25};
      q.mode = mode;
      for (const auto& hit : kb.retrieve(q)) {
        auto id = ragline::bench::document_id_from_uri(hit.document_uri);
        if (!id) continue;
        document_of_chunk.emplace(hit.chunk_id, *id);
        (mode == ragline::SearchMode::bm25 ? entry.bm25 : entry.dense).push_back({hit.chunk_id, hit.score});
      }
    }
    lists.push_back(std::move(entry));
  }
  if (lists.empty()) {
    std::cerr << "rag-bench: no query has judgments: nothing to sweep\n";
    return kExitSelfCheckFailed;
  }

  const auto evaluate = [&](const std::function<std::vector<std::int64_t>(const Lists&)>& rank) {
    std::vector<ragline::bench::QueryMetrics> per_query;
    for (const auto& entry : lists) {
      std::vector<std::string> documents;
      for (auto id : rank(entry)) documents.push_back(document_of_chunk.at(id));
      const auto ranking = ragline::bench::collapse_to_documents(documents, options.documents_per_query);
      per_query.push_back(ragline::bench::evaluate_query(ranking, dataset.qrels.at(entry.query->id)));
    }
    return ragline::bench::mean_metrics(per_query);
  };
  const auto ids_of = [](const std::vector<ragline::RankedId>& list) {
    std::vector<std::int64_t> ids;
    for (const auto& item : list) ids.push_back(item.id);
    return ids;
  };

  struct GridPoint {
    std::string label;
    ragline::FusionConfig config;
    ragline::bench::QueryMetrics metrics;
  };
  std::vector<GridPoint> grid;
  for (std::size_t candidates : {20u, 50u, 100u, 200u, 1000u}) {
    ragline::FusionConfig base;
    base.candidates = candidates;
    for (double k : {5.0, 20.0, 60.0, 100.0}) {
      for (double dense_weight : {0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0}) {
        auto config = base;
        config.method = "rrf";
        config.rrf_k = k;
        config.dense_weight = dense_weight;
        grid.push_back({"", config, {}});
      }
    }
    for (const char* normalization : {"minmax", "zscore"}) {
      for (double alpha : {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
        auto config = base;
        config.method = "weighted";
        config.normalization = normalization;
        config.alpha = alpha;
        grid.push_back({"", config, {}});
      }
    }
    for (double alpha : {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
      auto config = base;
      config.method = "dbsf";
      config.alpha = alpha;
      grid.push_back({"", config, {}});
    }
  }
  for (auto& point : grid) {
    const auto& c = point.config;
    char label[128];
    if (c.method == "rrf") {
      std::snprintf(label, sizeof label, "rrf k=%g dense_weight=%g candidates=%zu", c.rrf_k, c.dense_weight,
                    c.candidates);
    } else if (c.method == "weighted") {
      std::snprintf(label, sizeof label, "weighted %s alpha=%g candidates=%zu", c.normalization.c_str(), c.alpha,
                    c.candidates);
    } else {
      std::snprintf(label, sizeof label, "dbsf alpha=%g candidates=%zu", c.alpha, c.candidates);
    }
    point.label = label;
    point.metrics = evaluate([&](const Lists& entry) {
      const std::size_t n = c.candidates;
      const std::span<const ragline::RankedId> bm25(entry.bm25.data(), std::min(n, entry.bm25.size()));
      const std::span<const ragline::RankedId> dense(entry.dense.data(), std::min(n, entry.dense.size()));
      std::vector<std::int64_t> ids;
      for (const auto& fused : ragline::fuse_rankings(c, bm25, dense)) ids.push_back(fused.id);
      return ids;
    });
  }
  const auto bm25_metrics = evaluate([&](const Lists& entry) { return ids_of(entry.bm25); });
  const auto dense_metrics = evaluate([&](const Lists& entry) { return ids_of(entry.dense); });

  std::vector<const GridPoint*> order;
  for (const auto& point : grid) order.push_back(&point);
  std::stable_sort(order.begin(), order.end(), [](const GridPoint* a, const GridPoint* b) {
    return a->metrics.ndcg_at_10 > b->metrics.ndcg_at_10;
  });
  const std::string name = dataset_name(options.dataset);
  std::printf("fusion sweep on %s: %zu scored queries, %zu grid points\n", name.c_str(), lists.size(), grid.size());
  std::printf("%-48s %8s %10s %8s\n", "setting", "nDCG@10", "Recall@100", "MRR@10");
  std::printf("%-48s %8.4f %10.4f %8.4f\n", "bm25 alone", bm25_metrics.ndcg_at_10, bm25_metrics.recall_at_100,
              bm25_metrics.mrr_at_10);
  std::printf("%-48s %8.4f %10.4f %8.4f\n", "dense alone", dense_metrics.ndcg_at_10, dense_metrics.recall_at_100,
              dense_metrics.mrr_at_10);
  const std::size_t shown = options.verbose ? order.size() : std::min<std::size_t>(order.size(), 25);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& m = order[i]->metrics;
    std::printf("%-48s %8.4f %10.4f %8.4f\n", order[i]->label.c_str(), m.ndcg_at_10, m.recall_at_100, m.mrr_at_10);
  }
  std::printf("best on %s: %s (nDCG@10 %+.4f over bm25)\n", name.c_str(), order.front()->label.c_str(),
              order.front()->metrics.ndcg_at_10 - bm25_metrics.ndcg_at_10);

  const auto metrics_json = [](const ragline::bench::QueryMetrics& m) {
    return nlohmann::json{{"ndcg@10", m.ndcg_at_10}, {"recall@100", m.recall_at_100}, {"mrr@10", m.mrr_at_10}};
  };
  nlohmann::json all = nlohmann::json::array();
  for (const auto& point : grid) {
    const auto& c = point.config;
    all.push_back({{"method", c.method},
                   {"rrf_k", c.rrf_k},
                   {"dense_weight", c.dense_weight},
                   {"alpha", c.alpha},
                   {"normalization", c.normalization},
                   {"candidates", c.candidates},
                   {"metrics", metrics_json(point.metrics)}});
  }
  if (!options.sweep_json.empty()) {
    std::ofstream out(options.sweep_json);
    out << nlohmann::json{{"dataset", name},
                          {"bm25", metrics_json(bm25_metrics)},
                          {"dense", metrics_json(dense_metrics)},
                          {"grid", all}}
               .dump()
        << '\n';
    if (!out) {
      std::cerr << "rag-bench: cannot write " << options.sweep_json.string() << '\n';
      return kExitSetupError;
    }
  }
  if (options.json) {
    std::cout << nlohmann::json{{"dataset", name},
                                {"bm25", metrics_json(bm25_metrics)},
                                {"dense", metrics_json(dense_metrics)},
                                {"best", order.front()->label},
                                {"best_metrics", metrics_json(order.front()->metrics)}}
                     .dump()
              << '\n';
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Measures retrieval quality (nDCG@10, Recall@100, MRR@10, MAP@100), query latency and ingest "
      "speed of a ragline KB on a BEIR-format dataset, beside raw FTS5 on the same data.",
      "rag-bench"};
  Options options;
  app.add_option("--dataset", options.dataset, "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--kb", options.kb, "knowledge base directory; corpus.jsonl is ingested when it is empty")->required();
  app.add_option("--mode", options.mode, "retrieval mode: bm25 | dense | hybrid")->capture_default_str();
  app.add_option("--fusion", options.fusion.method, "hybrid: auto | rrf | weighted | dbsf")->capture_default_str();
  app.add_option("--rrf-k", options.fusion.rrf_k, "rrf: rank offset")->capture_default_str();
  app.add_option("--dense-weight", options.fusion.dense_weight, "rrf: weight of the dense list")->capture_default_str();
  app.add_option("--alpha", options.fusion.alpha, "weighted, dbsf: weight of the dense side")->capture_default_str();
  app.add_option("--normalization", options.fusion.normalization, "weighted: minmax | zscore")->capture_default_str();
  app.add_option("--candidates", options.fusion.candidates, "hybrid: candidates per side")->capture_default_str();
  app.add_option("--embedder", options.embedder, "embedder of a KB the bench creates (default: lexical)");
  app.add_option("--dimension", options.dimension, "embedding dimension of a KB the bench creates");
  app.add_option("--embed-model", options.embed_model,
                 "model of a KB the bench creates (bert: a fetched model's name, e.g. all-MiniLM-L6-v2, or a folder)");
  app.add_option("--models-dir", options.models_dir,
                 "folder of fetched models (default $RAGLINE_MODELS_DIR, then ./models)");
  app.add_option("--index", options.index_type, "vector index type: flat | hnsw | ivf");
  ragline::cli::add_rerank_options(app, options.rerank);
  app.add_flag("--sweep", options.sweep,
               "tune fusion offline: every method over a grid, from one pair of candidate lists per query");
  app.add_option("--sweep-json", options.sweep_json, "with --sweep: write every grid point as JSON to this file");
  app.add_option("--split", options.split, "qrels file to score against: qrels/<split>.tsv")->capture_default_str();
  ragline::bench::add_output_flags(app, options.json, options.verbose);
  app.add_option("-k", options.documents_per_query, "ranked documents kept per query")->capture_default_str();
  app.add_option("--chunk-depth", options.chunk_depth, "chunks retrieved per query before collapsing to documents")
      ->capture_default_str();
  app.add_option("--query-sample", options.query_sample,
                 "score only this many judged queries, spread evenly over them (0: all)")
      ->capture_default_str();
  app.add_option("--warmup", options.warmup_queries, "scored queries run once, untimed, before the timed pass")
      ->capture_default_str();
  app.add_option("--min-ndcg", options.min_ndcg, "fail (exit 1) when nDCG@10 is below this value");
  app.add_option("--trec-run", options.trec_run, "also write the ranking as a TREC run file (for trec_eval)");
  app.add_flag("!--no-baseline", options.baseline,
               "skip the raw-FTS5 baseline (fts5-porter-bm25) measured in the same run");
  app.add_option("--chunker", options.chunker, "chunker of a KB the bench creates (default: the library's)");
  app.add_option("--max-tokens", options.max_tokens, "chunk size of a KB the bench creates");
  app.add_option("--language", options.language, "analyser language of a KB the bench creates");
  app.add_flag("--no-stemming", options.no_stemming, "a KB the bench creates indexes unstemmed terms");
  app.add_flag("--no-stopwords", options.no_stopwords, "a KB the bench creates keeps stopwords");
  app.add_option("--k1", options.bm25.k1, "BM25 term-frequency saturation")->capture_default_str();
  app.add_option("--b", options.bm25.b, "BM25 length normalisation")->capture_default_str();
  app.add_option("--weight-title", options.bm25.weight_title, "BM25F weight of the title")->capture_default_str();
  app.add_option("--weight-heading", options.bm25.weight_heading, "BM25F weight of the heading path")
      ->capture_default_str();
  return ragline::bench::parse_and_run(app, argc, argv, "rag-bench", [&] { return run(options); });
}
