#include "retrieve/fusion.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "ragline/error.hpp"
#include "retrieve/retriever.hpp"

namespace ragline::retrieve {
namespace {

// The two lists most tests fuse: ids 1 and 3 are found by both sides, 2 only by BM25, 4 only
// by the dense side.
const std::vector<ScoredId> kBm25{{1, 12.0}, {2, 8.0}, {3, 5.0}};
const std::vector<ScoredId> kDense{{3, 0.9}, {4, 0.8}, {1, 0.5}};

std::vector<std::int64_t> ids_of(const std::vector<FusedHit>& hits) {
  std::vector<std::int64_t> ids;
  for (const auto& hit : hits) ids.push_back(hit.id);
  return ids;
}

const FusedHit& hit_with_id(const std::vector<FusedHit>& hits, std::int64_t id) {
  for (const auto& hit : hits) {
    if (hit.id == id) return hit;
  }
  throw std::runtime_error("no hit with id " + std::to_string(id));
}

FusionConfig config_for(const std::string& method) {
  FusionConfig config;
  config.method = method;
  return config;
}

TEST(Fusion, RrfSumsWeightedReciprocalRanksAndBreaksTiesBySmallerId) {
  // rrf_k 60: ids 1 and 3 rank 1 and 3 on opposite sides (tie), 2 and 4 rank 2 on one side (tie).
  const auto hits = fuse(config_for("rrf"), kBm25, kDense);
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{1, 3, 2, 4}));
  EXPECT_DOUBLE_EQ(hits[0].score, 1.0 / 61 + 1.0 / 63);
  EXPECT_DOUBLE_EQ(hits[1].score, 1.0 / 63 + 1.0 / 61);
  EXPECT_DOUBLE_EQ(hits[2].score, 1.0 / 62);
  EXPECT_DOUBLE_EQ(hits[3].score, 1.0 / 62);
  EXPECT_NEAR(hits[0].score, 0.0322664585, 1e-10);  // 0.0163934426 + 0.0158730159
}

TEST(Fusion, RrfUsesTheSideWeightsAndRrfK) {
  // bm25_weight 2, dense_weight 0.5, rrf_k 10.
  FusionConfig config = config_for("rrf");
  config.bm25_weight = 2;
  config.dense_weight = 0.5;
  config.rrf_k = 10;
  const auto hits = fuse(config, kBm25, kDense);
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{1, 3, 2, 4}));
  EXPECT_NEAR(hits[0].score, 2.0 / 11 + 0.5 / 13, 1e-12);  // 0.2202797
  EXPECT_NEAR(hits[1].score, 2.0 / 13 + 0.5 / 11, 1e-12);  // 0.1993007
  EXPECT_NEAR(hits[2].score, 2.0 / 12, 1e-12);             // 0.1666667
  EXPECT_NEAR(hits[3].score, 0.5 / 12, 1e-12);             // 0.0416667
  EXPECT_NEAR(hits[0].score, 0.2202797, 1e-7);
}

TEST(Fusion, HitsKeepEachSidesRankAndRawScore) {
  // For --explain: 1-based rank and raw score per side, nullopt where a side did not find it.
  const auto hits = fuse(config_for("rrf"), kBm25, kDense);
  const auto& both = hit_with_id(hits, 1);
  ASSERT_TRUE(both.bm25 && both.dense);
  EXPECT_EQ(both.bm25->rank, 1u);
  EXPECT_EQ(both.bm25->score, 12.0);
  EXPECT_EQ(both.dense->rank, 3u);
  EXPECT_EQ(both.dense->score, 0.5);
  const auto& bm25_only = hit_with_id(hits, 2);
  ASSERT_TRUE(bm25_only.bm25);
  EXPECT_EQ(bm25_only.bm25->rank, 2u);
  EXPECT_FALSE(bm25_only.dense);
  const auto& dense_only = hit_with_id(hits, 4);
  EXPECT_FALSE(dense_only.bm25);
  ASSERT_TRUE(dense_only.dense);
  EXPECT_EQ(dense_only.dense->rank, 2u);
  EXPECT_EQ(dense_only.dense->score, 0.8);
}

