// A KB whose embedder is a model service: an OpenAI-compatible server on loopback, started by
// the test. Checks the embedding cache (re-ingest and repeated queries never embed a text twice)
// and that a failing service loses nothing: documents are stored, and the next ingest embeds them.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>

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
using ragline::testing::toy_embedding_data;
using ragline::testing::write_file;

// Serves /v1/embeddings; counts the texts it embeds; fails with 503 while `failing` is set.
class ToyEmbeddingService {
 public:
  ToyEmbeddingService() : server_([this](const RecordedRequest& request, std::size_t) { return answer(request); }) {}

  EmbedderConfig config() const {
    EmbedderConfig config;
    config.name = "openai";
    config.model = "toy-letters";
    config.base_url = server_.url();
    config.api_key_env = "";  // no key is sent
    config.max_retries = 0;
    config.timeout_seconds = 5;
    return config;
  }

  std::atomic<int> texts_embedded{0};
  std::atomic<bool> failing{false};

 private:
  TestResponse answer(const RecordedRequest& request) {
    if (failing) return TestResponse{503, {}, "overloaded", {}};
    const nlohmann::json data = toy_embedding_data(request.body);
    texts_embedded += static_cast<int>(data.size());
    return TestResponse{200, {{"Content-Type", "application/json"}}, nlohmann::json{{"data", data}}.dump(), {}};
  }

  HttpTestServer server_;
};

TEST(ModelEmbedderKb, CachesEmbeddingsAcrossReingestAndQueries) {
  ToyEmbeddingService service;
  TempDir dir;
  write_file(dir / "docs" / "a.md", "# Alpha\n\nzzz zebra buzz.\n\n# Beta\n\nmmm mammoth.\n");
  write_file(dir / "docs" / "b.md", "Kiwi kayak kick.");
  OpenOptions options;
  options.embedder = service.config();
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    const auto report = kb.ingest({dir / "docs"});
    ASSERT_TRUE(report.ok()) << report.failures.at(0).reason;
    EXPECT_EQ(report.chunks_embedded, 3u);
    EXPECT_EQ(service.texts_embedded, 3);
    EXPECT_EQ(kb.stats().embedder_id, "openai/toy-letters/26");

    // One section changes; the other keeps its text, so its vector comes from the cache.
    write_file(dir / "docs" / "a.md", "# Alpha\n\nzzz zebra buzz.\n\n# Beta\n\nppp pumpkin.\n");
    const auto again = kb.ingest({dir / "docs"});
    EXPECT_EQ(again.documents_updated, 1u);
    EXPECT_EQ(again.chunks_embedded, 1u);
    EXPECT_EQ(again.embeddings_from_cache, 1u);
    EXPECT_EQ(service.texts_embedded, 4);

    const auto hits = kb.retrieve(dense_query("zebra buzz zzz", 1));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_NE(hits[0].text.find("zebra"), std::string::npos);
    EXPECT_EQ(service.texts_embedded, 5);
    kb.retrieve(dense_query("zebra buzz zzz", 1));
    EXPECT_EQ(service.texts_embedded, 5);  // the in-memory cache
  }
  // Another KnowledgeBase (as another process would) embeds the query again: a search writes
  // nothing to disk, so query vectors live in one KnowledgeBase's memory.
  auto reopened = KnowledgeBase::open(dir / "kb", options);
  EXPECT_EQ(reopened.retrieve(dense_query("zebra buzz zzz", 1)).size(), 1u);
  EXPECT_EQ(service.texts_embedded, 6);
  reopened.retrieve(dense_query("zebra buzz zzz", 1));
  EXPECT_EQ(service.texts_embedded, 6);
  // Document vectors are in kb.sqlite's cache: back to its first text, a.md embeds nothing.
  write_file(dir / "docs" / "a.md", "# Alpha\n\nzzz zebra buzz.\n\n# Beta\n\nmmm mammoth.\n");
  const auto reverted = reopened.ingest({dir / "docs"});
  EXPECT_EQ(reverted.chunks_embedded, 0u);
  EXPECT_EQ(reverted.embeddings_from_cache, 2u);
  EXPECT_EQ(service.texts_embedded, 6);
}

TEST(ModelEmbedderKb, AFailingServiceLosesNothingAndTheNextIngestCompletes) {
  ToyEmbeddingService service;
  TempDir dir;
  write_file(dir / "docs" / "a.txt", "Quokkas smile at quiet quays.");
  write_file(dir / "docs" / "b.txt", "Wombats wander west.");
  OpenOptions options;
  options.embedder = service.config();
  auto kb = KnowledgeBase::open(dir / "kb", options);

  service.failing = true;
  const auto failed = kb.ingest({dir / "docs"});
  EXPECT_EQ(failed.documents_added, 2u);  // stored, and found by keyword search
  ASSERT_EQ(failed.failures.size(), 2u);  // the embedder's error, then what still needs vectors
  EXPECT_EQ(failed.failures[1].location, "pending embeddings");
  EXPECT_NE(failed.failures[0].location.find("embedder openai/toy-letters"), std::string::npos);
  EXPECT_NE(failed.failures[0].reason.find("503"), std::string::npos) << failed.failures[0].reason;
  EXPECT_NE(failed.failures[0].reason.find(service.config().base_url), std::string::npos);
  EXPECT_EQ(kb.stats().vectors, 0);
  EXPECT_EQ(kb.retrieve(ragline::testing::keyword_query("wombats", 5)).size(), 1u);
  EXPECT_THROW(kb.retrieve(dense_query("wombats", 5)), Error);  // the service is still down

  service.failing = false;
  const auto completed = kb.ingest({dir / "docs"});
  EXPECT_TRUE(completed.ok());
  EXPECT_EQ(completed.documents_unchanged, 2u);
  EXPECT_EQ(completed.chunks_embedded, 2u);
  EXPECT_EQ(kb.stats().vectors, 2);
  const auto hits = kb.retrieve(dense_query("wombats wander west", 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NE(hits[0].text.find("Wombats"), std::string::npos);
}

}  // namespace
}  // namespace ragline
