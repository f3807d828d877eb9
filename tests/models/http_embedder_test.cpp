// The OpenAI-compatible and Amazon Bedrock embedders against a loopback HTTP server: request
// shapes, batching, retries, failures and their messages, and SigV4 signatures checked by an
// independent Python implementation.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/embedder.hpp"
#include "ragline/error.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace ragline::models {
namespace {

using nlohmann::json;
using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::ScopedEnvironment;
using testing::TestResponse;

constexpr const char* kKeyVariable = "RAGLINE_TEST_EMBEDDING_KEY";
const std::string kApiKey = "sk-ragline-test-5f2c9a7e1b3d";

// Text "text-<n>" embeds as (1, n, 0, 0): after normalisation row[1] / row[0] recovers n.
std::vector<float> vector_for(const std::string& text) {
  const auto dash = text.rfind('-');
  return {1.0f, static_cast<float>(std::stoi(text.substr(dash + 1))), 0.0f, 0.0f};
}

std::vector<std::string> numbered_texts(int count, std::size_t padding = 0) {
  std::vector<std::string> texts;
  for (int i = 0; i < count; ++i) texts.push_back(std::string(padding, 'p') + "text-" + std::to_string(i));
  return texts;
}

// An OpenAI-style answer for the request's inputs, listed in reverse order of index.
TestResponse openai_answer(const RecordedRequest& request) {
  const json body = json::parse(request.body);
  json data = json::array();
  const auto& input = body["input"];
  for (std::size_t i = input.size(); i-- > 0;) {
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", vector_for(input[i].get<std::string>())}});
  }
  return {200, {{"Content-Type", "application/json"}}, json{{"object", "list"}, {"data", data}}.dump(), {}};
}

EmbedderConfig openai_config(const HttpTestServer& server) {
  EmbedderConfig config;
  config.name = "openai";
  config.model = "text-embedding-3-small";
  config.dimension = 4;
  config.base_url = server.url();
  config.api_key_env = "";  // no key; tests of the key name their variable
  config.timeout_seconds = 5;
  config.max_retries = 2;
  return config;
}

void expect_rows_match_texts(const EmbeddingMatrix& matrix, const std::vector<std::string>& texts) {
  ASSERT_EQ(matrix.rows, texts.size());
  ASSERT_EQ(matrix.dimension, 4u);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto row = matrix.row(i);
    EXPECT_NEAR(row[0] * row[0] + row[1] * row[1], 1.0, 1e-5) << "row " << i << " is not unit length";
    EXPECT_NEAR(row[1] / row[0], vector_for(texts[i])[1], 1e-3) << "row " << i << " is out of order";
  }
}

// Runs `action`, expects an Error and returns its message.
template <typename Action>
std::string error_message(Action action, std::optional<ErrorKind> kind = std::nullopt) {
  try {
    action();
  } catch (const Error& error) {
    if (kind) {
      EXPECT_EQ(error.kind(), *kind) << error.what();
    }
    return error.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return {};
}

// ---- OpenAI-compatible --------------------------------------------------------------------------

// Body carries model, input, dimensions and encoding_format; Authorization only when the default key variable is set
// (it is read at each call).
TEST(OpenAiEmbedder, RequestBodyAndAuthorization) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return openai_answer(request); });
  ScopedEnvironment unset("OPENAI_API_KEY", nullptr);
  EmbedderConfig config = openai_config(server);
  config.api_key_env = "OPENAI_API_KEY";
  auto embedder = make_openai_embedder(config);
  EXPECT_EQ(embedder->id(), "openai/text-embedding-3-small/4");
  EXPECT_EQ(embedder->dimension(), 4u);
  const std::vector<std::string> texts = {"text-1", "text-2"};
  expect_rows_match_texts(embedder->embed(texts, EmbedPurpose::document), texts);
  {
    ScopedEnvironment key("OPENAI_API_KEY", kApiKey);
    embedder->embed(texts, EmbedPurpose::query);
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1/embeddings");
  EXPECT_EQ(requests[0].header("content-type"), "application/json");
  EXPECT_FALSE(requests[0].header("authorization").has_value());
  EXPECT_EQ(requests[1].header("authorization"), "Bearer " + kApiKey);
  const json body = json::parse(requests[0].body);
  EXPECT_EQ(body["model"], "text-embedding-3-small");
  EXPECT_EQ(body["input"], json::array({"text-1", "text-2"}));
  EXPECT_EQ(body["dimensions"], 4);
  EXPECT_EQ(body["encoding_format"], "float");
}

