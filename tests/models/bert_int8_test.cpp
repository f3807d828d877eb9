// The bert embedder's int8 path (BertOptions::precision, EmbedderConfig::precision) against its
// fp32 path: on the tiny random fixture (tests/data/bert-tiny) and, when fetched, on the real
// all-MiniLM-L6-v2 ($RAGLINE_MODELS_DIR/all-MiniLM-L6-v2), where issue 13 asks for a mean cosine
// of at least 0.995 (held here at 0.997).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/embedder.hpp"
#include "models/local/bert.hpp"
#include "ragline/error.hpp"
#include "ragline/knowledge_base.hpp"
#include "support/test_support.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using ragline::testing::test_data;

struct CosineSummary {
  double mean = 0, min = 1;
};

CosineSummary cosines(const EmbeddingMatrix& a, const EmbeddingMatrix& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.dimension, b.dimension);
  CosineSummary summary;
  for (std::size_t i = 0; i < a.rows; ++i) {
    double dot = 0, norm_a = 0, norm_b = 0;
    for (std::size_t d = 0; d < a.dimension; ++d) {
      dot += static_cast<double>(a.row(i)[d]) * b.row(i)[d];
      norm_a += static_cast<double>(a.row(i)[d]) * a.row(i)[d];
      norm_b += static_cast<double>(b.row(i)[d]) * b.row(i)[d];
    }
    const double cosine = dot / std::sqrt(norm_a * norm_b);
    summary.mean += cosine / static_cast<double>(a.rows);
    summary.min = std::min(summary.min, cosine);
  }
  return summary;
}

std::vector<std::string> varied_texts() {
  return {"a",
          "hello world",
          "The quick brown fox jumps over the lazy dog.",
          "Retrieval-augmented generation combines a search engine with a language model, so that answers cite "
          "passages from a knowledge base instead of the model's memory alone.",
          "Café déjà vu: accents, punctuation!? and numbers 3.14159, 2026-12-07.",
          "int main() { return 0; } // code is text too",
          "Aerodynamic heating of a blunt body at hypersonic speed, measured in a shock tunnel with thin-film gauges "
          "along the stagnation line and compared with laminar boundary-layer theory.",
          "What are the symptoms of iron deficiency anaemia in children?"};
}

TEST(BertInt8, ParsesPrecisionNamesAndRefusesOthers) {
  EXPECT_EQ(parse_bert_precision(""), BertPrecision::fp32);
  EXPECT_EQ(parse_bert_precision("fp32"), BertPrecision::fp32);
  EXPECT_EQ(parse_bert_precision("int8"), BertPrecision::int8);
  try {
    parse_bert_precision("fp16");
    ADD_FAILURE() << "fp16 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("fp16"), std::string::npos) << e.what();
  }
}

TEST(BertInt8, TinyFixtureStaysCloseToFp32AndHasItsOwnId) {
  BertOptions int8_options;
  int8_options.precision = BertPrecision::int8;
  auto fp32 = BertEmbedder::load(test_data("bert-tiny"));
  auto int8 = BertEmbedder::load(test_data("bert-tiny"), int8_options);
  EXPECT_EQ(int8->precision(), BertPrecision::int8);
  EXPECT_NE(fp32->id(), int8->id());
  EXPECT_EQ(fp32->id().substr(0, fp32->id().rfind('/')), int8->id().substr(0, int8->id().rfind('/')));
  const auto texts = varied_texts();
  const auto reference = fp32->embed(texts, EmbedPurpose::document);
  const auto quantized = int8->embed(texts, EmbedPurpose::document);
  const CosineSummary summary = cosines(quantized, reference);
  // A random 2-layer model of width 32: coarser than a trained one (quantisation steps of
  // 1/255 of a row's range over only 32 inputs), hence the looser bound here.
  EXPECT_GT(summary.mean, 0.99);
  EXPECT_GT(summary.min, 0.97);
  // Not the same vectors: the int8 path really ran.
  EXPECT_NE(quantized.values, reference.values);
  // Batching does not change a text's int8 vector (activations are quantised per row).
  const std::vector<std::string> alone = {texts[3]};
  const auto single = int8->embed(alone, EmbedPurpose::document);
  for (std::size_t d = 0; d < single.dimension; ++d) EXPECT_NEAR(single.row(0)[d], quantized.row(3)[d], 1e-5);
}

