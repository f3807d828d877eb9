#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "index/store.hpp"
#include "index/vector_index.hpp"
#include "ingest/pipeline.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::TempDir;
using ragline::testing::write_file;
namespace fs = std::filesystem;

const char* const kTopics[] = {
    "Aerodynamic lift of swept wings rises with the angle of attack until the flow separates.",
    "Boundary layer transition on a flat plate depends on the Reynolds number and roughness.",
    "Heat transfer in hypersonic flow heats the leading edge of re-entry vehicles.",
    "Supersonic inlets use oblique shocks to slow the air before the compressor.",
    "Flutter of thin panels couples structural vibration with unsteady pressure loads.",
    "Propeller noise grows with tip speed and blade loading.",
};

// A JSONL corpus: `count` records cycling through the topics, with metadata for filters.
void write_corpus(const fs::path& path, int count, int first = 0) {
  std::string lines;
  for (int i = first; i < first + count; ++i) {
    nlohmann::json record = {
        {"_id", "d" + std::to_string(i)},
        {"title", "Note " + std::to_string(i)},
        {"text", std::string(kTopics[i % 6]) + " Record number " + std::to_string(i) + "."},
        {"metadata",
         {{"dept", i % 50 == 0 ? "rare" : (i % 2 == 0 ? "eng" : "ops")},
          {"year", 2000 + i % 25},
          {"tags", i % 3 == 0 ? std::vector<std::string>{"wing", "lift"} : std::vector<std::string>{"misc"}}}}};
    lines += record.dump() + "\n";
  }
  write_file(path, lines);
}

Query make_query(std::string text, std::size_t k, SearchMode mode, std::string filter = "") {
  Query query(std::move(text), k);
  query.mode = mode;
  query.filter = std::move(filter);
  return query;
}

std::vector<std::int64_t> ids_of(const std::vector<Hit>& hits) {
  std::vector<std::int64_t> ids;
  for (const auto& hit : hits) ids.push_back(hit.chunk_id);
  return ids;
}

TEST(HybridSearch, IngestStoresOneVectorPerSearchableChunkAndWritesTheIndexFile) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 60);
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto report = kb.ingest({dir / "corpus.jsonl"});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.chunks_embedded, report.chunks_written);
  const Stats stats = kb.stats();
  EXPECT_EQ(stats.embedder_id, "lexical-v1/768/english");
  EXPECT_EQ(stats.vectors, stats.searchable_chunks);
  EXPECT_EQ(stats.vector_index_generation, stats.generation);
  const auto header = index::VectorIndex::read_header(dir / "kb" / "vectors.faiss");
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->generation, stats.generation);
  EXPECT_EQ(header->embedder_id, stats.embedder_id);
  EXPECT_EQ(header->dimension, 768u);
}

TEST(HybridSearch, DenseToleratesTyposAndHybridKeepsBothSidesScores) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 60);
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());

  // "aerodinamic" and "wngs" match no BM25 term; character n-grams still find the topic.
  const auto dense = kb.search(make_query("aerodinamic lifting of swept wngs", 5, SearchMode::dense));
  ASSERT_EQ(dense.hits.size(), 5u);
  for (const auto& hit : dense.hits) {
    EXPECT_NE(hit.text.find("Aerodynamic lift"), std::string::npos) << hit.text;
    ASSERT_TRUE(hit.dense.has_value());
    EXPECT_FALSE(hit.bm25.has_value());
    EXPECT_FLOAT_EQ(static_cast<float>(hit.score), static_cast<float>(hit.dense->score));
  }
  EXPECT_EQ(dense.explanation.dense_path, "index:flat");

  const auto hybrid = kb.search(make_query("boundary layer transition Reynolds", 10, SearchMode::hybrid));
  ASSERT_EQ(hybrid.hits.size(), 10u);
  // The default fusion for the lexical embedder (types.hpp, FusionConfig).
  EXPECT_EQ(hybrid.explanation.fusion, "rrf k=5 bm25_weight=1 dense_weight=0.01 candidates=100");
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_NE(hybrid.hits[i].text.find("Boundary layer"), std::string::npos);
    ASSERT_TRUE(hybrid.hits[i].bm25 && hybrid.hits[i].dense);  // both sides found the top hits
  }
  for (std::size_t i = 1; i < hybrid.hits.size(); ++i) EXPECT_GE(hybrid.hits[i - 1].score, hybrid.hits[i].score);
}

