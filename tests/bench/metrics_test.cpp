#include "bench/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/beir_dataset.hpp"
#include "bench/latency.hpp"
#include "bench/report.hpp"
#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace {

using ragline::bench::evaluate_query;
using ragline::bench::Judgments;
using ragline::bench::QueryMetrics;
using ragline::testing::TempDir;
using ragline::testing::write_file;

using Ranking = std::vector<std::string>;

// Runs `load` and returns the ragline::Error it throws; fails the test when it does not throw.
template <typename Load>
ragline::Error expect_error(Load&& load) {
  try {
    load();
  } catch (const ragline::Error& error) {
    return error;
  }
  ADD_FAILURE() << "expected ragline::Error";
  return ragline::Error(ragline::ErrorKind::internal, "no error");
}

// "x" + std::to_string(n) trips g++ 12's -Wrestrict false positive at -O2 and above (GCC bug
// 105651), which -Werror turns into a failed Release build; appending does not.
std::string numbered(std::string prefix, int number) {
  prefix += std::to_string(number);
  return prefix;
}

void write_tiny_dataset(const TempDir& dir, const std::string& qrels) {
  write_file(dir / "corpus.jsonl",
             "{\"_id\": \"d1\", \"title\": \"One\", \"text\": \"first\", \"metadata\": {}}\n"
             "{\"_id\": \"d2\", \"title\": \"Two\", \"text\": \"second\"}\n"
             "\n"
             "{\"_id\": 3, \"title\": \"Three\", \"text\": \"third\"}\n");
  write_file(dir / "queries.jsonl",
             "{\"_id\": \"q2\", \"text\": \"second query\"}\n"
             "{\"_id\": \"q1\", \"text\": \"first query\"}\n"
             "{\"_id\": \"q3\", \"text\": \"never judged\"}\n");
  write_file(dir / "qrels" / "test.tsv", qrels);
}

// Graded nDCG@10: linear gain, log2(rank + 1) discount, ideal from every judged relevant document.
TEST(BenchMetrics, GradedNdcgUsesAllJudgedDocumentsForTheIdeal) {
  const Judgments judgments{{"a", 2}, {"b", 1}, {"c", 2}, {"d", 0}};
  // b at rank 1 (gain 1 / log2 2), an unjudged doc at rank 2, a at rank 3 (gain 2 / log2 4).
  const QueryMetrics metrics = evaluate_query(Ranking{"b", "x", "a"}, judgments);
  const double dcg = 1.0 + 2.0 / 2.0;
  // Ideal order a/c (2), c/a (2), b (1); c counts although it was never retrieved.
  const double ideal = 2.0 + 2.0 / std::log2(3.0) + 1.0 / 2.0;
  EXPECT_NEAR(metrics.ndcg_at_10, dcg / ideal, 1e-12);
  EXPECT_NEAR(metrics.ndcg_at_10, 0.531652, 1e-6);

  EXPECT_DOUBLE_EQ(evaluate_query(Ranking{"c", "a", "b", "d"}, judgments).ndcg_at_10, 1.0);
}

// nDCG@10 cuts both the ranking and the ideal at 10.
TEST(BenchMetrics, NdcgCutsRankingAndIdealAtTen) {
  Judgments judgments;
  Ranking ranking;
  for (int index = 0; index < 12; ++index) {
    judgments.emplace(numbered("r", index), 1);
    ranking.push_back(numbered("r", index));
  }
  EXPECT_DOUBLE_EQ(evaluate_query(ranking, judgments).ndcg_at_10, 1.0);
  // Relevant documents only after rank 10 give nothing.
  Ranking late(10, "");
  for (int index = 0; index < 10; ++index) late[static_cast<std::size_t>(index)] = numbered("x", index);
  late.push_back("r0");
  EXPECT_DOUBLE_EQ(evaluate_query(late, judgments).ndcg_at_10, 0.0);
}

// Recall@100 divides by all relevant documents even when fewer than 100 were retrieved.
TEST(BenchMetrics, RecallWithFewerThanHundredRetrieved) {
  const Judgments judgments{{"a", 1}, {"b", 1}, {"c", 2}, {"d", 1}, {"z", 0}};
  const QueryMetrics metrics = evaluate_query(Ranking{"a", "z", "c"}, judgments);
  EXPECT_DOUBLE_EQ(metrics.recall_at_100, 2.0 / 4.0);
}