TEST(BertInt8, EmbedderConfigChoosesThePrecision) {
  EmbedderConfig config;
  config.name = "bert";
  config.model = test_data("bert-tiny").string();
  const auto fp32_id = make_embedder(config)->id();
  config.precision = "fp32";
  EXPECT_EQ(make_embedder(config)->id(), fp32_id);
  config.precision = "int8";
  EXPECT_NE(make_embedder(config)->id(), fp32_id);
  config.precision = "bf16";
  EXPECT_THROW(make_embedder(config), Error);
}

TEST(BertInt8, KnowledgeBaseKeepsItsPrecisionAndTheCliEmbedsInInt8) {
  testing::TempDir dir;
  testing::write_file(dir / "docs" / "a.txt", "Wind tunnel measurements of lift on a slender wing.");
  OpenOptions options;
  EmbedderConfig embedder;
  embedder.name = "bert";
  embedder.model = test_data("bert-tiny").string();
  embedder.precision = "int8";
  options.embedder = embedder;
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
  }
  // Reopened as int8: fine; as fp32 (or with the precision left to the default): refused.
  EXPECT_NO_THROW(KnowledgeBase::open(dir / "kb", options));
  for (const char* other : {"fp32", ""}) {
    embedder.precision = other;
    options.embedder = embedder;
    try {
      KnowledgeBase::open(dir / "kb", options);
      ADD_FAILURE() << "an int8 KB opened with precision \"" << other << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos) << e.what();
    }
  }

  const std::string command = std::string(RAGLINE_RAG_QUERY) + " embed 'hello world' --embedder bert --embed-model '" +
                              test_data("bert-tiny").string() + "' --json --precision ";
  const auto fp32_run = testing::run_command(command + "fp32");
  const auto int8_run = testing::run_command(command + "int8");
  ASSERT_EQ(fp32_run.exit_code, 0) << fp32_run.stderr_text;
  ASSERT_EQ(int8_run.exit_code, 0) << int8_run.stderr_text;
  const auto fp32_vector = nlohmann::json::parse(fp32_run.stdout_text).at("vectors").at(0).get<std::vector<float>>();
  const auto int8_vector = nlohmann::json::parse(int8_run.stdout_text).at("vectors").at(0).get<std::vector<float>>();
  ASSERT_EQ(fp32_vector.size(), int8_vector.size());
  EXPECT_NE(fp32_vector, int8_vector);
  double dot = 0;
  for (std::size_t d = 0; d < fp32_vector.size(); ++d) dot += static_cast<double>(fp32_vector[d]) * int8_vector[d];
  EXPECT_GT(dot, 0.98);
  const auto bad = testing::run_command(command + "fp16");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.stderr_text.find("fp16"), std::string::npos) << bad.stderr_text;
}

TEST(BertInt8, RealMiniLmMeanCosineToFp32AtLeast0997) {
  const char* configured = std::getenv("RAGLINE_MODELS_DIR");
  const fs::path folder =
      (configured && *configured ? fs::path(configured) : fs::path(RAGLINE_SOURCE_DIR) / "models") / "all-MiniLM-L6-v2";
  if (!fs::exists(folder / "model.safetensors")) {
    GTEST_SKIP() << "all-MiniLM-L6-v2 not fetched under " << folder.parent_path().string();
  }
  BertOptions int8_options;
  int8_options.precision = BertPrecision::int8;
  auto fp32 = BertEmbedder::load(folder);
  auto int8 = BertEmbedder::load(folder, int8_options);
  auto texts = varied_texts();
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "the engine ranks passages by meaning and by words; ";
  texts.push_back(long_text);
  const CosineSummary summary =
      cosines(int8->embed(texts, EmbedPurpose::document), fp32->embed(texts, EmbedPurpose::document));
  // Issue 13 asks for 0.995. With zero-point activations these texts measure 0.9986 (min 0.9974)
  // and 32 random 120-word texts 0.9974 (min 0.9964, symmetric activations: 0.9941 / 0.9894).
  EXPECT_GE(summary.mean, 0.997);
  EXPECT_GE(summary.min, 0.995);
}

}  // namespace
}  // namespace ragline::models::local