TEST(HybridSearch, ReplacedAndDeletedChunksLeaveTheVectorIndex) {
  TempDir dir;
  write_file(dir / "docs" / "a.md", "Zebras graze on the savanna in large herds.");
  write_file(dir / "docs" / "b.md", "Penguins dive for fish in cold water.");
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
  const auto before = kb.retrieve(make_query("zebras savanna", 10, SearchMode::dense));
  ASSERT_EQ(before.size(), 2u);
  EXPECT_NE(before[0].text.find("Zebras"), std::string::npos);

  write_file(dir / "docs" / "a.md", "Okapis hide in the rainforest.");
  ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
  auto after = kb.retrieve(make_query("zebras savanna", 10, SearchMode::dense));
  ASSERT_EQ(after.size(), 2u);  // two chunks exist, and only they are returned
  for (const auto& hit : after) EXPECT_EQ(hit.text.find("Zebras"), std::string::npos);

  ASSERT_TRUE(kb.remove_document(file_uri(dir / "docs" / "b.md")));
  after = kb.retrieve(make_query("penguins fish", 10, SearchMode::dense));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].text.find("Okapis"), std::string::npos);
  EXPECT_EQ(kb.stats().vectors, 1);
}

TEST(HybridSearch, AnIndexFileLeftBehindByACrashIsCaughtUpFromSqlite) {
  TempDir dir;
  write_corpus(dir / "first.jsonl", 80);
  write_corpus(dir / "second.jsonl", 40, 1000);
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    ASSERT_TRUE(kb.ingest({dir / "first.jsonl"}).ok());
  }
  const auto file_generation = index::VectorIndex::read_header(dir / "kb" / "vectors.faiss")->generation;
  {
    // The pipeline commits to kb.sqlite; the KB would write vectors.faiss afterwards. Running the
    // pipeline alone is a crash between the two: kb.sqlite is ahead of the file.
    auto store = index::Store::open(dir / "kb", false, index::StoreSettings{});
    const auto report = ingest::run_ingest(store, {dir / "second.jsonl"}, IngestOptions{}, {});
    ASSERT_TRUE(report.ok());
    write_corpus(dir / "first.jsonl", 70);  // ten records fewer: pruned below
    IngestOptions prune;
    prune.prune = true;
    ingest::run_ingest(store, {dir / "first.jsonl"}, prune, {});
    EXPECT_GT(store.generation(), file_generation);
  }
  EXPECT_EQ(index::VectorIndex::read_header(dir / "kb" / "vectors.faiss")->generation, file_generation);

  auto kb = KnowledgeBase::open(dir / "kb");
  std::vector<std::vector<std::int64_t>> caught_up;
  const std::vector<std::string> queries = {"flutter of panels", "propeller noise record 1003", "hypersonic heat",
                                            "record number 75"};
  for (const auto& text : queries) caught_up.push_back(ids_of(kb.retrieve(make_query(text, 20, SearchMode::dense))));
  // Queries caught up in memory; reads write nothing, so the file stays behind until a writer.
  EXPECT_EQ(kb.stats().vector_index_generation, file_generation);

  kb.reindex();  // from scratch, as the reference
  const Stats stats = kb.stats();
  EXPECT_EQ(stats.vector_index_generation, stats.generation);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(ids_of(kb.retrieve(make_query(queries[i], 20, SearchMode::dense))), caught_up[i]) << queries[i];
  }
  const auto removed = kb.retrieve(make_query("record number 75", 100, SearchMode::dense));
  for (const auto& hit : removed) EXPECT_EQ(hit.text.find("Record number 75."), std::string::npos);
}

TEST(HybridSearch, AMissingOrCorruptIndexFileIsRebuilt) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 30);
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
  }
  const auto reference = [&] {
    auto kb = KnowledgeBase::open(dir / "kb");
    return ids_of(kb.retrieve(make_query("supersonic inlet shocks", 10, SearchMode::dense)));
  }();
  fs::remove(dir / "kb" / "vectors.faiss");
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    EXPECT_EQ(ids_of(kb.retrieve(make_query("supersonic inlet shocks", 10, SearchMode::dense))), reference);
  }
  EXPECT_FALSE(fs::exists(dir / "kb" / "vectors.faiss"));  // a read writes nothing
  write_file(dir / "kb" / "vectors.faiss", "RAGLVEC1 but then garbage");
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    EXPECT_EQ(ids_of(kb.retrieve(make_query("supersonic inlet shocks", 10, SearchMode::dense))), reference);
    kb.reindex();  // a writer saves the rebuilt file
  }
  const auto header = index::VectorIndex::read_header(dir / "kb" / "vectors.faiss");
  ASSERT_TRUE(header.has_value());
}

TEST(HybridSearch, ADifferentEmbedderIsRefusedNamingBoth) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 5);
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
  }
  OpenOptions options;
  options.embedder = EmbedderConfig{};
  options.embedder->dimension = 256;
  try {
    KnowledgeBase::open(dir / "kb", options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("\"dimension\":0"), std::string::npos) << message;
    EXPECT_NE(message.find("\"dimension\":256"), std::string::npos) << message;
  }
}

