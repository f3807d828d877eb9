#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace {

using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

void write_records(const std::filesystem::path& path) {
  std::string lines;
  const char* topics[] = {"Winch launches lift gliders to 400 metres.", "Aerotow launches use a tug aircraft.",
                          "Thermals form over sunlit fields.", "Ridge lift lets gliders soar along hills."};
  for (int i = 0; i < 40; ++i) {
    nlohmann::json record = {{"_id", "r" + std::to_string(i)},
                             {"title", "Note " + std::to_string(i)},
                             {"text", std::string(topics[i % 4]) + " Entry " + std::to_string(i) + "."},
                             {"metadata", {{"club", i < 4 ? "north" : "south"}, {"year", 2000 + i}}}};
    lines += record.dump() + "\n";
  }
  write_file(path, lines);
}

TEST(RagQueryHybrid, QueryModesFusionFiltersAndExplain) {
  TempDir dir;
  write_records(dir / "records.jsonl");
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(rag_query("ingest " + quoted(dir / "records.jsonl") + " --kb " + kb + " --json -q"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto report = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(report.at("chunks_embedded"), 40);

  for (const std::string fusion : {"rrf", "weighted", "dbsf"}) {
    result = run_command(
        rag_query("query 'winch launch gliders' --kb " + kb + " --fusion " + fusion + " -k 5 --json --explain"));
    ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
    const auto json = nlohmann::json::parse(result.stdout_text);
    ASSERT_EQ(json.at("hits").size(), 5u);
    EXPECT_EQ(json.at("explanation").at("mode"), "hybrid");
    EXPECT_EQ(json.at("explanation").at("fusion").get<std::string>().rfind(fusion + " ", 0), 0u);
    const auto& top = json["hits"][0];
    EXPECT_NE(top.at("text").get<std::string>().find("Winch"), std::string::npos);
    EXPECT_TRUE(top.at("bm25").is_object() && top.at("dense").is_object()) << top.dump();
  }

  // The filter keeps four northern records; a dense query still fills k with them.
  result = run_command(rag_query("query 'thermals over fields' --kb " + kb + " --mode dense -k 4 --json --explain " +
                                 "--filter '{\"equals\":{\"key\":\"club\",\"value\":\"north\"}}'"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  auto json = nlohmann::json::parse(result.stdout_text);
  ASSERT_EQ(json.at("hits").size(), 4u);
  for (const auto& hit : json["hits"]) EXPECT_EQ(hit.at("metadata").at("club"), "north");
  EXPECT_EQ(json.at("explanation").at("dense_path"), "exact");
  EXPECT_EQ(json.at("explanation").at("filter_matches"), 4);

  write_file(dir / "filter.json", R"({"andAll":[{"equals":{"key":"club","value":"south"}},
                                               {"greaterThanOrEquals":{"key":"year","value":2038}}]})");
  result = run_command(rag_query("query 'gliders' --kb " + kb + " --mode bm25 -k 10 --json --filter-file " +
                                 quoted(dir / "filter.json")));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  json = nlohmann::json::parse(result.stdout_text);
  for (const auto& hit : json["hits"]) EXPECT_GE(hit.at("metadata").at("year").get<int>(), 2038);

  // Text output with --explain names both sides.
  result = run_command(rag_query("query 'ridge lift' --kb " + kb + " -k 2 --explain"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("mode hybrid, fusion rrf"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("explain: bm25 #"), std::string::npos) << result.stdout_text;

  // Bad filters and options are usage errors (exit 2) with a message naming the problem.
  result = run_command(rag_query("query 'x' --kb " + kb + " --filter '{\"near\":{\"key\":\"a\",\"value\":1}}'"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("near"), std::string::npos) << result.stderr_text;
  result = run_command(rag_query("query 'x' --kb " + kb + " --fusion borda"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("borda"), std::string::npos) << result.stderr_text;
  result = run_command(rag_query("query 'x' --kb " + kb + " --mode sideways"));
  EXPECT_EQ(result.exit_code, 2);
}

TEST(RagQueryHybrid, ReindexRebuildsAsAnotherIndexType) {
  TempDir dir;
  write_records(dir / "records.jsonl");
  const std::string kb = quoted(dir / "kb");
  ASSERT_EQ(run_command(rag_query("ingest " + quoted(dir / "records.jsonl") + " --kb " + kb + " -q")).exit_code, 0);
  auto result = run_command(rag_query("reindex --kb " + kb + " --index hnsw --hnsw-m 16"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("reindexed 40 vectors as hnsw"), std::string::npos) << result.stdout_text;
  result = run_command(rag_query("query 'aerotow tug' --kb " + kb + " --mode dense -k 3 --json --explain"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto json = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(json.at("explanation").at("dense_path"), "index:hnsw");
  EXPECT_NE(json["hits"][0].at("text").get<std::string>().find("Aerotow"), std::string::npos);
  result = run_command(rag_query("stats --kb " + kb + " --json"));
  const auto stats = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(stats.at("vector_index"), "hnsw");
  EXPECT_EQ(stats.at("vectors"), 40);
  EXPECT_EQ(stats.at("embedder").at("id"), "lexical-v1/768/english");
}

}  // namespace