// A base URL ending in /v1 is not given a second /v1; without a configured dimension none is sent and the
// model's own is learnt from the first response.
TEST(OpenAiEmbedder, BaseUrlWithV1AndLearntDimension) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return openai_answer(request); });
  EmbedderConfig config = openai_config(server);
  config.base_url = server.url() + "/v1/";
  config.dimension = 0;
  auto embedder = make_openai_embedder(config);
  EXPECT_EQ(embedder->dimension(), 0u);
  EXPECT_EQ(embedder->embed({}, EmbedPurpose::document).rows, 0u);
  EXPECT_TRUE(server.requests().empty());
  embedder->embed(numbered_texts(1), EmbedPurpose::document);
  EXPECT_EQ(embedder->dimension(), 4u);
  EXPECT_EQ(embedder->id(), "openai/text-embedding-3-small/4");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/v1/embeddings");
  EXPECT_FALSE(json::parse(requests[0].body).contains("dimensions"));
}

// batch_size cuts by count; three requests are on the wire together (the server holds each until three have
// arrived); rows come back in input order although responses list them reversed.
TEST(OpenAiEmbedder, BatchesByCountWithRequestsInFlight) {
  std::mutex mutex;
  std::condition_variable arrived;
  std::size_t seen = 0;
  bool three_at_once = false;
  HttpTestServer server([&](const RecordedRequest& request, std::size_t) {
    std::unique_lock lock(mutex);
    if (++seen == 3) arrived.notify_all();
    if (arrived.wait_for(lock, std::chrono::seconds(10), [&] { return seen >= 3; }) && seen <= 3) {
      three_at_once = true;
    }
    return openai_answer(request);
  });
  EmbedderConfig config = openai_config(server);
  config.batch_size = 3;
  config.max_in_flight = 3;
  auto embedder = make_openai_embedder(config);
  const auto texts = numbered_texts(10);
  expect_rows_match_texts(embedder->embed(texts, EmbedPurpose::document), texts);
  std::vector<std::size_t> sizes;
  for (const auto& request : server.requests()) sizes.push_back(json::parse(request.body)["input"].size());
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 3, 3, 3}));
  EXPECT_TRUE(three_at_once);
  EXPECT_LE(server.peak_concurrency(), 3u);
}

// batch_bytes cuts by request text size; a text longer than the limit goes alone.
TEST(OpenAiEmbedder, BatchesByBytes) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return openai_answer(request); });
  EmbedderConfig config = openai_config(server);
  config.batch_bytes = 40;  // two 16-byte texts fit, three do not
  config.max_in_flight = 1;
  auto embedder = make_openai_embedder(config);
  auto texts = numbered_texts(5, 10);
  texts.insert(texts.begin() + 2, std::string(100, 'q') + "text-99");
  expect_rows_match_texts(embedder->embed(texts, EmbedPurpose::document), texts);
  std::vector<std::vector<std::string>> inputs;
  for (const auto& request : server.requests()) inputs.push_back(json::parse(request.body)["input"]);
  ASSERT_EQ(inputs.size(), 4u);  // max_in_flight 1: in order
  EXPECT_EQ(inputs[0], (std::vector<std::string>{texts[0], texts[1]}));
  EXPECT_EQ(inputs[1], (std::vector<std::string>{texts[2]}));
  EXPECT_EQ(inputs[2], (std::vector<std::string>{texts[3], texts[4]}));
  EXPECT_EQ(inputs[3], (std::vector<std::string>{texts[5]}));
}

// 429 with Retry-After: 0, then success.
TEST(OpenAiEmbedder, RetriesAfter429) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t sequence) {
    if (sequence == 0) return TestResponse{429, {{"Retry-After", "0"}}, R"({"error":"rate limited"})", {}};
    return openai_answer(request);
  });
  const auto texts = numbered_texts(2);
  expect_rows_match_texts(make_openai_embedder(openai_config(server))->embed(texts, EmbedPurpose::document), texts);
  EXPECT_EQ(server.requests().size(), 2u);
}

