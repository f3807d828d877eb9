#pragma once
// CachingEmbedder: an Embedder in front of another one. It looks each text up in a cache store
// first, asks the inner embedder for the rest in one batched call, and keeps what it computed.
// Keys are (embedder id, SHA-256 of the text tagged by its purpose). The store decides where
// vectors live; the KB has two over kb.sqlite's embedding_cache table:
//  - ingest (ingest/pipeline.cpp) reads the table through the preparing thread's connection and
//    writes new document vectors in the batch's own transaction;
//  - queries (retrieve/retriever.cpp) read the same table and keep new query vectors in memory
//    only (an LruEmbeddingCache of 256 entries): a search writes nothing to disk.
// Embedders that are not cacheable() (the lexical one) pass straight through.
//
// Not thread-safe: one CachingEmbedder per thread (its store is used without locks).

#include <cstddef>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "models/embedder.hpp"

namespace ragline::models {

// The cache key of a text: SHA-256 (raw 32 bytes) of the text for documents, of "query\n" + text
// for queries (some models embed a query differently from the same text as a document). KBs keep
// these keys on disk: never change them.
std::string embedding_cache_key(std::string_view text, EmbedPurpose purpose);

class EmbeddingCacheStore {
 public:
  virtual ~EmbeddingCacheStore() = default;
  // The vector kept for (embedder_id, key); empty when there is none.
  virtual std::vector<float> find(const std::string& embedder_id, const std::string& key) = 0;
  // Keeps a vector the inner embedder computed.
  virtual void keep(const std::string& embedder_id, const std::string& key, std::span<const float> vector) = 0;
};

// Vectors in memory, the least recently used dropped first beyond `capacity`. On a miss it asks
// `read_through` (when given) and remembers what that store found; it never writes to it.
class LruEmbeddingCache final : public EmbeddingCacheStore {
 public:
  explicit LruEmbeddingCache(std::size_t capacity, EmbeddingCacheStore* read_through = nullptr)
      : capacity_(capacity), read_through_(read_through) {}

  std::vector<float> find(const std::string& embedder_id, const std::string& key) override;
  void keep(const std::string& embedder_id, const std::string& key, std::span<const float> vector) override;
  void clear();
  std::size_t size() const { return entries_.size(); }

 private:
  void remember(std::string entry_key, std::vector<float> vector);

  std::size_t capacity_;
  EmbeddingCacheStore* read_through_;
  // Most recently used first; keyed by embedder id + '\n' + cache key.
  std::list<std::pair<std::string, std::vector<float>>> entries_;
  std::unordered_map<std::string, decltype(entries_)::iterator> index_;
};

class CachingEmbedder final : public Embedder {
 public:
  // `inner` and `store` must outlive this object.
  CachingEmbedder(Embedder& inner, EmbeddingCacheStore& store) : inner_(inner), store_(store) {}

  // The embedder id the KB's vectors have (empty before its first vector). A model service's id
  // names its dimension, which it learns only from its first answer: until then cache keys use
  // this id. Computed vectors from an inner embedder that answers as another id are refused with
  // Error(network) (another model behind the same endpoint, or a broken answer), so they never
  // reach the KB or its cache.
  void expect_id(std::string id) { expected_id_ = std::move(id); }

  std::string id() const override;
  std::size_t dimension() const override { return inner_.dimension(); }
  bool cacheable() const override { return inner_.cacheable(); }
  std::size_t texts_truncated() const override { return inner_.texts_truncated(); }
  FusionConfig fusion_defaults() const override { return inner_.fusion_defaults(); }
  // Rows of cached and computed vectors alike, in order. Throws what the inner embedder throws,
  // Error(corrupt) when cached vectors differ in dimension.
  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) override;

  // Texts answered from the store since this object was made.
  std::size_t cache_hits() const { return cache_hits_; }
  Embedder& inner() { return inner_; }

 private:
  Embedder& inner_;
  EmbeddingCacheStore& store_;
  std::string expected_id_;
  std::size_t cache_hits_ = 0;
};

}  // namespace ragline::models
