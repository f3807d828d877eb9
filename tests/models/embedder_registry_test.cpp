// The embedder registry (register_embedder, make_embedder by name, reserved and unknown names)
// and the CachingEmbedder decorator (keys by id, text and purpose; one batched call for the
// misses; LRU in memory with read-through; pass-through for embedders that are not cacheable;
// refusal of an inner embedder that answers as another id).

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "models/caching_embedder.hpp"
#include "models/embedder.hpp"
#include "ragline/error.hpp"

namespace ragline::models {
namespace {

// Embeds text i as (length, purpose, call number); records each call's texts.
class CountingEmbedder final : public Embedder {
 public:
  std::string id() const override { return id_; }
  std::size_t dimension() const override { return dimension_; }
  bool cacheable() const override { return cacheable_; }
  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) override {
    calls.emplace_back(texts.begin(), texts.end());
    EmbeddingMatrix matrix{texts.size(), 3, {}};
    for (const auto& text : texts) {
      matrix.values.insert(matrix.values.end(),
                           {static_cast<float>(text.size()), purpose == EmbedPurpose::query ? 1.0f : 0.0f,
                            static_cast<float>(calls.size())});
    }
    dimension_ = 3;
    if (!answer_as_.empty()) id_ = answer_as_;
    return matrix;
  }

  std::vector<std::vector<std::string>> calls;
  std::string id_ = "counting/3";
  std::string answer_as_;
  std::size_t dimension_ = 3;
  bool cacheable_ = true;
};

// A store that remembers everything, to see what the decorator reads and keeps.
class MapStore final : public EmbeddingCacheStore {
 public:
  std::vector<float> find(const std::string& embedder_id, const std::string& key) override {
    ++finds;
    auto found = entries.find(embedder_id + "|" + key);
    return found == entries.end() ? std::vector<float>() : found->second;
  }
  void keep(const std::string& embedder_id, const std::string& key, std::span<const float> vector) override {
    entries[embedder_id + "|" + key] = std::vector<float>(vector.begin(), vector.end());
  }
  std::map<std::string, std::vector<float>> entries;
  int finds = 0;
};

TEST(CachingEmbedder, EmbedsOnlyMissesInOneCallAndKeepsThem) {
  CountingEmbedder inner;
  MapStore store;
  CachingEmbedder caching(inner, store);
  const std::vector<std::string> first = {"alpha", "be"};
  const auto a = caching.embed(first, EmbedPurpose::document);
  ASSERT_EQ(inner.calls.size(), 1u);
  EXPECT_EQ(store.entries.size(), 2u);
  const std::vector<std::string> second = {"be", "gamma", "alpha"};
  const auto b = caching.embed(second, EmbedPurpose::document);
  ASSERT_EQ(inner.calls.size(), 2u);
  EXPECT_EQ(inner.calls[1], (std::vector<std::string>{"gamma"}));  // only the miss
  EXPECT_EQ(caching.cache_hits(), 2u);
  ASSERT_EQ(b.rows, 3u);
  EXPECT_EQ(std::vector<float>(b.row(0).begin(), b.row(0).end()), (std::vector<float>{2, 0, 1}));  // from call 1
  EXPECT_EQ(std::vector<float>(b.row(1).begin(), b.row(1).end()), (std::vector<float>{5, 0, 2}));
  EXPECT_EQ(std::vector<float>(b.row(2).begin(), b.row(2).end()), (std::vector<float>{5, 0, 1}));

  // A query has a key of its own: the same text is embedded again, as a query.
  const std::vector<std::string> query = {"alpha"};
  const auto q = caching.embed(query, EmbedPurpose::query);
  EXPECT_EQ(inner.calls.size(), 3u);
  EXPECT_EQ(q.row(0)[1], 1.0f);
  EXPECT_NE(embedding_cache_key("alpha", EmbedPurpose::query), embedding_cache_key("alpha", EmbedPurpose::document));
  EXPECT_EQ(embedding_cache_key("alpha", EmbedPurpose::document).size(), 32u);
}

TEST(CachingEmbedder, NotCacheableEmbeddersPassThrough) {
  CountingEmbedder inner;
  inner.cacheable_ = false;
  MapStore store;
  CachingEmbedder caching(inner, store);
  const std::vector<std::string> texts = {"x", "x"};
  caching.embed(texts, EmbedPurpose::document);
  caching.embed(texts, EmbedPurpose::document);
  EXPECT_EQ(inner.calls.size(), 2u);
  EXPECT_EQ(store.finds, 0);
  EXPECT_TRUE(store.entries.empty());
}

TEST(CachingEmbedder, UsesTheExpectedIdUntilTheDimensionIsKnownAndRefusesAnotherModel) {
  CountingEmbedder inner;
  inner.dimension_ = 0;  // a model service before its first answer
  inner.id_ = "service/unknown";
  MapStore store;
  store.entries["service/3|" + embedding_cache_key("cached", EmbedPurpose::document)] = {9, 9, 9};
  CachingEmbedder caching(inner, store);
  caching.expect_id("service/3");
  EXPECT_EQ(caching.id(), "service/3");
  const std::vector<std::string> cached = {"cached"};
  EXPECT_EQ(caching.embed(cached, EmbedPurpose::document).row(0)[0], 9.0f);
  EXPECT_TRUE(inner.calls.empty());

  inner.answer_as_ = "service/768";  // another model behind the same endpoint
  const std::vector<std::string> fresh = {"fresh"};
  try {
    caching.embed(fresh, EmbedPurpose::document);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::network);
    EXPECT_NE(std::string(error.what()).find("service/768"), std::string::npos) << error.what();
  }
  EXPECT_EQ(store.entries.size(), 1u);  // nothing of the other model was kept
}

