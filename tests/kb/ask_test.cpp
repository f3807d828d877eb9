// ask(): retrieval, prompt, streamed answer and session memory against a loopback model server.

#include "ragline/ask.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::TempDir;
using testing::TestResponse;
using testing::write_file;

TestResponse streamed(const std::vector<std::string>& pieces) {
  TestResponse response;
  response.headers = {{"Content-Type", "text/event-stream"}};
  for (const auto& piece : pieces) {
    response.chunks.push_back(
        {5ms, "data: " + json{{"choices", {{{"index", 0}, {"delta", {{"content", piece}}}}}}}.dump() + "\n\n"});
  }
  response.chunks.push_back({5ms, "data: [DONE]\n\n"});
  return response;
}

bool is_rewrite(const RecordedRequest& request) {
  return json::parse(request.body)["messages"][0]["content"].get<std::string>().find("standalone search query") !=
         std::string::npos;
}

struct Fixture {
  TempDir dir;
  KnowledgeBase kb;

  Fixture() : kb(open_kb(dir)) {}

  static KnowledgeBase open_kb(const TempDir& dir) {
    write_file(dir / "docs" / "winch.md", "# Winch\n\nA winch launch lifts a glider to about 400 metres.\n");
    write_file(dir / "docs" / "aerotow.md", "# Aerotow\n\nAn aerotow uses a tug aircraft towing the glider.\n");
    auto kb = KnowledgeBase::open(dir / "kb");
    EXPECT_TRUE(kb.ingest({dir / "docs"}).ok());
    return kb;
  }

  AskOptions options(const std::string& session) const {
    AskOptions ask_options;
    ask_options.query.mode = SearchMode::bm25;
    ask_options.query.k = 2;
    ask_options.session_id = session;
    return ask_options;
  }
};

// Two turns: the first is streamed and stored with the citations it used; the follow-up is rewritten with the
// history, the rewritten query is what gets searched, and the history goes with the second answer request.
TEST(Ask, ConversationWithRewriteAndHistory) {
  Fixture fixture;
  HttpTestServer server([&](const RecordedRequest& request, std::size_t sequence) {
    if (sequence == 0) return streamed({"Winch launches ", "reach about 400 metres [1]."});
    if (is_rewrite(request)) return streamed({"aerotow tug aircraft"});
    return streamed({"A tug tows the glider [1]."});
  });
  LlmConfig config;
  config.model = "m";
  config.base_url = server.url();
  config.api_key_env = "";
  auto model = make_chat_model(config);
  auto sessions = SessionStore::open(SessionStore::default_path(fixture.kb.directory()));

  std::string streamed_text;
  auto first = ask(fixture.kb, *model, &sessions, "How high does a winch launch go?", fixture.options("s"),
                   [&](std::string_view piece) { streamed_text += piece; });
  EXPECT_EQ(streamed_text, "Winch launches reach about 400 metres [1].");
  EXPECT_EQ(first.answer, streamed_text);
  EXPECT_FALSE(first.rewritten);  // no history yet
  ASSERT_EQ(first.used_sources.size(), 1u);
  EXPECT_NE(first.used_sources[0].document_uri.find("winch.md"), std::string::npos);

  const auto first_request = json::parse(server.requests().at(0).body);
  ASSERT_EQ(first_request["messages"].size(), 2u);
  EXPECT_EQ(first_request["messages"][0]["role"], "system");
  const std::string user = first_request["messages"][1]["content"];
  EXPECT_NE(user.find("How high does a winch launch go?"), std::string::npos) << user;
  EXPECT_NE(user.find("400 metres"), std::string::npos) << user;

  // "that other method" matches nothing in the KB: only the rewritten query finds the aerotow page.
  auto second = ask(fixture.kb, *model, &sessions, "And that other method?", fixture.options("s"), {});
  EXPECT_TRUE(second.rewritten);
  EXPECT_EQ(second.search_query, "aerotow tug aircraft");
  ASSERT_FALSE(second.prompt.sources.empty());
  EXPECT_NE(second.prompt.sources[0].document_uri.find("aerotow.md"), std::string::npos);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_TRUE(is_rewrite(requests[1]));
  EXPECT_NE(requests[1].body.find("How high does a winch launch go?"), std::string::npos);
  EXPECT_NE(requests[1].body.find("And that other method?"), std::string::npos);
  const auto answer_request = json::parse(requests[2].body);
  const auto& messages = answer_request["messages"];
  ASSERT_EQ(messages.size(), 4u);  // system, the first question, its answer, the new question
  EXPECT_EQ(messages[1], (json{{"role", "user"}, {"content", "How high does a winch launch go?"}}));
  EXPECT_EQ(messages[2], (json{{"role", "assistant"}, {"content", "Winch launches reach about 400 metres [1]."}}));

  const auto stored = SessionStore::open(SessionStore::default_path(fixture.kb.directory())).load("s");
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0].status, "answered");
  EXPECT_EQ(stored[2].search_query, "aerotow tug aircraft");
  const auto citations = json::parse(stored[1].citations_json);
  ASSERT_EQ(citations.size(), 1u);
  EXPECT_EQ(citations[0]["number"], 1);
}

// A failed rewrite warns and searches the question as asked; --no-rewrite skips the call.
TEST(Ask, RewriteFailureAndNoRewrite) {
  Fixture fixture;
  HttpTestServer server([&](const RecordedRequest& request, std::size_t) {
    if (is_rewrite(request)) return TestResponse{400, {}, "{\"error\":\"no\"}"};
    return streamed({"Answer."});
  });
  LlmConfig config;
  config.model = "m";
  config.base_url = server.url();
  config.api_key_env = "";
  auto model = make_chat_model(config);
  auto sessions = SessionStore::open(fixture.dir / "elsewhere" / "chat.sqlite");
  ask(fixture.kb, *model, &sessions, "winch launch", fixture.options("t"), {});
  std::vector<std::string> warnings;
  const auto result = ask(fixture.kb, *model, &sessions, "tug aircraft?", fixture.options("t"), {},
                          [&](const std::string& warning) { warnings.push_back(warning); });
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("query rewriting failed"), std::string::npos) << warnings[0];
  EXPECT_EQ(result.search_query, "tug aircraft?");
  EXPECT_TRUE(result.used_sources.empty());  // the answer cites nothing

  auto options = fixture.options("t");
  options.rewrite = false;
  const std::size_t before = server.requests().size();
  ask(fixture.kb, *model, &sessions, "winch?", options, {});
  EXPECT_EQ(server.requests().size(), before + 1);
}

// A dead model service: the error names the endpoint, and the question stays in the session marked failed.
TEST(Ask, FailureKeepsTheQuestion) {
  Fixture fixture;
  LlmConfig config;
  config.model = "m";
  config.base_url = "http://127.0.0.1:" + std::to_string(testing::unused_local_port());
  config.api_key_env = "";
  config.max_retries = 1;
  auto model = make_chat_model(config);
  auto sessions = SessionStore::open(SessionStore::default_path(fixture.kb.directory()));
  try {
    ask(fixture.kb, *model, &sessions, "Is anyone there?", fixture.options("dead"), {});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::network);
    EXPECT_NE(std::string(error.what()).find(config.base_url + "/v1/chat/completions"), std::string::npos)
        << error.what();
  }
  const auto stored = sessions.load("dead");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].content, "Is anyone there?");
  EXPECT_EQ(stored[0].status, "failed");
  EXPECT_NE(stored[0].error.find("/v1/chat/completions"), std::string::npos);
  EXPECT_TRUE(conversation_history(stored).empty());
}

}  // namespace
}  // namespace ragline
