// rag-query ask end to end: the binary against a loopback chat server started by the test.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "ragline/ask.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ragline::testing::HttpTestServer;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::RecordedRequest;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::TestResponse;
using ragline::testing::write_file;

TestResponse streamed(const std::vector<std::string>& pieces) {
  TestResponse response;
  response.headers = {{"Content-Type", "text/event-stream"}};
  for (const auto& piece : pieces) {
    response.chunks.push_back(
        {10ms, "data: " + json{{"choices", {{{"index", 0}, {"delta", {{"content", piece}}}}}}}.dump() + "\n\n"});
  }
  response.chunks.push_back({5ms, "data: [DONE]\n\n"});
  return response;
}

TestResponse json_answer(const std::string& content) {
  TestResponse response;
  response.headers = {{"Content-Type", "application/json"}};
  response.body =
      json{{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}}}}.dump();
  return response;
}

class RagQueryAsk : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "docs" / "winch.md", "# Winch\n\nA winch launch lifts a glider to about 400 metres.\n");
    write_file(dir_ / "docs" / "aerotow.md", "# Aerotow\n\nAn aerotow launch uses a tug aircraft.\n");
    const auto result = run_command(rag_query("ingest " + quoted(dir_ / "docs") + " --kb " + kb() + " -q"));
    ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  }
  std::string kb() const { return quoted(dir_ / "kb"); }

  TempDir dir_;
};

// The streamed answer is printed, then only the sources it cited; the turn is stored; the second turn carries the
// history to the model; an --api-key-env naming an unset variable is refused first.
TEST_F(RagQueryAsk, StreamsAnswerAndListsUsedSources) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    const auto body = json::parse(request.body);
    const std::string system = body["messages"][0]["content"];
    if (system.find("standalone search query") != std::string::npos) {
      EXPECT_EQ(body["stream"], false);  // the rewrite is never streamed
      return json_answer("winch launch height");
    }
    if (body["stream"] == false) return json_answer("By winch [1].");
    return streamed({"About 400 ", "metres [2]."});
  });
  const std::string ask = "ask 'How high does a winch launch go?' --kb " + kb() +
                          " --llm openai --model m --base-url " + server.url() + " --session s1 --mode bm25 -k 2";
  // A key variable named but unset is refused, by name, before anything is asked.
  auto result = run_command(rag_query(ask + " --api-key-env RAGLINE_NO_SUCH_KEY"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("RAGLINE_NO_SUCH_KEY"), std::string::npos) << result.stderr_text;
  EXPECT_TRUE(server.requests().empty());
  result = run_command(rag_query(ask));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_TRUE(result.stdout_text.starts_with("About 400 metres [2].\n\nSources:\n")) << result.stdout_text;
  // Both pages were in the prompt (k 2); only [2] is listed.
  const auto prompt_body = json::parse(server.requests().at(0).body);
  const std::string user = prompt_body["messages"].back()["content"];
  EXPECT_NE(user.find("[1]"), std::string::npos);
  EXPECT_NE(result.stdout_text.find("  [2] "), std::string::npos) << result.stdout_text;
  EXPECT_EQ(result.stdout_text.find("  [1] "), std::string::npos) << result.stdout_text;
  EXPECT_EQ(prompt_body["stream"], true);
  EXPECT_EQ(prompt_body["model"], "m");

  result = run_command(rag_query("ask 'And how is it done?' --kb " + kb() + " --llm openai --model m --base-url " +
                                 server.url() + " --session s1 --mode bm25 -k 2 --no-stream"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("searched for: winch launch height"), std::string::npos) << result.stderr_text;
  EXPECT_TRUE(result.stdout_text.starts_with("By winch [1].\n\nSources:\n  [1] Winch")) << result.stdout_text;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);  // answer, rewrite, answer
  const auto second = json::parse(requests[2].body);
  ASSERT_EQ(second["messages"].size(), 4u);
  EXPECT_EQ(second["messages"][1]["content"], "How high does a winch launch go?");
  EXPECT_EQ(second["messages"][2]["content"], "About 400 metres [2].");

  const auto stored = ragline::SessionStore::open(dir_ / "kb" / "sessions.sqlite").load("s1");
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[3].status, "answered");
}

// An answer citing nothing says so.
TEST_F(RagQueryAsk, NoCitations) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return streamed({"The sources do not say."}); });
  const auto result = run_command(rag_query("ask 'What colour is the tug?' --kb " + kb() +
                                            " --llm openai --model m --mode bm25 --base-url " + server.url()));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("the answer cites none of the"), std::string::npos) << result.stdout_text;
}

// A dead server: non-zero exit, the endpoint named, and the question kept in the session as failed.
TEST_F(RagQueryAsk, DeadServerKeepsTheQuestion) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(ragline::testing::unused_local_port());
  const auto sessions = dir_ / "chat" / "sessions.sqlite";
  const auto result = run_command(rag_query("ask 'Anyone there?' --kb " + kb() + " --llm openai --model m --base-url " +
                                            dead + " --retries 1 --session s2 --sessions-db " + quoted(sessions)));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find(dead + "/v1/chat/completions failed after 2 attempts"), std::string::npos)
      << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("kept in session \"s2\""), std::string::npos) << result.stderr_text;
  const auto stored = ragline::SessionStore::open(sessions).load("s2");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].content, "Anyone there?");
  EXPECT_EQ(stored[0].status, "failed");
}

// Usage errors exit 2: no model, unknown provider.
TEST_F(RagQueryAsk, UsageErrors) {
  EXPECT_EQ(run_command(rag_query("ask q --kb " + kb() + " --llm openai")).exit_code, 2);
  EXPECT_EQ(run_command(rag_query("ask q --kb " + kb() + " --llm palm --model m")).exit_code, 2);
}

}  // namespace
