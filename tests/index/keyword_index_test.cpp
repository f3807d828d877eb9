#include "index/keyword_index.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "index/store.hpp"
#include "support/test_support.hpp"

namespace ragline::index {
namespace {

using ragline::testing::TempDir;

struct SmallCorpus {
  explicit SmallCorpus(const AnalyzerConfig& analyzer = {})
      : store(Store::open(dir.path(), true, std::nullopt, analyzer)) {}

  std::int64_t add(const std::string& title, const std::string& text, const std::string& heading = "") {
    Document document;
    document.uri = "mem://" + std::to_string(next_id++);
    document.source_path = "/mem/" + document.uri;
    document.title = title;
    document.mime_type = "text/plain";
    document.text = text;
    Chunk chunk;
    chunk.text = text;
    chunk.byte_end = text.size();
    chunk.heading_path = heading;
    WriteTransaction transaction(store.database());
    store.put_document(document, "h", {chunk}, 0);
    transaction.commit();
    return store.database().query_int64("SELECT max(id) FROM chunks").value();
  }

  TempDir dir;
  Store store;
  int next_id = 0;
};

std::vector<std::int64_t> ids_of(const std::vector<KeywordHit>& hits) {
  std::vector<std::int64_t> ids;
  for (const auto& hit : hits) ids.push_back(hit.chunk_id);
  return ids;
}

TEST(KeywordIndex, RanksByBm25WithTermsOred) {
  // Terms are OR-ed; rarer terms and higher term frequency rank higher; shorter docs beat longer.
  SmallCorpus corpus;
  const auto wing = corpus.add("", "the wing of the aircraft bends under load");
  const auto flutter = corpus.add("", "wing flutter appears at high speed; flutter damping matters");
  const auto engine = corpus.add("", "the engine mounts are attached to the fuselage");
  const auto both_long = corpus.add("", "flutter wing " + std::string(400, ' ') +
                                            "padding words that make this text long and dilute term frequency "
                                            "padding words that make this text long and dilute term frequency");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  const auto hits = index.search("wing flutter", 10);
  ASSERT_EQ(hits.size(), 3u);  // the engine chunk matches neither term
  EXPECT_EQ(hits[0].chunk_id, flutter);
  EXPECT_EQ(hits[1].chunk_id, both_long);
  EXPECT_EQ(hits[2].chunk_id, wing);
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_GT(hits[1].score, hits[2].score);
  EXPECT_GT(hits[2].score, 0.0);
  EXPECT_EQ(ids_of(index.search("engines", 10)), std::vector<std::int64_t>{engine});  // stemmed
}

TEST(KeywordIndex, ScoresMatchHandComputedBm25) {
  // With one column and one term, the score equals idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg)).
  SmallCorpus corpus;
  const auto a = corpus.add("", "alpha beta gamma");
  corpus.add("", "delta epsilon");
  corpus.add("", "zeta eta theta iota");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  const auto hits = index.search("alpha", 5);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].chunk_id, a);
  const Bm25Config defaults;
  const double n_rows = 3, n_with = 1, k1 = defaults.k1, b = defaults.b;
  const double average_length = (3.0 + 2.0 + 4.0) / 3.0;
  const double idf = std::log(1 + (n_rows - n_with + 0.5) / (n_with + 0.5));
  const double tf = 1.0 / (1 - b + b * 3.0 / average_length);
  EXPECT_NEAR(hits[0].score, idf * tf * (k1 + 1) / (k1 + tf), 1e-9);
}

TEST(KeywordIndex, RepeatedQueryTermsWeighSquareRootOfTheirCount) {
  // A term written twice in the query scores sqrt(2) times a term written once.
  SmallCorpus corpus;
  corpus.add("", "rivets hold the panels");
  corpus.add("", "other words entirely");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  const auto once = index.search("rivets", 5);
  const auto twice = index.search("rivets rivets", 5);
  ASSERT_EQ(once.size(), 1u);
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_NEAR(twice[0].score, std::sqrt(2.0) * once[0].score, 1e-9);
  EXPECT_EQ(index.match_expression("rivets rivets"), index.match_expression("rivets"));
}

