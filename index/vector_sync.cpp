#include "index/vector_sync.hpp"

#include "core/check.hpp"

namespace ragline::index {
namespace {

void emit(const LogCallback& log, LogLevel level, const std::string& message) {
  if (log) log(level, message);
}

}  // namespace

std::vector<VectorHit> search_rescored(Store& store, const VectorIndex& index, std::span<const float> query,
                                       std::size_t k, const ChunkIdSet* allowed, const VectorSearchOptions& options) {
  const std::size_t candidates = index.rescore_candidates(k);
  if (candidates == 0) return index.search(query, k, allowed, options);
  const auto found = index.search(query, candidates, allowed, options);
  // A vector of the exact top k scores at least (k-th code score - 2 · bound) on the codes, so
  // the candidates below that cannot enter it and are not read (often most of them).
  std::size_t keep = found.size();
  if (found.size() > k) {
    const float bound = index.score_error_bound(query);
    const float floor = found[k - 1].score - 2.0f * bound * 1.01f - 1e-5f;
    keep = k;
    while (keep < found.size() && found[keep].score >= floor) ++keep;
  }
  std::vector<std::int64_t> ids;
  ids.reserve(keep);
  for (std::size_t i = 0; i < keep; ++i) ids.push_back(found[i].chunk_id);
  const auto stored = store.vectors_of(ids);
  return exact_top_k(query, k, stored.ids, stored.values);
}

bool SyncedVectorIndex::adopt_file(Store& store, const std::string& embedder_id, std::size_t dimension,
                                   const LogCallback& log) {
  std::optional<std::pair<VectorIndex, VectorIndexHeader>> loaded;
  try {
    loaded = VectorIndex::load(file_);
  } catch (const Error&) {
    return false;  // unreadable: rebuilt from kb.sqlite, which is the truth
  }
  if (!loaded) return false;
  auto& [index, header] = *loaded;
  // A KB without an id (from before KB ids, not written since) accepts any file, as it did.
  const std::string kb_id = store.kb_id();
  if (!kb_id.empty() && header.kb_id != kb_id) {
    emit(log, LogLevel::warning,
         file_.string() + " belongs to another KB (KB id \"" + header.kb_id + "\"; this KB is \"" + kb_id +
             "\"): ignored, the vector index is rebuilt from kb.sqlite");
    return false;
  }
  if (header.embedder_id != embedder_id || header.dimension != dimension ||
      !(header.config == store.vector_index_config()) || header.generation > store.generation()) {
    return false;
  }
  index_ = std::make_unique<VectorIndex>(std::move(index));
  generation_ = header.generation;
  file_generation_ = header.generation;
  return true;
}

void SyncedVectorIndex::refresh(Store& store, const LogCallback& log) {
  const std::int64_t generation = store.generation();
  const std::string embedder_id = store.embedder_id();
  const std::size_t dimension = store.vector_dimension();
  if (index_ && generation == generation_ && embedder_id == embedder_id_ &&
      index_->config() == store.vector_index_config()) {
    return;
  }
  if (dimension == 0) {
    index_.reset();
    generation_ = generation;
    embedder_id_ = embedder_id;
    return;
  }
  const bool reusable = index_ && embedder_id == embedder_id_ && index_->dimension() == dimension &&
                        index_->config() == store.vector_index_config();
  if (!reusable) {
    index_.reset();
    generation_ = -1;
    file_generation_ = -1;
  }
  // The file is worth reading when it is further along than memory: loading is cheaper than
  // adding (and for HNSW, inserting) every vector again.
  if (const auto header = VectorIndex::read_header(file_);
      header && header->generation > generation_ && !ignore_file_) {
    adopt_file(store, embedder_id, dimension, log);
  }
  // Removals before this point are forgotten: an index older than that cannot catch up.
  if (index_ && generation_ < store.removals_pruned_through()) {
    index_.reset();
    generation_ = -1;
    if (!adopt_file(store, embedder_id, dimension, log) || generation_ < store.removals_pruned_through()) {
      index_.reset();
      generation_ = -1;
    }
  }
  if (!index_) {
    index_ = std::make_unique<VectorIndex>(dimension, store.vector_index_config());
    generation_ = -1;
    emit(log, LogLevel::info, "building the vector index from kb.sqlite");
  }
  embedder_id_ = embedder_id;
  catch_up(store);
  generation_ = generation;
}

void SyncedVectorIndex::catch_up(Store& store) {
  if (generation_ >= 0) {
    const auto removed = store.vector_removals_since(generation_);
    if (!removed.empty()) index_->remove(removed);
  }
  // Paged, so that a rebuild of millions of vectors never holds them all twice in memory.
  constexpr std::size_t kPage = 16384;
  for (std::int64_t after = -1;;) {
    const auto added = store.vectors_since(generation_, after, kPage);
    if (added.ids.empty()) break;
    index_->add(added.ids, added.values);
    after = added.ids.back();
    if (added.ids.size() < kPage) break;
  }
  // Tombstones cost search time and memory; past a quarter of the index they are compacted away.
  if (index_->tombstones() > 1000 && index_->tombstones() * 4 > index_->size()) index_->compact();
}

void SyncedVectorIndex::save(Store& store) {
  if (!index_ || generation_ == file_generation_) return;
  index_->save(file_, generation_, embedder_id_, store.kb_id());
  file_generation_ = generation_;
  WriteTransaction transaction(store.database());
  store.prune_vector_removals(generation_);
  transaction.commit();
}

void SyncedVectorIndex::rebuild(Store& store, const LogCallback& log) {
  index_.reset();
  generation_ = -1;
  file_generation_ = -1;
  // The old file stays until the new one is renamed over it: a reader meanwhile loads it instead
  // of finding it missing and building the whole index itself.
  ignore_file_ = true;
  try {
    ReadTransaction snapshot(store.database());
    refresh(store, log);
  } catch (...) {
    ignore_file_ = false;
    throw;
  }
  ignore_file_ = false;
  if (index_) {
    index_->compact();
    save(store);
  } else {
    std::error_code error;
    std::filesystem::remove(file_, error);  // the KB has no vectors: nothing to read
  }
}

}  // namespace ragline::index