TEST(LruEmbeddingCache, DropsTheLeastRecentlyUsedAndReadsThroughWithoutWriting) {
  MapStore below;
  below.entries["id|k0"] = {0.5f};
  LruEmbeddingCache cache(2, &below);
  EXPECT_EQ(cache.find("id", "k0"), (std::vector<float>{0.5f}));  // read through, remembered
  const float one[] = {1.0f};
  const float two[] = {2.0f};
  cache.keep("id", "k1", one);
  EXPECT_EQ(below.entries.size(), 1u);  // keep() stays in memory
  EXPECT_EQ(cache.size(), 2u);
  cache.find("id", "k0");       // k0 is now the most recent
  cache.keep("id", "k2", two);  // drops k1
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.find("id", "k1").empty());
  EXPECT_EQ(cache.find("id", "k2"), (std::vector<float>{2.0f}));
  EXPECT_TRUE(cache.find("other", "k2").empty());  // keyed by embedder id too
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(EmbedderRegistry, RegisteredNamesAreMadeByNameAndUnknownNamesListThem) {
  register_embedder("test-registry-counting", [](const EmbedderConfig& config, const AnalyzerConfig&) {
    auto embedder = std::make_unique<CountingEmbedder>();
    embedder->id_ = "counting/" + config.model;
    return embedder;
  });
  EmbedderConfig config;
  config.name = "test-registry-counting";
  config.model = "m1";
  EXPECT_EQ(make_embedder(config)->id(), "counting/m1");
  EXPECT_TRUE(is_registered_embedder("test-registry-counting"));
  const auto names = registered_embedders();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* name : {"bedrock", "bert", "lexical", "openai", "use-lite", "test-registry-counting"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  // Registering again replaces the factory.
  register_embedder("test-registry-counting",
                    [](const EmbedderConfig&, const AnalyzerConfig&) { return std::make_unique<CountingEmbedder>(); });
  EXPECT_EQ(make_embedder(config)->id(), "counting/3");

  config.name = "glove";
  try {
    make_embedder(config);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    const std::string message = error.what();
    EXPECT_NE(message.find("unknown embedder \"glove\""), std::string::npos) << message;
    EXPECT_NE(message.find("lexical"), std::string::npos) << message;
    EXPECT_NE(message.find("test-registry-counting"), std::string::npos) << message;
  }
  config.name = "none";
  EXPECT_THROW(make_embedder(config), Error);
  for (const char* reserved : {"lexical", "bert", "none", "application", ""}) {
    EXPECT_THROW(
        register_embedder(reserved, [](const EmbedderConfig&,
                                       const AnalyzerConfig&) { return std::make_unique<CountingEmbedder>(); }),
        Error)
        << reserved;
  }
  // The built-in lexical embedder carries its sweep's fusion defaults.
  const FusionConfig lexical = make_embedder(EmbedderConfig{})->fusion_defaults();
  EXPECT_EQ(lexical.method, "rrf");
  EXPECT_DOUBLE_EQ(lexical.rrf_k, 5);
  EXPECT_DOUBLE_EQ(lexical.dense_weight, 0.01);
}

}  // namespace
}  // namespace ragline::models