// 503 (no Retry-After: exponential backoff), then success.
TEST(OpenAiEmbedder, RetriesAfter503) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t sequence) {
    if (sequence == 0) return TestResponse{503, {}, "overloaded", {}};
    return openai_answer(request);
  });
  const auto texts = numbered_texts(3);
  expect_rows_match_texts(make_openai_embedder(openai_config(server))->embed(texts, EmbedPurpose::document), texts);
  EXPECT_EQ(server.requests().size(), 2u);
}

// A server slower than the per-request timeout: every attempt times out, the error names the endpoint.
TEST(OpenAiEmbedder, TimeoutAfterRetries) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    TestResponse response = openai_answer(request);
    response.delay = std::chrono::seconds(5);
    return response;
  });
  EmbedderConfig config = openai_config(server);
  config.timeout_seconds = 0.2;
  config.max_retries = 1;
  auto embedder = make_openai_embedder(config);
  const std::string message = error_message([&] { embedder->embed(numbered_texts(1), EmbedPurpose::document); });
  EXPECT_NE(message.find(server.url() + "/v1/embeddings"), std::string::npos) << message;
  EXPECT_NE(message.find("after 2 attempts"), std::string::npos) << message;
  EXPECT_NE(message.find("Timeout"), std::string::npos) << message;
  EXPECT_EQ(server.requests().size(), 2u);
}

// Bodies that are not JSON, or JSON of the wrong shape, are errors naming the endpoint and the problem.
TEST(OpenAiEmbedder, MalformedResponses) {
  struct Case {
    std::string body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"not json at all", "not JSON"},
      {R"({"object":"list"})", "no \"data\" array"},
      {R"({"data":[{"index":0,"embedding":[1,0,0,0]}]})", "1 embeddings for 2 inputs"},
      {R"({"data":[{"index":0,"embedding":[1,0,0,0]},{"index":0,"embedding":[1,0,0,0]}]})", "repeated"},
      {R"({"data":[{"index":0,"embedding":[1,0,0,0]},{"index":1,"embedding":[1,0,0]}]})", "3 values, expected 4"},
      {R"({"data":[{"index":0,"embedding":[1,0,0,0]},{"index":1,"embedding":"AAAA"}]})", "not an array"},
      {R"({"data":[{"index":0,"embedding":[1,0,0,0]},{"index":1,"embedding":[1,"x",0,0]}]})", "not a number"},
  };
  for (const auto& test_case : cases) {
    HttpTestServer server([&](const RecordedRequest&, std::size_t) {
      return TestResponse{200, {}, test_case.body, {}};
    });
    auto embedder = make_openai_embedder(openai_config(server));
    const std::string message =
        error_message([&] { embedder->embed(numbered_texts(2), EmbedPurpose::document); }, ErrorKind::format);
    EXPECT_NE(message.find(server.url() + "/v1/embeddings"), std::string::npos) << message;
    EXPECT_NE(message.find(test_case.expected), std::string::npos) << message;
    EXPECT_EQ(server.requests().size(), 1u) << "a malformed 200 is not retried";
  }
}

// A 400 fails at once with the status and the service's explanation.
TEST(OpenAiEmbedder, BadRequestIsNotRetried) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    return TestResponse{400, {}, R"({"error":{"message":"input too long"}})", {}};
  });
  const std::string message = error_message(
      [&] { make_openai_embedder(openai_config(server))->embed(numbered_texts(1), EmbedPurpose::document); });
  EXPECT_NE(message.find("POST " + server.url() + "/v1/embeddings failed: HTTP 400"), std::string::npos) << message;
  EXPECT_NE(message.find("input too long"), std::string::npos) << message;
  EXPECT_EQ(server.requests().size(), 1u);
}

// No error message ever shows the API key, even when the server echoes the Authorization header back.
TEST(OpenAiEmbedder, ApiKeyNeverInErrors) {
  ScopedEnvironment key(kKeyVariable, kApiKey);
  const std::vector<TestResponse> answers = {
      {401, {}, "", {}},
      {400, {}, "", {}},
      {500, {}, "", {}},
      {200, {}, "", {}},
  };
  for (const auto& answer : answers) {
    HttpTestServer server([&](const RecordedRequest& request, std::size_t) {
      TestResponse response = answer;
      response.body = "{\"echo\":\"" + request.header("authorization").value_or("") + "\", \"key\":\"" +
                      request.header("authorization").value_or("").substr(7) + "\"}";
      return response;
    });
    EmbedderConfig config = openai_config(server);
    config.api_key_env = kKeyVariable;
    config.max_retries = 0;
    const std::string message =
        error_message([&] { make_openai_embedder(config)->embed(numbered_texts(1), EmbedPurpose::document); });
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find(kApiKey), std::string::npos) << message;
    EXPECT_EQ(message.find(kApiKey.substr(0, 12)), std::string::npos) << message;
  }
}

