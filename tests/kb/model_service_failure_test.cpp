// Model services that fail in every way during ingest and queries: down, slow, 5xx, garbage,
// truncated bodies, wrong counts and dimensions, failing half-way. Documents are stored, the
// report names those still waiting for vectors, check() shows them as pending (not damage),
// nothing wrong is stored as a vector, queries fail naming the service, and the next ingest
// completes them. A recognisable API key never appears in any output, log, error or KB file.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>

#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"
#include "support/toy_embedding.hpp"

namespace ragline {
namespace {

using ragline::testing::dense_query;
using ragline::testing::HttpTestServer;
using ragline::testing::RecordedRequest;
using ragline::testing::TempDir;
using ragline::testing::TestResponse;
using ragline::testing::toy_embedding;
using ragline::testing::toy_embedding_data;
using ragline::testing::write_file;
namespace fs = std::filesystem;

enum class Failure { none, down, slow, status_500, garbage, truncated, wrong_count, wrong_dimension, midway };

struct FailureCase {
  const char* name;
  Failure failure;
};

// An OpenAI-compatible /v1/embeddings service that fails as told. Failing answers echo the
// request's Authorization header, as careless services do, to catch any path that would print it.
class FlakyEmbeddingService {
 public:
  FlakyEmbeddingService() : server_([this](const RecordedRequest& request, std::size_t) { return answer(request); }) {}

  EmbedderConfig config(const std::string& key_variable = "") const {  // "": no key is sent
    EmbedderConfig config;
    config.name = "openai";
    config.model = "toy-letters";
    config.base_url = failure == Failure::down ? down_url() : server_.url();
    config.api_key_env = key_variable;
    config.max_retries = 0;
    config.timeout_seconds = 1;
    config.batch_size = 1;
    config.max_in_flight = 1;
    return config;
  }
  std::string url() const { return server_.url(); }
  static std::string down_url() {
    static const std::string url = "http://127.0.0.1:" + std::to_string(ragline::testing::unused_local_port());
    return url;
  }
  std::vector<RecordedRequest> requests() const { return server_.requests(); }

  std::atomic<Failure> failure{Failure::none};
  std::atomic<int> answered{0};

 private:
  TestResponse answer(const RecordedRequest& request) {
    const std::string echo = request.header("authorization").value_or("");
    nlohmann::json data = toy_embedding_data(request.body);
    const std::string good = nlohmann::json{{"data", data}}.dump();
    const std::vector<std::pair<std::string, std::string>> json_type = {{"Content-Type", "application/json"}};
    const int sequence = answered++;
    switch (failure.load()) {
      case Failure::slow:
        return TestResponse{200, json_type, good, std::chrono::milliseconds(3000)};
      case Failure::status_500:
        return TestResponse{500, json_type, "{\"error\": \"internal, you sent " + echo + "\"}", {}};
      case Failure::garbage:
        return TestResponse{200, {{"Content-Type", "text/html"}}, "<html>proxy error for " + echo + "</html>", {}};
      case Failure::truncated:
        return TestResponse{200, json_type, good.substr(0, good.size() / 2) + echo, {}};
      case Failure::wrong_count:
        return TestResponse{
            200, json_type, nlohmann::json{{"data", nlohmann::json::array()}, {"key", echo}}.dump(), {}};
      case Failure::wrong_dimension:
        data[0]["embedding"] = std::vector<float>(7, 0.5f);
        return TestResponse{200, json_type, nlohmann::json{{"data", data}}.dump(), {}};
      case Failure::midway:
        if (sequence % 4 == 3) return TestResponse{503, {}, "overloaded " + echo, {}};
        return TestResponse{200, json_type, good, {}};
      default:
        return TestResponse{200, json_type, good, {}};
    }
  }

  HttpTestServer server_;
};

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  for (const auto& item : report.pending) text += "pending " + item.area + ": " + item.message + "\n";
  return text;
}

// Every stored vector is the service's answer for its chunk's text (unit length): nothing a
// failing answer held was stored.
void expect_only_true_vectors(const fs::path& kb_dir) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false, true);
  auto statement =
      database.prepare("SELECT c.text, v.vector FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id ORDER BY c.id");
  while (statement.step()) {
    auto expected = toy_embedding(statement.column_string(0));
    float norm = 0;
    for (float x : expected) norm += x * x;
    norm = std::sqrt(norm);
    const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement.get(), 1));
    ASSERT_EQ(bytes, expected.size() * sizeof(float));
    const auto* stored = static_cast<const float*>(sqlite3_column_blob(statement.get(), 1));
    for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(stored[i], expected[i] / norm, 1e-5f);
  }
}

