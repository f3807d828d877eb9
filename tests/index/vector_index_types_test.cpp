// Covers the vector index type registry: the names it knows, the one error for an unknown type
// (from VectorIndex, from Store settings and from a loaded vectors.faiss), per-type validation,
// and that each type's empty index is in a state the type accepts.

#include "index/vector_index_types.hpp"

#include <faiss/Index.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "index/store.hpp"
#include "index/vector_index.hpp"
#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace ragline::index {
namespace {

using ragline::testing::TempDir;

// The message of the Error(invalid_argument) `action` throws; fails the test for anything else.
template <typename Action>
std::string invalid_argument_message(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(VectorIndexTypes, KnowsFlatHnswAndIvfInThatOrder) {
  // The listed names, and each one resolving to its own entry.
  std::vector<std::string> names;
  for (const auto& type : vector_index_types()) names.emplace_back(type.name);
  EXPECT_EQ(names, (std::vector<std::string>{"flat", "hnsw", "ivf"}));
  EXPECT_EQ(vector_index_type_names(), "flat, hnsw, ivf");
  for (const auto& type : vector_index_types()) EXPECT_EQ(&vector_index_type(type.name), &type);
}

TEST(VectorIndexTypes, AnUnknownTypeListsTheKnownOnesWhereverItIsResolved) {
  // The registry, VectorIndex and Store give the same message; Store creates nothing on disk.
  const std::string expected = "unknown vector index type \"annoy\" (known: flat, hnsw, ivf)";
  EXPECT_EQ(invalid_argument_message([] { (void)vector_index_type("annoy"); }), expected);

  VectorIndexConfig config;
  config.type = "annoy";
  EXPECT_EQ(invalid_argument_message([&] { VectorIndex(4, config); }), expected);

  TempDir dir;
  StoreSettings settings;
  settings.vector_index = config;
  EXPECT_EQ(invalid_argument_message([&] { (void)Store::open(dir / "kb", true, settings); }), expected);
  EXPECT_FALSE(std::filesystem::exists(dir / "kb"));

  // An existing KB refuses the change of type too, and keeps its own.
  {
    auto store = Store::open(dir / "kb", true, StoreSettings{});
    EXPECT_EQ(invalid_argument_message([&] { store.set_vector_index_config(config); }), expected);
  }
  EXPECT_EQ(Store::open(dir / "kb", false, StoreSettings{}).vector_index_config().type, "flat");
}

TEST(VectorIndexTypes, EachTypeChecksOnlyTheSettingsItReads) {
  // hnsw checks its graph settings, ivf its lists and codes; settings a type does not read pass.
  VectorIndexConfig config;
  config.hnsw_m = 1;
  config.nprobe = 0;
  EXPECT_NO_THROW(validate_vector_index_config(config));  // flat

  config.type = "hnsw";
  EXPECT_NE(invalid_argument_message([&] { validate_vector_index_config(config); }).find("hnsw_m must be in [2, 256]"),
            std::string::npos);
  config.hnsw_m = 256;
  EXPECT_NO_THROW(validate_vector_index_config(config));
  config.hnsw_m = 257;
  EXPECT_NE(invalid_argument_message([&] { VectorIndex(4, config); }).find("got 257"), std::string::npos);

  config.type = "ivf";
  EXPECT_NE(invalid_argument_message([&] { validate_vector_index_config(config); }).find("nprobe must be positive"),
            std::string::npos);
  config.nprobe = 4;
  config.pq_m = 3;
  // Whether pq_m divides the dimension is known only once the dimension is.
  EXPECT_NO_THROW(validate_vector_index_config(config));
  EXPECT_NE(invalid_argument_message([&] { validate_vector_index_config(config, 4); }).find("does not divide"),
            std::string::npos);
  EXPECT_NO_THROW(validate_vector_index_config(config, 6));
}

TEST(VectorIndexTypes, EachTypeStartsInAStateItAccepts) {
  // create() gives an empty inner-product index of the dimension, in a state may_be_in() accepts
  // (what loading vectors.faiss checks), and no other type accepts that state.
  const VectorIndexConfig config;
  for (const auto& type : vector_index_types()) {
    const EmptyVectorIndex empty = type.create(8, config);
    ASSERT_NE(empty.index, nullptr) << type.name;
    EXPECT_EQ(empty.index->d, 8) << type.name;
    EXPECT_EQ(empty.index->ntotal, 0) << type.name;
    EXPECT_EQ(empty.index->metric_type, faiss::METRIC_INNER_PRODUCT) << type.name;
    EXPECT_TRUE(type.may_be_in(empty.state)) << type.name;
    for (const auto& other : vector_index_types()) {
      if (&other == &type) continue;
      EXPECT_FALSE(other.may_be_in(empty.state)) << other.name << " in " << type.name << "'s state";
    }
  }
}

}  // namespace
}  // namespace ragline::index
