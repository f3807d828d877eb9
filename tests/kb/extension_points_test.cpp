// The public extension points end to end through KnowledgeBase::open: an application's embedder
// object (OpenOptions::embedder_instance), an embedder registered by name, a registered reranker
// in Query::rerank, and unknown names that list the registered ones (embedder, reranker, chat model).

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"
#include "support/toy_embedding.hpp"

namespace ragline {
namespace {

using ragline::testing::dense_query;
using ragline::testing::keyword_query;
using ragline::testing::TempDir;
using ragline::testing::write_file;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Letter frequencies over 26 dimensions, unit length: deterministic, and texts that share
// letters are close. Counts what it embeds; fusion defaults of its own so "auto" can be seen.
class LetterEmbedder final : public Embedder {
 public:
  explicit LetterEmbedder(std::string id = "test-letters/26") : id_(std::move(id)) {}

  std::string id() const override { return id_; }
  std::size_t dimension() const override { return 26; }
  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose) override {
    EmbeddingMatrix matrix{texts.size(), 26, {}};
    for (const auto& text : texts) {
      const auto vector = ragline::testing::unit_toy_embedding(text);
      matrix.values.insert(matrix.values.end(), vector.begin(), vector.end());
    }
    texts_embedded += texts.size();
    return matrix;
  }
  FusionConfig fusion_defaults() const override {
    FusionConfig fusion;
    fusion.method = "rrf";
    fusion.rrf_k = 7;
    fusion.dense_weight = 0.5;
    return fusion;
  }

  std::atomic<std::size_t> texts_embedded{0};

 private:
  std::string id_;
};

void write_docs(const TempDir& dir) {
  write_file(dir / "docs" / "zebra.txt", "Zebras graze on the savanna in zigzag herds.");
  write_file(dir / "docs" / "kiwi.txt", "Kiwi birds walk at night looking for worms.");
  write_file(dir / "docs" / "quartz.txt", "Quartz clocks keep quite exact time.");
}

std::string error_of(const std::function<void()>& operation, ErrorKind expected_kind = ErrorKind::invalid_argument) {
  return ragline::testing::error_message_of(operation, expected_kind);
}

TEST(ExtensionPoints, AnApplicationsEmbedderObjectIngestsAndSearchesHybrid) {
  TempDir dir;
  write_docs(dir);
  auto embedder = std::make_shared<LetterEmbedder>();
  OpenOptions options;
  options.embedder_instance = embedder;
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    const auto report = kb.ingest({dir / "docs"});
    ASSERT_TRUE(report.ok()) << report.failures.at(0).reason;
    EXPECT_EQ(report.chunks_embedded, 3u);
    EXPECT_EQ(embedder->texts_embedded, 3u);
    const Stats stats = kb.stats();
    EXPECT_EQ(stats.embedder_id, "test-letters/26");
    EXPECT_EQ(stats.embedder.name, "application");
    EXPECT_EQ(stats.vectors, 3);

    const auto result = kb.search(Query("zebra zigzag", 2));
    ASSERT_FALSE(result.hits.empty());
    EXPECT_TRUE(contains(result.hits[0].document_uri, "zebra.txt")) << result.hits[0].document_uri;
    EXPECT_TRUE(result.hits[0].dense.has_value());
    EXPECT_EQ(result.explanation.fusion, "rrf k=7 bm25_weight=1 dense_weight=0.5 candidates=100");
    // Dense alone: "zzz" shares no word with any document, only letters.
    const auto dense = kb.retrieve(dense_query("zzz zag", 1));
    ASSERT_EQ(dense.size(), 1u);
    EXPECT_TRUE(contains(dense[0].document_uri, "zebra.txt"));
    EXPECT_EQ(embedder->texts_embedded, 5u);  // one vector per query
  }
  {
    // The same object again: accepted, and its vectors are used.
    auto kb = KnowledgeBase::open(dir / "kb", options);
    EXPECT_EQ(kb.retrieve(dense_query("kiwi worms", 1)).at(0).document_uri.find("kiwi.txt") != std::string::npos, true);
  }
  // An object with another id is refused, naming both.
  OpenOptions other;
  other.embedder_instance = std::make_shared<LetterEmbedder>("other-letters/26");
  const auto refused = error_of([&] { KnowledgeBase::open(dir / "kb", other); });
  EXPECT_TRUE(contains(refused, "test-letters/26") && contains(refused, "other-letters/26")) << refused;