void write_documents(const fs::path& root, const std::string& prefix, int count) {
  const char* texts[] = {"Quokkas smile at quiet quays.", "Wombats wander west at dawn.",
                         "Kangaroos kick in the dusty paddock.", "Platypus paddles past the pebbles."};
  for (int i = 0; i < count; ++i) {
    write_file(root / (prefix + std::to_string(i) + ".txt"),
               std::string(texts[i % 4]) + " Note " + prefix + std::to_string(i) + ".");
  }
}

class ModelServiceFailure : public ::testing::TestWithParam<FailureCase> {};

TEST_P(ModelServiceFailure, IngestStoresDocumentsReportsPendingVectorsAndTheNextRunCompletes) {
  FlakyEmbeddingService service;
  TempDir dir;
  write_documents(dir / "first", "a", 3);
  write_documents(dir / "second", "b", 6);
  OpenOptions options;
  options.embedder = service.config();
  auto kb = KnowledgeBase::open(dir / "kb", options);
  ASSERT_TRUE(kb.ingest({dir / "first"}).ok());

  service.failure = GetParam().failure;
  // A service that is down is a different URL: the KB is opened again pointing at it.
  OpenOptions failing_options;
  failing_options.embedder = service.config();
  auto failing = KnowledgeBase::open(dir / "kb", failing_options);
  IngestOptions one_per_batch;
  one_per_batch.batch_documents = 1;
  const auto report = failing.ingest({dir / "second"}, one_per_batch);
  const std::string endpoint = failing_options.embedder->base_url;
  EXPECT_EQ(report.documents_added, 6u);
  ASSERT_GE(report.failures.size(), 2u);
  EXPECT_NE(report.failures.front().location.find("embedder openai/toy-letters"), std::string::npos)
      << report.failures.front().location;
  const std::string names = GetParam().failure == Failure::wrong_dimension ? "openai/toy-letters/26" : endpoint;
  EXPECT_NE(report.failures.front().reason.find(names), std::string::npos) << report.failures.front().reason;
  const auto& pending = report.failures.back();
  EXPECT_EQ(pending.location, "pending embeddings");
  EXPECT_NE(pending.reason.find("b5.txt"), std::string::npos) << pending.reason;
  EXPECT_EQ(pending.reason.find("a0.txt"), std::string::npos) << pending.reason;

  const auto checked = failing.check();
  EXPECT_TRUE(checked.ok()) << describe(checked);
  ASSERT_EQ(checked.pending.size(), 1u) << describe(checked);
  EXPECT_NE(checked.pending[0].message.find("wait for their vectors"), std::string::npos);
  expect_only_true_vectors(dir / "kb");
  EXPECT_EQ(failing.retrieve(ragline::testing::keyword_query("platypus pebbles", 5)).size(), 1u);
  if (GetParam().failure != Failure::midway && GetParam().failure != Failure::wrong_dimension) {
    try {
      failing.retrieve(dense_query("wombats wander", 3));
      ADD_FAILURE() << "a dense query succeeded while the service fails";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(endpoint), std::string::npos) << error.what();
    }
  }

  service.failure = Failure::none;
  auto healthy = KnowledgeBase::open(dir / "kb", options);
  const auto resumed = healthy.ingest({dir / "second"});
  EXPECT_TRUE(resumed.ok()) << resumed.failures.at(0).reason;
  EXPECT_EQ(resumed.documents_unchanged, 6u);
  EXPECT_GT(resumed.chunks_embedded + resumed.embeddings_from_cache, 0u);
  const auto complete = healthy.check();
  EXPECT_TRUE(complete.ok() && complete.pending.empty()) << describe(complete);
  expect_only_true_vectors(dir / "kb");
  const auto hits = healthy.retrieve(dense_query("Platypus paddles past the pebbles. Note b3.", 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NE(hits[0].document_uri.find("b3.txt"), std::string::npos) << hits[0].document_uri;
}

INSTANTIATE_TEST_SUITE_P(
    Failures, ModelServiceFailure,
    ::testing::Values(FailureCase{"down", Failure::down}, FailureCase{"slow", Failure::slow},
                      FailureCase{"status_500", Failure::status_500}, FailureCase{"garbage", Failure::garbage},
                      FailureCase{"truncated", Failure::truncated}, FailureCase{"wrong_count", Failure::wrong_count},
                      FailureCase{"wrong_dimension", Failure::wrong_dimension}, FailureCase{"midway", Failure::midway}),
    [](const auto& test) { return std::string(test.param.name); });

// Every byte under `root` (recursively), for a search.
std::string all_bytes_under(const fs::path& root) {
  std::string bytes;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) bytes += ragline::testing::read_file(entry.path());
  }
  return bytes;
}