// A key variable named in the configuration but unset fails the call, naming the variable, before any request;
// once it is set the key is sent.
TEST(OpenAiEmbedder, NamedKeyVariableMustBeSet) {
  ScopedEnvironment unset(kKeyVariable, nullptr);
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return openai_answer(request); });
  EmbedderConfig config = openai_config(server);
  config.api_key_env = kKeyVariable;
  auto embedder = make_openai_embedder(config);
  const std::string message =
      error_message([&] { embedder->embed(numbered_texts(1), EmbedPurpose::document); }, ErrorKind::invalid_argument);
  EXPECT_NE(message.find(kKeyVariable), std::string::npos) << message;
  EXPECT_TRUE(server.requests().empty());
  ScopedEnvironment key(kKeyVariable, kApiKey);
  embedder->embed(numbered_texts(1), EmbedPurpose::document);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].header("authorization"), "Bearer " + kApiKey);
}

// A base URL's query string stays after the joined path.
TEST(OpenAiEmbedder, BaseUrlQueryStringStaysAfterThePath) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return openai_answer(request); });
  EmbedderConfig config = openai_config(server);
  config.base_url = server.url() + "/v1/?api-version=2024-06-01";
  make_openai_embedder(config)->embed(numbered_texts(1), EmbedPurpose::document);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/v1/embeddings?api-version=2024-06-01");
}

// Bad settings are refused when the embedder is made.
TEST(OpenAiEmbedder, RejectsBadConfig) {
  EmbedderConfig config;
  config.name = "openai";
  EXPECT_NE(error_message([&] { make_openai_embedder(config); }, ErrorKind::invalid_argument).find("model"),
            std::string::npos);
  config.model = "m";
  config.batch_size = 0;
  EXPECT_NE(error_message([&] { make_openai_embedder(config); }, ErrorKind::invalid_argument).find("batch_size"),
            std::string::npos);
  config.batch_size = 8;
  config.dimension = -1;
  EXPECT_NE(error_message([&] { make_openai_embedder(config); }, ErrorKind::invalid_argument).find("dimension"),
            std::string::npos);
}

// ---- Amazon Bedrock -----------------------------------------------------------------------------

const std::string kAccessKey = "AKIDRAGLINETEST";
const std::string kSecretKey = "ragline/secret+key/for/loopback/tests";
const std::string kSessionToken = "ragline-session-token-for-tests";

class BedrockEmbedderTest : public ::testing::Test {
 protected:
  ScopedEnvironment access_{"AWS_ACCESS_KEY_ID", kAccessKey};
  ScopedEnvironment secret_{"AWS_SECRET_ACCESS_KEY", kSecretKey};
  ScopedEnvironment token_{"AWS_SESSION_TOKEN", kSessionToken};
};

EmbedderConfig bedrock_config(const HttpTestServer& server, std::string model = "") {
  EmbedderConfig config;
  config.name = "bedrock";
  config.model = std::move(model);
  config.base_url = server.url();
  config.region = "eu-west-1";
  config.timeout_seconds = 5;
  config.max_retries = 2;
  return config;
}

