// Chat models against a loopback server: request shapes, streaming, retries, timeouts,
// malformed streams, Bedrock Converse signing, sessions, query rewriting and citation markers.

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "net/event_stream.hpp"
#include "ragline/error.hpp"
#include "ragline/generation.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::ScopedEnvironment;
using testing::TempDir;
using testing::TestChunk;
using testing::TestResponse;

std::string delta_event(const std::string& content) {
  return "data: " +
         json{{"choices", {{{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", nullptr}}}}}.dump() +
         "\n\n";
}

std::string finish_event() {
  return "data: " + json{{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}}}}}.dump() +
         "\n\n";
}

// An SSE answer streaming `pieces`, each in its own chunk after a short pause, then [DONE].
TestResponse streamed_answer(const std::vector<std::string>& pieces, bool with_done = true) {
  TestResponse response;
  response.headers = {{"Content-Type", "text/event-stream"}};
  response.chunks.push_back({0ms, ": opening comment\n\n"});
  for (const auto& piece : pieces) response.chunks.push_back({15ms, delta_event(piece)});
  if (with_done) {
    response.chunks.push_back({5ms, finish_event()});
    response.chunks.push_back({5ms, "data: [DONE]\n\n"});
  }
  return response;
}

TestResponse json_answer(const std::string& content) {
  TestResponse response;
  response.headers = {{"Content-Type", "application/json"}};
  response.body =
      json{{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}}}}.dump();
  return response;
}

LlmConfig openai_config(const HttpTestServer& server) {
  LlmConfig config;
  config.model = "test-model";
  config.base_url = server.url();
  config.api_key_env = "";  // no key; tests of the key name their variable
  config.timeout_seconds = 5;
  config.max_retries = 2;
  config.temperature = 0.2;
  config.max_tokens = 77;
  return config;
}

const std::vector<ChatMessage> kMessages = {{"system", "Answer from the sources."}, {"user", "What is a glider?"}};

Error error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "no Error thrown";
  return Error(ErrorKind::internal, "none");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The request carries model, messages, stream flag, temperature, max_tokens and the Bearer key; pieces arrive in order.
TEST(ChatOpenAi, StreamsPiecesInOrder) {
  ScopedEnvironment key("RAGLINE_TEST_CHAT_KEY", "sk-test-0123456789");
  const std::vector<std::string> pieces = {"A glider ", "is an ", "unpowered ", "aircraft ", "[1]."};
  HttpTestServer server([&](const RecordedRequest&, std::size_t) { return streamed_answer(pieces); });
  LlmConfig config = openai_config(server);
  config.api_key_env = "RAGLINE_TEST_CHAT_KEY";
  auto model = make_chat_model(config);
  EXPECT_EQ(model->id(), "openai/test-model");
  std::vector<std::string> received;
  const std::string answer = model->complete(kMessages, [&](std::string_view piece) { received.emplace_back(piece); });
  EXPECT_EQ(answer, "A glider is an unpowered aircraft [1].");
  EXPECT_EQ(received, pieces);

  ASSERT_EQ(server.requests().size(), 1u);
  const auto request = server.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/chat/completions");
  EXPECT_EQ(request.header("authorization").value_or(""), "Bearer sk-test-0123456789");
  EXPECT_EQ(request.header("accept").value_or(""), "text/event-stream");
  const auto body = json::parse(request.body);
  EXPECT_EQ(body.at("model"), "test-model");
  EXPECT_EQ(body.at("stream"), true);
  EXPECT_DOUBLE_EQ(body.at("temperature").get<double>(), 0.2);
  EXPECT_EQ(body.at("max_tokens"), 77);
  ASSERT_EQ(body.at("messages").size(), 2u);
  EXPECT_EQ(body["messages"][0], (json{{"role", "system"}, {"content", "Answer from the sources."}}));
  EXPECT_EQ(body["messages"][1], (json{{"role", "user"}, {"content", "What is a glider?"}}));
}

