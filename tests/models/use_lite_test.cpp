#include "models/local/use_lite.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "models/embedder.hpp"
#include "models/local/sentencepiece.hpp"
#include "ragline/error.hpp"
#include "ragline/knowledge_base.hpp"
#include "support/test_support.hpp"

namespace ragline::models::local {
namespace {

// The fetched model (scripts/fetch-models.sh): $RAGLINE_MODELS_DIR or <repo>/models. scripts/test.sh
// fetches it first, so a missing model fails these tests unless RAGLINE_ALLOW_MISSING_MODELS=1.
std::filesystem::path models_dir() {
  const char* configured = std::getenv("RAGLINE_MODELS_DIR");
  return configured && *configured ? std::filesystem::path(configured)
                                   : std::filesystem::path(RAGLINE_SOURCE_DIR) / "models";
}

bool missing_model_allowed() {
  const char* allowed = std::getenv("RAGLINE_ALLOW_MISSING_MODELS");
  return allowed && std::string(allowed) == "1";
}

#define REQUIRE_USE_LITE_MODEL()                                                                                  \
  do {                                                                                                            \
    if (!std::filesystem::exists(models_dir() / "use-lite" / "dist" / "model.json")) {                            \
      if (missing_model_allowed()) GTEST_SKIP() << "use-lite model not fetched (RAGLINE_ALLOW_MISSING_MODELS=1)"; \
      FAIL() << "use-lite model missing under " << models_dir().string() << ": run scripts/fetch-models.sh";      \
    }                                                                                                             \
  } while (false)

std::shared_ptr<const UseLiteModel> shared_model() {
  static std::shared_ptr<const UseLiteModel> model = UseLiteModel::load(models_dir() / "use-lite");
  return model;
}

struct ExpectedCase {
  std::string text;
  std::vector<int> ids;
  std::vector<float> vector;
};

std::vector<ExpectedCase> expected_cases() {
  const auto json = nlohmann::json::parse(testing::read_file(testing::test_data("use-lite/expected.json")));
  std::vector<ExpectedCase> cases;
  for (const auto& entry : json.at("cases")) {
    cases.push_back({entry.at("text").get<std::string>(), entry.at("ids").get<std::vector<int>>(),
                     entry.at("vector").get<std::vector<float>>()});
  }
  return cases;
}

double cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_b += static_cast<double>(b[i]) * b[i];
  }
  return dot / std::sqrt(norm_a * norm_b);
}

// Token ids equal the JavaScript reference tokenizer's for every committed sentence (accents,
// CJK, emoji, whitespace, empty, beyond 128 pieces).
TEST(UseLite, TokenizerMatchesTheReferenceIdsExactly) {
  REQUIRE_USE_LITE_MODEL();
  const auto cases = expected_cases();
  ASSERT_GE(cases.size(), 30u);
  for (const auto& expected : cases) {
    EXPECT_EQ(shared_model()->tokenize(expected.text), expected.ids) << "text: " << expected.text;
  }
}

// Vectors reach cosine >= 0.9999 with the TF.js reference for every sentence, embedded in one
// batch (sorted by length, padded) so that masking is exercised.
TEST(UseLite, VectorsMatchTheTfjsReference) {
  REQUIRE_USE_LITE_MODEL();
  const auto cases = expected_cases();
  std::vector<std::string> texts;
  for (const auto& expected : cases) texts.push_back(expected.text);
  std::size_t truncated = 0;
  const Matrix vectors = shared_model()->embed(texts, &truncated);
  ASSERT_EQ(vectors.rows, cases.size());
  ASSERT_EQ(vectors.cols, UseLiteModel::kDimension);
  std::size_t longer = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(cases[i].vector.size(), UseLiteModel::kDimension);
    EXPECT_GE(cosine(vectors.row(i), cases[i].vector), 0.9999) << "text: " << cases[i].text;
    const auto row = vectors.row(i);
    EXPECT_NEAR(std::inner_product(row.begin(), row.end(), row.begin(), 0.0), 1.0, 1e-5);
    if (cases[i].ids.size() > shared_model()->max_pieces()) ++longer;
  }
  EXPECT_GE(longer, 2u);
  EXPECT_EQ(truncated, longer);
}

