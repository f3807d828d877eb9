// The http (cohere, jina, tei, llamacpp) and bedrock rerankers against a loopback HTTP server:
// request shapes field by field, scores mapped back by index, batching, retries, timeouts,
// malformed answers, top_n / min_score / candidates, and the SigV4 signature of Bedrock calls.

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ragline/error.hpp"
#include "rerank/reranker.hpp"
#include "rerank/reranker_service.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace ragline::rerank {
namespace {

using nlohmann::json;
using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::ScopedEnvironment;
using testing::TestResponse;

constexpr const char* kKeyVariable = "RAGLINE_TEST_RERANK_KEY";
const std::string kApiKey = "rk-ragline-test-8d1e4b7a20c9";

// Hits whose texts are "doc-0" ... "doc-<count-1>", in that retrieval order.
std::vector<Hit> numbered_hits(int count) {
  std::vector<Hit> hits;
  for (int i = 0; i < count; ++i) {
    Hit hit;
    hit.chunk_id = 100 + i;
    hit.text = "doc-" + std::to_string(i);
    hit.score = 1.0 / (i + 1);
    hits.push_back(hit);
  }
  return hits;
}

std::vector<std::string> texts_of(const std::vector<Hit>& hits) {
  std::vector<std::string> texts;
  for (const auto& hit : hits) texts.push_back(hit.text);
  return texts;
}

double score_of(const std::string& document) { return std::stod(document.substr(document.rfind('-') + 1)); }

// Scores each document "doc-<n>" n (so the retrieval order comes back reversed), best first as
// the services list them, with the score under `score_key`; `wrap` puts the list under
// "results" (cohere, jina, llama.cpp) or sends it bare (tei).
TestResponse scoring_answer(const std::vector<std::string>& documents, const std::string& score_key, bool wrap) {
  json results = json::array();
  for (std::size_t i = documents.size(); i-- > 0;) {
    results.push_back({{"index", i}, {score_key, score_of(documents[i])}});
  }
  std::sort(results.begin(), results.end(),
            [&](const json& a, const json& b) { return a[score_key].get<double>() > b[score_key].get<double>(); });
  const json body = wrap ? json{{"id", "r-1"}, {"results", results}, {"meta", json::object()}} : results;
  return {200, {{"Content-Type", "application/json"}}, body.dump(), {}};
}

// Answers in the shape of `format`, whatever was asked.
TestResponse answer_for(const std::string& format, const RecordedRequest& request) {
  const json body = json::parse(request.body);
  const bool tei = format == "tei";
  const auto documents = body[tei ? "texts" : "documents"].get<std::vector<std::string>>();
  return scoring_answer(documents, tei ? "score" : "relevance_score", !tei);
}

RerankerConfig http_config(const HttpTestServer& server, const std::string& format) {
  RerankerConfig config;
  config.name = "http";
  config.format = format;
  config.base_url = server.url();
  config.model = format == "tei" ? "" : "rerank-test";
  config.api_key_env = kKeyVariable;
  config.timeout_seconds = 5;
  config.max_retries = 2;
  return config;
}

RerankRequest request_for(std::size_t k) {
  RerankRequest request;
  request.query = "which doc";
  request.k = k;
  return request;
}

struct FormatCase {
  std::string format;
  std::string path;
};

class HttpFormats : public ::testing::TestWithParam<FormatCase> {};

TEST_P(HttpFormats, SendsTheFormatsRequestAndMapsScoresBackByIndex) {
  const auto& [format, path] = GetParam();
  ScopedEnvironment key(kKeyVariable, kApiKey);
  HttpTestServer server([&](const RecordedRequest& request, std::size_t) { return answer_for(format, request); });
  const auto reranker = make_reranker(http_config(server, format));
  const auto out = reranker->rerank(request_for(10), numbered_hits(5));

  EXPECT_EQ(texts_of(out), (std::vector<std::string>{"doc-4", "doc-3", "doc-2", "doc-1", "doc-0"}));
  ASSERT_TRUE(out[0].rerank_score.has_value());
  EXPECT_DOUBLE_EQ(*out[0].rerank_score, 4.0);
  EXPECT_EQ(out[0].chunk_id, 104);
  EXPECT_DOUBLE_EQ(out[0].score, 1.0 / 5);  // the retrieval score stays

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& sent = requests[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, path);
  EXPECT_EQ(sent.header("authorization"), "Bearer " + kApiKey);
  EXPECT_EQ(sent.header("content-type"), "application/json");
  const json body = json::parse(sent.body);
  const std::vector<std::string> documents = {"doc-0", "doc-1", "doc-2", "doc-3", "doc-4"};
  EXPECT_EQ(body["query"], "which doc");
  if (format == "tei") {
    EXPECT_EQ(body.size(), 3u) << body;
    EXPECT_EQ(body["texts"], documents);
    EXPECT_EQ(body["raw_scores"], false);
  } else {
    EXPECT_EQ(body["model"], "rerank-test");
    EXPECT_EQ(body["documents"], documents);
    EXPECT_EQ(body["top_n"], 5);
    EXPECT_EQ(body.size(), format == "jina" ? 5u : 4u) << body;
    if (format == "jina") {
      EXPECT_EQ(body["return_documents"], false);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rerank, HttpFormats,
                         ::testing::Values(FormatCase{"cohere", "/v2/rerank"}, FormatCase{"jina", "/v1/rerank"},
                                           FormatCase{"tei", "/rerank"}, FormatCase{"llamacpp", "/v1/rerank"}),
                         [](const ::testing::TestParamInfo<FormatCase>& param_info) {
                           return param_info.param.format;
                         });

TEST(HttpReranker, BatchesSplitDocumentsAndMergeScores) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return answer_for("cohere", request); });
  auto config = http_config(server, "cohere");
  ::unsetenv("COHERE_API_KEY");
  config.api_key_env.clear();  // the default, COHERE_API_KEY, is unset: no key is sent
  config.batch_size = 2;
  const auto out = make_reranker(config)->rerank(request_for(10), numbered_hits(5));
  EXPECT_EQ(texts_of(out), (std::vector<std::string>{"doc-4", "doc-3", "doc-2", "doc-1", "doc-0"}));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  std::vector<std::vector<std::string>> batches;
  for (const auto& request : requests) {
    EXPECT_FALSE(request.header("authorization").has_value());
    const json body = json::parse(request.body);
    EXPECT_EQ(body["top_n"], body["documents"].size());
    batches.push_back(body["documents"].get<std::vector<std::string>>());
  }
  std::sort(batches.begin(), batches.end());
  EXPECT_EQ(batches, (std::vector<std::vector<std::string>>{{"doc-0", "doc-1"}, {"doc-2", "doc-3"}, {"doc-4"}}));
}

