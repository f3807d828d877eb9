// MMR and long-context reordering on hand-computed examples, the reranker registry and the
// chain runner (candidates in, top_n out, explanations).

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "ragline/error.hpp"
#include "rerank/reranker.hpp"

namespace ragline::rerank {
namespace {

std::vector<Hit> hits_named(const std::vector<std::string>& names) {
  std::vector<Hit> hits;
  for (std::size_t i = 0; i < names.size(); ++i) {
    Hit hit;
    hit.chunk_id = static_cast<std::int64_t>(i + 1);
    hit.text = names[i];
    hit.score = 1.0 / static_cast<double>(i + 1);
    hits.push_back(hit);
  }
  return hits;
}

std::vector<std::string> names_of(const std::vector<Hit>& hits) {
  std::vector<std::string> names;
  for (const auto& hit : hits) names.push_back(hit.text);
  return names;
}

std::vector<float> at_degrees(double degrees) {
  const double radians = degrees * std::numbers::pi / 180.0;
  return {static_cast<float>(std::cos(radians)), static_cast<float>(std::sin(radians))};
}

// The query points at 0 degrees; hit X's vector at angle_of(X). Relevance = cos(angle):
// A 10deg .98481, B 20deg .93969, C -40deg .76604, D 80deg .17365.
double angle_of(const std::string& name) {
  if (name == "A") return 10;
  if (name == "B") return 20;
  if (name == "C") return -40;
  return 80;
}

RerankRequest angle_request(std::size_t k) {
  RerankRequest request;
  request.query = "q";
  request.k = k;
  request.query_vector = [] { return at_degrees(0); };
  request.hit_vectors = [](std::span<const Hit> hits) {
    std::vector<std::vector<float>> vectors;
    for (const auto& hit : hits) vectors.push_back(at_degrees(angle_of(hit.text)));
    return vectors;
  };
  return request;
}

// The hand-computed examples below use the textbook relevance, the query-chunk cosine.
RerankerConfig mmr(double lambda) {
  RerankerConfig config;
  config.name = "mmr";
  config.lambda = lambda;
  config.mmr_relevance = "cosine";
  return config;
}

TEST(Mmr, HalfLambdaPrefersTheDissimilarHitAfterTheFirst) {
  // Step 1: A (0.5 * .98481). Redundancy to A: B cos10 .98481, C cos50 .64279, D cos70 .34202.
  // Step 2: B .5(.93969-.98481) = -.02256, C .5(.76604-.64279) = .06163, D .5(.17365-.34202)
  // = -.08419 -> C. Redundancy of B and D unchanged by C (cos60 .5 < .98481; cos120 < .34202).
  // Step 3: B, then D.
  const auto reranker = make_reranker(mmr(0.5));
  const auto out = reranker->rerank(angle_request(4), hits_named({"A", "B", "C", "D"}));
  EXPECT_EQ(names_of(out), (std::vector<std::string>{"A", "C", "B", "D"}));
  ASSERT_TRUE(out[0].rerank_score.has_value());
  EXPECT_NEAR(*out[0].rerank_score, 0.5 * std::cos(10 * std::numbers::pi / 180), 1e-6);
  EXPECT_NEAR(*out[1].rerank_score,
              0.5 * (std::cos(40 * std::numbers::pi / 180) - std::cos(50 * std::numbers::pi / 180)), 1e-6);
  // Retrieval scores stay.
  EXPECT_DOUBLE_EQ(out[1].score, 1.0 / 3);
}

TEST(Mmr, ScoreRelevanceIsTheMinMaxNormalisedRetrievalScore) {
  // Scores 1, 1/2, 1/3, 1/4 -> relevance A 1, B 1/3, C 1/9, D 0. lambda .5. Step 1: A.
  // Step 2 (redundancy to A: B .98481, C .64279, D .34202): B -.32574, C -.26584, D -.17101 -> D.
  // Step 3 (D at 80deg lowers no redundancy: cos60 to B, cos120 to C): C -.26584 > B -.32574.
  auto config = mmr(0.5);
  config.mmr_relevance = "score";
  const auto out = make_reranker(config)->rerank(angle_request(4), hits_named({"A", "B", "C", "D"}));
  EXPECT_EQ(names_of(out), (std::vector<std::string>{"A", "D", "C", "B"}));
  ASSERT_TRUE(out[1].rerank_score.has_value());
  EXPECT_NEAR(*out[1].rerank_score, -0.5 * std::cos(70 * std::numbers::pi / 180), 1e-6);
  config.mmr_relevance = "bm25";
  EXPECT_THROW(make_reranker(config), Error);
}

TEST(Mmr, LambdaOneIsTheRelevanceOrder) {
  const auto reranker = make_reranker(mmr(1.0));
  const auto out = reranker->rerank(angle_request(4), hits_named({"D", "B", "C", "A"}));
  EXPECT_EQ(names_of(out), (std::vector<std::string>{"A", "B", "C", "D"}));
}

TEST(Mmr, TopNAndMinScoreApply) {
  auto config = mmr(0.5);
  config.top_n = 2;
  EXPECT_EQ(names_of(make_reranker(config)->rerank(angle_request(10), hits_named({"A", "B", "C", "D"}))),
            (std::vector<std::string>{"A", "C"}));
  // min_score drops D (relevance .17365) before selection; k bounds the output when top_n is 0.
  config.top_n = 0;
  config.min_score = 0.5;
  EXPECT_EQ(names_of(make_reranker(config)->rerank(angle_request(10), hits_named({"A", "B", "C", "D"}))),
            (std::vector<std::string>{"A", "C", "B"}));
  config.min_score.reset();
  EXPECT_EQ(names_of(make_reranker(config)->rerank(angle_request(3), hits_named({"A", "B", "C", "D"}))),
            (std::vector<std::string>{"A", "C", "B"}));
}

TEST(Mmr, RejectsLambdaOutsideZeroToOneAndMissingVectors) {
  EXPECT_THROW(make_reranker(mmr(1.5)), Error);
  EXPECT_THROW(make_reranker(mmr(-0.1)), Error);
  RerankRequest no_vectors;
  try {
    make_reranker(mmr(0.5))->rerank(no_vectors, hits_named({"A"}));
    FAIL() << "mmr without vectors must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::unsupported);
  }
}

RerankerConfig reorder(std::size_t top_n = 0) {
  RerankerConfig config;
  config.name = "reorder";
  config.top_n = top_n;
  return config;
}

TEST(Reorder, StrongestAtBothEndsWeakestInTheMiddle) {
  RerankRequest request;
  request.k = 10;
  const auto reranker = make_reranker(reorder());
  EXPECT_EQ(names_of(reranker->rerank(request, hits_named({"1", "2", "3", "4", "5"}))),
            (std::vector<std::string>{"1", "3", "5", "4", "2"}));
  EXPECT_EQ(names_of(reranker->rerank(request, hits_named({"1", "2", "3", "4", "5", "6"}))),
            (std::vector<std::string>{"1", "3", "5", "6", "4", "2"}));
  EXPECT_EQ(names_of(reranker->rerank(request, hits_named({"1"}))), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(reranker->rerank(request, {}).empty());
}

TEST(Reorder, CutsToTopNBeforeArranging) {
  RerankRequest request;
  request.k = 10;
  EXPECT_EQ(names_of(make_reranker(reorder(3))->rerank(request, hits_named({"1", "2", "3", "4", "5"}))),
            (std::vector<std::string>{"1", "3", "2"}));
  request.k = 4;  // top_n 0: the query's k
  EXPECT_EQ(names_of(make_reranker(reorder())->rerank(request, hits_named({"1", "2", "3", "4", "5"}))),
            (std::vector<std::string>{"1", "3", "4", "2"}));
}

TEST(Reorder, RejectsMinScore) {
  auto config = reorder();
  config.min_score = 0.1;
  EXPECT_THROW(make_reranker(config), Error);
}

TEST(Registry, UnknownNamesAreListedAndNewNamesCanBeAdded) {
  RerankerConfig config;
  config.name = "colbert";
  try {
    make_reranker(config);
    FAIL() << "unknown reranker must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("known: bedrock, cross-encoder, http, mmr, reorder"), std::string::npos)
        << error.what();
  }

  class Reverse final : public Reranker {
   public:
    std::string describe() const override { return "reverse"; }
    std::vector<Hit> rerank(const RerankRequest&, std::vector<Hit> candidates) const override {
      return {candidates.rbegin(), candidates.rend()};
    }
  };
  RerankerConfig reverse_config;
  reverse_config.name = "reverse";
  register_reranker("reverse", [](const RerankerConfig&) { return std::make_unique<Reverse>(); });
  EXPECT_EQ(names_of(make_reranker(reverse_config)->rerank({}, hits_named({"1", "2"}))),
            (std::vector<std::string>{"2", "1"}));
}

TEST(Chain, StagesRunInOrderWithCandidatesCutAndExplained) {
  auto first = mmr(1.0);
  first.candidates = 3;  // D, B, C go in: A is cut before the stage
  std::vector<RerankerConfig> stages = {first, reorder()};
  SearchExplanation explanation;
  const auto out = run_rerank_chain(stages, angle_request(3), hits_named({"D", "B", "C", "A"}), explanation);
  // mmr lambda 1 orders by relevance: B, C, D; reorder: B, D, C.
  EXPECT_EQ(names_of(out), (std::vector<std::string>{"B", "D", "C"}));
  ASSERT_EQ(explanation.rerankers.size(), 2u);
  EXPECT_EQ(explanation.rerankers[0].rfind("mmr lambda=1 relevance=cosine in=3 out=3 ms=", 0), 0u)
      << explanation.rerankers[0];
  EXPECT_EQ(explanation.rerankers[1].rfind("reorder in=3 out=3 ms=", 0), 0u) << explanation.rerankers[1];
  EXPECT_GE(explanation.rerank_ms, 0.0);
}

TEST(Chain, FirstStageCandidatesWidenTheRetrieval) {
  EXPECT_EQ(rerank_input_size({}, 10), 10u);
  EXPECT_EQ(rerank_input_size({reorder()}, 10), kDefaultRerankCandidates);
  auto stage = mmr(0.5);
  stage.candidates = 20;
  EXPECT_EQ(rerank_input_size({stage}, 10), 20u);
  EXPECT_EQ(rerank_input_size({stage}, 100), 100u);
}

TEST(Chain, ABadStageFailsBeforeAnyStageRuns) {
  bool ran = false;
  RerankRequest request = angle_request(2);
  request.hit_vectors = [&](std::span<const Hit> hits) {
    ran = true;
    return std::vector<std::vector<float>>(hits.size(), at_degrees(0));
  };
  SearchExplanation explanation;
  EXPECT_THROW(run_rerank_chain({mmr(0.5), mmr(2.0)}, request, hits_named({"A", "B"}), explanation), Error);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace ragline::rerank
