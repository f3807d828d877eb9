// Parity of the `bert` embedder with the reference implementation on real weights: for each
// fetched model (scripts/fetch-models.sh), token ids equal the Hugging Face tokenizer's exactly
// and vectors reach cosine >= 0.9999 with sentence-transformers' (torch, float32) for every text
// of tests/data/<model>/ (written by tools/model-parity/). A missing model fails these tests
// unless RAGLINE_ALLOW_MISSING_MODELS=1, as the use-lite tests do.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

fs::path models_dir() {
  const char* configured = std::getenv("RAGLINE_MODELS_DIR");
  return configured && *configured ? fs::path(configured) : fs::path(RAGLINE_SOURCE_DIR) / "models";
}

bool missing_model_allowed() {
  const char* allowed = std::getenv("RAGLINE_ALLOW_MISSING_MODELS");
  return allowed && std::string(allowed) == "1";
}

#define REQUIRE_FETCHED_MODEL(name)                                                                           \
  do {                                                                                                        \
    if (!fs::exists(models_dir() / (name) / "ragline-model.json")) {                                          \
      if (missing_model_allowed()) GTEST_SKIP() << (name) << " not fetched (RAGLINE_ALLOW_MISSING_MODELS=1)"; \
      FAIL() << (name) << " missing under " << models_dir().string() << ": run scripts/fetch-models.sh";      \
    }                                                                                                         \
  } while (false)

// IEEE binary16 to float (the reference vectors are stored as float16 to keep the files small).
float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = (half & 0x8000u) << 16;
  std::uint32_t exponent = (half >> 10) & 0x1Fu;
  std::uint32_t mantissa = half & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

struct ParityCase {
  std::string text;
  std::vector<int> ids;
  std::vector<float> vector;
};

struct ParityData {
  std::size_t max_seq_length = 0;
  std::size_t dimension = 0;
  std::vector<ParityCase> cases;
};

ParityData parity_data(const std::string& model) {
  const auto json = nlohmann::json::parse(testing::read_file(testing::test_data(model + "/expected.json")));
  ParityData data;
  data.max_seq_length = json.at("max_seq_length").get<std::size_t>();
  data.dimension = json.at("dimension").get<std::size_t>();
  const std::string vectors =
      testing::read_file(testing::test_data(model + "/" + json.at("vectors").get<std::string>()));
  const auto& cases = json.at("cases");
  EXPECT_EQ(vectors.size(), cases.size() * data.dimension * 2) << "vectors.f16 does not match expected.json";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    ParityCase entry{cases[i].at("text").get<std::string>(), cases[i].at("ids").get<std::vector<int>>(), {}};
    for (std::size_t c = 0; c < data.dimension && (i * data.dimension + c + 1) * 2 <= vectors.size(); ++c) {
      const std::size_t at = (i * data.dimension + c) * 2;
      const auto lo = static_cast<unsigned char>(vectors[at]), hi = static_cast<unsigned char>(vectors[at + 1]);
      entry.vector.push_back(half_to_float(static_cast<std::uint16_t>(lo | (hi << 8))));
    }
    data.cases.push_back(std::move(entry));
  }
  return data;
}

double cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_b += static_cast<double>(b[i]) * b[i];
  }
  return dot / std::sqrt(norm_a * norm_b);
}

class BertParity : public ::testing::TestWithParam<std::string> {};

// Every text's ids ([CLS] ... [SEP], cut at max_seq_length) equal the Hugging Face tokenizer's:
// accents, CJK, kana and hangul, control and format characters, words over 100 characters, and
// texts around the truncation boundary.
TEST_P(BertParity, TokenIdsEqualTheHuggingFaceTokenizer) {
  REQUIRE_FETCHED_MODEL(GetParam());
  const ParityData data = parity_data(GetParam());
  ASSERT_GE(data.cases.size(), 100u);
  const auto embedder = BertEmbedder::load(models_dir() / GetParam());
  EXPECT_EQ(embedder->max_tokens(), data.max_seq_length);
  std::size_t mismatches = 0;
  for (const auto& expected : data.cases) {
    const auto ids = embedder->token_ids(expected.text, EmbedPurpose::document);
    if (ids != expected.ids) ++mismatches;
    EXPECT_EQ(ids, expected.ids) << "text: \"" << expected.text << "\"";
  }
  EXPECT_EQ(mismatches, 0u);
}

// Every vector reaches cosine >= 0.9999 with sentence-transformers', all texts embedded in one
// call (sorted by length and padded, so masking is exercised), and the truncated texts counted.
TEST_P(BertParity, VectorsMatchSentenceTransformers) {
  REQUIRE_FETCHED_MODEL(GetParam());
  const ParityData data = parity_data(GetParam());
  const auto embedder = BertEmbedder::load(models_dir() / GetParam());
  ASSERT_EQ(embedder->dimension(), data.dimension);
  std::vector<std::string> texts;
  std::size_t expected_truncated = 0;
  for (const auto& expected : data.cases) {
    texts.push_back(expected.text);
    expected_truncated += expected.ids.size() == data.max_seq_length ? 1 : 0;
  }
  const auto matrix = embedder->embed(texts, EmbedPurpose::document);
  ASSERT_EQ(matrix.rows, texts.size());
  double min_cosine = 1.0, max_abs_diff = 0.0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const double similarity = cosine(matrix.row(i), data.cases[i].vector);
    min_cosine = std::min(min_cosine, similarity);
    for (std::size_t c = 0; c < data.dimension; ++c) {
      max_abs_diff = std::max(max_abs_diff, std::abs(static_cast<double>(matrix.row(i)[c]) - data.cases[i].vector[c]));
    }
    EXPECT_GE(similarity, 0.9999) << "text " << i << ": \"" << texts[i] << "\"";
  }
  // Against float16-rounded references, so the absolute difference includes up to 2^-12 relative rounding.
  EXPECT_LT(max_abs_diff, 2e-3);
  // A text of exactly max_seq_length tokens may or may not have been cut; the others are exact.
  EXPECT_GE(embedder->texts_truncated(), expected_truncated > 0 ? 1u : 0u);
  RecordProperty("min_cosine", std::to_string(min_cosine));
  RecordProperty("max_abs_diff", std::to_string(max_abs_diff));
  std::printf("%s: %zu texts, min cosine %.7f, max abs diff %.2e (reference rounded to float16)\n", GetParam().c_str(),
              texts.size(), min_cosine, max_abs_diff);
}