TEST(KeywordIndex, ParametersChangeTheRanking) {
  // k1, b and the column weights given with a search are the ones used.
  SmallCorpus corpus;
  const auto titled = corpus.add("Hinges", "a door part");
  const auto repeated = corpus.add("", "hinges hinges hinges hold doors");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  Bm25Config title_heavy;
  title_heavy.weight_title = 10;
  EXPECT_EQ(index.search("hinges", 5, title_heavy).at(0).chunk_id, titled);
  Bm25Config title_ignored;
  title_ignored.weight_title = 0;
  const auto hits = index.search("hinges", 5, title_ignored);
  EXPECT_EQ(hits.at(0).chunk_id, repeated);
  Bm25Config no_saturation = title_ignored;
  no_saturation.k1 = 100;
  EXPECT_GT(index.search("hinges", 5, no_saturation).at(0).score, hits.at(0).score);
}

TEST(KeywordIndex, TitleAndHeadingColumnsCount) {
  // A term found only in the title or the heading path still matches, the title weighing more.
  SmallCorpus corpus;
  const auto in_title = corpus.add("Propeller design", "blades and hubs");
  const auto in_heading = corpus.add("", "blades and hubs", "Propeller > Hubs");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  EXPECT_EQ(ids_of(index.search("propeller", 10)), (std::vector<std::int64_t>{in_title, in_heading}));
}

TEST(KeywordIndex, UserTextNeverBreaksTheQueryParser) {
  // FTS5 syntax characters, keywords, quotes, invalid UTF-8 and empty queries never raise an error.
  SmallCorpus corpus;
  const auto id = corpus.add("", "near and or not column filters in fts5 queries");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  for (const std::string& query : std::vector<std::string>{
           "\"unbalanced", "NEAR(a b", "AND OR NOT", "title:queries", "col* ^start", "a - b + c", "{text}: x",
           "fts5\"\"queries", "(((", "\x01raw", std::string("\xff\xfe queries \xc3"), "", "   ", "the of and"}) {
    EXPECT_NO_THROW(index.search(query, 5)) << query;
  }
  EXPECT_EQ(ids_of(index.search("\"queries\" AND (filters", 5)), std::vector<std::int64_t>{id});
  EXPECT_TRUE(index.search("the of and", 5).empty());  // only stopwords: nothing to search
  EXPECT_TRUE(index.match_expression("").empty());
}

TEST(KeywordIndex, SearchesGermanFrenchChineseAndJapanese) {
  // Multilingual text: German and French stems and diacritics, CJK segmented by ICU.
  SmallCorpus german_corpus(AnalyzerConfig{"german", true, true});
  const auto haus = german_corpus.add("", "Die Häuser am Fluss wurden renoviert.");
  KeywordIndex german(german_corpus.store.database(), german_corpus.store.analyzer());
  EXPECT_EQ(ids_of(german.search("Haus", 5)), std::vector<std::int64_t>{haus});

  SmallCorpus french_corpus(AnalyzerConfig{"french", true, true});
  const auto avion = french_corpus.add("", "L'avion décolle à l'aéroport de Lyon.");
  KeywordIndex french(french_corpus.store.database(), french_corpus.store.analyzer());
  EXPECT_EQ(ids_of(french.search("avions aeroport", 5)), std::vector<std::int64_t>{avion});

  SmallCorpus cjk_corpus;  // the default English analyser still segments CJK text
  const auto chinese = cjk_corpus.add("", "我喜欢机器学习和自然语言处理。");
  const auto japanese = cjk_corpus.add("", "東京は日本の首都です。機械学習の研究が盛んです。");
  cjk_corpus.add("", "unrelated english text about machines");
  KeywordIndex cjk(cjk_corpus.store.database(), cjk_corpus.store.analyzer());
  EXPECT_EQ(ids_of(cjk.search("机器学习", 5)), std::vector<std::int64_t>{chinese});
  EXPECT_EQ(ids_of(cjk.search("自然语言", 5)), std::vector<std::int64_t>{chinese});
  EXPECT_EQ(ids_of(cjk.search("首都", 5)), std::vector<std::int64_t>{japanese});
}

