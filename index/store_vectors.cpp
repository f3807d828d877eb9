// Store: chunk vectors, the embedder identity they carry, the removal log, the embedding cache.

#include <algorithm>
#include <cstdint>

#include "core/check.hpp"
#include "index/store.hpp"
#include "index/store_internal.hpp"

namespace ragline::index {
namespace {
void read_vector_rows(Statement& statement, StoredVectors& out, std::size_t dimension, const std::string& what) {
  while (statement.step()) {
    const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement.get(), 1));
    const auto id = statement.column_int64(0);
    RAGLINE_CHECK(bytes == dimension * sizeof(float), corrupt,
                  "vector of chunk " << id << " in " << what << " has " << bytes << " bytes; expected "
                                     << dimension * sizeof(float));
    out.ids.push_back(id);
    const auto* data = static_cast<const float*>(sqlite3_column_blob(statement.get(), 1));
    out.values.insert(out.values.end(), data, data + dimension);
  }
}
}  // namespace

using detail::json_id_array;
using detail::put_setting;
using detail::setting;

std::string Store::embedder_id() { return setting(statements_, "embedder_id"); }

std::size_t Store::vector_dimension() {
  const std::string value = setting(statements_, "vector_dimension");
  return value.empty() ? 0 : static_cast<std::size_t>(std::stoull(value));
}

void Store::claim_embedder(const std::string& id, std::size_t dimension) {
  const std::string stored_id = embedder_id();
  const std::size_t stored_dimension = vector_dimension();
  if (stored_id.empty()) {
    put_setting(statements_, "embedder_id", id);
    put_setting(statements_, "vector_dimension", std::to_string(dimension));
    return;
  }
  RAGLINE_CHECK(stored_id == id && stored_dimension == dimension, invalid_argument,
                "KB " << kb_dir_.string() << " holds vectors of embedder " << stored_id << " (dimension "
                      << stored_dimension << "); this embedder is " << id << " (dimension " << dimension
                      << "). Vectors of different models never mix: use a new KB directory.");
}

void Store::put_vectors(std::span<const std::int64_t> chunk_ids, std::span<const float> values,
                        std::int64_t generation) {
  const std::size_t dimension = vector_dimension();
  RAGLINE_CHECK(
      dimension > 0 && values.size() == chunk_ids.size() * dimension, internal,
      "put_vectors: " << values.size() << " floats for " << chunk_ids.size() << " chunks of dimension " << dimension);
  auto statement = statements_.get(
      "INSERT INTO chunk_vectors(chunk_id, generation, vector) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(chunk_id) DO UPDATE SET generation = excluded.generation, vector = excluded.vector");
  for (std::size_t i = 0; i < chunk_ids.size(); ++i) {
    statement->bind(1, chunk_ids[i]).bind(2, generation);
    statement->bind_blob(3, values.data() + i * dimension, dimension * sizeof(float));
    statement->run();
    statement->reset();
  }
}

std::vector<std::pair<std::int64_t, std::string>> Store::chunks_missing_vectors(std::size_t limit) {
  auto statement = statements_.get(
      "SELECT c.id, c.text FROM chunks c WHERE c.searchable = 1 AND NOT EXISTS "
      "(SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id) ORDER BY c.id LIMIT ?1");
  statement->bind(1, static_cast<std::int64_t>(limit));
  std::vector<std::pair<std::int64_t, std::string>> found;
  while (statement->step()) found.emplace_back(statement->column_int64(0), statement->column_string(1));
  return found;
}

std::int64_t Store::vector_count() { return database_.query_int64("SELECT count(*) FROM chunk_vectors").value_or(0); }

StoredVectors Store::vectors_since(std::int64_t generation, std::int64_t after_id, std::size_t limit) {
  StoredVectors found;
  auto statement = statements_.get(
      "SELECT chunk_id, vector FROM chunk_vectors WHERE generation > ?1 AND chunk_id > ?2 ORDER BY chunk_id "
      "LIMIT ?3");
  statement->bind(1, generation)
      .bind(2, after_id)
      .bind(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  read_vector_rows(*statement, found, vector_dimension(), database_.path().string());
  return found;
}

StoredVectors Store::vectors_of(std::span<const std::int64_t> chunk_ids) {
  StoredVectors found;
  auto statement =
      statements_.get("SELECT v.chunk_id, v.vector FROM json_each(?1) j JOIN chunk_vectors v ON v.chunk_id = j.value");
  statement->bind(1, json_id_array(std::vector<std::int64_t>(chunk_ids.begin(), chunk_ids.end())));
  read_vector_rows(*statement, found, vector_dimension(), database_.path().string());
  return found;
}

std::vector<std::int64_t> Store::vector_removals_since(std::int64_t generation) {
  auto statement = statements_.get("SELECT chunk_id FROM vector_removals WHERE generation > ?1");
  statement->bind(1, generation);
  std::vector<std::int64_t> ids;
  while (statement->step()) ids.push_back(statement->column_int64(0));
  return ids;
}

void Store::prune_vector_removals(std::int64_t generation) {
  statements_.get("DELETE FROM vector_removals WHERE generation <= ?1")->bind(1, generation).run();
  if (generation > removals_pruned_through())
    put_setting(statements_, "removals_pruned_through", std::to_string(generation));
}

std::int64_t Store::removals_pruned_through() {
  const std::string value = setting(statements_, "removals_pruned_through");
  return value.empty() ? 0 : std::stoll(value);
}

std::unordered_map<std::string, std::vector<float>> Store::cached_embeddings(
    const std::string& embedder_id, const std::vector<std::string>& text_hashes) {
  std::unordered_map<std::string, std::vector<float>> found;
  auto statement = statements_.get("SELECT vector FROM embedding_cache WHERE embedder_id = ?1 AND text_hash = ?2");
  for (const auto& hash : text_hashes) {
    statement->bind(1, embedder_id).bind_blob(2, hash.data(), hash.size());
    if (statement->step()) {
      const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement->get(), 0));
      const auto* data = static_cast<const float*>(sqlite3_column_blob(statement->get(), 0));
      found.emplace(hash, std::vector<float>(data, data + bytes / sizeof(float)));
    }
    statement->reset();
  }
  return found;
}

void Store::put_cached_embeddings(const std::string& embedder_id, const std::vector<std::string>& text_hashes,
                                  std::span<const float> values, std::size_t dimension) {
  auto statement =
      statements_.get("INSERT OR REPLACE INTO embedding_cache(embedder_id, text_hash, vector) VALUES(?1, ?2, ?3)");
  for (std::size_t i = 0; i < text_hashes.size(); ++i) {
    statement->bind(1, embedder_id)
        .bind_blob(2, text_hashes[i].data(), text_hashes[i].size())
        .bind_blob(3, values.data() + i * dimension, dimension * sizeof(float));
    statement->run();
    statement->reset();
  }
}

}  // namespace ragline::index