// The Authorization header a Bedrock request should carry, computed by Python's hmac and hashlib from the
// request's fixed inputs (model id, host, body, date, keys), independently of the C++ signer.
std::string python_bedrock_authorization(const std::string& model, const std::string& host, const std::string& body,
                                         const std::string& amz_date) {
  testing::TempDir directory;
  testing::write_file(directory / "inputs.json", json{{"model", model},
                                                      {"host", host},
                                                      {"body", body},
                                                      {"date", amz_date},
                                                      {"region", "eu-west-1"},
                                                      {"access", kAccessKey},
                                                      {"secret", kSecretKey},
                                                      {"token", kSessionToken}}
                                                     .dump());
  testing::write_file(directory / "sign.py", R"PY(
import hashlib, hmac, json, sys, urllib.parse
i = json.load(open(sys.argv[1]))
unreserved = "-._~"
# Non-S3 services sign the path segment encoded twice: ':' -> %3A -> %253A.
path = "/model/" + urllib.parse.quote(urllib.parse.quote(i["model"], safe=unreserved), safe=unreserved) + "/invoke"
headers = {"accept": "application/json", "content-type": "application/json", "host": i["host"],
           "x-amz-date": i["date"], "x-amz-security-token": i["token"]}
names = sorted(headers)
canonical = "\n".join(["POST", path, "", "".join(n + ":" + headers[n] + "\n" for n in names), ";".join(names),
                       hashlib.sha256(i["body"].encode()).hexdigest()])
scope = i["date"][:8] + "/" + i["region"] + "/bedrock/aws4_request"
to_sign = "\n".join(["AWS4-HMAC-SHA256", i["date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
key = ("AWS4" + i["secret"]).encode()
for part in (i["date"][:8], i["region"], "bedrock", "aws4_request"):
    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
sys.stdout.write("AWS4-HMAC-SHA256 Credential=" + i["access"] + "/" + scope + ", SignedHeaders=" + ";".join(names) +
                 ", Signature=" + signature)
)PY");
  const auto result = testing::run_command("/usr/bin/python3 " + (directory / "sign.py").string() + " " +
                                           (directory / "inputs.json").string());
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  return result.stdout_text;
}

// Titan v2 (the default model): one text per request to /model/amazon.titan-embed-text-v2%3A0/invoke, body
// {inputText, dimensions, normalize}, signed with SigV4 as Python computes it.
TEST_F(BedrockEmbedderTest, TitanRequestsAndSignature) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    const json body = json::parse(request.body);
    std::vector<float> embedding = vector_for(body["inputText"]);
    embedding.resize(256, 0.0f);
    return TestResponse{200, {}, json{{"embedding", embedding}, {"inputTextTokenCount", 2}}.dump(), {}};
  });
  EmbedderConfig config = bedrock_config(server);
  config.dimension = 256;
  auto embedder = make_bedrock_embedder(config);
  EXPECT_EQ(embedder->id(), "bedrock/amazon.titan-embed-text-v2:0/256");
  const auto texts = numbered_texts(3);
  const auto matrix = embedder->embed(texts, EmbedPurpose::document);
  ASSERT_EQ(matrix.rows, 3u);
  ASSERT_EQ(matrix.dimension, 256u);
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_NEAR(matrix.row(i)[1] / matrix.row(i)[0], i, 1e-3);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& request : requests) {
    EXPECT_EQ(request.target, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    EXPECT_EQ(request.header("x-amz-security-token"), kSessionToken);
  }
  const auto& first = requests[0];
  const std::string text = json::parse(first.body)["inputText"];
  const std::string expected_body = R"({"dimensions":256,"inputText":")" + text + R"(","normalize":true})";
  ASSERT_EQ(first.body, expected_body);
  const std::string amz_date = first.header("x-amz-date").value_or("");
  ASSERT_EQ(amz_date.size(), 16u);
  const std::string expected_authorization = python_bedrock_authorization(
      "amazon.titan-embed-text-v2:0", "127.0.0.1:" + std::to_string(server.port()), expected_body, amz_date);
  EXPECT_NE(expected_authorization.find("/eu-west-1/bedrock/aws4_request"), std::string::npos);
  EXPECT_EQ(first.header("authorization"), expected_authorization);
}

// Titan accepts 256, 512 and 1024 only; an unknown model family is refused.
TEST_F(BedrockEmbedderTest, RejectsBadDimensionAndModel) {
  EmbedderConfig config;
  config.name = "bedrock";
  config.dimension = 300;
  EXPECT_NE(error_message([&] { make_bedrock_embedder(config); }, ErrorKind::invalid_argument).find("256, 512 or 1024"),
            std::string::npos);
  config.dimension = 0;
  EXPECT_EQ(make_bedrock_embedder(config)->id(), "bedrock/amazon.titan-embed-text-v2:0/1024");
  config.model = "meta.llama3-8b-instruct-v1:0";
  error_message([&] { make_bedrock_embedder(config); }, ErrorKind::unsupported);
}