TEST(KeywordIndex, RespectsKAndOrdersTiesStably) {
  // k limits the result; equal scores come back in chunk-id order.
  SmallCorpus corpus;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(corpus.add("", "identical text about rivets"));
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  const auto hits = index.search("rivets", 5);
  EXPECT_EQ(ids_of(hits), std::vector<std::int64_t>(ids.begin(), ids.begin() + 5));
  EXPECT_TRUE(index.search("rivets", 0).empty());
}

}  // namespace
}  // namespace ragline::index

namespace ragline::index {
namespace {

std::vector<KeywordHit> run_bm25_sql(Store& store, const std::string& expression, std::int64_t k, bool prune) {
  auto statement = store.database().prepare(
      "SELECT rowid, ragline_bm25(chunk_keywords, 2.0, 0.75, 1.0, 2.0, 1.0, NULL, ?2) AS score FROM chunk_keywords "
      "WHERE chunk_keywords MATCH ?1 ORDER BY score DESC, rowid LIMIT ?3");
  statement.bind(1, expression).bind(2, prune ? k : 0).bind(3, k);
  std::vector<KeywordHit> hits;
  while (statement.step()) hits.push_back({statement.column_int64(0), statement.column_double(1)});
  return hits;
}

TEST(KeywordIndex, TopKPruningReturnsExactlyTheUnprunedTopK) {
  // Skipping rows whose score bound cannot reach the top k changes neither the ids, the order
  // nor the scores of the top k, for many random queries and several k.
  SmallCorpus corpus;
  std::mt19937 random(11);
  const std::vector<std::string> vocabulary = {"wing",  "flap",  "rudder", "engine", "thrust", "lift",   "drag",
                                               "stall", "pitch", "yaw",    "roll",   "spar",   "rib",    "skin",
                                               "fuel",  "tank",  "gear",   "brake",  "nozzle", "intake", "vortex"};
  for (int document = 0; document < 400; ++document) {
    std::string text, title;
    const int length = 5 + static_cast<int>(random() % 60);
    for (int word = 0; word < length; ++word) {
      // Skewed: low indices are common.
      const auto index = std::min<std::size_t>(vocabulary.size() - 1, (random() % 7) * (random() % 4));
      text += vocabulary[index] + " ";
    }
    title = vocabulary[random() % vocabulary.size()];
    corpus.add(title, text);
  }
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  for (int query = 0; query < 60; ++query) {
    std::string text;
    for (int word = 0; word < 1 + static_cast<int>(random() % 4); ++word) {
      text += vocabulary[random() % vocabulary.size()] + " ";
    }
    const std::string expression = index.match_expression(text);
    for (std::int64_t k : {1, 3, 10, 50}) {
      const auto exact = run_bm25_sql(corpus.store, expression, k, false);
      const auto pruned = run_bm25_sql(corpus.store, expression, k, true);
      ASSERT_EQ(ids_of(exact), ids_of(pruned)) << text << " k=" << k;
      for (std::size_t i = 0; i < exact.size(); ++i) EXPECT_DOUBLE_EQ(exact[i].score, pruned[i].score);
    }
  }
}

}  // namespace
}  // namespace ragline::index