TEST(HttpReranker, TopNMinScoreAndCandidatesAreHonoured) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return answer_for("llamacpp", request); });
  auto config = http_config(server, "llamacpp");
  config.api_key_env.clear();
  config.top_n = 2;
  EXPECT_EQ(texts_of(make_reranker(config)->rerank(request_for(10), numbered_hits(5))),
            (std::vector<std::string>{"doc-4", "doc-3"}));
  config.top_n = 0;
  config.min_score = 2.5;
  EXPECT_EQ(texts_of(make_reranker(config)->rerank(request_for(10), numbered_hits(5))),
            (std::vector<std::string>{"doc-4", "doc-3"}));
  // k bounds the output when top_n is 0.
  config.min_score.reset();
  EXPECT_EQ(texts_of(make_reranker(config)->rerank(request_for(3), numbered_hits(5))),
            (std::vector<std::string>{"doc-4", "doc-3", "doc-2"}));
  // candidates: only the first three hits go to the service.
  config.candidates = 3;
  SearchExplanation explanation;
  const auto out = run_rerank_chain({config}, request_for(10), numbered_hits(5), explanation);
  EXPECT_EQ(texts_of(out), (std::vector<std::string>{"doc-2", "doc-1", "doc-0"}));
  EXPECT_EQ(json::parse(server.requests().back().body)["documents"].size(), 3u);
  ASSERT_EQ(explanation.rerankers.size(), 1u);
  EXPECT_NE(explanation.rerankers[0].find("in=3 out=3"), std::string::npos) << explanation.rerankers[0];
}