// Addressed by name through the registry: the folder is found in the models folder, and the id
// names the model, not where its files are.
TEST_P(BertParity, RegistryFindsTheModelByName) {
  REQUIRE_FETCHED_MODEL(GetParam());
  const ParityData data = parity_data(GetParam());
  EmbedderConfig config;
  config.name = "bert";
  config.model = GetParam();
  config.models_dir = models_dir().string();
  auto embedder = make_embedder(config);
  const std::string id = embedder->id();
  const std::string prefix = "bert/" + GetParam() + "/" + std::to_string(data.dimension) + "/";
  EXPECT_EQ(id.rfind(prefix, 0), 0u) << id;
  testing::TempDir elsewhere;
  fs::create_directory_symlink(fs::absolute(models_dir() / GetParam()), elsewhere / GetParam());
  config.models_dir = elsewhere.path().string();
  EXPECT_EQ(make_embedder(config)->id(), id);
  // scripts/fusion-sweep.sh with this model (models/README.md): weighted zscore, alpha 0.6, 1,000
  // candidates; a model not measured gets the library's default.
  const FusionConfig fusion = embedder->fusion_defaults();
  EXPECT_EQ(fusion.method, "weighted");
  EXPECT_EQ(fusion.normalization, "zscore");
  EXPECT_DOUBLE_EQ(fusion.alpha, 0.6);
  EXPECT_EQ(fusion.candidates, 1000u);
  const std::vector<std::string> texts = {data.cases[0].text};
  EXPECT_GE(cosine(embedder->embed(texts, EmbedPurpose::query).row(0), data.cases[0].vector), 0.9999);
}

INSTANTIATE_TEST_SUITE_P(FetchedModels, BertParity, ::testing::Values("all-MiniLM-L6-v2"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name;
                           for (char c : param_info.param)
                             name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
                           return name;
                         });

// A KB made with a model addressed by name stores the name, not where the files were: it opens
// and searches with another models folder, and dense search finds a paraphrase.
TEST(BertModelName, KnowledgeBaseStoresTheNameAndOpensFromAnotherModelsFolder) {
  REQUIRE_FETCHED_MODEL("all-MiniLM-L6-v2");
  testing::TempDir dir;
  testing::write_file(dir / "docs" / "cats.txt", "Cats are small domesticated felines that people keep as pets.");
  testing::write_file(dir / "docs" / "rockets.txt", "Rocket engines burn propellant to produce thrust for launch.");
  testing::write_file(dir / "docs" / "budget.txt", "The committee reviewed the quarterly budget figures.");
  OpenOptions options;
  EmbedderConfig embedder;
  embedder.name = "bert";
  embedder.model = "all-MiniLM-L6-v2";
  embedder.models_dir = models_dir().string();
  options.embedder = embedder;
  std::string id;
  {
    auto kb = KnowledgeBase::open(dir / "kb", options);
    ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
    const auto stats = kb.stats();
    EXPECT_EQ(stats.embedder.model, "all-MiniLM-L6-v2");
    id = stats.embedder_id;
  }
  fs::create_directory(dir / "elsewhere");
  fs::create_directory_symlink(fs::absolute(models_dir() / "all-MiniLM-L6-v2"), dir / "elsewhere" / "all-MiniLM-L6-v2");
  embedder.models_dir = (dir / "elsewhere").string();
  options.embedder = embedder;
  auto kb = KnowledgeBase::open(dir / "kb", options);
  EXPECT_EQ(kb.stats().embedder_id, id);
  Query query("a house pet such as a kitten", 3);
  query.mode = SearchMode::dense;
  const auto hits = kb.retrieve(query);
  ASSERT_FALSE(hits.empty());
  EXPECT_NE(hits[0].document_uri.find("cats.txt"), std::string::npos) << hits[0].document_uri;
}

// A bare name missing from the models folder is Error(not_found) naming the name, the folder
// searched and the fetch script; a name never reads a folder of the working directory.
TEST(BertModelName, MissingNameNamesTheFetchScript) {
  testing::TempDir empty;
  EmbedderConfig config;
  config.name = "bert";
  config.model = "no-such-model";
  config.models_dir = empty.path().string();
  const std::string message = testing::error_message_of([&] { make_embedder(config); }, ErrorKind::not_found);
  EXPECT_NE(message.find("no-such-model"), std::string::npos) << message;
  EXPECT_NE(message.find("scripts/fetch-models.sh"), std::string::npos) << message;
  EXPECT_NE(message.find(empty.path().string()), std::string::npos) << message;
  // A path (with a /) is still a path.
  config.model = (empty / "no-such-model").string();
  const std::string path_message = testing::error_message_of([&] { make_embedder(config); }, ErrorKind::not_found);
  EXPECT_NE(path_message.find(config.model), std::string::npos) << path_message;
}

}  // namespace
}  // namespace ragline::models::local
