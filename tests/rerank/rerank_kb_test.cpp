// Rerank chains run by KnowledgeBase::search on a real KB: mmr then reorder, and a cross-encoder
// service (a loopback server that reverses the retrieval order).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ragline/ragline.hpp"
#include "support/http_test_server.hpp"
#include "support/notes_kb.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using nlohmann::json;
using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::TempDir;
using testing::TestResponse;

// Two identical notes about rocket engines lead the ranking of a rocket query; diversity should
// keep the second copy off rank 2.
const testing::Notes kRocketNotes = {
    {"a", "Rocket engine thrust grows with chamber pressure and nozzle expansion ratio."},
    {"b", "Rocket engine thrust grows with chamber pressure and nozzle expansion ratio."},
    {"c", "Liquid rocket propellants store more energy than solid grains."},
    {"d", "Rocket stages separate once their engine burns out."},
    {"e", "Wing flutter couples structural vibration with unsteady pressure."},
    {"f", "Jet engine noise grows with exhaust velocity."},
};

RerankerConfig stage(const std::string& name) {
  RerankerConfig config;
  config.name = name;
  return config;
}

std::vector<std::int64_t> ids_of(const std::vector<Hit>& hits) {
  std::vector<std::int64_t> ids;
  for (const auto& hit : hits) ids.push_back(hit.chunk_id);
  return ids;
}

class RerankKb : public testing::NotesKbTest {
 protected:
  RerankKb() : NotesKbTest(kRocketNotes) {}
};

TEST_F(RerankKb, MmrThenReorderDiversifiesAndArrangesTheHits) {
  const Query plain("rocket engine thrust", 6);
  const auto retrieved = kb_->search(plain).hits;
  ASSERT_GE(retrieved.size(), 4u);
  // The two identical notes come first without reranking.
  EXPECT_EQ(retrieved[0].text, retrieved[1].text);

  Query diverse("rocket engine thrust", 4);
  RerankerConfig mmr = stage("mmr");
  mmr.lambda = 0.5;
  diverse.rerank = {mmr};
  const auto mmr_result = kb_->search(diverse);
  ASSERT_EQ(mmr_result.hits.size(), 4u);
  EXPECT_EQ(mmr_result.hits[0].chunk_id, retrieved[0].chunk_id);
  EXPECT_NE(mmr_result.hits[1].text, mmr_result.hits[0].text) << "the duplicate should not be second";
  for (const auto& hit : mmr_result.hits) EXPECT_TRUE(hit.rerank_score.has_value());
  ASSERT_EQ(mmr_result.explanation.rerankers.size(), 1u);
  EXPECT_NE(mmr_result.explanation.rerankers[0].find("in=6 out=4"), std::string::npos)
      << mmr_result.explanation.rerankers[0];

  diverse.rerank.push_back(stage("reorder"));
  const auto chained = kb_->search(diverse);
  const auto& m = mmr_result.hits;
  EXPECT_EQ(ids_of(chained.hits),
            (std::vector<std::int64_t>{m[0].chunk_id, m[2].chunk_id, m[3].chunk_id, m[1].chunk_id}));
  EXPECT_EQ(chained.explanation.rerankers.size(), 2u);
  // Retrieval scores and ranks are kept through the chain.
  for (const auto& hit : chained.hits) {
    const auto original =
        std::find_if(retrieved.begin(), retrieved.end(), [&](const Hit& r) { return r.chunk_id == hit.chunk_id; });
    ASSERT_NE(original, retrieved.end());
    EXPECT_DOUBLE_EQ(hit.score, original->score);
  }
}

TEST_F(RerankKb, HttpServiceOrderReplacesTheRetrievalOrder) {
  // The service scores documents by position: the last retrieved scores highest.
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    const json body = json::parse(request.body);
    json results = json::array();
    for (std::size_t i = 0; i < body["documents"].size(); ++i) {
      results.push_back({{"index", i}, {"relevance_score", static_cast<double>(i)}});
    }
    return TestResponse{200, {{"Content-Type", "application/json"}}, json{{"results", results}}.dump(), {}};
  });
  const auto retrieved = kb_->search(Query("rocket engine", 5)).hits;
  ASSERT_EQ(retrieved.size(), 5u);

  Query reranked("rocket engine", 5);
  RerankerConfig http = stage("http");
  http.format = "cohere";
  http.base_url = server.url();
  http.candidates = 5;
  http.max_retries = 0;
  reranked.rerank = {http};
  const auto result = kb_->search(reranked);
  auto expected = ids_of(retrieved);
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(ids_of(result.hits), expected);
  EXPECT_DOUBLE_EQ(*result.hits[0].rerank_score, 4.0);
  const json sent = json::parse(server.requests().at(0).body);
  EXPECT_EQ(sent["query"], "rocket engine");
  EXPECT_EQ(sent["documents"][0], retrieved[0].text);
  EXPECT_NE(result.explanation.rerankers.at(0).find("http cohere"), std::string::npos);
}

TEST_F(RerankKb, FirstStageDefaultsToFiftyCandidatesAndKeepsK) {
  Query query("engine", 2);
  query.rerank = {stage("reorder")};
  const auto result = kb_->search(query);
  EXPECT_EQ(result.hits.size(), 2u);
  // All matching chunks (fewer than 50) went in.
  EXPECT_NE(result.explanation.rerankers.at(0).find("out=2"), std::string::npos);
  EXPECT_EQ(result.explanation.rerankers.at(0).find("in=2 "), std::string::npos) << result.explanation.rerankers[0];
}

TEST(RerankHierarchicalKb, MmrEmbedsParentChunksThatHaveNoStoredVector) {
  TempDir dir;
  testing::write_notes_jsonl(dir / "notes.jsonl", kRocketNotes);
  OpenOptions options;
  ChunkerConfig chunker;
  chunker.name = "hierarchical";
  chunker.parent_tokens = 64;
  chunker.child_tokens = 8;
  options.chunker = chunker;
  auto kb = KnowledgeBase::open(dir / "kb", options);
  ASSERT_TRUE(kb.ingest({dir / "notes.jsonl"}, {}).ok());
  Query query("rocket engine thrust", 3);
  query.rerank = {stage("mmr")};
  const auto hits = kb.search(query).hits;
  ASSERT_EQ(hits.size(), 3u);
  // Parents are not searched and have no stored vector: without one the first hit's relevance,
  // and so its MMR value, would be 0.
  ASSERT_TRUE(hits[0].rerank_score.has_value());
  EXPECT_GT(*hits[0].rerank_score, 0.1);
}

}  // namespace
}  // namespace ragline
