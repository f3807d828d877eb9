#pragma once
// VectorIndex: the FAISS index over chunk vectors (vectors.faiss), keyed by chunk id.
//
// Vectors are L2-normalised, so inner product is cosine similarity; higher scores are better.
// FAISS 1.7.3's IndexIDMap rejects SearchParameters, so the index keeps its own mapping from
// FAISS positions to chunk ids and searches the inner index directly. Removed ids are
// tombstoned (HNSW cannot remove) and dropped by compact(), which the owner calls when
// tombstones pile up.
//
// Thread safety: search() and the const accessors may run concurrently with each other; add(),
// remove(), compact() and save() need exclusive access.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "index/chunk_id_set.hpp"
#include "ragline/types.hpp"

namespace ragline::index {

struct VectorHit {
  std::int64_t chunk_id = 0;
  float score = 0;  // inner product
};

struct VectorSearchOptions {
  int ef_search = 0;  // hnsw: 0 = config.ef_search
  int nprobe = 0;     // ivf: 0 = config.nprobe
};

// What vectors.faiss records besides the index.
struct VectorIndexHeader {
  std::int64_t generation = -1;  // the KB generation the index reflects
  std::string embedder_id;
  std::size_t dimension = 0;
  VectorIndexConfig config;
  std::string kb_id;  // the KB the file was written for (Store::kb_id); empty in format 1 files
};

class VectorIndex {
 public:
  VectorIndex(std::size_t dimension, const VectorIndexConfig& config);
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;

  std::size_t dimension() const;
  const VectorIndexConfig& config() const;
  std::size_t size() const;        // live vectors
  std::size_t tombstones() const;  // removed but still inside the FAISS structure
  bool contains(std::int64_t chunk_id) const;
  // The live chunk ids, ascending (for consistency checks).
  std::vector<std::int64_t> ids() const;
  // False when the index keeps only codes (flat: int8 codes; IVF-PQ): search_exact is then
  // unavailable and vector() returns decoded approximations.
  bool holds_full_vectors() const;
  // How many candidates a search for the top k must fetch so that rescoring them exactly from
  // kb.sqlite gives the exact top k: max(4k, 100) for flat's int8 codes, 0 when search() scores are
  // final already (every other type; IVF-PQ's approximate scores are its documented behaviour).
  std::size_t rescore_candidates(std::size_t k) const;
  // The largest per-component difference vector() may show against the stored float vector.
  float vector_tolerance() const;
  // How far search() may score any vector from its exact inner product with `query`: 0 for full
  // vectors; for flat's int8 codes (range / 255) · sum |query_i|, since a component decodes to
  // within half a step and the code scan rounds a little on top.
  float score_error_bound(std::span<const float> query) const;
  // "flat", "hnsw", "ivf-flat", "ivf-pq", or "flat (ivf untrained)" while IVF waits for vectors.
  std::string description() const;

  // Adds vectors (rows of dimension floats). An id already present is replaced (its old vector
  // tombstoned). IVF trains itself once it has enough vectors and until then searches flat.
  void add(std::span<const std::int64_t> chunk_ids, std::span<const float> vectors);
  // Removes ids; unknown ids are ignored.
  void remove(std::span<const std::int64_t> chunk_ids);
  // Rebuilds the FAISS structure without tombstones.
  void compact();

  // Top k by inner product, optionally only among `allowed` ids. Returns fewer than k only when
  // fewer vectors are allowed, or when the ANN structure cannot reach them (see the owner's
  // exact path for selective filters).
  std::vector<VectorHit> search(std::span<const float> query, std::size_t k, const ChunkIdSet* allowed = nullptr,
                                const VectorSearchOptions& options = {}) const;
  // Exact top k among `chunk_ids`, from the vectors held in memory. nullopt when this index does
  // not keep full vectors (IVF-PQ): the owner then scores vectors read from kb.sqlite.
  std::optional<std::vector<VectorHit>> search_exact(std::span<const float> query, std::size_t k,
                                                     std::span<const std::int64_t> chunk_ids) const;

  // The stored vector of a live id as the index holds it; nullopt for an unknown id, and for
  // IVF-PQ, which keeps only codes.
  std::optional<std::vector<float>> vector(std::int64_t chunk_id) const;

  // Written to a temporary file beside `path`, fsynced, renamed over `path`, directory fsynced.
  // `kb_id` is the KB's identity (Store::kb_id), compared by readers.
  void save(const std::filesystem::path& path, std::int64_t generation, const std::string& embedder_id,
            const std::string& kb_id = {}) const;
  // nullopt when the file is missing; Error(corrupt) naming the file when it is unreadable.
  static std::optional<std::pair<VectorIndex, VectorIndexHeader>> load(const std::filesystem::path& path);
  // Only the header (cheap), for staleness checks; nullopt when missing or unreadable.
  static std::optional<VectorIndexHeader> read_header(const std::filesystem::path& path);

  std::size_t memory_bytes() const;  // approximate

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Exact top k of `query` against rows of `vectors` (ids[i] owns row i), shared by every exact
// path. Ties broken by smaller chunk id.
std::vector<VectorHit> exact_top_k(std::span<const float> query, std::size_t k, std::span<const std::int64_t> ids,
                                   std::span<const float> vectors);

}  // namespace ragline::index