TEST(HttpReranker, TitleIsSentBeforeTheText) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) { return answer_for("tei", request); });
  auto config = http_config(server, "tei");
  config.api_key_env.clear();
  auto hits = numbered_hits(2);
  hits[0].title = "Wing flutter";
  hits[1].title = "doc";  // the text starts with it: sent once
  make_reranker(config)->rerank(request_for(10), hits);
  EXPECT_EQ(json::parse(server.requests().at(0).body)["texts"],
            (std::vector<std::string>{"Wing flutter\n\ndoc-0", "doc-1"}));
}

TEST(HttpReranker, RetriesA503ThenSucceeds) {
  ScopedEnvironment key(kKeyVariable, kApiKey);
  HttpTestServer server([](const RecordedRequest& request, std::size_t sequence) {
    if (sequence == 0) return TestResponse{503, {}, "busy", {}};
    return answer_for("jina", request);
  });
  const auto out = make_reranker(http_config(server, "jina"))->rerank(request_for(10), numbered_hits(3));
  EXPECT_EQ(texts_of(out), (std::vector<std::string>{"doc-2", "doc-1", "doc-0"}));
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(HttpReranker, TimeoutIsANetworkErrorNamingTheEndpointNotTheKey) {
  ScopedEnvironment key(kKeyVariable, kApiKey);
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    auto response = answer_for("cohere", request);
    response.delay = std::chrono::milliseconds(5000);
    return response;
  });
  auto config = http_config(server, "cohere");
  config.timeout_seconds = 0.3;
  config.max_retries = 0;
  try {
    make_reranker(config)->rerank(request_for(10), numbered_hits(2));
    FAIL() << "a timeout must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::network);
    const std::string message = error.what();
    EXPECT_NE(message.find(server.url() + "/v2/rerank"), std::string::npos) << message;
    EXPECT_EQ(message.find(kApiKey), std::string::npos) << message;
  }
  server.stop();
}

TEST(HttpReranker, MalformedAnswersAreClearFormatErrors) {
  struct Case {
    std::string body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"<html>oops</html>", "the body is not JSON"},
      {R"({"answer": []})", "no results array"},
      {R"({"results": [{"index": 7, "relevance_score": 1}]})", "index 7 for 2 documents"},
      {R"({"results": [{"index": 0, "relevance_score": "high"}]})", "no numeric relevance score"},
      {R"({"results": [{"index": 0, "relevance_score": 1}, {"index": 0, "relevance_score": 2}]})", "repeats index 0"},
  };
  for (const auto& [body, expected] : cases) {
    HttpTestServer server([&](const RecordedRequest&, std::size_t) {
      return TestResponse{200, {{"Content-Type", "application/json"}}, body, {}};
    });
    auto config = http_config(server, "cohere");
    config.api_key_env.clear();
    try {
      make_reranker(config)->rerank(request_for(10), numbered_hits(2));
      ADD_FAILURE() << "no error for " << body;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::format);
      const std::string message = error.what();
      EXPECT_NE(message.find(server.url() + "/v2/rerank: malformed rerank response"), std::string::npos) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
  }
}

TEST(HttpReranker, DocumentsLeftOutByTheServiceComeLast) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    return TestResponse{200, {}, R"({"results": [{"index": 2, "relevance_score": 0.9}]})", {}};
  });
  auto config = http_config(server, "cohere");
  config.api_key_env.clear();
  const auto out = make_reranker(config)->rerank(request_for(10), numbered_hits(3));
  EXPECT_EQ(texts_of(out), (std::vector<std::string>{"doc-2", "doc-0", "doc-1"}));
  EXPECT_FALSE(out[1].rerank_score.has_value());
  config.min_score = 0.5;  // unscored documents do not pass a minimum
  EXPECT_EQ(texts_of(make_reranker(config)->rerank(request_for(10), numbered_hits(3))),
            (std::vector<std::string>{"doc-2"}));
}

