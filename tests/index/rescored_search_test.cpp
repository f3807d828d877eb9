// The `flat` type keeps int8 codes in memory and in vectors.faiss (format 3); search_rescored
// rescores the codes' candidates from kb.sqlite's floats, so its top k, ids and scores, equals an
// exact float search over every stored vector, before and after the file round trip.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "index/sqlite.hpp"
#include "index/store.hpp"
#include "index/vector_index.hpp"
#include "index/vector_sync.hpp"
#include "support/test_support.hpp"

namespace ragline::index {
namespace {

using ragline::testing::TempDir;

constexpr std::size_t kDimension = 48;

std::vector<float> random_unit_vectors(std::mt19937_64& random, std::size_t count) {
  std::normal_distribution<float> normal;
  std::vector<float> values(count * kDimension);
  for (std::size_t row = 0; row < count; ++row) {
    float norm = 0;
    for (std::size_t i = 0; i < kDimension; ++i) {
      values[row * kDimension + i] = normal(random);
      norm += values[row * kDimension + i] * values[row * kDimension + i];
    }
    for (std::size_t i = 0; i < kDimension; ++i) values[row * kDimension + i] /= std::sqrt(norm);
  }
  return values;
}

// A KB of `count` one-chunk documents with random unit vectors; returns the chunk ids in row order.
std::vector<std::int64_t> fill(Store& store, const std::vector<float>& vectors, std::size_t count) {
  std::vector<std::int64_t> ids;
  WriteTransaction transaction(store.database());
  store.bump_generation();
  for (std::size_t i = 0; i < count; ++i) {
    Document document;
    document.uri = "doc" + std::to_string(i);
    document.source_path = "/data/doc" + std::to_string(i);
    document.title = "t";
    document.mime_type = "text/plain";
    document.text = "text " + std::to_string(i);
    Chunk chunk;
    chunk.text = document.text;
    chunk.byte_end = document.text.size();
    chunk.token_count = 2;
    std::vector<std::int64_t> chunk_ids;
    store.put_document(document, "hash" + std::to_string(i), {chunk}, 1, &chunk_ids);
    ids.push_back(chunk_ids.at(0));
  }
  store.claim_embedder("random", kDimension);
  store.put_vectors(ids, vectors, store.generation());
  transaction.commit();
  return ids;
}

class RescoredSearchTest : public ::testing::TestWithParam<int> {};

TEST_P(RescoredSearchTest, TopKEqualsExactFloatSearch) {
  const int seed = GetParam();
  std::mt19937_64 random(static_cast<std::uint64_t>(seed));
  const std::size_t count = 1500 + static_cast<std::size_t>(seed) * 700;
  TempDir dir;
  auto store = Store::open(dir.path(), true, std::nullopt, std::nullopt);
  const auto vectors = random_unit_vectors(random, count);
  const auto ids = fill(store, vectors, count);
  const auto queries = random_unit_vectors(random, 20);
  ChunkIdSet half;
  for (std::size_t i = 0; i < ids.size(); i += 2) half.insert(ids[i]);
  std::vector<std::int64_t> half_ids;
  std::vector<float> half_vectors;
  for (std::size_t i = 0; i < ids.size(); i += 2) {
    half_ids.push_back(ids[i]);
    half_vectors.insert(half_vectors.end(), vectors.begin() + static_cast<std::ptrdiff_t>(i * kDimension),
                        vectors.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDimension));
  }

  const auto file = dir / "vectors.faiss";
  for (int round = 0; round < 2; ++round) {  // built from kb.sqlite, then loaded from the saved file
    SyncedVectorIndex synced(file);
    {
      ReadTransaction snapshot(store.database());
      synced.refresh(store);
      ASSERT_NE(synced.index(), nullptr);
      EXPECT_FALSE(synced.index()->holds_full_vectors());
      for (std::size_t q = 0; q < 20; ++q) {
        const std::span<const float> query(queries.data() + q * kDimension, kDimension);
        for (const std::size_t k : {1u, 10u, 60u}) {
          const auto hits = search_rescored(store, *synced.index(), query, k);
          const auto exact = exact_top_k(query, k, ids, vectors);
          ASSERT_EQ(hits.size(), exact.size());
          for (std::size_t i = 0; i < hits.size(); ++i) {
            EXPECT_EQ(hits[i].chunk_id, exact[i].chunk_id) << "query " << q << " k " << k << " rank " << i;
            EXPECT_EQ(hits[i].score, exact[i].score) << "query " << q << " k " << k << " rank " << i;
          }
          const auto filtered = search_rescored(store, *synced.index(), query, k, &half);
          const auto filtered_exact = exact_top_k(query, k, half_ids, half_vectors);
          ASSERT_EQ(filtered.size(), filtered_exact.size());
          for (std::size_t i = 0; i < filtered.size(); ++i) {
            EXPECT_EQ(filtered[i].chunk_id, filtered_exact[i].chunk_id);
            EXPECT_EQ(filtered[i].score, filtered_exact[i].score);
          }
        }
      }
      // The decoded codes stay within one quantisation step of the stored floats.
      const auto decoded = synced.index()->vector(ids[7]);
      ASSERT_TRUE(decoded.has_value());
      for (std::size_t i = 0; i < kDimension; ++i) {
        EXPECT_NEAR((*decoded)[i], vectors[7 * kDimension + i], synced.index()->vector_tolerance());
      }
    }
    synced.save(store);
    // int8 codes: about a quarter of the float rows (plus labels and the header).
    EXPECT_LT(std::filesystem::file_size(file), count * (kDimension + 8 + 8) + 4096);
    const auto header = VectorIndex::read_header(file);
    ASSERT_TRUE(header.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, RescoredSearchTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace ragline::index