TEST(HybridSearch, FiltersApplyToBothSidesAndAlwaysFillK) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 600);
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
  const std::string rare = R"({"equals":{"key":"dept","value":"rare"}})";  // 12 of 600 documents

  for (auto mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
    // The unfiltered top 10 of this query holds no "rare" document; the filtered one still has 10.
    const auto result = kb.search(make_query("propeller noise tip speed", 10, mode, rare));
    EXPECT_EQ(result.explanation.filter_matches, 12u);
    if (mode == SearchMode::bm25) {
      EXPECT_LE(result.hits.size(), 10u);  // BM25 finds only chunks that share a term
    } else {
      ASSERT_EQ(result.hits.size(), 10u);
    }
    for (const auto& hit : result.hits) EXPECT_EQ(std::get<std::string>(hit.metadata.at("dept")), "rare");
    if (mode != SearchMode::bm25) {
      EXPECT_EQ(result.explanation.dense_path, "exact");
    }
  }

  // Through the index instead of the exact path, the answer is the same.
  Query through_index = make_query("propeller noise tip speed", 10, SearchMode::dense, rare);
  const auto exact = kb.search(through_index);
  through_index.exact_search_threshold = 1;
  const auto indexed = kb.search(through_index);
  EXPECT_EQ(indexed.explanation.dense_path, "index:flat");
  EXPECT_EQ(ids_of(indexed.hits), ids_of(exact.hits));

  const auto none =
      kb.search(make_query("propeller", 10, SearchMode::hybrid, R"({"equals":{"key":"dept","value":"nobody"}})"));
  EXPECT_TRUE(none.hits.empty());
  EXPECT_THROW(kb.search(make_query("x", 10, SearchMode::hybrid, R"({"likes":{"key":"a","value":1}})")), Error);
}

// Every operator, on every side: the set of documents a filtered search returns (k above the
// corpus size) is exactly the set the metadata written by write_corpus() says should pass.
TEST(HybridSearch, EveryFilterOperatorSelectsTheSameDocumentsOnEverySide) {
  TempDir dir;
  constexpr int kDocuments = 300;
  write_corpus(dir / "corpus.jsonl", kDocuments);
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
  const auto dept = [](int i) { return std::string(i % 50 == 0 ? "rare" : (i % 2 == 0 ? "eng" : "ops")); };
  const auto year = [](int i) { return 2000 + i % 25; };
  const std::string uri7 = file_uri(dir / "corpus.jsonl") + "#d7";
  const std::vector<std::pair<std::string, std::function<bool(int)>>> cases = {
      {R"({"equals":{"key":"dept","value":"eng"}})", [&](int i) { return dept(i) == "eng"; }},
      {R"({"notEquals":{"key":"dept","value":"eng"}})", [&](int i) { return dept(i) != "eng"; }},
      {R"({"greaterThan":{"key":"year","value":2020}})", [&](int i) { return year(i) > 2020; }},
      {R"({"greaterThanOrEquals":{"key":"year","value":2020}})", [&](int i) { return year(i) >= 2020; }},
      {R"({"lessThan":{"key":"year","value":2003}})", [&](int i) { return year(i) < 2003; }},
      {R"({"lessThanOrEquals":{"key":"year","value":2003}})", [&](int i) { return year(i) <= 2003; }},
      {R"({"in":{"key":"dept","value":["rare","ops"]}})", [&](int i) { return dept(i) != "eng"; }},
      {R"({"notIn":{"key":"dept","value":["eng","ops"]}})", [&](int i) { return dept(i) == "rare"; }},
      {R"({"startsWith":{"key":"dept","value":"ra"}})", [&](int i) { return dept(i) == "rare"; }},
      {R"({"stringContains":{"key":"dept","value":"p"}})", [&](int i) { return dept(i) == "ops"; }},
      {R"({"listContains":{"key":"tags","value":"lift"}})", [](int i) { return i % 3 == 0; }},
      {R"({"stringContains":{"key":"tags","value":"mis"}})", [](int i) { return i % 3 != 0; }},
      {R"({"andAll":[{"equals":{"key":"dept","value":"eng"}},{"lessThan":{"key":"year","value":2010}}]})",
       [&](int i) { return dept(i) == "eng" && year(i) < 2010; }},
      {R"({"orAll":[{"equals":{"key":"dept","value":"rare"}},{"listContains":{"key":"tags","value":"lift"}}]})",
       [&](int i) { return dept(i) == "rare" || i % 3 == 0; }},
      {R"({"equals":{"key":"x-amz-bedrock-kb-source-uri","value":")" + uri7 + R"("}})", [](int i) { return i == 7; }},
      {R"({"equals":{"key":"_mime_type","value":"application/json"}})", [](int) { return true; }},
  };
  for (const auto& [filter, passes] : cases) {
    std::set<std::string> expected;
    for (int i = 0; i < kDocuments; ++i) {
      if (passes(i)) expected.insert("d" + std::to_string(i));
    }
    for (auto mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
      for (std::size_t threshold : {std::size_t{0}, std::size_t{1}}) {  // exact path, then the index
        Query query = make_query("record number", kDocuments + 10, mode, filter);
        query.exact_search_threshold = threshold;
        std::set<std::string> found;
        for (const auto& hit : kb.retrieve(query))
          found.insert(hit.document_uri.substr(hit.document_uri.find('#') + 1));
        EXPECT_EQ(found, expected) << filter << " mode " << static_cast<int>(mode) << " threshold " << threshold;
      }
    }
  }
}