// Cohere v3: batches of at most 96 texts with input_type by purpose and truncate END; {"embeddings": [[...]]}.
TEST_F(BedrockEmbedderTest, CohereBatchesAndInputType) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    json embeddings = json::array();
    const json body = json::parse(request.body);
    for (const auto& text : body["texts"]) {
      std::vector<float> embedding = vector_for(text);
      embedding.resize(1024, 0.0f);
      embeddings.push_back(embedding);
    }
    return TestResponse{200, {}, json{{"id", "x"}, {"embeddings", embeddings}}.dump(), {}};
  });
  EmbedderConfig config = bedrock_config(server, "cohere.embed-english-v3");
  config.batch_size = 500;  // Cohere takes 96 texts at most
  auto embedder = make_bedrock_embedder(config);
  EXPECT_EQ(embedder->id(), "bedrock/cohere.embed-english-v3/1024");
  const auto texts = numbered_texts(100);
  const auto matrix = embedder->embed(texts, EmbedPurpose::query);
  ASSERT_EQ(matrix.rows, 100u);
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_NEAR(matrix.row(i)[1] / matrix.row(i)[0], i, 1e-2);
  embedder->embed(numbered_texts(1), EmbedPurpose::document);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  std::vector<std::size_t> sizes;
  for (const auto& request : requests) {
    EXPECT_EQ(request.target, "/model/cohere.embed-english-v3/invoke");
    const json body = json::parse(request.body);
    EXPECT_EQ(body["truncate"], "END");
    EXPECT_EQ(body["input_type"], body["texts"].size() == 1 ? "search_document" : "search_query");
    sizes.push_back(body["texts"].size());
  }
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 4, 96}));
}

// Cohere v4 with a dimension: output_dimension and embedding_types are sent; {"embeddings": {"float": ...}} read.
TEST_F(BedrockEmbedderTest, CohereFloatEmbeddingsObject) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    json floats = json::array();
    const json body = json::parse(request.body);
    for (const auto& text : body["texts"]) {
      std::vector<float> embedding = vector_for(text);
      embedding.resize(256, 0.0f);
      floats.push_back(embedding);
    }
    return TestResponse{200, {}, json{{"embeddings", json{{"float", floats}}}}.dump(), {}};
  });
  EmbedderConfig config = bedrock_config(server, "cohere.embed-v4:0");
  config.dimension = 256;
  auto embedder = make_bedrock_embedder(config);
  const auto matrix = embedder->embed(numbered_texts(2), EmbedPurpose::document);
  EXPECT_EQ(matrix.dimension, 256u);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/model/cohere.embed-v4%3A0/invoke");
  const json body = json::parse(requests[0].body);
  EXPECT_EQ(body["output_dimension"], 256);
  EXPECT_EQ(body["embedding_types"], json::array({"float"}));
}

// Without credentials in the environment no request is made and the error says what to set.
TEST(BedrockEmbedder, MissingCredentials) {
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return TestResponse{}; });
  auto embedder = make_bedrock_embedder(bedrock_config(server));
  const std::string message =
      error_message([&] { embedder->embed(numbered_texts(1), EmbedPurpose::document); }, ErrorKind::invalid_argument);
  EXPECT_NE(message.find("AWS_ACCESS_KEY_ID"), std::string::npos) << message;
  EXPECT_TRUE(server.requests().empty());
}

// Each retry is signed afresh; a 403 is reported without the secret key or session token.
TEST_F(BedrockEmbedderTest, RetriesAreResignedAndErrorsHideCredentials) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t sequence) {
    if (sequence == 0) return TestResponse{429, {{"Retry-After", "0"}}, "slow down", {}};
    return TestResponse{403,
                        {},
                        "{\"message\":\"bad signature " + request.header("authorization").value_or("") + " " +
                            request.header("x-amz-security-token").value_or("") + "\"}",
                        {}};
  });
  const std::string message = error_message(
      [&] { make_bedrock_embedder(bedrock_config(server))->embed(numbered_texts(1), EmbedPurpose::document); });
  EXPECT_NE(message.find("HTTP 403"), std::string::npos) << message;
  EXPECT_EQ(message.find(kSecretKey), std::string::npos) << message;
  EXPECT_EQ(message.find(kSessionToken), std::string::npos) << message;
  EXPECT_EQ(message.find("Signature="), std::string::npos) << message;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].header("authorization").has_value());
  EXPECT_TRUE(requests[1].header("authorization").has_value());
}

}  // namespace
}  // namespace ragline::models