// A text's vector does not depend on what else is in its batch (padding is masked) nor on the
// thread computing it.
TEST(UseLite, VectorsIndependentOfBatchAndThread) {
  REQUIRE_USE_LITE_MODEL();
  const std::vector<std::string> alone = {"The boundary layer separates near the trailing edge."};
  const Matrix single = shared_model()->embed(alone);
  std::vector<std::string> mixed = {"short", alone[0], std::string(2000, 'x') + " long text", ""};
  Matrix from_thread;
  std::thread worker([&] { from_thread = shared_model()->embed(mixed); });
  const Matrix batched = shared_model()->embed(mixed);
  worker.join();
  for (std::size_t c = 0; c < UseLiteModel::kDimension; ++c) {
    EXPECT_NEAR(batched.at(1, c), single.at(0, c), 1e-5);
    EXPECT_EQ(from_thread.at(1, c), batched.at(1, c));
  }
}

// A folder without the model names the missing file.
TEST(UseLite, MissingModelIsANotFoundErrorNamingTheFile) {
  testing::TempDir dir;
  try {
    UseLiteModel::load(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::not_found);
    EXPECT_NE(std::string(error.what()).find("model.json"), std::string::npos) << error.what();
  }
}

// The unigram search on a hand-made vocabulary: best total score wins, unknown code points become
// one id 0 per run, ASCII spaces become word boundaries.
TEST(SentencePieceUnigram, ViterbiAndUnknownRuns) {
  std::vector<std::pair<std::string, double>> pieces = {
      {"\xEF\xBF\xBD", 0},
      {"<s>", 0},
      {"</s>", 0},
      {"x1", 0},
      {"x2", 0},
      {"x3", 0},
      {"\xE2\x96\x81", -2.0},  // 6: ▁
      {"\xE2\x96\x81"
       "ab",
       -1.0},        // 7: ▁ab
      {"a", -3.0},   // 8
      {"b", -3.0},   // 9
      {"c", -1.5},   // 10
      {"bc", -2.0},  // 11
      {"\xE2\x96\x81"
       "a",
       -2.5},  // 12: ▁a
  };
  const auto tokenizer = SentencePieceUnigram::from_pieces(pieces);
  EXPECT_EQ(tokenizer.encode("abc"), (std::vector<int>{7, 10}));                // ▁ab c (-2.5) beats ▁a bc (-4.5)
  EXPECT_EQ(tokenizer.encode("a\xC3\xA9\xC3\xA9"), (std::vector<int>{12, 0}));  // é é: one unknown
  EXPECT_EQ(tokenizer.encode("ab ab"), (std::vector<int>{7, 7}));
  EXPECT_EQ(tokenizer.encode(""), std::vector<int>{});
  // NFKC: a full-width "ａ" is "a".
  EXPECT_EQ(tokenizer.encode("\xEF\xBD\x81"
                             "b"),
            (std::vector<int>{7}));
}

// The registry builds use-lite by name from the models folder: 512 dimensions, a stable id, and
// the same vectors as the model (the KB's embedder and the CLI go through it).
TEST(UseLiteEmbedder, RegisteredByNameWith512Dimensions) {
  REQUIRE_USE_LITE_MODEL();
  EmbedderConfig config;
  config.name = "use-lite";
  config.models_dir = models_dir().string();
  auto embedder = make_embedder(config);
  EXPECT_EQ(embedder->id(), "use-lite-v1/512");
  EXPECT_EQ(embedder->dimension(), 512u);
  const auto cases = expected_cases();
  const std::vector<std::string> texts = {cases[0].text, cases[33].text};
  const auto matrix = embedder->embed(texts, EmbedPurpose::query);
  ASSERT_EQ(matrix.rows, 2u);
  EXPECT_GE(cosine(matrix.row(0), cases[0].vector), 0.9999);
  EXPECT_GE(cosine(matrix.row(1), cases[33].vector), 0.9999);
  EXPECT_EQ(embedder->texts_truncated(), 1u);  // the second text has 190 pieces
  // scripts/fusion-sweep.sh --embedder use-lite: weighted minmax, alpha 0.2, 1,000 candidates.
  const FusionConfig fusion = embedder->fusion_defaults();
  EXPECT_EQ(fusion.method, "weighted");
  EXPECT_EQ(fusion.normalization, "minmax");
  EXPECT_DOUBLE_EQ(fusion.alpha, 0.2);
  EXPECT_EQ(fusion.candidates, 1000u);
}