// Events cut at every byte position by the server's chunks still give the same answer.
TEST(ChatOpenAi, EventsSplitAcrossReads) {
  const std::string stream = delta_event("Hé") + delta_event("llo\nworld") + "data: [DONE]\n\n";
  for (std::size_t cut = 1; cut < stream.size(); cut += 7) {
    HttpTestServer server([&](const RecordedRequest&, std::size_t) {
      TestResponse response;
      response.headers = {{"Content-Type", "text/event-stream"}};
      response.chunks = {{0ms, stream.substr(0, cut)}, {5ms, stream.substr(cut)}};
      return response;
    });
    auto model = make_chat_model(openai_config(server));
    EXPECT_EQ(model->complete(kMessages, {}), "Héllo\nworld") << "cut at " << cut;
  }
}

// With the default key variable unset no Authorization header goes out; a base URL ending in /v1 is not doubled;
// stream false reads one JSON body and calls on_token once.
TEST(ChatOpenAi, NonStreamingWithoutKey) {
  ScopedEnvironment key("OPENAI_API_KEY", nullptr);
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return json_answer("Plain answer."); });
  LlmConfig config = openai_config(server);
  config.api_key_env = "OPENAI_API_KEY";
  config.base_url = server.url() + "/v1/";
  config.stream = false;
  auto model = make_chat_model(config);
  int calls = 0;
  EXPECT_EQ(model->complete(kMessages, [&](std::string_view) { ++calls; }), "Plain answer.");
  EXPECT_EQ(calls, 1);
  const auto request = server.requests().at(0);
  EXPECT_EQ(request.target, "/v1/chat/completions");
  EXPECT_FALSE(request.header("authorization").has_value());
  EXPECT_EQ(json::parse(request.body).at("stream"), false);
}

// A server that ignores "stream": true and answers with JSON is understood.
TEST(ChatOpenAi, JsonAnswerToAStreamRequest) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return json_answer("Whole."); });
  auto model = make_chat_model(openai_config(server));
  std::string received;
  EXPECT_EQ(model->complete(kMessages, [&](std::string_view piece) { received += piece; }), "Whole.");
  EXPECT_EQ(received, "Whole.");
}

// 503 before the stream is retried, then the stream succeeds.
TEST(ChatOpenAi, RetriesBeforeTheStream) {
  HttpTestServer server([](const RecordedRequest&, std::size_t sequence) {
    if (sequence < 2) return TestResponse{503, {{"Retry-After", "0"}}, "busy"};
    return streamed_answer({"ok"});
  });
  auto model = make_chat_model(openai_config(server));
  EXPECT_EQ(model->complete(kMessages, {}), "ok");
  EXPECT_EQ(server.requests().size(), 3u);
}

// A connection dropped in the middle of the answer is an error naming the endpoint, and is not retried.
TEST(ChatOpenAi, BrokenStreamIsNotRetried) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    auto response = streamed_answer({"half ", "an answer"}, /*with_done=*/false);
    response.abort_stream = true;
    return response;
  });
  auto model = make_chat_model(openai_config(server));
  std::string received;
  const auto error = error_of([&] { model->complete(kMessages, [&](std::string_view p) { received += p; }); });
  EXPECT_EQ(error.kind(), ErrorKind::network);
  EXPECT_TRUE(contains(error.what(), server.url() + "/v1/chat/completions")) << error.what();
  EXPECT_TRUE(contains(error.what(), "not retried")) << error.what();
  EXPECT_EQ(received, "half an answer");
  EXPECT_EQ(server.requests().size(), 1u);
}

// A stream that ends cleanly at the HTTP level but without [DONE] or finish_reason is refused as truncated.
TEST(ChatOpenAi, TruncatedStream) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    return streamed_answer({"cut ", "short"}, /*with_done=*/false);
  });
  auto model = make_chat_model(openai_config(server));
  const auto error = error_of([&] { model->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::format);
  EXPECT_TRUE(contains(error.what(), "truncated stream")) << error.what();
}

