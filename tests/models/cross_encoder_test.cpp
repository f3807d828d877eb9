// The local cross-encoder (models/local/cross_encoder.hpp) against sentence-transformers'
// CrossEncoder on the tiny random BertForSequenceClassification of tests/data/cross-encoder-tiny
// (tools/cross-encoder-fixture/make_fixture.py): token ids and token types equal, logits and
// scores within 1e-4, for 50 pairs (short, past the 40-token window on either side or both,
// accents, CJK, numbers, control characters, empty query or passage). No registry package
// carries real cross-encoder weights, so the parity is on random weights (rerank/README.md).
#include "models/local/cross_encoder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>

#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ragline::testing::read_file;
using ragline::testing::TempDir;
using ragline::testing::test_data;
using ragline::testing::write_file;

const json& expected() {
  static const json parsed = json::parse(read_file(test_data("cross-encoder-tiny/expected.json")));
  return parsed;
}

const CrossEncoder& fixture() {
  static const std::unique_ptr<CrossEncoder> model = CrossEncoder::load(test_data("cross-encoder-tiny"));
  return *model;
}

// A copy of the fixture whose config.json `edit` changes.
fs::path edited_copy(const fs::path& dir, const std::function<void(json&)>& edit) {
  const fs::path source = test_data("cross-encoder-tiny");
  const fs::path target = dir / "model";
  fs::create_directories(target);
  for (const char* file : {"vocab.txt", "tokenizer_config.json", "model.safetensors"}) {
    fs::copy_file(source / file, target / file);
  }
  json config = json::parse(read_file(source / "config.json"));
  edit(config);
  write_file(target / "config.json", config.dump());
  return target;
}

TEST(CrossEncoder, ReadsTheFixtureConfiguration) {
  EXPECT_EQ(fixture().max_tokens(), expected().at("max_tokens").get<std::size_t>());
  EXPECT_EQ(fixture().config().num_layers, 2u);
  EXPECT_EQ(fixture().activation(), CrossEncoderActivation::sigmoid);  // no activation named: one label
  EXPECT_EQ(fixture().id().rfind("cross-encoder/cross-encoder-tiny/", 0), 0u) << fixture().id();
}

TEST(CrossEncoder, TokenIdsAndTypesEqualTheReference) {
  std::size_t truncated = 0;
  for (const auto& record : expected().at("pairs")) {
    const auto query = record.at("query").get<std::string>();
    const auto passage = record.at("passage").get<std::string>();
    const CrossEncoderPair pair = fixture().encode_pair(query, passage);
    EXPECT_EQ(pair.ids, record.at("ids").get<std::vector<int>>()) << "query: " << query << "\npassage: " << passage;
    EXPECT_EQ(pair.token_types, record.at("token_types").get<std::vector<int>>()) << "query: " << query;
    truncated += pair.truncated ? 1 : 0;
  }
  EXPECT_GE(truncated, 8u) << "the fixture should exercise longest-first truncation";
}

TEST(CrossEncoder, ScoresMatchSentenceTransformersWithin1e4) {
  // One query per call, as the reranker scores: all pairs of a query in one batch.
  double worst_logit = 0, worst_score = 0;
  for (const auto& record : expected().at("pairs")) {
    const std::vector<std::string> passage = {record.at("passage").get<std::string>()};
    const auto query = record.at("query").get<std::string>();
    const float logit = fixture().logits(query, passage).at(0);
    const float score = fixture().scores(query, passage).at(0);
    worst_logit = std::max(worst_logit, std::abs(logit - record.at("logit").get<double>()));
    worst_score = std::max(worst_score, std::abs(score - record.at("score").get<double>()));
  }
  RecordProperty("max_logit_diff", std::to_string(worst_logit));
  RecordProperty("max_score_diff", std::to_string(worst_score));
  std::cout << "max |logit - reference| " << worst_logit << ", max |score - reference| " << worst_score << "\n";
  EXPECT_LT(worst_logit, 1e-4);
  EXPECT_LT(worst_score, 1e-4);
}

TEST(CrossEncoder, BatchingAndThreadsDoNotChangeScores) {
  // Many passages for one query: sorted by length into padded batches.
  const std::string query = "wind tunnel lift";
  std::vector<std::string> passages;
  for (const auto& record : expected().at("pairs")) passages.push_back(record.at("passage").get<std::string>());
  std::vector<float> alone;
  for (const auto& passage : passages) alone.push_back(fixture().scores(query, std::vector<std::string>{passage})[0]);
  CrossEncoderOptions small_batches;
  small_batches.batch_size = 3;
  const auto batched_model = CrossEncoder::load(test_data("cross-encoder-tiny"), small_batches);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      results[t] = t % 2 == 0 ? fixture().scores(query, passages) : batched_model->scores(query, passages);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_EQ(result.size(), alone.size());
    for (std::size_t i = 0; i < alone.size(); ++i) EXPECT_NEAR(result[i], alone[i], 1e-5) << passages[i];
  }
}