// A models folder without use-lite is an error that says how to fetch it; a wrong dimension is
// refused.
TEST(UseLiteEmbedder, MissingModelNamesTheFetchScript) {
  testing::TempDir empty;
  EmbedderConfig config;
  config.name = "use-lite";
  config.models_dir = empty.path().string();
  try {
    make_embedder(config);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::not_found);
    EXPECT_NE(std::string(error.what()).find("scripts/fetch-models.sh"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(empty.path().string()), std::string::npos) << error.what();
  }
  config.dimension = 384;
  EXPECT_THROW(make_embedder(config), Error);
}

// A KB with use-lite: ingest reports chunks cut to the 128-piece window, dense search finds the
// paraphrase, and reopening with another models folder is allowed (where the files are is not
// the model's identity).
TEST(UseLiteEmbedder, KnowledgeBaseIngestReportsTruncationAndSearchesDense) {
  REQUIRE_USE_LITE_MODEL();
  testing::TempDir dir;
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "The committee reviewed the quarterly budget figures again. ";
  testing::write_file(dir / "docs" / "cats.txt", "Cats are small domesticated felines that people keep as pets.");
  testing::write_file(dir / "docs" / "rockets.txt", "Rocket engines burn propellant to produce thrust for launch.");
  testing::write_file(dir / "docs" / "budget.txt", long_text);
  OpenOptions options;
  ChunkerConfig chunker;
  chunker.name = "none";
  options.chunker = chunker;
  EmbedderConfig embedder;
  embedder.name = "use-lite";
  embedder.models_dir = models_dir().string();
  options.embedder = embedder;
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    const auto report = kb.ingest({dir / "docs"});
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report.chunks_embedded, 3u);
    EXPECT_EQ(report.chunks_truncated, 1u);
  }
  embedder.models_dir = std::filesystem::relative(models_dir()).string();
  options.embedder = embedder;
  auto kb = KnowledgeBase::open(dir / "kb", options);
  Query query("a house pet such as a kitten", 3);
  query.mode = SearchMode::dense;
  const auto hits = kb.retrieve(query);
  ASSERT_FALSE(hits.empty());
  EXPECT_NE(hits[0].document_uri.find("cats.txt"), std::string::npos) << hits[0].document_uri;
}

// rag-query embed --json prints {"vectors": [...]} with one array of 512 floats per text, in
// order, equal to the reference vectors.
TEST(UseLiteEmbedder, CliEmbedPrintsJsonVectors) {
  REQUIRE_USE_LITE_MODEL();
  const auto cases = expected_cases();
  const auto result = testing::run_command(std::string(RAGLINE_RAG_QUERY) +
                                           " embed 'Hello world' hello --embedder use-lite --models-dir '" +
                                           models_dir().string() + "' --json");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto vectors = nlohmann::json::parse(result.stdout_text).at("vectors").get<std::vector<std::vector<float>>>();
  ASSERT_EQ(vectors.size(), 2u);
  EXPECT_EQ(vectors[0].size(), 512u);
  EXPECT_GE(cosine(vectors[0], cases[0].vector), 0.9999);
  EXPECT_GE(cosine(vectors[1], cases[1].vector), 0.9999);
}

}  // namespace
}  // namespace ragline::models::local