// Garbage: a data event that is not JSON, an HTML page instead of events, and an error event in the stream.
TEST(ChatOpenAi, MalformedStreams) {
  HttpTestServer garbage([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{0ms, delta_event("fine")}, {5ms, "data: {not json\n\n"}};
    return response;
  });
  auto error = error_of([&] { make_chat_model(openai_config(garbage))->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::format);
  EXPECT_TRUE(contains(error.what(), "malformed stream event: not JSON")) << error.what();

  HttpTestServer html([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.headers = {{"Content-Type", "text/html"}};
    response.chunks = {{0ms, "<html><body>proxy login</body></html>\n"}};
    return response;
  });
  error = error_of([&] { make_chat_model(openai_config(html))->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::format);
  EXPECT_TRUE(contains(error.what(), "no server-sent events")) << error.what();

  HttpTestServer reported([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{0ms, delta_event("par")},
                       {5ms, "data: {\"error\":{\"message\":\"context length exceeded\",\"type\":\"invalid\"}}\n\n"}};
    return response;
  });
  error = error_of([&] { make_chat_model(openai_config(reported))->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::network);
  EXPECT_TRUE(contains(error.what(), "context length exceeded")) << error.what();
}

// A server that never sends a byte runs into the idle limit (timeout_seconds for streams).
TEST(ChatOpenAi, Timeout) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{5000ms, delta_event("late")}};
    return response;
  });
  LlmConfig config = openai_config(server);
  config.timeout_seconds = 0.3;
  config.max_retries = 0;
  const auto error = error_of([&] { make_chat_model(config)->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::network);
  EXPECT_TRUE(contains(error.what(), "no data for 0.3 s")) << error.what();
}

// A base URL's query string (Azure's api-version, a proxy's key) stays at the end, after the joined path, with or
// without /v1 in the base.
TEST(ChatOpenAi, BaseUrlQueryStringStaysAfterThePath) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return streamed_answer({"ok"}); });
  LlmConfig config = openai_config(server);
  config.base_url = server.url() + "/v1?key=Q&api-version=2024-06-01";
  EXPECT_EQ(make_chat_model(config)->complete(kMessages, {}), "ok");
  config.base_url = server.url() + "/openai/?api-version=2024-06-01#ignored";
  EXPECT_EQ(make_chat_model(config)->complete(kMessages, {}), "ok");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/v1/chat/completions?key=Q&api-version=2024-06-01");
  EXPECT_EQ(requests[1].target, "/openai/v1/chat/completions?api-version=2024-06-01");

  // Messages name the endpoint without its query string, which may hold a key.
  HttpTestServer garbage([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{0ms, "data: {not json\n\n"}};
    return response;
  });
  config = openai_config(garbage);
  config.base_url = garbage.url() + "/v1?key=sk-in-the-query";
  const auto error = error_of([&] { make_chat_model(config)->complete(kMessages, {}); });
  EXPECT_TRUE(contains(error.what(), garbage.url() + "/v1/chat/completions: malformed")) << error.what();
  EXPECT_FALSE(contains(error.what(), "sk-in-the-query")) << error.what();
}

// A key variable named in the configuration but unset is an error naming it, before any request; the default
// variable (OPENAI_API_KEY) unset sends no key, and an empty name sends none.
TEST(ChatOpenAi, NamedKeyVariableMustBeSet) {
  ScopedEnvironment named("RAGLINE_TEST_UNSET_CHAT_KEY", nullptr);
  ScopedEnvironment fallback("OPENAI_API_KEY", nullptr);
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return streamed_answer({"ok"}); });
  LlmConfig config = openai_config(server);
  config.api_key_env = "RAGLINE_TEST_UNSET_CHAT_KEY";
  const auto error = error_of([&] { make_chat_model(config); });
  EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
  EXPECT_TRUE(contains(error.what(), "RAGLINE_TEST_UNSET_CHAT_KEY")) << error.what();
  EXPECT_TRUE(server.requests().empty());

  config.api_key_env = "OPENAI_API_KEY";
  EXPECT_EQ(make_chat_model(config)->complete(kMessages, {}), "ok");
  config.api_key_env = "";
  EXPECT_EQ(make_chat_model(config)->complete(kMessages, {}), "ok");
  for (const auto& request : server.requests()) EXPECT_FALSE(request.header("authorization").has_value());
}