TEST(HttpReranker, BadSettingsNameTheField) {
  RerankerConfig config;
  config.name = "http";
  config.format = "voyage";
  EXPECT_THROW(make_reranker(config), Error);
  config.format = "cohere";
  config.api_key_env = "RAGLINE_TEST_UNSET_VARIABLE";
  try {
    make_reranker(config);
    FAIL() << "an unset named key variable must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("RAGLINE_TEST_UNSET_VARIABLE"), std::string::npos) << error.what();
  }
  config.api_key_env.clear();
  config.batch_size = 0;
  EXPECT_THROW(make_reranker(config), Error);
}

TEST(BedrockReranker, SendsASignedRerankRequestAndReadsRelevanceScores) {
  ScopedEnvironment access_key("AWS_ACCESS_KEY_ID", "AKIDRAGLINETEST");
  ScopedEnvironment secret("AWS_SECRET_ACCESS_KEY", "ragline-test-secret-f00d");
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    const json body = json::parse(request.body);
    json results = json::array();
    const auto& sources = body["sources"];
    for (std::size_t i = 0; i < sources.size(); ++i) {
      results.push_back(
          {{"index", i}, {"relevanceScore", score_of(sources[i]["inlineDocumentSource"]["textDocument"]["text"])}});
    }
    return TestResponse{200, {{"Content-Type", "application/json"}}, json{{"results", results}}.dump(), {}};
  });
  RerankerConfig config;
  config.name = "bedrock";
  config.region = "eu-west-1";
  config.base_url = server.url();
  config.max_retries = 0;
  const auto out = make_reranker(config)->rerank(request_for(10), numbered_hits(3));
  EXPECT_EQ(texts_of(out), (std::vector<std::string>{"doc-2", "doc-1", "doc-0"}));
  EXPECT_DOUBLE_EQ(*out[0].rerank_score, 2.0);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& sent = requests[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, "/rerank");
  const auto authorization = sent.header("authorization");
  ASSERT_TRUE(authorization.has_value());
  EXPECT_EQ(authorization->rfind("AWS4-HMAC-SHA256 Credential=AKIDRAGLINETEST/", 0), 0u) << *authorization;
  EXPECT_NE(authorization->find("/eu-west-1/bedrock/aws4_request"), std::string::npos) << *authorization;
  EXPECT_NE(authorization->find("Signature="), std::string::npos);
  EXPECT_EQ(authorization->find("ragline-test-secret"), std::string::npos);
  EXPECT_TRUE(sent.header("x-amz-date").has_value());

  const json body = json::parse(sent.body);
  EXPECT_EQ(body["queries"], json::parse(R"([{"type":"TEXT","textQuery":{"text":"which doc"}}])"));
  ASSERT_EQ(body["sources"].size(), 3u);
  EXPECT_EQ(body["sources"][1],
            json::parse(R"({"type":"INLINE","inlineDocumentSource":{"type":"TEXT","textDocument":{"text":"doc-1"}}})"));
  const json& reranking = body["rerankingConfiguration"];
  EXPECT_EQ(reranking["type"], "BEDROCK_RERANKING_MODEL");
  EXPECT_EQ(reranking["bedrockRerankingConfiguration"]["numberOfResults"], 3);
  EXPECT_EQ(reranking["bedrockRerankingConfiguration"]["modelConfiguration"]["modelArn"],
            "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0");
}

TEST(BedrockReranker, MissingCredentialsAreNamed) {
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  RerankerConfig config;
  config.name = "bedrock";
  config.base_url = "http://127.0.0.1:9";
  try {
    make_reranker(config)->rerank(request_for(10), numbered_hits(1));
    FAIL() << "missing credentials must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace ragline::rerank