  // Without it the KB opens and answers keyword queries; what needs vectors says what to pass.
  auto without = KnowledgeBase::open(dir / "kb");
  EXPECT_EQ(without.retrieve(keyword_query("kiwi", 3)).size(), 1u);
  const auto dense_error = error_of([&] { without.retrieve(dense_query("kiwi", 3)); });
  EXPECT_TRUE(contains(dense_error, "OpenOptions::embedder_instance")) << dense_error;
  EXPECT_TRUE(contains(dense_error, "test-letters/26")) << dense_error;
  const auto hybrid_error = error_of([&] { without.retrieve(Query("kiwi", 3)); });
  EXPECT_TRUE(contains(hybrid_error, "OpenOptions::embedder_instance")) << hybrid_error;
  const auto ingest_error = error_of([&] { without.ingest({dir / "docs"}); });
  EXPECT_TRUE(contains(ingest_error, "OpenOptions::embedder_instance")) << ingest_error;
}

TEST(ExtensionPoints, AnEmbedderObjectWithARegisteredNameReopensByName) {
  TempDir dir;
  write_docs(dir);
  register_embedder("test-letters-by-name",
                    [](const EmbedderConfig&, const AnalyzerConfig&) { return std::make_unique<LetterEmbedder>(); });
  OpenOptions options;
  options.embedder_instance = std::make_shared<LetterEmbedder>();
  options.embedder = EmbedderConfig{};
  options.embedder->name = "test-letters-by-name";
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
    EXPECT_EQ(kb.stats().embedder.name, "test-letters-by-name");
  }
  auto reopened = KnowledgeBase::open(dir / "kb");  // the registry finds it by the recorded name
  const auto hits = reopened.retrieve(dense_query("quartz quite", 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(contains(hits[0].document_uri, "quartz.txt"));
}

TEST(ExtensionPoints, ARegisteredEmbedderIsFoundByName) {
  TempDir dir;
  write_docs(dir);
  static std::atomic<int> made{0};
  register_embedder("test-letters", [](const EmbedderConfig& config, const AnalyzerConfig&) {
    ++made;
    return std::make_unique<LetterEmbedder>("test-letters/" + config.model);
  });
  const auto names = registered_embedders();
  EXPECT_NE(std::find(names.begin(), names.end(), "test-letters"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "lexical"), names.end());

  OpenOptions options;
  options.embedder = EmbedderConfig{};
  options.embedder->name = "test-letters";
  options.embedder->model = "v1";
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
    EXPECT_EQ(kb.stats().embedder_id, "test-letters/v1");
  }
  auto reopened = KnowledgeBase::open(dir / "kb");
  const auto hits = reopened.retrieve(dense_query("kiwi walk", 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(contains(hits[0].document_uri, "kiwi.txt"));
  EXPECT_EQ(made.load(), 2);  // one embedder per open, shared by ingest and search

  // Names KBs record with a fixed meaning cannot be taken over.
  for (const char* reserved : {"lexical", "openai", "none", "application", ""}) {
    error_of(
        [&] { register_embedder(reserved, [](const EmbedderConfig&, const AnalyzerConfig&) { return nullptr; }); });
  }
}

// Reverses the hits it is given and scores them by position: visible in order and rerank_score.
class ReverseReranker final : public Reranker {
 public:
  explicit ReverseReranker(std::size_t top_n) : top_n_(top_n) {}
  std::string describe() const override { return "test-reverse"; }
  std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const override {
    std::vector<Hit> out(candidates.rbegin(), candidates.rend());
    out.resize(std::min(out.size(), top_n_ == 0 ? request.k : top_n_));
    for (std::size_t i = 0; i < out.size(); ++i) out[i].rerank_score = 1.0 / static_cast<double>(i + 1);
    return out;
  }

 private:
  std::size_t top_n_;
};

TEST(ExtensionPoints, ARegisteredRerankerRunsThroughQueryRerank) {
  TempDir dir;
  write_docs(dir);
  register_reranker("test-reverse",
                    [](const RerankerConfig& config) { return std::make_unique<ReverseReranker>(config.top_n); });
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());

  Query plain = keyword_query("zebras kiwi quartz", 3);
  const auto before = kb.retrieve(plain);
  ASSERT_EQ(before.size(), 3u);
  Query reranked = plain;
  RerankerConfig stage;
  stage.name = "test-reverse";
  stage.top_n = 2;
  reranked.rerank = {stage};
  const auto result = kb.search(reranked);
  ASSERT_EQ(result.hits.size(), 2u);
  EXPECT_EQ(result.hits[0].chunk_id, before[2].chunk_id);
  EXPECT_EQ(result.hits[1].chunk_id, before[1].chunk_id);
  EXPECT_EQ(result.hits[0].rerank_score, 1.0);
  ASSERT_EQ(result.explanation.rerankers.size(), 1u);
  EXPECT_TRUE(contains(result.explanation.rerankers[0], "test-reverse in=3 out=2")) << result.explanation.rerankers[0];
  const auto names = registered_rerankers();
  EXPECT_NE(std::find(names.begin(), names.end(), "test-reverse"), names.end());
}

TEST(ExtensionPoints, UnknownNamesListTheRegisteredOnes) {
  register_embedder("test-listed-embedder",
                    [](const EmbedderConfig&, const AnalyzerConfig&) { return std::make_unique<LetterEmbedder>(); });
  register_reranker("test-listed-reranker",
                    [](const RerankerConfig& config) { return std::make_unique<ReverseReranker>(config.top_n); });
  register_chat_model("test-listed-chat", [](const LlmConfig&) -> std::unique_ptr<ChatModel> { return nullptr; });
  TempDir dir;

  OpenOptions options;
  options.embedder = EmbedderConfig{};
  options.embedder->name = "word2vec";
  const auto embedder_error = error_of([&] { KnowledgeBase::open(dir / "kb", options); });
  EXPECT_TRUE(contains(embedder_error, "unknown embedder \"word2vec\"")) << embedder_error;
  for (const char* name : {"lexical", "openai", "bedrock", "bert", "use-lite", "none", "test-listed-embedder"}) {
    EXPECT_TRUE(contains(embedder_error, name)) << name << " missing from: " << embedder_error;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "kb")) << "refused before anything was created";

  write_docs(dir);
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
  Query query = keyword_query("kiwi", 3);
  RerankerConfig stage;
  stage.name = "colbert";
  query.rerank = {stage};
  const auto reranker_error = error_of([&] { kb.search(query); });
  EXPECT_TRUE(contains(reranker_error, "unknown reranker \"colbert\"")) << reranker_error;
  for (const char* name : {"bedrock", "http", "mmr", "reorder", "test-listed-reranker"}) {
    EXPECT_TRUE(contains(reranker_error, name)) << name << " missing from: " << reranker_error;
  }

  LlmConfig llm;
  llm.provider = "palm";
  llm.model = "bison";
  const auto chat_error = error_of([&] { make_chat_model(llm); });
  EXPECT_TRUE(contains(chat_error, "unknown llm provider \"palm\"")) << chat_error;
  for (const char* name : {"bedrock", "openai", "test-listed-chat"}) {
    EXPECT_TRUE(contains(chat_error, name)) << name << " missing from: " << chat_error;
  }
  const auto providers = registered_chat_models();
  EXPECT_NE(std::find(providers.begin(), providers.end(), "test-listed-chat"), providers.end());
}

}  // namespace
}  // namespace ragline
