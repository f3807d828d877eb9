// vectors.faiss formats: format 2 carries the KB id and the vectors a check samples, format 3
// keeps flat's vectors as int8 codes; the seed files of fuzz/corpus/vector_index (format 1
// without a KB id, format 2 with one, format 3) all load.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "index/vector_index.hpp"
#include "support/test_support.hpp"

namespace ragline::index {
namespace {

using ragline::testing::TempDir;

TEST(VectorFileFormat, TheKbIdAndEveryVectorRoundTrip) {
  // save() writes the KB id; load() and read_header() return it; vector() gives each live vector.
  TempDir dir;
  VectorIndex index(4, VectorIndexConfig{});
  const std::vector<std::int64_t> ids = {3, 9};
  const std::vector<float> values = {1, 0, 0, 0, 0, 0.6f, 0.8f, 0};
  index.add(ids, values);
  index.save(dir / "vectors.faiss", 7, "toy/4", "00ff00ff00ff00ff00ff00ff00ff00ff");
  const auto header = VectorIndex::read_header(dir / "vectors.faiss");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->kb_id, "00ff00ff00ff00ff00ff00ff00ff00ff");
  auto loaded = VectorIndex::load(dir / "vectors.faiss");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->second.kb_id, "00ff00ff00ff00ff00ff00ff00ff00ff");
  // flat keeps int8 codes (format 3): a vector comes back within one quantisation step.
  const auto held = loaded->first.vector(9);
  ASSERT_TRUE(held);
  const std::vector<float> expected = {0, 0.6f, 0.8f, 0};
  ASSERT_EQ(held->size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR((*held)[i], expected[i], loaded->first.vector_tolerance());
  }
  EXPECT_FALSE(loaded->first.vector(4));
}

TEST(VectorFileFormat, TheFuzzSeedsOfEveryFormatLoad) {
  // Format 1 files (no KB id) are still read; the format 2 seeds carry theirs; format 3 (-v3)
  // holds flat's int8 codes.
  const auto corpus = std::filesystem::path(RAGLINE_SOURCE_DIR) / "fuzz" / "corpus" / "vector_index";
  int format1 = 0, format2 = 0, format3 = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    SCOPED_TRACE(entry.path().string());
    std::optional<std::pair<VectorIndex, VectorIndexHeader>> loaded;
    ASSERT_NO_THROW(loaded = VectorIndex::load(entry.path()));
    ASSERT_TRUE(loaded);
    const std::vector<float> query(loaded->second.dimension, 0.5f);
    EXPECT_FALSE(loaded->first.search(query, 3).empty());
    if (entry.path().stem().string().ends_with("-v3")) {
      EXPECT_FALSE(loaded->first.holds_full_vectors());  // flat's int8 codes
      ++format3;
    } else {
      (loaded->second.kb_id.empty() ? format1 : format2) += 1;
    }
  }
  EXPECT_GE(format1, 3);
  EXPECT_GE(format2, 3);
  EXPECT_GE(format3, 1);
}

TEST(VectorFileFormat, AFormat2FlatFileIsWrittenAsFormat3CodesOnTheNextSave) {
  // A flat file of format 2 holds float rows; loaded, they become int8 codes, and save() writes
  // format 3 at about a quarter of the vector bytes.
  TempDir dir;
  const auto corpus = std::filesystem::path(RAGLINE_SOURCE_DIR) / "fuzz" / "corpus" / "vector_index";
  auto old_file = VectorIndex::load(corpus / "flat-v2.faiss");
  ASSERT_TRUE(old_file);
  EXPECT_FALSE(old_file->first.holds_full_vectors());
  const auto ids = old_file->first.ids();
  old_file->first.save(dir / "vectors.faiss", old_file->second.generation, old_file->second.embedder_id,
                       old_file->second.kb_id);
  std::ifstream saved(dir / "vectors.faiss", std::ios::binary);
  char magic[8];
  std::uint32_t version = 0;
  saved.read(magic, sizeof magic);
  saved.read(reinterpret_cast<char*>(&version), sizeof version);
  EXPECT_EQ(version, 3u);
  const auto dimension = old_file->second.dimension;
  EXPECT_LT(std::filesystem::file_size(dir / "vectors.faiss"),
            std::filesystem::file_size(corpus / "flat-v2.faiss") - ids.size() * dimension * 3 + 64);
  auto reloaded = VectorIndex::load(dir / "vectors.faiss");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->first.ids(), ids);
  EXPECT_EQ(reloaded->second.kb_id, old_file->second.kb_id);
  for (const auto id : ids) EXPECT_EQ(reloaded->first.vector(id), old_file->first.vector(id));
}

}  // namespace
}  // namespace ragline::index