// Recall@100 and MAP@100 ignore a relevant document at rank 101.
TEST(BenchMetrics, RecallAndMapStopAtRankHundred) {
  Ranking ranking;
  for (int index = 0; index < 100; ++index) ranking.push_back(numbered("x", index));
  ranking.push_back("a");
  const QueryMetrics metrics = evaluate_query(ranking, Judgments{{"a", 1}});
  EXPECT_DOUBLE_EQ(metrics.recall_at_100, 0.0);
  EXPECT_DOUBLE_EQ(metrics.map_at_100, 0.0);
}

// MRR@10 is 1/3 when the first relevant document is at rank 3; grade 0 is not relevant.
TEST(BenchMetrics, MrrFirstRelevantAtRankThree) {
  const Judgments judgments{{"a", 1}, {"b", 2}, {"y", 0}};
  EXPECT_DOUBLE_EQ(evaluate_query(Ranking{"x", "y", "a", "b"}, judgments).mrr_at_10, 1.0 / 3.0);
  Ranking late;
  for (int index = 0; index < 10; ++index) late.push_back(numbered("x", index));
  late.push_back("a");
  EXPECT_DOUBLE_EQ(evaluate_query(late, judgments).mrr_at_10, 0.0);
}

// MAP@100 with 2 of 3 relevant documents found: (1/1 + 2/3) / 3.
TEST(BenchMetrics, MapWithTwoOfThreeRelevantFound) {
  const Judgments judgments{{"a", 1}, {"b", 1}, {"c", 1}};
  const QueryMetrics metrics = evaluate_query(Ranking{"a", "x", "b", "y"}, judgments);
  EXPECT_NEAR(metrics.map_at_100, (1.0 + 2.0 / 3.0) / 3.0, 1e-12);
}

// A query without judgments cannot be scored; one with only grade-0 judgments scores zero.
TEST(BenchMetrics, UnjudgedQueryIsRejectedAndNonRelevantOnlyScoresZero) {
  EXPECT_THROW(evaluate_query(Ranking{"a"}, Judgments{}), std::invalid_argument);
  const QueryMetrics metrics = evaluate_query(Ranking{"a", "b"}, Judgments{{"a", 0}});
  EXPECT_EQ(metrics.ndcg_at_10, 0.0);
  EXPECT_EQ(metrics.recall_at_100, 0.0);
  EXPECT_EQ(metrics.mrr_at_10, 0.0);
  EXPECT_EQ(metrics.map_at_100, 0.0);
}

// A document listed twice would be counted twice, so it is rejected.
TEST(BenchMetrics, DuplicateDocumentInRankingIsRejected) {
  EXPECT_THROW(evaluate_query(Ranking{"a", "b", "a"}, Judgments{{"a", 1}}), std::invalid_argument);
}

// The mean is taken over the scored queries only, metric by metric.
TEST(BenchMetrics, MeanOverQueries) {
  const std::vector<QueryMetrics> per_query{{1.0, 0.5, 1.0, 0.25}, {0.0, 1.0, 0.5, 0.75}};
  const QueryMetrics mean = ragline::bench::mean_metrics(per_query);
  EXPECT_DOUBLE_EQ(mean.ndcg_at_10, 0.5);
  EXPECT_DOUBLE_EQ(mean.recall_at_100, 0.75);
  EXPECT_DOUBLE_EQ(mean.mrr_at_10, 0.75);
  EXPECT_DOUBLE_EQ(mean.map_at_100, 0.5);
  EXPECT_DOUBLE_EQ(ragline::bench::mean_metrics({}).ndcg_at_10, 0.0);
}

// The loader keeps query order, integer ids, graded qrels, and counts only judged queries.
TEST(BeirDataset, LoadsTinyDataset) {
  TempDir dir;
  write_tiny_dataset(dir, "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t3\t1\nq2\td2\t1\nq2\tmissing\t1\n");
  const ragline::bench::BeirDataset dataset = ragline::bench::load_beir_dataset(dir.path());
  EXPECT_EQ(dataset.document_ids.size(), 3u);
  EXPECT_TRUE(dataset.document_ids.contains("3"));
  EXPECT_EQ(dataset.corpus_bytes, std::filesystem::file_size(dir / "corpus.jsonl"));
  ASSERT_EQ(dataset.queries.size(), 3u);
  EXPECT_EQ(dataset.queries[0].id, "q2");
  EXPECT_EQ(dataset.queries[1].text, "first query");
  EXPECT_EQ(dataset.judgments, 4u);
  EXPECT_EQ(dataset.judgments_unknown_document, 1u);
  EXPECT_EQ(dataset.judged_query_count(), 2u);
  EXPECT_FALSE(dataset.qrels.contains("q3"));
  EXPECT_EQ(dataset.qrels.at("q1").at("d1"), 2);
}