// Events without choices (a keep-alive "event: ping" with "data: {}", usage-only chunks) are skipped; a stream
// made only of them is still refused as truncated.
TEST(ChatOpenAi, EventsWithoutChoicesAreSkipped) {
  HttpTestServer server([](const RecordedRequest&, std::size_t sequence) {
    TestResponse response;
    response.headers = {{"Content-Type", "text/event-stream"}};
    response.chunks = {{0ms, "event: ping\ndata: {}\n\n"}};
    if (sequence == 0) {
      response.chunks.push_back({5ms, delta_event("Pinged ")});
      response.chunks.push_back({5ms, "event: ping\ndata: {}\n\n"});
      response.chunks.push_back({5ms, delta_event("answer.")});
      response.chunks.push_back({5ms, "data: {\"usage\": {\"total_tokens\": 9}}\n\n"});
      response.chunks.push_back({5ms, finish_event()});
      response.chunks.push_back({5ms, "data: [DONE]\n\n"});
    }
    return response;
  });
  LlmConfig config = openai_config(server);
  config.max_retries = 0;
  auto model = make_chat_model(config);
  EXPECT_EQ(model->complete(kMessages, {}), "Pinged answer.");
  const auto error = error_of([&] { model->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::format);
  EXPECT_TRUE(contains(error.what(), "truncated stream")) << error.what();
}

// Unknown providers and a missing model are refused by name.
TEST(ChatModel, ConfigErrors) {
  LlmConfig config;
  config.provider = "palm";
  config.model = "x";
  EXPECT_TRUE(contains(error_of([&] { make_chat_model(config); }).what(), "unknown llm provider \"palm\""));
  config.provider = "openai";
  config.model.clear();
  EXPECT_TRUE(contains(error_of([&] { make_chat_model(config); }).what(), "a model is required"));
}

// Bedrock Converse: signed with SigV4 for the model path, system apart, alternating roles; the text blocks are joined.
TEST(ChatBedrock, ConverseRequestIsSigned) {
  ScopedEnvironment id("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  ScopedEnvironment secret("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  ScopedEnvironment token("AWS_SESSION_TOKEN", nullptr);
  HttpTestServer server([](const RecordedRequest&, std::size_t sequence) {
    if (sequence == 0) return TestResponse{500, {}, "{\"message\":\"internal\"}"};
    TestResponse response;
    response.body = json{
        {"output",
         {{"message", {{"role", "assistant"}, {"content", {{{"text", "Gliders soar "}}, {{"text", "[2]."}}}}}}}},
        {"stopReason",
         "end_turn"}}.dump();
    return response;
  });
  LlmConfig config;
  config.provider = "bedrock";
  config.model = "anthropic.claude-3-haiku-20240307-v1:0";
  config.base_url = server.url();
  config.region = "eu-west-1";
  config.max_tokens = 300;
  config.max_retries = 1;
  config.stream = false;
  auto model = make_chat_model(config);
  std::vector<std::string> received;
  const std::vector<ChatMessage> messages = {{"system", "Be brief."},
                                             {"user", "First?"},
                                             {"assistant", "One."},
                                             {"user", "Sources: ..."},
                                             {"user", "Second?"}};
  EXPECT_EQ(model->complete(messages, [&](std::string_view piece) { received.emplace_back(piece); }),
            "Gliders soar [2].");
  EXPECT_EQ(received.size(), 1u);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const auto& request = requests[1];
  EXPECT_EQ(request.target, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
  const std::string authorization = request.header("authorization").value_or("");
  EXPECT_TRUE(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << authorization;
  EXPECT_TRUE(contains(authorization, "/eu-west-1/bedrock/aws4_request")) << authorization;
  EXPECT_TRUE(request.header("x-amz-date").has_value());
  const auto body = json::parse(request.body);
  EXPECT_EQ(body.at("system"), (json::array({{{"text", "Be brief."}}})));
  ASSERT_EQ(body.at("messages").size(), 3u);
  EXPECT_EQ(body["messages"][0], (json{{"role", "user"}, {"content", {{{"text", "First?"}}}}}));
  EXPECT_EQ(body["messages"][1]["role"], "assistant");
  EXPECT_EQ(body["messages"][2]["content"][0]["text"], "Sources: ...\n\nSecond?");
  EXPECT_EQ(body.at("inferenceConfig").at("maxTokens"), 300);
}

SessionMessage stored(std::string role, std::string content, std::string status, std::string citations = "[]") {
  SessionMessage message;
  message.role = std::move(role);
  message.content = std::move(content);
  message.status = std::move(status);
  message.citations_json = std::move(citations);
  return message;
}

std::string bedrock_event(const std::string& type, const std::string& payload) {
  return net::encode_event_stream_message(
      {{":event-type", type}, {":content-type", "application/json"}, {":message-type", "event"}}, payload);
}

// ConverseStream: the signed request goes to /converse-stream; contentBlockDelta texts stream out in order.
TEST(ChatBedrock, ConverseStream) {
  ScopedEnvironment id("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  ScopedEnvironment secret("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    TestResponse response;
    response.headers = {{"Content-Type", "application/vnd.amazon.eventstream"}};
    const std::string stream =
        bedrock_event("messageStart", "{\"role\":\"assistant\"}") +
        bedrock_event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Tow \"}}") +
        bedrock_event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"planes [1].\"}}") +
        bedrock_event("contentBlockStop", "{\"contentBlockIndex\":0}");
    const std::string stop = bedrock_event("messageStop", "{\"stopReason\":\"end_turn\"}");
    // Cut inside the second message, so a frame spans two reads.
    response.chunks = {{0ms, stream.substr(0, 150)}, {10ms, stream.substr(150)}};
    if (request.body.find("truncate me") == std::string::npos) {
      response.chunks.push_back({10ms, stop});
    } else {
      response.chunks.push_back({10ms, stop.substr(0, 20)});
    }
    return response;
  });
  LlmConfig config;
  config.provider = "bedrock";
  config.model = "amazon.nova-lite-v1:0";
  config.base_url = server.url();
  auto model = make_chat_model(config);
  std::vector<std::string> received;
  EXPECT_EQ(model->complete(kMessages, [&](std::string_view piece) { received.emplace_back(piece); }),
            "Tow planes [1].");
  EXPECT_EQ(received, (std::vector<std::string>{"Tow ", "planes [1]."}));
  const auto request = server.requests().at(0);
  EXPECT_EQ(request.target, "/model/amazon.nova-lite-v1%3A0/converse-stream");
  EXPECT_TRUE(request.header("authorization").value_or("").starts_with("AWS4-HMAC-SHA256 "));

  const auto error = error_of([&] { model->complete({{"user", "truncate me"}}, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::format);
  EXPECT_TRUE(contains(error.what(), "truncated stream: it ended before messageStop inside a message")) << error.what();
}

// An exception message in the stream is an error naming its type and message.
TEST(ChatBedrock, StreamException) {
  ScopedEnvironment id("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  ScopedEnvironment secret("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{0ms, net::encode_event_stream_message(
                                 {{":message-type", "exception"}, {":exception-type", "throttlingException"}},
                                 "{\"message\":\"Too many tokens, please wait\"}")}};
    return response;
  });
  LlmConfig config;
  config.provider = "bedrock";
  config.model = "m";
  config.base_url = server.url();
  const auto error = error_of([&] { make_chat_model(config)->complete(kMessages, {}); });
  EXPECT_EQ(error.kind(), ErrorKind::network);
  EXPECT_TRUE(contains(error.what(), "throttlingException in the stream: Too many tokens")) << error.what();
}

// Sessions persist across opens; failed questions are kept but left out of the history; the schema is versioned.
TEST(SessionStore, PersistsAcrossOpens) {
  TempDir dir;
  const auto path = SessionStore::default_path(dir.path());
  {
    auto store = SessionStore::open(path);
    const auto asked = store.append("s1", stored("user", "What is lift?", "pending"));
    store.append("s1", stored("assistant", "Lift is a force [1].", "answered", "[{\"number\":1}]"));
    store.update_status(asked, "answered", "", "lift definition");
    const auto failed = store.append("s1", stored("user", "And drag?", "pending"));
    store.update_status(failed, "failed", "POST http://x/v1/chat/completions failed: HTTP 503");
    store.append("other", stored("user", "Unrelated", "pending"));
  }
  auto store = SessionStore::open(path);
  const auto messages = store.load("s1");
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].search_query, "lift definition");
  EXPECT_EQ(messages[1].citations_json, "[{\"number\":1}]");
  EXPECT_EQ(messages[2].status, "failed");
  EXPECT_TRUE(contains(messages[2].error, "HTTP 503"));
  EXPECT_FALSE(messages[0].created_at.empty());
  const auto history = conversation_history(messages);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].content, "What is lift?");
  EXPECT_EQ(history[1].role, "assistant");
  EXPECT_TRUE(store.load("nobody").empty());
  EXPECT_EQ(store.sessions().size(), 2u);
  EXPECT_EQ(error_of([&] { store.append("s1", stored("tool", "x", "pending")); }).kind(), ErrorKind::invalid_argument);
}

