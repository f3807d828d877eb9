// The cross-encoder stage through KnowledgeBase::search and rag-query, on the tiny random
// cross-encoder of tests/data/cross-encoder-tiny: the hits come back in the order of the scores
// the model gives their texts, the model is found by name in the models folder or by path, and a
// missing model is an error naming the fetch script.

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/local/cross_encoder.hpp"
#include "ragline/ragline.hpp"
#include "rerank/reranker_service.hpp"
#include "support/notes_kb.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::quoted;
using testing::rag_query;
using testing::run_command;
using testing::TempDir;

// Notes in the fixture's vocabulary, so the model sees real pieces rather than [UNK].
const testing::Notes kNotes = {
    {"n0", "wind tunnel measure pressure flow"},
    {"n1", "aircraft wing lift and drag in a wind tunnel"},
    {"n2", "red and white blood cell study"},
    {"n3", "patient study of cancer in the blood"},
    {"n4", "information retrieval in a library book"},
    {"n5", "the quick brown fox jumps over the lazy dog in the wind"},
    {"n6", "heat flow and pressure on a wing"},
    {"n7", "searching relevant passages with a search engine"},
};

RerankerConfig cross_encoder_stage(const std::string& model) {
  RerankerConfig config;
  config.name = "cross-encoder";
  config.model = model;
  return config;
}

class CrossEncoderRerank : public testing::NotesKbTest {
 protected:
  CrossEncoderRerank() : NotesKbTest(kNotes) {}
};

TEST_F(CrossEncoderRerank, IsRegistered) {
  const auto names = registered_rerankers();
  EXPECT_NE(std::find(names.begin(), names.end(), "cross-encoder"), names.end());
}

TEST_F(CrossEncoderRerank, OrdersHitsByTheModelsScores) {
  const std::string model_path = testing::test_data("cross-encoder-tiny").string();
  Query query("wind tunnel pressure", 5);
  query.mode = SearchMode::bm25;
  const auto retrieved = kb_->search(query).hits;
  ASSERT_GE(retrieved.size(), 3u);

  query.rerank = {cross_encoder_stage(model_path)};
  query.rerank[0].candidates = 8;
  const auto result = kb_->search(query);
  ASSERT_FALSE(result.hits.empty());
  ASSERT_LE(result.hits.size(), 5u);

  // The scores the model gives each hit's text, computed here without the reranker.
  const auto model = models::local::CrossEncoder::load(model_path);
  std::vector<std::string> documents;
  for (const auto& hit : result.hits) documents.push_back(rerank::document_text(hit));
  const std::vector<float> scores = model->scores(query.text, documents);
  for (std::size_t i = 0; i < result.hits.size(); ++i) {
    ASSERT_TRUE(result.hits[i].rerank_score.has_value());
    EXPECT_NEAR(*result.hits[i].rerank_score, scores[i], 1e-6) << result.hits[i].text;
    if (i > 0) {
      EXPECT_GE(*result.hits[i - 1].rerank_score, *result.hits[i].rerank_score);
    }
  }
  ASSERT_EQ(result.explanation.rerankers.size(), 1u);
  EXPECT_EQ(result.explanation.rerankers[0].rfind("cross-encoder model=" + model_path, 0), 0u)
      << result.explanation.rerankers[0];

  // Every candidate was scored: the best of all candidates leads.
  Query all = query;
  all.k = 8;
  const auto every = kb_->search(all).hits;
  double best = -1;
  for (const auto& hit : every) best = std::max(best, *hit.rerank_score);
  EXPECT_DOUBLE_EQ(*result.hits[0].rerank_score, best);

  // min_score drops what scores below it; top_n cuts.
  Query strict = all;
  strict.rerank[0].min_score = *every[2].rerank_score;
  EXPECT_EQ(kb_->search(strict).hits.size(), 3u);
  Query cut = all;
  cut.rerank[0].top_n = 2;
  EXPECT_EQ(kb_->search(cut).hits.size(), 2u);
}

TEST_F(CrossEncoderRerank, FindsTheModelByNameInTheModelsFolder) {
  TempDir models;
  fs::copy(testing::test_data("cross-encoder-tiny"), models / "tiny-ce");
  const char* previous = std::getenv("RAGLINE_MODELS_DIR");
  const std::string saved = previous ? previous : "";
  setenv("RAGLINE_MODELS_DIR", models.path().c_str(), 1);
  Query query("blood cell", 3);
  query.rerank = {cross_encoder_stage("tiny-ce")};
  const auto found = kb_->search(query);
  EXPECT_EQ(found.hits.size(), 3u);

  query.rerank = {cross_encoder_stage("no-such-model")};
  const std::string message = testing::error_message_of([&] { kb_->search(query); }, ErrorKind::not_found);
  EXPECT_NE(message.find("no-such-model"), std::string::npos) << message;
  EXPECT_NE(message.find("scripts/fetch-models.sh"), std::string::npos) << message;
  if (previous) {
    setenv("RAGLINE_MODELS_DIR", saved.c_str(), 1);
  } else {
    unsetenv("RAGLINE_MODELS_DIR");
  }

  query.rerank = {cross_encoder_stage("")};
  testing::error_message_of([&] { kb_->search(query); }, ErrorKind::invalid_argument);
}

TEST_F(CrossEncoderRerank, RagQueryRunsItFromTheCommandLine) {
  const std::string model_path = testing::test_data("cross-encoder-tiny").string();
  auto result = run_command(rag_query("query 'aircraft wing' --kb " + quoted(dir_ / "kb") +
                                      " -k 3 --json --explain --rerank cross-encoder --rerank-model " +
                                      testing::quoted(fs::path(model_path)) + " --rerank-candidates 6"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const json output = json::parse(result.stdout_text);
  ASSERT_EQ(output["hits"].size(), 3u);
  const auto& stages = output["explanation"]["rerankers"];
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_NE(stages[0].get<std::string>().find("in=6 out=3"), std::string::npos) << stages[0];
  double previous = 2;
  for (const auto& hit : output["hits"]) {
    ASSERT_TRUE(hit.contains("rerank_score")) << hit;
    EXPECT_LE(hit["rerank_score"].get<double>(), previous);
    previous = hit["rerank_score"].get<double>();
  }

  result = run_command(rag_query("query 'aircraft wing' --kb " + quoted(dir_ / "kb") +
                                 " --rerank cross-encoder --rerank-model " + quoted(dir_ / "missing-model")));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("missing-model"), std::string::npos) << result.stderr_text;
}

}  // namespace
}  // namespace ragline
