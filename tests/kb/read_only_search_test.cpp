// Searching is side-effect free: bm25, dense, hybrid and hybrid + mmr queries (and query_vector,
// build_prompt, stats, check) leave kb.sqlite, kb.sqlite-wal and vectors.faiss byte-identical and
// create no file, even when vectors.faiss is stale and query vectors come from a cacheable model.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/hash.hpp"
#include "index/store.hpp"
#include "ingest/pipeline.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"
#include "support/toy_embedding.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// A cacheable model (the kind whose query vectors used to be written to kb.sqlite): letter
// frequencies, unit length.
class LetterEmbedder final : public Embedder {
 public:
  std::string id() const override { return "read-only-letters/26"; }
  std::size_t dimension() const override { return 26; }
  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose) override {
    EmbeddingMatrix matrix{texts.size(), 26, {}};
    for (const auto& text : texts) {
      const auto vector = ragline::testing::unit_toy_embedding(text);
      matrix.values.insert(matrix.values.end(), vector.begin(), vector.end());
    }
    return matrix;
  }
};

// Every file in the KB directory but SQLite's shared-memory index (-shm), which readers update by
// design (their read marks), with the SHA-256 of its bytes.
std::map<std::string, std::string> snapshot(const fs::path& kb_dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(kb_dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "kb.sqlite-shm") continue;
    files[name] = core::sha256_hex(ragline::testing::read_file(entry.path()));
  }
  return files;
}

void write_corpus(const fs::path& dir, int first, int count) {
  for (int i = first; i < first + count; ++i) {
    write_file(dir / ("doc" + std::to_string(i) + ".md"),
               "# Report " + std::to_string(i) + "\n\nWind tunnel record " + std::to_string(i) +
                   ": supersonic inlet shocks, boundary layer number " + std::to_string(i * 7) + ".\n");
  }
}

TEST(ReadOnlySearch, SearchingLeavesEveryFileOfTheKbAsItWas) {
  TempDir dir;
  write_corpus(dir / "first", 0, 20);
  write_corpus(dir / "second", 100, 10);
  const fs::path kb_dir = dir / "kb";
  auto embedder = std::make_shared<LetterEmbedder>();
  OpenOptions options;
  options.embedder_instance = embedder;
  {
    auto kb = KnowledgeBase::open(kb_dir, options);
    ASSERT_TRUE(kb.ingest({dir / "first"}).ok());
  }
  {
    // kb.sqlite moves ahead of vectors.faiss (as after a crash between the two): the stale file
    // is what a search used to rewrite.
    auto store = index::Store::open(kb_dir, false, index::StoreSettings{});
    ASSERT_TRUE(ingest::run_ingest(store, embedder.get(), {dir / "second"}, IngestOptions{}, {}).ok());
  }
  auto kb = KnowledgeBase::open(kb_dir, options);
  ASSERT_LT(kb.stats().vector_index_generation, kb.stats().generation);
  const auto before = snapshot(kb_dir);
  ASSERT_TRUE(before.count("kb.sqlite") && before.count("vectors.faiss")) << before.size();

  Query bm25("supersonic inlet record 104", 5);
  bm25.mode = SearchMode::bm25;
  Query dense = bm25;
  dense.mode = SearchMode::dense;
  Query hybrid = bm25;
  hybrid.mode = SearchMode::hybrid;
  Query mmr = hybrid;
  RerankerConfig stage;
  stage.name = "mmr";
  mmr.rerank = {stage};
  Query mmr_cosine = mmr;
  mmr_cosine.rerank[0].mmr_relevance = "cosine";
  for (int round = 0; round < 2; ++round) {
    for (const Query* query : {&bm25, &dense, &hybrid, &mmr, &mmr_cosine}) {
      const auto result = kb.search(*query);
      EXPECT_FALSE(result.hits.empty()) << static_cast<int>(query->mode);
    }
    EXPECT_EQ(kb.query_vector("another query, embedded fresh").size(), 26u);
    const auto hits = kb.retrieve(hybrid);
    kb.build_prompt("what was measured?", hits);
    kb.stats();
    kb.documents();
    EXPECT_TRUE(kb.check().ok());
  }
  // A second reader, as another process would be.
  auto reader = KnowledgeBase::open(kb_dir, options);
  EXPECT_FALSE(reader.retrieve(dense).empty());

  EXPECT_EQ(snapshot(kb_dir), before);
  // Still stale: the next writer saves it.
  EXPECT_LT(kb.stats().vector_index_generation, kb.stats().generation);
  kb.reindex();
  EXPECT_EQ(kb.stats().vector_index_generation, kb.stats().generation);
}

}  // namespace
}  // namespace ragline