// A malformed qrels line is an error naming the file and line.
TEST(BeirDataset, BadQrelsLineNamesFileAndLine) {
  TempDir dir;
  write_tiny_dataset(dir, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2 d2 1\n");
  const ragline::Error error = expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); });
  EXPECT_EQ(error.kind(), ragline::ErrorKind::format);
  EXPECT_NE(std::string(error.what()).find("test.tsv:3:"), std::string::npos) << error.what();

  write_tiny_dataset(dir, "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
  const ragline::Error score_error = expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); });
  EXPECT_NE(std::string(score_error.what()).find("test.tsv:2: score \"high\""), std::string::npos)
      << score_error.what();
}

// The qrels header is required, so a headerless file is not silently short of one judgment.
TEST(BeirDataset, MissingQrelsHeaderIsAnError) {
  TempDir dir;
  write_tiny_dataset(dir, "q1\td1\t1\n");
  const ragline::Error error = expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); });
  EXPECT_NE(std::string(error.what()).find("test.tsv:1: expected the header"), std::string::npos) << error.what();
}

// Broken JSONL, duplicate ids and missing files are errors naming where they are.
TEST(BeirDataset, BadCorpusAndMissingFilesAreErrors) {
  TempDir dir;
  write_tiny_dataset(dir, "query-id\tcorpus-id\tscore\n");
  write_file(dir / "corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"x\"}\n{\"_id\": \"d2\", \"text\": \n");
  EXPECT_NE(std::string(expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); }).what())
                .find("corpus.jsonl:2: invalid JSON"),
            std::string::npos);

  write_file(dir / "corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"x\"}\n{\"_id\": \"d1\", \"text\": \"y\"}\n");
  EXPECT_NE(std::string(expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); }).what())
                .find("corpus.jsonl:2: duplicate document id 'd1'"),
            std::string::npos);

  write_file(dir / "corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"x\"}\n");
  write_file(dir / "queries.jsonl", "{\"text\": \"no id\"}\n");
  EXPECT_NE(std::string(expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); }).what())
                .find("queries.jsonl:1: record has no \"_id\""),
            std::string::npos);

  std::filesystem::remove(dir / "qrels" / "test.tsv");
  write_file(dir / "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"x\"}\n");
  EXPECT_EQ(expect_error([&] { ragline::bench::load_beir_dataset(dir.path()); }).kind(), ragline::ErrorKind::not_found);
}

// A hit's document URI maps back to the BEIR id: after the last '#', percent-decoded.
TEST(BeirDataset, DocumentIdFromUri) {
  using ragline::bench::document_id_from_uri;
  EXPECT_EQ(document_id_from_uri("file:///data/med/corpus.jsonl#17"), "17");
  EXPECT_EQ(document_id_from_uri("file:///a%23b/corpus.jsonl#doc%201%2Fx"), "doc 1/x");
  EXPECT_EQ(document_id_from_uri("file:///c.jsonl#50%"), "50%");
  EXPECT_EQ(document_id_from_uri("file:///c.jsonl#"), "");
  EXPECT_FALSE(document_id_from_uri("file:///notes.md").has_value());
}

// Chunks collapse to documents at their best (first) chunk's rank, up to the cut-off.
TEST(BeirDataset, CollapseChunksToDocuments) {
  const std::vector<std::string> chunks{"a", "b", "a", "c", "b", "d"};
  EXPECT_EQ(ragline::bench::collapse_to_documents(chunks, 3), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ragline::bench::collapse_to_documents(chunks, 100), (std::vector<std::string>{"a", "b", "c", "d"}));
}

// Nearest-rank percentiles return measured samples: rank ceil(p/100 * n).
TEST(BenchLatency, NearestRankPercentiles) {
  std::vector<double> samples;
  for (int value = 20; value >= 1; --value) samples.push_back(value);  // unsorted on purpose
  EXPECT_DOUBLE_EQ(ragline::bench::percentile_nearest_rank(samples, 50), 10.0);
  EXPECT_DOUBLE_EQ(ragline::bench::percentile_nearest_rank(samples, 95), 19.0);
  EXPECT_DOUBLE_EQ(ragline::bench::percentile_nearest_rank(samples, 99), 20.0);
  EXPECT_DOUBLE_EQ(ragline::bench::percentile_nearest_rank(samples, 100), 20.0);
  const std::vector<double> one{4.5};
  EXPECT_DOUBLE_EQ(ragline::bench::percentile_nearest_rank(one, 1), 4.5);
  EXPECT_THROW(ragline::bench::percentile_nearest_rank({}, 50), std::invalid_argument);
  EXPECT_THROW(ragline::bench::percentile_nearest_rank(one, 0), std::invalid_argument);
}