TEST(Fusion, WeightedMinMaxWithMissingSidesAtZero) {
  // alpha 0.25. BM25 12, 8, 5 -> 1, 3/7, 0; dense 0.9, 0.8, 0.5 -> 1, 0.75, 0; missing -> 0.
  FusionConfig config = config_for("weighted");
  config.alpha = 0.25;
  const auto hits = fuse(config, kBm25, kDense);
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_NEAR(hits[0].score, 0.75 * 1 + 0.25 * 0, 1e-12);          // id 1
  EXPECT_NEAR(hits[1].score, 0.75 * (3.0 / 7) + 0.25 * 0, 1e-12);  // id 2, no dense score
  EXPECT_NEAR(hits[2].score, 0.75 * 0 + 0.25 * 1, 1e-12);          // id 3
  EXPECT_NEAR(hits[3].score, 0.75 * 0 + 0.25 * 0.75, 1e-12);       // id 4, no BM25 score
  EXPECT_NEAR(hits[1].score, 0.3214286, 1e-7);
}

TEST(Fusion, WeightedZScoreWithMissingSidesAtTheListMinimum) {
  // alpha 0.5, population std. BM25: mean 25/3, std sqrt(74/9) = 2.8674418 -> z 1.2787240,
  // -0.1162476, -1.1624764. Dense: mean 0.7333333, std sqrt(0.26/9) = 0.1699673 -> z 0.9805807,
  // 0.3922323, -1.3728129. A missing side takes that list's lowest z.
  FusionConfig config = config_for("weighted");
  config.normalization = "zscore";
  const auto hits = fuse(config, kBm25, kDense);
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{1, 3, 4, 2}));
  EXPECT_NEAR(hit_with_id(hits, 1).score, 0.5 * 1.2787240 + 0.5 * -1.3728129, 1e-6);   // -0.0470444
  EXPECT_NEAR(hit_with_id(hits, 3).score, 0.5 * -1.1624764 + 0.5 * 0.9805807, 1e-6);   // -0.0909479
  EXPECT_NEAR(hit_with_id(hits, 4).score, 0.5 * -1.1624764 + 0.5 * 0.3922323, 1e-6);   // -0.3851221
  EXPECT_NEAR(hit_with_id(hits, 2).score, 0.5 * -0.1162476 + 0.5 * -1.3728129, 1e-6);  // -0.7445303
  const double bm25_std = std::sqrt(74.0 / 9);
  EXPECT_NEAR(hit_with_id(hits, 2).score, 0.5 * (8 - 25.0 / 3) / bm25_std + 0.5 * (0.5 - 2.2 / 3) / std::sqrt(0.26 / 9),
              1e-12);
}

TEST(Fusion, DbsfScalesMeanPlusMinusThreeSigmaToUnitRange) {
  // alpha 0.7. BM25 limits 25/3 -+ 3 * 2.8674418 = [-0.2689922, 16.9356588] -> 0.7131207,
  // 0.4806254, 0.3062539; dense limits [0.2234314, 1.2432353] -> 0.6634301, 0.5653720,
  // 0.2711978; a missing side adds 0.
  FusionConfig config = config_for("dbsf");
  config.alpha = 0.7;
  const auto hits = fuse(config, kBm25, kDense);
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{3, 1, 4, 2}));
  EXPECT_NEAR(hit_with_id(hits, 3).score, 0.3 * 0.3062539 + 0.7 * 0.6634301, 1e-6);  // 0.5562773
  EXPECT_NEAR(hit_with_id(hits, 1).score, 0.3 * 0.7131207 + 0.7 * 0.2711978, 1e-6);  // 0.4037747
  EXPECT_NEAR(hit_with_id(hits, 4).score, 0.3 * 0 + 0.7 * 0.5653720, 1e-6);          // 0.3957604
  EXPECT_NEAR(hit_with_id(hits, 2).score, 0.3 * 0.4806254 + 0.7 * 0, 1e-6);          // 0.1441876
  const double bm25_std = std::sqrt(74.0 / 9);
  EXPECT_NEAR(hit_with_id(hits, 2).score, 0.3 * (8 - (25.0 / 3 - 3 * bm25_std)) / (6 * bm25_std), 1e-12);
}

