// rag-query against a loopback embedding service: an existing KB keeps its stored endpoint when
// later commands give other embedder options, --rerank http needs --rerank-url, and a hybrid query
// falls back to BM25 (with a warning) when the service fails while a dense query fails.

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "support/http_test_server.hpp"
#include "support/test_support.hpp"
#include "support/toy_embedding.hpp"

namespace {

using nlohmann::json;
using ragline::testing::HttpTestServer;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::RecordedRequest;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::TestResponse;
using ragline::testing::write_file;

TestResponse embeddings_answer(const RecordedRequest& request) {
  TestResponse response;
  response.headers = {{"Content-Type", "application/json"}};
  response.body = json{{"data", ragline::testing::toy_embedding_data(request.body)}}.dump();
  return response;
}

// Any HTTPS request (the public OpenAI API) goes to a dead proxy: the test never reaches the
// internet, even when the endpoint is wrong.
std::string offline(const std::string& command) {
  return "https_proxy=http://127.0.0.1:" + std::to_string(ragline::testing::unused_local_port()) + " " + command;
}

// The defect: one embedder option on a later ingest reset the others, and the endpoint became
// https://api.openai.com. Now the second ingest's requests reach the KB's stored loopback server.
TEST(RagQueryEmbedderService, LaterOptionsKeepTheStoredEndpoint) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return embeddings_answer(request); });
  TempDir dir;
  write_file(dir / "first" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  write_file(dir / "second" / "aerotow.txt", "An aerotow launch uses a tug aircraft.");
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(
      offline(rag_query("ingest " + quoted(dir / "first") + " --kb " + kb +
                        " --embedder openai --embed-model fake-emb --embed-url " + server.url() + " --json -q")));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text << result.stdout_text;
  const std::size_t after_create = server.requests().size();
  ASSERT_GE(after_create, 1u);

  result = run_command(offline(rag_query("ingest " + quoted(dir / "second") + " --kb " + kb +
                                         " --embedder openai --embed-model fake-emb --embed-retries 1 --json -q")));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text << result.stdout_text;
  EXPECT_EQ(json::parse(result.stdout_text).at("chunks_embedded"), 1) << result.stdout_text;
  ASSERT_GT(server.requests().size(), after_create) << "the second ingest did not reach the loopback server";
  EXPECT_EQ(server.requests().back().target, "/v1/embeddings");

  // The stored settings are unchanged: the next command still finds the server.
  result = run_command(offline(rag_query("query 'tug aircraft' --kb " + kb + " --mode dense --json")));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(json::parse(result.stdout_text).at("hits")[0].at("text").get<std::string>().find("tug"), std::string::npos);
}

// --rerank http without --rerank-url is bad usage naming the option; no cloud service is assumed.
TEST(RagQueryEmbedderService, RerankHttpNeedsItsUrl) {
  TempDir dir;
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  const std::string kb = quoted(dir / "kb");
  ASSERT_EQ(run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb + " -q")).exit_code, 0);
  const auto result = run_command(offline(rag_query("query winch --kb " + kb + " --rerank http")));
  EXPECT_EQ(result.exit_code, 2) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("--rerank-url"), std::string::npos) << result.stderr_text;
}

// The embedding service answers 500 at query time: hybrid answers from BM25 with a warning, after
// at most one retry; dense fails naming the endpoint.
TEST(RagQueryEmbedderService, HybridFallsBackToBm25WhenTheServiceFails) {
  std::atomic<bool> failing{false};
  HttpTestServer server([&failing](const RecordedRequest& request, std::size_t) {
    if (failing) return TestResponse{500, {{"Content-Type", "application/json"}}, R"({"error":"down"})"};
    return embeddings_answer(request);
  });
  TempDir dir;
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  write_file(dir / "docs" / "aerotow.txt", "An aerotow launch uses a tug aircraft.");
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb +
                                      " --embedder openai --embed-model fake-emb --embed-url " + server.url() + " -q"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;

  failing = true;
  std::size_t before = server.requests().size();
  result = run_command(rag_query("query 'winch launch' --kb " + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto answer = json::parse(result.stdout_text);
  ASSERT_FALSE(answer.at("hits").empty());
  EXPECT_NE(answer["hits"][0].at("text").get<std::string>().find("winch"), std::string::npos);
  EXPECT_EQ(answer.at("explanation").at("mode"), "bm25");
  ASSERT_EQ(answer.at("explanation").at("warnings").size(), 1u) << answer.dump();
  EXPECT_NE(answer["explanation"]["warnings"][0].get<std::string>().find("BM25 only"), std::string::npos);
  // Query-time embedding: one attempt and at most one retry (ingest's budget is 5 retries).
  EXPECT_EQ(server.requests().size() - before, 2u);

  // --explain shows the warning.
  result = run_command(rag_query("query 'winch launch' --kb " + kb + " --explain"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("warning: the query could not be embedded"), std::string::npos)
      << result.stdout_text;

  before = server.requests().size();
  result = run_command(rag_query("query 'tug aircraft' --kb " + kb + " --mode dense"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find(server.url() + "/v1/embeddings"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(server.requests().size() - before, 2u);
}

}  // namespace