// Queries per second is the sample count over the summed latency (one thread, back to back).
TEST(BenchLatency, RecorderSummary) {
  ragline::bench::LatencyRecorder recorder;
  EXPECT_EQ(recorder.summary().queries_per_second, 0.0);
  recorder.add_ms(10);
  recorder.add_ms(30);
  recorder.add(std::chrono::milliseconds(20));
  const ragline::bench::LatencySummary summary = recorder.summary();
  EXPECT_EQ(summary.samples, 3u);
  EXPECT_DOUBLE_EQ(summary.p50_ms, 20.0);
  EXPECT_DOUBLE_EQ(summary.p99_ms, 30.0);
  EXPECT_NEAR(summary.total_seconds, 0.06, 1e-12);
  EXPECT_NEAR(summary.queries_per_second, 50.0, 1e-9);
}

// The --json line carries the documented keys; a skipped ingest is null, not a made-up speed.
TEST(BenchReport, JsonLineHasTheDocumentedShape) {
  ragline::bench::BenchReport report;
  report.dataset = "med";
  report.mode = "bm25";
  report.metrics = {0.5, 0.75, 0.8, 0.4};
  report.kb_bytes = 1234;
  const std::string line = ragline::bench::to_json_line(report);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(line);
  EXPECT_EQ(json.at("dataset"), "med");
  EXPECT_EQ(json.at("mode"), "bm25");
  EXPECT_DOUBLE_EQ(json.at("metrics").at("ndcg@10").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(json.at("metrics").at("recall@100").get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(json.at("metrics").at("mrr@10").get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(json.at("metrics").at("map@100").get<double>(), 0.4);
  for (const char* key : {"p50", "p95", "p99"}) EXPECT_TRUE(json.at("latency_ms").contains(key)) << key;
  EXPECT_TRUE(json.contains("qps"));
  EXPECT_TRUE(json.at("ingest_mb_s").is_null());
  EXPECT_EQ(json.at("kb_bytes"), 1234);

  report.ingest_mb_s = 2.5;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(ragline::bench::to_json_line(report)).at("ingest_mb_s").get<double>(), 2.5);
}

// The baseline, the k=10 latency and the ratios are added beside the existing keys, which keep
// their names and meaning; without a baseline they are null rather than made-up figures.
TEST(BenchReport, JsonLineHasBaselineK10AndRatios) {
  ragline::bench::BenchReport report;
  report.dataset = "cranfield";
  report.mode = "bm25";
  report.metrics = {0.45, 0.8, 0.6, 0.3};
  report.latency = {225, 11.0, 13.0, 15.0, 2.5, 90.0};
  report.latency_k10 = {225, 3.0, 4.0, 5.0, 0.7, 320.0};
  report.ingest_mb_s = 0.5;

  nlohmann::json json = nlohmann::json::parse(ragline::bench::to_json_line(report));
  EXPECT_DOUBLE_EQ(json.at("latency_ms").at("p50").get<double>(), 11.0);
  EXPECT_DOUBLE_EQ(json.at("qps").get<double>(), 90.0);
  EXPECT_DOUBLE_EQ(json.at("latency_k10_ms").at("p50").get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(json.at("latency_k10_ms").at("p95").get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(json.at("latency_k10_ms").at("p99").get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(json.at("qps_k10").get<double>(), 320.0);
  EXPECT_TRUE(json.at("baseline").is_null());
  EXPECT_TRUE(json.at("ratios").at("p50_k10_vs_baseline").is_null());
  EXPECT_TRUE(json.at("ratios").at("ndcg10_vs_baseline").is_null());

  ragline::bench::BaselineReport& baseline = report.baseline.emplace();
  baseline.name = "fts5-porter-bm25";
  baseline.documents_per_query = 100;
  baseline.metrics = {0.3, 0.7, 0.5, 0.2};
  baseline.latency = {225, 1.0, 1.5, 2.0, 0.25, 900.0};
  baseline.latency_k10 = {225, 0.5, 0.6, 0.8, 0.12, 1800.0};
  baseline.ingest_mb_s = 20.0;

  const std::string line = ragline::bench::to_json_line(report);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json = nlohmann::json::parse(line);
  // The existing keys are still ragline's own figures.
  EXPECT_DOUBLE_EQ(json.at("metrics").at("ndcg@10").get<double>(), 0.45);
  EXPECT_DOUBLE_EQ(json.at("ingest_mb_s").get<double>(), 0.5);
  const nlohmann::json& side = json.at("baseline");
  EXPECT_EQ(side.at("name"), "fts5-porter-bm25");
  EXPECT_DOUBLE_EQ(side.at("metrics").at("ndcg@10").get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(side.at("metrics").at("recall@100").get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(side.at("metrics").at("mrr@10").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(side.at("metrics").at("map@100").get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(side.at("latency_ms").at("p50").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(side.at("latency_ms").at("p99").get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(side.at("qps").get<double>(), 900.0);
  EXPECT_DOUBLE_EQ(side.at("latency_k10_ms").at("p50").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(side.at("latency_k10_ms").at("p95").get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(side.at("qps_k10").get<double>(), 1800.0);
  EXPECT_DOUBLE_EQ(side.at("ingest_mb_s").get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(json.at("ratios").at("p50_k10_vs_baseline").get<double>(), 3.0 / 0.5);
  EXPECT_DOUBLE_EQ(json.at("ratios").at("ndcg10_vs_baseline").get<double>(), 0.45 / 0.3);

  // A zero denominator is no ratio, not infinity (which JSON cannot carry).
  report.baseline->metrics.ndcg_at_10 = 0;
  EXPECT_TRUE(
      nlohmann::json::parse(ragline::bench::to_json_line(report)).at("ratios").at("ndcg10_vs_baseline").is_null());
}

// The text report puts the baseline's figures beside ragline's and states the overhead.
TEST(BenchReport, TextReportShowsBaselineSideBySide) {
  ragline::bench::BenchReport report;
  report.dataset = "med";
  report.mode = "bm25";
  report.metrics.ndcg_at_10 = 0.7123;
  report.latency_k10.p50_ms = 3.0;
  std::ostringstream without;
  ragline::bench::print_text_report(without, report);
  EXPECT_EQ(without.str().find("fts5-porter-bm25"), std::string::npos);
  EXPECT_NE(without.str().find("0.7123"), std::string::npos);

  ragline::bench::BaselineReport& baseline = report.baseline.emplace();
  baseline.name = "fts5-porter-bm25";
  baseline.metrics.ndcg_at_10 = 0.6456;
  baseline.latency_k10.p50_ms = 1.5;
  std::ostringstream with;
  ragline::bench::print_text_report(with, report);
  const std::string text = with.str();
  EXPECT_NE(text.find("fts5-porter-bm25"), std::string::npos) << text;
  const std::size_t row = text.find("nDCG@10");
  ASSERT_NE(row, std::string::npos) << text;
  const std::string ndcg_line = text.substr(row, text.find('\n', row) - row);
  EXPECT_NE(ndcg_line.find("0.7123"), std::string::npos) << ndcg_line;
  EXPECT_NE(ndcg_line.find("0.6456"), std::string::npos) << ndcg_line;
  EXPECT_NE(text.find("2.00x the baseline"), std::string::npos) << text;
}

// The project's sample corpus is consistent: every query judged, every judgment names a document.
TEST(BeirDataset, HandbookSampleCorpusIsConsistent) {
  const ragline::bench::BeirDataset dataset =
      ragline::bench::load_beir_dataset(std::filesystem::path(RAGLINE_SOURCE_DIR) / "corpora" / "handbook");
  EXPECT_GE(dataset.document_ids.size(), 40u);
  EXPECT_LE(dataset.document_ids.size(), 60u);
  EXPECT_GE(dataset.queries.size(), 20u);
  EXPECT_EQ(dataset.judged_query_count(), dataset.queries.size());
  EXPECT_EQ(dataset.judgments_unknown_document, 0u);
  EXPECT_EQ(dataset.judgments_unknown_query, 0u);
  for (const auto& [query_id, judgments] : dataset.qrels) {
    for (const auto& [document_id, grade] : judgments) {
      EXPECT_TRUE(grade == 1 || grade == 2) << query_id << ' ' << document_id;
    }
  }
}

}  // namespace