TEST(Secrets, AnApiKeyNeverAppearsInOutputLogsErrorsOrTheKb) {
  // The key is sent (the service sees it) and echoed back by every failing answer; ingest, query,
  // --explain, --json, stats, docs and check, from the library and the CLI, must not show it.
  const std::string key = "sk-ragline-LEAKCHECK-7Hq2Zp9xW";
  ::setenv("RAGLINE_TEST_SECRET_KEY", key.c_str(), 1);
  FlakyEmbeddingService service;
  TempDir dir;
  std::string seen;  // everything the library and the CLI said
  OpenOptions options;
  options.embedder = service.config("RAGLINE_TEST_SECRET_KEY");
  options.log = [&](LogLevel, const std::string& message) { seen += message + "\n"; };
  const fs::path kb_dir = dir / "kb";
  const std::string rag_query = std::string(RAGLINE_RAG_QUERY) + " ";
  const std::string kb_option = " --kb '" + kb_dir.string() + "' ";
  auto run = [&](const std::string& arguments) {
    const auto result = ragline::testing::run_command(rag_query + arguments);
    seen += result.stdout_text + result.stderr_text;
  };
  const Failure failures[] = {Failure::status_500,      Failure::garbage, Failure::truncated, Failure::wrong_count,
                              Failure::wrong_dimension, Failure::midway,  Failure::slow};
  {
    auto kb = KnowledgeBase::open(kb_dir, options);
    write_documents(dir / "docs", "d", 2);
    ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());  // the KB learns the service's dimension
    for (Failure failure : failures) {
      service.failure = failure;
      write_documents(dir / "docs", "d" + std::to_string(static_cast<int>(failure)), 2);
      for (const auto& entry : kb.ingest({dir / "docs"}).failures) seen += entry.location + " " + entry.reason + "\n";
      for (auto mode : {SearchMode::dense, SearchMode::hybrid}) {
        Query query("wombats", 3);
        query.mode = mode;
        try {
          const auto result = kb.search(query);
          for (const auto& hit : result.hits) seen += hit.text + hit.document_uri + "\n";
        } catch (const Error& error) {
          seen += std::string(error.what()) + "\n";
        }
      }
      run("ingest --quiet" + kb_option + "'" + (dir / "docs").string() + "'");
      run("query" + kb_option + "--explain wombats");
      run("query" + kb_option + "--json --explain --mode dense 'quiet quays'");
      run("check" + kb_option + "--json");
    }
    service.failure = Failure::none;
    for (const auto& entry : kb.ingest({dir / "docs"}).failures) seen += entry.location + " " + entry.reason + "\n";
  }
  run("query" + kb_option + "--explain --json 'kangaroos kick'");
  run("stats" + kb_option + "--json");
  run("docs" + kb_option + "--json");
  run("check" + kb_option);
  run("repair" + kb_option);

  bool key_was_sent = false;
  for (const auto& request : service.requests())
    key_was_sent = key_was_sent || request.header("authorization") == "Bearer " + key;
  EXPECT_TRUE(key_was_sent) << "the service never received the key; the test proved nothing";
  EXPECT_NE(seen.find("toy-letters"), std::string::npos) << "no errors were captured; the test proved nothing";
  EXPECT_EQ(seen.find(key), std::string::npos) << seen.substr(seen.find(key) > 300 ? seen.find(key) - 300 : 0, 600);
  EXPECT_EQ(seen.find("LEAKCHECK"), std::string::npos);
  const std::string stored = all_bytes_under(kb_dir);
  EXPECT_FALSE(stored.empty());
  EXPECT_EQ(stored.find("LEAKCHECK"), std::string::npos) << "the key is in a file of the KB";
  ::unsetenv("RAGLINE_TEST_SECRET_KEY");
}

}  // namespace
}  // namespace ragline