namespace ragline::index {
namespace {

// The best k of `all_hits` (an unfiltered search deep enough to hold every match) inside `allowed`.
std::vector<KeywordHit> best_allowed(const std::vector<KeywordHit>& all_hits, const ChunkIdSet& allowed,
                                     std::size_t k) {
  std::vector<KeywordHit> hits;
  for (const auto& hit : all_hits) {
    if (hits.size() < k && allowed.contains(hit.chunk_id)) hits.push_back(hit);
  }
  return hits;
}

TEST(KeywordIndex, FilteredSearchReturnsKAllowedHitsWhenTheUnfilteredTopKIsExcluded) {
  // The allowed set is applied inside the query: strong excluded chunks (scanned first) neither
  // crowd out the allowed ones nor disturb their exact scores through the top-k score bound.
  SmallCorpus corpus;
  std::vector<std::int64_t> excluded;
  for (int i = 0; i < 30; ++i) excluded.push_back(corpus.add("Rivets", "rivets rivets rivets hold panels"));
  std::vector<std::int64_t> allowed_ids;
  for (int i = 0; i < 5; ++i) {
    allowed_ids.push_back(corpus.add("", "a rivet " + std::string(static_cast<std::size_t>(i) * 10, 'x') +
                                             " among many other words in a rather long sentence"));
  }
  const ChunkIdSet allowed(allowed_ids);
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  const auto unfiltered = index.search("rivets", 3);
  ASSERT_EQ(unfiltered.size(), 3u);
  for (const auto& hit : unfiltered) EXPECT_FALSE(allowed.contains(hit.chunk_id));

  const auto filtered = index.search("rivets", 3, {}, &allowed);
  const auto expected = best_allowed(index.search("rivets", 1000), allowed, 3);
  ASSERT_EQ(filtered.size(), 3u);
  EXPECT_EQ(ids_of(filtered), ids_of(expected));
  for (std::size_t i = 0; i < filtered.size(); ++i) EXPECT_DOUBLE_EQ(filtered[i].score, expected[i].score);
  EXPECT_EQ(index.search("rivets", 10, {}, &allowed).size(), 5u);  // all the allowed matches, no more

  // The unfiltered statement is unaffected by a filtered search run before it.
  EXPECT_EQ(ids_of(index.search("rivets", 3)), ids_of(unfiltered));
}

TEST(KeywordIndex, FilteredSearchWithEmptyOrDisjointSetsFindsNothing) {
  // An empty set, or one holding only chunks that do not match, yields no hits.
  SmallCorpus corpus;
  corpus.add("", "welding seams");
  const auto other = corpus.add("", "paint layers");
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  const ChunkIdSet empty;
  EXPECT_TRUE(index.search("welding", 5, {}, &empty).empty());
  const ChunkIdSet disjoint(std::vector<std::int64_t>{other, 9999});
  EXPECT_TRUE(index.search("welding", 5, {}, &disjoint).empty());
  EXPECT_EQ(ids_of(index.search("paint", 5, {}, &disjoint)), std::vector<std::int64_t>{other});
}

TEST(KeywordIndex, FilteredSearchEqualsFilteringTheFullRanking) {
  // For random corpora, queries, allowed sets and k, the filtered top k is exactly the best k
  // allowed chunks of the full unfiltered ranking, with the same scores.
  SmallCorpus corpus;
  std::mt19937 random(7);
  const std::vector<std::string> vocabulary = {"wing",  "flap",  "rudder", "engine", "thrust", "lift", "drag",
                                               "stall", "pitch", "yaw",    "spar",   "rib",    "skin", "fuel"};
  std::vector<std::int64_t> ids;
  for (int document = 0; document < 300; ++document) {
    std::string text;
    const int length = 3 + static_cast<int>(random() % 40);
    for (int word = 0; word < length; ++word) {
      text += vocabulary[std::min<std::size_t>(vocabulary.size() - 1, (random() % 5) * (random() % 4))] + " ";
    }
    ids.push_back(corpus.add(vocabulary[random() % vocabulary.size()], text));
  }
  KeywordIndex index(corpus.store.database(), corpus.store.analyzer());
  for (int query = 0; query < 40; ++query) {
    std::string text;
    for (int word = 0; word < 1 + static_cast<int>(random() % 3); ++word) {
      text += vocabulary[random() % vocabulary.size()] + " ";
    }
    ChunkIdSet allowed;
    const unsigned keep_one_in = 1 + random() % 20;
    for (const auto id : ids) {
      if (random() % keep_one_in == 0) allowed.insert(id);
    }
    const auto all_hits = index.search(text, ids.size());
    for (std::size_t k : {1u, 5u, 20u}) {
      const auto filtered = index.search(text, k, {}, &allowed);
      const auto expected = best_allowed(all_hits, allowed, k);
      ASSERT_EQ(ids_of(filtered), ids_of(expected)) << text << " k=" << k;
      for (std::size_t i = 0; i < filtered.size(); ++i) EXPECT_DOUBLE_EQ(filtered[i].score, expected[i].score);
    }
  }
}

}  // namespace
}  // namespace ragline::index
