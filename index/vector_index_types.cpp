#include "index/vector_index_types.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexScalarQuantizer.h>

#include <array>

#include "core/check.hpp"

namespace ragline::index {
namespace {

void validate_flat(const VectorIndexConfig&, std::size_t) {}

EmptyVectorIndex create_flat(std::size_t dimension, const VectorIndexConfig&) {
  auto codes = std::make_unique<faiss::IndexScalarQuantizer>(
      static_cast<int>(dimension), faiss::ScalarQuantizer::QT_8bit_uniform, faiss::METRIC_INNER_PRODUCT);
  codes->sq.trained = {kFlatCodeMin, kFlatCodeRange};
  codes->is_trained = true;
  return {std::move(codes), VectorIndexState::flat_codes};
}

bool flat_may_be_in(VectorIndexState state) {
  return state == VectorIndexState::flat || state == VectorIndexState::flat_codes;
}

// hnsw_m up to 256: the bound a KB's settings always had (VectorIndex alone took up to 512 while
// the two checks were separate).
void validate_hnsw(const VectorIndexConfig& config, std::size_t) {
  RAGLINE_CHECK(config.hnsw_m >= 2 && config.hnsw_m <= 256, invalid_argument,
                "vector index hnsw_m must be in [2, 256], got " << config.hnsw_m);
  RAGLINE_CHECK(config.ef_construction >= 1, invalid_argument,
                "vector index ef_construction must be positive, got " << config.ef_construction);
  RAGLINE_CHECK(config.ef_search >= 1, invalid_argument,
                "vector index ef_search must be positive, got " << config.ef_search);
}

EmptyVectorIndex create_hnsw(std::size_t dimension, const VectorIndexConfig& config) {
  auto hnsw =
      std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(dimension), config.hnsw_m, faiss::METRIC_INNER_PRODUCT);
  hnsw->hnsw.efConstruction = config.ef_construction;
  hnsw->hnsw.efSearch = member_ef_search(config);
  return {std::move(hnsw), VectorIndexState::hnsw};
}

bool hnsw_may_be_in(VectorIndexState state) { return state == VectorIndexState::hnsw; }

void validate_ivf(const VectorIndexConfig& config, std::size_t dimension) {
  RAGLINE_CHECK(config.nlist >= 0, invalid_argument, "vector index nlist must not be negative, got " << config.nlist);
  RAGLINE_CHECK(config.nprobe >= 1, invalid_argument, "vector index nprobe must be positive, got " << config.nprobe);
  RAGLINE_CHECK(config.pq_m >= 0, invalid_argument, "vector index pq_m must not be negative, got " << config.pq_m);
  if (config.pq_m > 0) {
    RAGLINE_CHECK(dimension == 0 || dimension % static_cast<std::size_t>(config.pq_m) == 0, invalid_argument,
                  "vector index pq_m " << config.pq_m << " does not divide the dimension " << dimension);
    RAGLINE_CHECK(config.pq_bits >= 1 && config.pq_bits <= 16, invalid_argument,
                  "vector index pq_bits must be in [1, 16], got " << config.pq_bits);
  }
}

// IVF needs vectors to train on: it starts as a flat index (VectorIndex trains it later).
EmptyVectorIndex create_ivf(std::size_t dimension, const VectorIndexConfig&) {
  return {std::make_unique<faiss::IndexFlatIP>(static_cast<faiss::Index::idx_t>(dimension)),
          VectorIndexState::ivf_untrained};
}

bool ivf_may_be_in(VectorIndexState state) {
  return state == VectorIndexState::ivf_untrained || state == VectorIndexState::ivf_flat ||
         state == VectorIndexState::ivf_pq;
}

constexpr std::array<VectorIndexType, 3> kTypes = {{
    {"flat", validate_flat, create_flat, flat_may_be_in},
    {"hnsw", validate_hnsw, create_hnsw, hnsw_may_be_in},
    {"ivf", validate_ivf, create_ivf, ivf_may_be_in},
}};

}  // namespace

std::span<const VectorIndexType> vector_index_types() { return kTypes; }

std::string vector_index_type_names() {
  std::string names;
  for (const auto& type : kTypes) {
    if (!names.empty()) names += ", ";
    names += type.name;
  }
  return names;
}

const VectorIndexType& vector_index_type(std::string_view name) {
  for (const auto& type : kTypes) {
    if (type.name == name) return type;
  }
  RAGLINE_THROW(invalid_argument,
                "unknown vector index type \"" << name << "\" (known: " << vector_index_type_names() << ")");
}

void validate_vector_index_config(const VectorIndexConfig& config, std::size_t dimension) {
  vector_index_type(config.type).validate(config, dimension);
}

}  // namespace ragline::index