// A model that records its calls and answers from a script.
class ScriptedModel final : public ChatModel {
 public:
  explicit ScriptedModel(std::vector<std::string> answers) : answers_(std::move(answers)) {}
  std::string complete(const std::vector<ChatMessage>& messages, const TokenHandler& on_token) override {
    calls.push_back(messages);
    const std::string answer = answers_.at(calls.size() - 1);
    if (on_token) on_token(answer);
    return answer;
  }
  std::string id() const override { return "scripted"; }
  std::vector<std::vector<ChatMessage>> calls;

 private:
  std::vector<std::string> answers_;
};

// The rewrite call sees the recent history and the question; quotes and extra lines are stripped.
TEST(RewriteQuery, UsesHistoryAndCleansTheAnswer) {
  ScriptedModel model({"\"glider winch launch height\"\nbecause...", "  "});
  const std::vector<ChatMessage> history = {{"user", "How are gliders launched?"},
                                            {"assistant", "By winch or aerotow [1]."}};
  EXPECT_EQ(rewrite_query(model, history, "How high does the first one go?"), "glider winch launch height");
  ASSERT_EQ(model.calls.size(), 1u);
  const auto& call = model.calls[0];
  ASSERT_EQ(call.size(), 2u);
  EXPECT_EQ(call[0].role, "system");
  EXPECT_TRUE(contains(call[1].content, "user: How are gliders launched?"));
  EXPECT_TRUE(contains(call[1].content, "assistant: By winch or aerotow [1]."));
  EXPECT_TRUE(contains(call[1].content, "How high does the first one go?"));
  EXPECT_EQ(rewrite_query(model, history, "as asked"), "as asked");  // a blank answer keeps the question
}

// [n], [n, m] and [n][m] count; other brackets and out-of-range numbers do not.
TEST(CitedNumbers, ParsesMarkers) {
  EXPECT_EQ(cited_numbers("A [2]. B [1, 3][2]. C [x] [7] [] [4-5] [ 1 ]", 5), (std::vector<int>{2, 1, 3}));
  EXPECT_TRUE(cited_numbers("no citations", 3).empty());
  EXPECT_TRUE(cited_numbers("[1]", 0).empty());
}

// The llama.cpp counter posts {"content"} to /tokenize, counts the tokens and caches repeated texts.
TEST(LlamaTokenCounter, CountsAndCaches) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    const auto text = json::parse(request.body).at("content").get<std::string>();
    json tokens = json::array();
    for (std::size_t i = 0; i < text.size(); i += 2) tokens.push_back(static_cast<int>(i));
    return TestResponse{200, {}, json{{"tokens", tokens}}.dump()};
  });
  const auto count = make_llama_token_counter(server.url() + "/");
  EXPECT_EQ(count("abcdef"), 3u);
  EXPECT_EQ(count("abcdef"), 3u);
  EXPECT_EQ(count("a"), 1u);
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[0].target, "/tokenize");
}

}  // namespace
}  // namespace ragline
