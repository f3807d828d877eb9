#pragma once
// SyncedVectorIndex: keeps a VectorIndex in step with the vectors in kb.sqlite and with
// vectors.faiss on disk (DESIGN.md, "vectors.faiss carries the KB generation").
//
// kb.sqlite is the truth. Each stored vector carries the generation that wrote it and each
// removal is logged with its generation, so an index built at generation G catches up by
// removing the ids removed after G and adding the vectors written after G. A crash between an
// SQLite commit and the index write therefore loses nothing: the next refresh applies the
// difference. When the removal log no longer reaches back to G (it is pruned once vectors.faiss
// has been written), the index reloads the file, or rebuilds from all vectors.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "index/store.hpp"
#include "index/vector_index.hpp"

namespace ragline::index {

// The top k of `query` among `allowed` (all when null) with exact scores. An index that keeps
// only int8 codes (flat) is searched for index.rescore_candidates(k) candidates, which are scored
// again from the float vectors in kb.sqlite: call inside the read snapshot `index` was refreshed
// in, so that both agree. Other indexes answer as VectorIndex::search does.
std::vector<VectorHit> search_rescored(Store& store, const VectorIndex& index, std::span<const float> query,
                                       std::size_t k, const ChunkIdSet* allowed = nullptr,
                                       const VectorSearchOptions& options = {});

class SyncedVectorIndex {
 public:
  explicit SyncedVectorIndex(std::filesystem::path file) : file_(std::move(file)) {}

  // Brings the in-memory index up to the store's current generation. Call inside a read
  // snapshot (ReadTransaction) so that the generation and the vectors read agree.
  void refresh(Store& store, const LogCallback& log = {});
  // Writes vectors.faiss when the in-memory index is newer than the file, then forgets removals
  // the file reflects. Call after refresh(), outside any transaction.
  void save(Store& store);
  // Discards the in-memory index and the file's content and rebuilds both from kb.sqlite. The
  // new file is written beside the old one and renamed over it: readers never find it missing.
  void rebuild(Store& store, const LogCallback& log = {});

  // nullptr when the KB has no vectors.
  const VectorIndex* index() const { return index_.get(); }
  std::int64_t generation() const { return generation_; }
  bool file_is_stale() const { return file_generation_ != generation_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  // Loads vectors.faiss when it is readable and belongs to this KB (its KB id, embedder,
  // dimension, config; not newer than kb.sqlite); a file of another KB is logged as a warning.
  bool adopt_file(Store& store, const std::string& embedder_id, std::size_t dimension, const LogCallback& log);
  void catch_up(Store& store);

  std::filesystem::path file_;
  std::unique_ptr<VectorIndex> index_;
  std::int64_t generation_ = -1;       // of the in-memory index
  std::int64_t file_generation_ = -1;  // of vectors.faiss as last read or written
  std::string embedder_id_;
  bool ignore_file_ = false;  // during rebuild(): build from kb.sqlite alone
};

}  // namespace ragline::index
