#include "models/caching_embedder.hpp"

#include <algorithm>

#include "core/check.hpp"
#include "core/hash.hpp"

namespace ragline::models {

std::string embedding_cache_key(std::string_view text, EmbedPurpose purpose) {
  if (purpose == EmbedPurpose::document) return core::sha256(text);
  std::string tagged = "query\n";
  tagged.append(text);
  return core::sha256(tagged);
}

std::vector<float> LruEmbeddingCache::find(const std::string& embedder_id, const std::string& key) {
  std::string entry_key = embedder_id + '\n' + key;
  if (auto found = index_.find(entry_key); found != index_.end()) {
    entries_.splice(entries_.begin(), entries_, found->second);
    return found->second->second;
  }
  if (!read_through_) return {};
  std::vector<float> vector = read_through_->find(embedder_id, key);
  if (!vector.empty()) remember(std::move(entry_key), vector);
  return vector;
}

void LruEmbeddingCache::keep(const std::string& embedder_id, const std::string& key, std::span<const float> vector) {
  remember(embedder_id + '\n' + key, std::vector<float>(vector.begin(), vector.end()));
}

void LruEmbeddingCache::remember(std::string entry_key, std::vector<float> vector) {
  if (capacity_ == 0) return;
  if (auto found = index_.find(entry_key); found != index_.end()) {
    found->second->second = std::move(vector);
    entries_.splice(entries_.begin(), entries_, found->second);
    return;
  }
  entries_.emplace_front(entry_key, std::move(vector));
  index_.emplace(std::move(entry_key), entries_.begin());
  if (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

void LruEmbeddingCache::clear() {
  entries_.clear();
  index_.clear();
}

std::string CachingEmbedder::id() const {
  return inner_.dimension() > 0 || expected_id_.empty() ? inner_.id() : expected_id_;
}

EmbeddingMatrix CachingEmbedder::embed(std::span<const std::string> texts, EmbedPurpose purpose) {
  if (!inner_.cacheable()) return inner_.embed(texts, purpose);
  const std::string cache_id = id();
  std::vector<std::string> keys(texts.size());
  std::vector<std::vector<float>> cached(texts.size());
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    keys[i] = embedding_cache_key(texts[i], purpose);
    cached[i] = store_.find(cache_id, keys[i]);
    if (cached[i].empty()) missing.push_back(i);
  }
  std::vector<std::string> to_embed;
  to_embed.reserve(missing.size());
  for (const auto i : missing) to_embed.push_back(texts[i]);
  EmbeddingMatrix computed;
  if (!to_embed.empty()) computed = inner_.embed(to_embed, purpose);
  RAGLINE_CHECK(computed.rows == to_embed.size(), internal,
                "embedder returned " << computed.rows << " vectors for " << to_embed.size() << " texts");
  // A service that answers with another dimension than the KB's vectors (another model behind
  // the same name, or a broken answer) fails this call; the texts wait for a later one.
  RAGLINE_CHECK(to_embed.empty() || expected_id_.empty() || inner_.id() == expected_id_, network,
                "the embedding service answered as " << inner_.id() << " but the KB's vectors are " << expected_id_
                                                     << " (another model or dimension?)");
  std::size_t dimension = computed.rows > 0 ? computed.dimension : 0;
  for (const auto& vector : cached) {
    if (!vector.empty()) dimension = vector.size();
  }
  EmbeddingMatrix result;
  result.rows = texts.size();
  result.dimension = dimension;
  result.values.assign(texts.size() * dimension, 0.0f);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (cached[i].empty()) continue;
    RAGLINE_CHECK(cached[i].size() == dimension, corrupt, "embedding cache holds vectors of mixed dimensions");
    std::copy(cached[i].begin(), cached[i].end(), result.row(i).begin());
    ++cache_hits_;
  }
  const std::string computed_id = to_embed.empty() ? cache_id : inner_.id();
  for (std::size_t j = 0; j < missing.size(); ++j) {
    const auto source = computed.row(j);
    RAGLINE_CHECK(source.size() == dimension, internal, "embedder returned vectors of mixed dimensions");
    std::copy(source.begin(), source.end(), result.row(missing[j]).begin());
    store_.keep(computed_id, keys[missing[j]], source);
  }
  return result;
}

}  // namespace ragline::models
