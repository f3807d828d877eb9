#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "models/embedder.hpp"
#include "ragline/error.hpp"

namespace ragline::models {
namespace {

float dot(std::span<const float> a, std::span<const float> b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0f);
}

EmbeddingMatrix embed(Embedder& embedder, std::vector<std::string> texts) {
  return embedder.embed(texts, EmbedPurpose::document);
}

TEST(LexicalEmbedder, IsTheDefaultWithDimension768AndUnitVectors) {
  auto embedder = make_embedder(EmbedderConfig{});
  EXPECT_EQ(embedder->dimension(), 768u);
  EXPECT_EQ(embedder->id(), "lexical-v1/768/english");
  const auto matrix = embed(*embedder, {"Wind tunnels measure lift and drag.", "A second, different sentence."});
  ASSERT_EQ(matrix.rows, 2u);
  ASSERT_EQ(matrix.values.size(), 2u * 768u);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_NEAR(dot(matrix.row(i), matrix.row(i)), 1.0f, 1e-5);
}

TEST(LexicalEmbedder, IsDeterministicAndIndependentOfBatching) {
  auto embedder = make_embedder(EmbedderConfig{});
  const auto together = embed(*embedder, {"alpha beta gamma", "delta epsilon"});
  const auto alone = embed(*embedder, {"delta epsilon"});
  auto other_instance = make_embedder(EmbedderConfig{});
  const auto again = embed(*other_instance, {"alpha beta gamma"});
  for (std::size_t d = 0; d < 768; ++d) {
    EXPECT_EQ(together.row(1)[d], alone.row(0)[d]);
    EXPECT_EQ(together.row(0)[d], again.row(0)[d]);
  }
}

TEST(LexicalEmbedder, RanksSharedWordsTyposAndInflectionsAboveUnrelatedText) {
  auto embedder = make_embedder(EmbedderConfig{});
  const auto m = embed(*embedder, {
                                      "retrieval of documents for question answering",        // 0: query
                                      "document retrieving for answering questions",          // 1: inflected
                                      "retreival of documnets for questoin answering",        // 2: typos
                                      "the boundary layer separates near the trailing edge",  // 3: unrelated
                                  });
  const float inflected = dot(m.row(0), m.row(1));
  const float typos = dot(m.row(0), m.row(2));
  const float unrelated = dot(m.row(0), m.row(3));
  EXPECT_GT(inflected, unrelated + 0.2f);
  EXPECT_GT(typos, unrelated + 0.2f);
  EXPECT_LT(std::fabs(unrelated), 0.15f);
}

TEST(LexicalEmbedder, DropsStopwordsSoFunctionWordsDoNotMakeTextsSimilar) {
  auto embedder = make_embedder(EmbedderConfig{});
  const auto m = embed(*embedder, {"the cat is on the mat", "the theory of the wing is in the book"});
  EXPECT_LT(dot(m.row(0), m.row(1)), 0.1f);
}

TEST(LexicalEmbedder, EmptyAndSymbolOnlyTextsGiveZeroVectors) {
  auto embedder = make_embedder(EmbedderConfig{});
  const auto m = embed(*embedder, {"", "  !!! ... "});
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(dot(m.row(i), m.row(i)), 0.0f);
}

TEST(LexicalEmbedder, HandlesCjkAndAccentsAndHonoursTheDimension) {
  EmbedderConfig config;
  config.dimension = 256;
  auto embedder = make_embedder(config);
  EXPECT_EQ(embedder->dimension(), 256u);
  EXPECT_EQ(embedder->id(), "lexical-v1/256/english");
  const auto m = embed(*embedder, {"東京の天気は晴れです", "東京の天気", "résumé café"});
  EXPECT_GT(dot(m.row(0), m.row(1)), 0.3f);
  EXPECT_NEAR(dot(m.row(2), m.row(2)), 1.0f, 1e-5);
}

TEST(Embedders, UnknownNamesAndBadDimensionsAreRefused) {
  EmbedderConfig config;
  config.name = "word2vec";
  try {
    make_embedder(config);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("word2vec"), std::string::npos);
  }
  config.name = "lexical";
  config.dimension = 4;
  EXPECT_THROW(make_embedder(config), Error);
}

}  // namespace
}  // namespace ragline::models