TEST(HybridSearch, HnswWithModeratelySelectiveFiltersStillFillsK) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 600);
  OpenOptions options;
  options.vector_index = VectorIndexConfig{};
  options.vector_index->type = "hnsw";
  auto kb = KnowledgeBase::open(dir / "kb", options);
  ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
  EXPECT_EQ(kb.stats().vector_index.type, "hnsw");
  Query query =
      make_query("flutter of thin panels", 20, SearchMode::dense,
                 R"({"andAll":[{"equals":{"key":"dept","value":"eng"}},{"lessThan":{"key":"year","value":2010}}]})");
  query.exact_search_threshold = 1;  // force the graph walk
  const auto result = kb.search(query);
  EXPECT_EQ(result.explanation.dense_path, "index:hnsw");
  ASSERT_EQ(result.hits.size(), 20u);
  for (const auto& hit : result.hits) {
    EXPECT_EQ(std::get<std::string>(hit.metadata.at("dept")), "eng");
    EXPECT_LT(std::get<double>(hit.metadata.at("year")), 2010);
  }
}

TEST(HybridSearch, AKbWithoutEmbedderAnswersBm25AndRefusesDense) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 10);
  OpenOptions options;
  options.embedder = EmbedderConfig{};
  options.embedder->name = "none";
  auto kb = KnowledgeBase::open(dir / "kb", options);
  const auto report = kb.ingest({dir / "corpus.jsonl"});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.chunks_embedded, 0u);
  EXPECT_EQ(kb.stats().vectors, 0);
  EXPECT_FALSE(fs::exists(dir / "kb" / "vectors.faiss"));
  const auto hybrid = kb.search(make_query("propeller noise", 3, SearchMode::hybrid));
  EXPECT_EQ(hybrid.explanation.mode, SearchMode::bm25);
  EXPECT_FALSE(hybrid.hits.empty());
  EXPECT_THROW(kb.search(make_query("propeller noise", 3, SearchMode::dense)), Error);
}

TEST(HybridSearch, HierarchicalKbsReturnEachParentOnce) {
  TempDir dir;
  std::string text = "# Manual\n\n";
  for (int i = 0; i < 40; ++i) text += std::string(kTopics[i % 6]) + " Paragraph " + std::to_string(i) + ".\n\n";
  write_file(dir / "manual.md", text);
  OpenOptions options;
  options.chunker = ChunkerConfig{};
  options.chunker->name = "hierarchical";
  options.chunker->parent_tokens = 120;
  options.chunker->child_tokens = 30;
  auto kb = KnowledgeBase::open(dir / "kb", options);
  ASSERT_TRUE(kb.ingest({dir / "manual.md"}).ok());
  const auto hits = kb.retrieve(make_query("propeller noise blade loading", 4, SearchMode::hybrid));
  ASSERT_EQ(hits.size(), 4u);
  const auto ids = ids_of(hits);
  const std::set<std::int64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 4u);
  for (const auto& hit : hits) EXPECT_GT(hit.text.size(), 200u);  // parents, not children
}

TEST(HybridSearch, ReindexChangesTheIndexTypeAndKeepsResults) {
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 200);
  std::vector<std::int64_t> flat;
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
    flat = ids_of(kb.retrieve(make_query("heat transfer leading edge", 5, SearchMode::dense)));
  }
  OpenOptions options;
  options.create_if_missing = false;
  options.vector_index = VectorIndexConfig{};
  options.vector_index->type = "hnsw";
  auto kb = KnowledgeBase::open(dir / "kb", options);
  kb.reindex();
  EXPECT_EQ(index::VectorIndex::read_header(dir / "kb" / "vectors.faiss")->config.type, "hnsw");
  const auto result = kb.search(make_query("heat transfer leading edge", 5, SearchMode::dense));
  EXPECT_EQ(result.explanation.dense_path, "index:hnsw");
  EXPECT_EQ(ids_of(result.hits), flat);
}

}  // namespace
}  // namespace ragline