// Precision int8 runs the encoder through the embedder's int8 path (bert_encoder.hpp): the logits
// of the 50 reference pairs follow fp32's closely (correlation and the largest gap relative to
// their spread), and the id tells the two apart while fp32's stays what it was.
TEST(CrossEncoder, Int8LogitsFollowFp32) {
  CrossEncoderOptions int8_options;
  int8_options.precision = BertPrecision::int8;
  const auto int8_model = CrossEncoder::load(test_data("cross-encoder-tiny"), int8_options);
  EXPECT_EQ(int8_model->precision(), BertPrecision::int8);
  EXPECT_EQ(fixture().precision(), BertPrecision::fp32);
  EXPECT_NE(int8_model->id(), fixture().id());
  std::vector<double> fp32, int8;
  for (const auto& record : expected().at("pairs")) {
    const std::vector<std::string> passage = {record.at("passage").get<std::string>()};
    const auto query = record.at("query").get<std::string>();
    fp32.push_back(fixture().logits(query, passage).at(0));
    int8.push_back(int8_model->logits(query, passage).at(0));
  }
  const auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); };
  const double mean_fp32 = mean(fp32), mean_int8 = mean(int8);
  double covariance = 0, variance_fp32 = 0, variance_int8 = 0, worst = 0;
  for (std::size_t i = 0; i < fp32.size(); ++i) {
    covariance += (fp32[i] - mean_fp32) * (int8[i] - mean_int8);
    variance_fp32 += (fp32[i] - mean_fp32) * (fp32[i] - mean_fp32);
    variance_int8 += (int8[i] - mean_int8) * (int8[i] - mean_int8);
    worst = std::max(worst, std::abs(fp32[i] - int8[i]));
  }
  const double correlation = covariance / std::sqrt(variance_fp32 * variance_int8);
  const double spread = std::sqrt(variance_fp32 / fp32.size());
  std::cout << "int8 vs fp32 logits: correlation " << correlation << ", max gap " << worst << " (fp32 sd " << spread
            << ")\n";
  RecordProperty("int8_logit_correlation", std::to_string(correlation));
  EXPECT_GT(correlation, 0.99);
  EXPECT_LT(worst, 0.25 * spread);
}

TEST(CrossEncoder, IdentityActivationReturnsTheLogits) {
  TempDir dir;
  const fs::path folder = edited_copy(dir.path(), [](json& config) {
    config["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.linear.Identity"}};
  });
  const auto model = CrossEncoder::load(folder);
  EXPECT_EQ(model->activation(), CrossEncoderActivation::identity);
  const auto& record = expected().at("pairs").at(0);
  const std::vector<std::string> passage = {record.at("passage").get<std::string>()};
  EXPECT_NEAR(model->scores(record.at("query").get<std::string>(), passage)[0], record.at("logit").get<double>(), 1e-4);

  // The name sentence-transformers < 4 wrote.
  const fs::path old_style = edited_copy(dir / "old", [](json& config) {
    config["sbert_ce_default_activation_function"] = "torch.nn.modules.linear.Identity";
  });
  EXPECT_EQ(CrossEncoder::load(old_style)->activation(), CrossEncoderActivation::identity);
}

TEST(CrossEncoder, RefusesModelsItDoesNotRun) {
  TempDir dir;
  const auto message = [](const fs::path& folder, ErrorKind kind) {
    return ragline::testing::error_message_of([&] { CrossEncoder::load(folder); }, kind);
  };
  EXPECT_NE(message(dir / "absent", ErrorKind::not_found).find("does not exist"), std::string::npos);

  const fs::path two_labels = edited_copy(dir / "a", [](json& config) {
    config["id2label"] = {{"0", "no"}, {"1", "yes"}};
    config.erase("label2id");
  });
  EXPECT_NE(message(two_labels, ErrorKind::unsupported).find("2 labels"), std::string::npos);

  const fs::path roberta =
      edited_copy(dir / "b", [](json& config) { config["architectures"] = {"XLMRobertaForSequenceClassification"}; });
  EXPECT_NE(message(roberta, ErrorKind::unsupported).find("XLMRobertaForSequenceClassification"), std::string::npos);

  const fs::path softmax = edited_copy(dir / "c", [](json& config) {
    config["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.activation.Softmax"}};
  });
  EXPECT_NE(message(softmax, ErrorKind::unsupported).find("Softmax"), std::string::npos);

  const fs::path one_type = edited_copy(dir / "d", [](json& config) { config["type_vocab_size"] = 1; });
  EXPECT_NE(message(one_type, ErrorKind::format).find("type_vocab_size"), std::string::npos);

  // An encoder without the head (a sentence embedder's weights) names the missing tensor.
  const fs::path headless = edited_copy(dir / "e", [](json&) {});
  fs::copy_file(test_data("bert-tiny/model.safetensors"), headless / "model.safetensors",
                fs::copy_options::overwrite_existing);
  const std::string missing = message(headless, ErrorKind::format);
  EXPECT_NE(missing.find("no tensor"), std::string::npos) << missing;
}

}  // namespace
}  // namespace ragline::models::local
