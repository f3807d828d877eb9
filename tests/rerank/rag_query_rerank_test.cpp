// rag-query query --rerank: the chain is built from the command line, --explain shows each stage
// and every hit's rerank score, and bad rerank options fail with a message.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace {

using nlohmann::json;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;

class RagQueryRerank : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string lines;
    const char* topics[] = {"Winch launches lift gliders to 400 metres.", "Aerotow launches use a tug aircraft.",
                            "Thermals form over sunlit fields.", "Ridge lift lets gliders soar along hills."};
    for (int i = 0; i < 12; ++i) {
      lines +=
          json{{"_id", "r" + std::to_string(i)}, {"text", std::string(topics[i % 4]) + " Entry " + std::to_string(i)}}
              .dump() +
          "\n";
    }
    ragline::testing::write_file(dir_ / "records.jsonl", lines);
    kb_ = quoted(dir_ / "kb");
    const auto result = run_command(rag_query("ingest " + quoted(dir_ / "records.jsonl") + " --kb " + kb_ + " -q"));
    ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  }
  TempDir dir_;
  std::string kb_;
};

TEST_F(RagQueryRerank, ChainAndScoresShowInExplain) {
  auto result = run_command(rag_query("query 'gliders lift' --kb " + kb_ +
                                      " -k 3 --json --explain --rerank mmr,reorder --mmr-lambda 0.7 "
                                      "--rerank-candidates 8"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const json output = json::parse(result.stdout_text);
  ASSERT_EQ(output["hits"].size(), 3u);
  const auto& stages = output["explanation"]["rerankers"];
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].get<std::string>().rfind("mmr lambda=0.7 relevance=score in=8 out=3", 0), 0u) << stages[0];
  EXPECT_EQ(stages[1].get<std::string>().rfind("reorder in=3 out=3", 0), 0u) << stages[1];
  EXPECT_TRUE(output["explanation"]["ms"].contains("rerank"));
  for (const auto& hit : output["hits"]) EXPECT_TRUE(hit.contains("rerank_score")) << hit;

  result = run_command(rag_query("query 'gliders lift' --kb " + kb_ +
                                 " -k 2 --explain --rerank mmr"));  // 12 chunks: fewer than the 50 asked for
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("rerank 1: mmr lambda=0.7 relevance=score in=12 out=2"), std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("| rerank "), std::string::npos) << result.stdout_text;
}

TEST_F(RagQueryRerank, HttpOptionsReachTheService) {
  ragline::testing::HttpTestServer server([](const ragline::testing::RecordedRequest& request, std::size_t) {
    const json body = json::parse(request.body);
    json results = json::array();
    for (std::size_t i = 0; i < body["texts"].size(); ++i) results.push_back({{"index", i}, {"score", 1.0 * i}});
    return ragline::testing::TestResponse{200, {}, results.dump(), {}};
  });
  auto result =
      run_command(rag_query("query 'gliders' --kb " + kb_ + " -k 2 --json --rerank http --rerank-format tei " +
                            "--rerank-url " + server.url() + " --rerank-candidates 4 --rerank-min-score 2"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const json output = json::parse(result.stdout_text);
  ASSERT_EQ(output["hits"].size(), 2u);
  EXPECT_DOUBLE_EQ(output["hits"][0]["rerank_score"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(output["hits"][1]["rerank_score"].get<double>(), 2.0);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/rerank");
  EXPECT_EQ(json::parse(server.requests()[0].body)["texts"].size(), 4u);
}

TEST_F(RagQueryRerank, BadRerankOptionsFail) {
  auto result = run_command(rag_query("query 'x' --kb " + kb_ + " --rerank colbert"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("unknown reranker \"colbert\""), std::string::npos) << result.stderr_text;
  result = run_command(rag_query("query 'x' --kb " + kb_ + " --rerank mmr --mmr-lambda 3"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("lambda"), std::string::npos) << result.stderr_text;
}

}  // namespace