TEST(Fusion, DbsfClipsScoresBeyondThreeSigmaAndWorksWithOneEmptyList) {
  // One outlier among eleven scores lies beyond mean + 3 std (z = 10 / sqrt(11) > 3): clipped
  // to 1. The others map to 0.5 - mean / (6 std). The dense list is empty.
  std::vector<ScoredId> bm25{{7, 100}};
  for (std::int64_t id = 8; id < 18; ++id) bm25.push_back({id, 0});
  FusionConfig config = config_for("dbsf");
  config.alpha = 0.25;
  const auto hits = fuse(config, bm25, {});
  ASSERT_EQ(hits.size(), 11u);
  EXPECT_EQ(hits[0].id, 7);
  EXPECT_DOUBLE_EQ(hits[0].score, 0.75 * 1);
  const double mean = 100.0 / 11;
  const double std = std::sqrt((std::pow(100 - mean, 2) + 10 * mean * mean) / 11);
  EXPECT_NEAR(hits[1].score, 0.75 * (0.5 - mean / (6 * std)), 1e-12);
  EXPECT_NEAR(hits[1].score, 0.75 * 0.4472954, 1e-6);
  EXPECT_EQ(hits[1].id, 8);  // equal scores: smaller ids first
  EXPECT_EQ(hits[10].id, 17);
  EXPECT_FALSE(hits[0].dense);
}

TEST(Fusion, ListsOfEqualScores) {
  // All-equal lists: minmax gives 1, zscore 0, dbsf 0.5 (no spread to scale by).
  const std::vector<ScoredId> flat{{5, 3.0}, {6, 3.0}};
  const std::vector<ScoredId> single{{6, 0.4}};
  FusionConfig config = config_for("weighted");
  auto hits = fuse(config, flat, single);
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{6, 5}));
  EXPECT_DOUBLE_EQ(hits[0].score, 0.5 * 1 + 0.5 * 1);
  EXPECT_DOUBLE_EQ(hits[1].score, 0.5 * 1 + 0.5 * 0);
  config.normalization = "zscore";
  hits = fuse(config, flat, single);
  EXPECT_EQ(ids_of(hits), (std::vector<std::int64_t>{5, 6}));  // all 0: tie broken by id
  EXPECT_DOUBLE_EQ(hits[0].score, 0);
  EXPECT_DOUBLE_EQ(hits[1].score, 0);
  // Three equal scores whose mean is not exactly representable still have a std of 0.
  hits = fuse(config, std::vector<ScoredId>{{1, 0.1}, {2, 0.1}, {3, 0.1}}, {});
  for (const auto& hit : hits) EXPECT_EQ(hit.score, 0.0);
  hits = fuse(config_for("dbsf"), flat, single);
  EXPECT_EQ(ids_of(hits), (std::vector<std::int64_t>{6, 5}));
  EXPECT_DOUBLE_EQ(hits[0].score, 0.5 * 0.5 + 0.5 * 0.5);
  EXPECT_DOUBLE_EQ(hits[1].score, 0.5 * 0.5 + 0.5 * 0);
}

TEST(Fusion, EmptyListsAndRepeatedIds) {
  // Empty inputs fuse to nothing or to the other list's order; a repeated id counts at its
  // first (best) position, and later positions close up.
  for (const char* method : {"rrf", "weighted", "dbsf"}) {
    EXPECT_TRUE(fuse(config_for(method), {}, {}).empty()) << method;
    const auto hits = fuse(config_for(method), {}, kDense);
    EXPECT_EQ(ids_of(hits), (std::vector<std::int64_t>{3, 4, 1})) << method;
    for (const auto& hit : hits) EXPECT_FALSE(hit.bm25);
  }
  const std::vector<ScoredId> repeated{{9, 5.0}, {9, 4.0}, {8, 3.0}};
  const auto hits = fuse(config_for("rrf"), repeated, {});
  ASSERT_EQ(ids_of(hits), (std::vector<std::int64_t>{9, 8}));
  EXPECT_EQ(hits[0].bm25->score, 5.0);
  EXPECT_EQ(hits[1].bm25->rank, 2u);
  EXPECT_DOUBLE_EQ(hits[1].score, 1.0 / 62);
}

TEST(Fusion, AlphaZeroAndOneSelectOneSide) {
  // weighted with alpha 0 ranks by BM25 alone, alpha 1 by the dense side alone.
  FusionConfig config = config_for("weighted");
  config.alpha = 0;
  EXPECT_EQ(ids_of(fuse(config, kBm25, kDense)), (std::vector<std::int64_t>{1, 2, 3, 4}));
  config.alpha = 1;
  EXPECT_EQ(ids_of(fuse(config, kBm25, kDense)), (std::vector<std::int64_t>{3, 4, 1, 2}));
}

std::string validation_error(const FusionConfig& config) {
  try {
    validate(config);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    return error.what();
  }
  return "";
}

