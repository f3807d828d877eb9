#pragma once
// The vector index types by name ("flat", "hnsw", "ivf"): the one place a VectorIndexConfig::type
// is resolved. Each entry validates the settings its type reads and builds the empty FAISS
// structure; Store (settings of a KB), VectorIndex (construction, loading vectors.faiss) and the
// benches go through here, so a new type is one entry in vector_index_types.cpp.
//
// Thread safety: the registry is a constant table; every function may run on any thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ragline/types.hpp"

namespace faiss {
struct Index;
}

namespace ragline::index {

// What the FAISS structure inside a VectorIndex is at one moment. An IVF index searches flat
// until it has enough vectors to train (vector_index.hpp). Recorded in vectors.faiss as a u32:
// never renumber.
// flat_codes (format 3) is the `flat` type since vectors.faiss stopped holding a second float copy
// of kb.sqlite's vectors: int8 codes over [-1, 1] (kFlatCodeMin, kFlatCodeRange), searched for
// candidates that the owner rescores from kb.sqlite. A loaded `flat` file (formats 1 and 2) is
// encoded on load.
enum class VectorIndexState : std::uint32_t {
  flat = 0,
  hnsw = 1,
  ivf_untrained = 2,
  ivf_flat = 3,
  ivf_pq = 4,
  flat_codes = 5
};
inline constexpr VectorIndexState kLastVectorIndexState = VectorIndexState::flat_codes;
// L2-normalised components lie in [-1, 1]: one fixed range makes a vector's code independent of
// the others (a rebuild gives the same bytes) and needs no training. The error per component is
// at most kFlatCodeRange / 255.
inline constexpr float kFlatCodeMin = -1.0f;
inline constexpr float kFlatCodeRange = 2.0f;

// An empty FAISS structure (inner product) and the state it starts in. The caller owns the index.
struct EmptyVectorIndex {
  std::unique_ptr<faiss::Index> index;
  VectorIndexState state = VectorIndexState::flat;
};

struct VectorIndexType {
  std::string_view name;
  // Throws Error(invalid_argument) naming the field and its value when a setting this type reads
  // is out of range. `dimension` 0 = not known yet (a KB before its first vector): the checks
  // that need it (pq_m dividing it) wait for the index's construction.
  void (*validate)(const VectorIndexConfig& config, std::size_t dimension);
  // The empty index for vectors of `dimension` floats; `config` has passed validate().
  EmptyVectorIndex (*create)(std::size_t dimension, const VectorIndexConfig& config);
  // Whether an index of this type may be in `state` (a loaded vectors.faiss is checked with it).
  bool (*may_be_in)(VectorIndexState state);
};

// Every type, in the order they are listed to users.
std::span<const VectorIndexType> vector_index_types();
// "flat, hnsw, ivf": for help texts and errors.
std::string vector_index_type_names();
// The entry for `name`; Error(invalid_argument) listing the known types when there is none.
const VectorIndexType& vector_index_type(std::string_view name);
// vector_index_type(config.type).validate(config, dimension).
void validate_vector_index_config(const VectorIndexConfig& config, std::size_t dimension = 0);

// FAISS 1.7.3's HNSW::search sizes its candidate queue from the index's own efSearch and reads
// SearchParametersHNSW::efSearch only in its stopping test: a beam above the member has no
// effect, and a member far above the beam costs 2-3 times the search time (bench/README.md,
// rag-bench-vectors). The member therefore stays at the configured beam, and a search that needs
// another one sets it under an exclusive lock (searches at the configured beam share the lock).
inline int member_ef_search(const VectorIndexConfig& config) { return config.ef_search; }

}  // namespace ragline::index