TEST(Fusion, ValidateNamesTheBadField) {
  // Each invalid setting is refused with the field's name; the defaults of an explicit method
  // pass; "auto" is resolved by the retriever (it depends on the embedder), never validated as is.
  const FusionConfig rrf_defaults = [] {
    FusionConfig defaults;
    defaults.method = "rrf";
    return defaults;
  }();
  EXPECT_EQ(validation_error(rrf_defaults), "");
  EXPECT_NE(validation_error(FusionConfig{}).find("\"auto\""), std::string::npos);
  FusionConfig config;
  config.method = "borda";
  EXPECT_NE(validation_error(config).find("fusion.method \"borda\" is unknown"), std::string::npos);
  EXPECT_THROW(fuse(config, kBm25, kDense), Error);
  config = rrf_defaults;
  config.rrf_k = 0;
  EXPECT_NE(validation_error(config).find("fusion.rrf_k"), std::string::npos);
  config.rrf_k = -5;
  EXPECT_NE(validation_error(config).find("fusion.rrf_k"), std::string::npos);
  config = rrf_defaults;
  config.alpha = 1.5;
  EXPECT_NE(validation_error(config).find("fusion.alpha must be between 0 and 1"), std::string::npos);
  config.alpha = -0.1;
  EXPECT_NE(validation_error(config).find("fusion.alpha"), std::string::npos);
  config.alpha = std::nan("");
  EXPECT_NE(validation_error(config).find("fusion.alpha"), std::string::npos);
  config = rrf_defaults;
  config.bm25_weight = -1;
  EXPECT_NE(validation_error(config).find("fusion.bm25_weight must be >= 0"), std::string::npos);
  config = rrf_defaults;
  config.dense_weight = -0.5;
  EXPECT_NE(validation_error(config).find("fusion.dense_weight must be >= 0"), std::string::npos);
  config = rrf_defaults;
  config.normalization = "l2";
  EXPECT_NE(validation_error(config).find("fusion.normalization \"l2\" is unknown"), std::string::npos);
  config = rrf_defaults;
  config.candidates = 0;
  EXPECT_NE(validation_error(config).find("fusion.candidates must be at least 1"), std::string::npos);
}

// An embedder with the fusion defaults a strong sentence encoder might carry.
class LongListEmbedder final : public models::Embedder {
 public:
  std::string id() const override { return "long-list/4"; }
  std::size_t dimension() const override { return 4; }
  models::EmbeddingMatrix embed(std::span<const std::string> texts, models::EmbedPurpose) override {
    return {texts.size(), 4, std::vector<float>(texts.size() * 4, 0.5f)};
  }
  FusionConfig fusion_defaults() const override {
    FusionConfig fusion;
    fusion.method = "weighted";
    fusion.alpha = 0.2;
    fusion.candidates = 1000;
    return fusion;
  }
};

TEST(Fusion, AutoResolvesByEmbedderFromTheSweeps) {
  // bench/README.md: rrf k 5 with dense weight 0.01 for lexical; weighted minmax 0.3 for other
  // model embedders and without one; an embedder's own defaults (use-lite's: alpha 0.2 over 1,000
  // candidates, tests/models/use_lite_test.cpp) apply unless the query set candidates.
  const auto lexical = models::make_embedder(EmbedderConfig{});
  FusionConfig resolved = resolve_fusion(FusionConfig{}, lexical.get());
  EXPECT_EQ(describe(resolved), "rrf k=5 bm25_weight=1 dense_weight=0.01 candidates=100");
  const LongListEmbedder long_list;
  EXPECT_EQ(describe(resolve_fusion(FusionConfig{}, &long_list)), "weighted minmax alpha=0.2 candidates=1000");
  FusionConfig fewer;
  fewer.candidates = 50;
  EXPECT_EQ(describe(resolve_fusion(fewer, &long_list)), "weighted minmax alpha=0.2 candidates=50");
  EmbedderConfig openai;
  openai.name = "openai";
  openai.model = "text-embedding-3-small";
  const auto service = models::make_embedder(openai);
  EXPECT_EQ(describe(resolve_fusion(FusionConfig{}, service.get())), "weighted minmax alpha=0.3 candidates=100");
  EXPECT_EQ(describe(resolve_fusion(FusionConfig{}, nullptr)), "weighted minmax alpha=0.3 candidates=100");
  FusionConfig explicit_rrf;
  explicit_rrf.method = "rrf";
  EXPECT_EQ(describe(resolve_fusion(explicit_rrf, service.get())),
            "rrf k=60 bm25_weight=1 dense_weight=1 candidates=100");
}

}  // namespace
}  // namespace ragline::retrieve
