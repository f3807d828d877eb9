#include "index/faiss_validation.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ragline::index {
namespace {

// FAISS's reader sizes each array from the file and allocates it before reading it, so a damaged
// or crafted size makes it allocate up to 2^40 bytes, and FAISS 1.7 leaks what it allocated when
// the read then fails (index_read.cpp holds raw pointers; found by fuzz/vector_index.cpp). For the
// layouts ragline writes outside IVF, IndexFlatIP ("IxFI") and IndexHNSWFlat ("IHNf"), every
// array size is checked against the bytes left before FAISS reads the blob. Only the checksum
// guards the IVF layouts.
void check_flat_blob(BoundedReader& blob) {
  const auto dimension = blob.read_value<std::int32_t>();
  const auto ntotal = blob.read_value<std::int64_t>();
  blob.skip(2 * sizeof(std::int64_t) + 1);  // two unused fields, is_trained
  const auto metric = blob.read_value<std::int32_t>();
  if (metric > 1) blob.skip(sizeof(float));  // metric_arg
  const auto floats = blob.read_value<std::uint64_t>();
  if (dimension <= 0 || ntotal < 0 || floats > blob.remaining() / sizeof(float) ||
      floats != static_cast<std::uint64_t>(ntotal) * static_cast<std::uint64_t>(dimension)) {
    throw CorruptFile{"FAISS flat index sizes do not match its data"};
  }
  blob.skip(floats * sizeof(float));
}

// IndexScalarQuantizer ("IxSQ", the `flat` type's int8 codes): index header, then the quantizer
// (qtype, rangestat, rangestat_arg, d, code_size, trained floats), then the codes.
void check_scalar_quantizer_blob(BoundedReader& blob) {
  const auto dimension = blob.read_value<std::int32_t>();
  const auto ntotal = blob.read_value<std::int64_t>();
  blob.skip(2 * sizeof(std::int64_t) + 1);
  const auto metric = blob.read_value<std::int32_t>();
  if (metric > 1) blob.skip(sizeof(float));
  blob.skip(2 * sizeof(std::int32_t) + sizeof(float));
  const auto quantizer_dimension = blob.read_value<std::uint64_t>();
  const auto code_size = blob.read_value<std::uint64_t>();
  const auto trained = blob.read_value<std::uint64_t>();
  if (trained > blob.remaining() / sizeof(float)) throw CorruptFile{"FAISS scalar quantizer sizes exceed the file"};
  blob.skip(trained * sizeof(float));
  const auto code_bytes = blob.read_value<std::uint64_t>();
  if (dimension <= 0 || ntotal < 0 || quantizer_dimension != static_cast<std::uint64_t>(dimension) ||
      code_size != quantizer_dimension || code_bytes > blob.remaining() ||
      code_bytes != static_cast<std::uint64_t>(ntotal) * code_size) {
    throw CorruptFile{"FAISS int8 code sizes do not match its data"};
  }
  blob.skip(code_bytes);
}

// FAISS's reader takes sizes and ids as they come: a graph or an inverted list pointing past
// the vectors would make a search read out of bounds (found by fuzz/vector_index.cpp). These
// checks are linear in the index size, small next to reading it.
bool flat_codes_sound(const faiss::IndexFlat& flat) {
  return flat.codes.size() == static_cast<std::size_t>(flat.ntotal) * flat.code_size;
}

bool pq_sound(const faiss::IndexIVFPQ& ivf_pq) {
  const auto& pq = ivf_pq.pq;
  return pq.M > 0 && pq.nbits > 0 && pq.nbits <= 16 && pq.d == static_cast<std::size_t>(ivf_pq.d) &&
         pq.dsub * pq.M == pq.d && pq.ksub == (std::size_t{1} << pq.nbits) &&
         pq.centroids.size() == pq.M * pq.ksub * pq.dsub && pq.code_size == ivf_pq.code_size &&
         pq.code_size == (pq.M * pq.nbits + 7) / 8;
}

bool hnsw_graph_sound(const faiss::HNSW& graph, faiss::Index::idx_t ntotal) {
  const auto count = static_cast<std::size_t>(ntotal);
  const auto& cumulative = graph.cum_nneighbor_per_level;
  if (cumulative.empty() || cumulative[0] != 0 || graph.levels.size() != count || graph.offsets.size() != count + 1 ||
      graph.offsets[0] != 0) {
    return false;
  }
  for (std::size_t level = 1; level < cumulative.size(); ++level) {
    if (cumulative[level] < cumulative[level - 1]) return false;
  }
  for (std::size_t node = 0; node < count; ++node) {
    const int levels = graph.levels[node];
    if (levels < 1 || static_cast<std::size_t>(levels) >= cumulative.size() ||
        graph.offsets[node + 1] != graph.offsets[node] + static_cast<std::size_t>(cumulative[levels])) {
      return false;
    }
  }
  if (graph.neighbors.size() != graph.offsets[count]) return false;
  for (const auto neighbor : graph.neighbors) {
    if (neighbor < -1 || neighbor >= ntotal) return false;
  }
  if (count == 0) return graph.entry_point == -1;
  return graph.entry_point >= 0 && graph.entry_point < ntotal &&
         graph.max_level == graph.levels[static_cast<std::size_t>(graph.entry_point)] - 1;
}

// Every vector in exactly one list, under an id that is its position, codes of the right size,
// and (IVF-Flat) a direct map that finds each position where it is.
bool ivf_lists_sound(const faiss::IndexIVF& ivf_index) {
  const auto* lists = dynamic_cast<const faiss::ArrayInvertedLists*>(ivf_index.invlists);
  const auto* quantizer = dynamic_cast<const faiss::IndexFlat*>(ivf_index.quantizer);
  if (lists == nullptr || quantizer == nullptr || quantizer->d != ivf_index.d || !flat_codes_sound(*quantizer) ||
      static_cast<std::size_t>(quantizer->ntotal) != ivf_index.nlist || lists->nlist != ivf_index.nlist ||
      lists->code_size != ivf_index.code_size || lists->ids.size() != lists->nlist ||
      lists->codes.size() != lists->nlist) {
    return false;
  }
  const auto count = static_cast<std::size_t>(ivf_index.ntotal);
  std::vector<char> seen(count, 0);
  for (std::size_t list = 0; list < lists->nlist; ++list) {
    if (lists->codes[list].size() != lists->ids[list].size() * lists->code_size) return false;
    for (const auto id : lists->ids[list]) {
      if (id < 0 || static_cast<std::size_t>(id) >= count || seen[static_cast<std::size_t>(id)]) return false;
      seen[static_cast<std::size_t>(id)] = 1;
    }
  }
  if (std::find(seen.begin(), seen.end(), 0) != seen.end()) return false;
  if (ivf_index.direct_map.type != faiss::DirectMap::Array) return true;
  const auto& map = ivf_index.direct_map.array;
  if (map.size() != count) return false;
  for (std::size_t position = 0; position < count; ++position) {
    const auto entry = static_cast<std::uint64_t>(map[position]);
    const auto list = faiss::lo_listno(entry);
    const auto offset = faiss::lo_offset(entry);
    if (list >= lists->nlist || offset >= lists->ids[list].size() ||
        lists->ids[list][offset] != static_cast<faiss::Index::idx_t>(position)) {
      return false;
    }
  }
  return true;
}

}  // namespace

void check_faiss_blob(BoundedReader& blob) {
  std::array<char, 4> fourcc{};
  blob.read(fourcc.data(), fourcc.size());
  const std::string_view kind(fourcc.data(), fourcc.size());
  if (kind == "IxFI") return check_flat_blob(blob);
  if (kind == "IxSQ") return check_scalar_quantizer_blob(blob);
  if (kind != "IHNf") return;
  blob.skip(sizeof(std::int32_t) + 3 * sizeof(std::int64_t) + 1 + sizeof(std::int32_t));  // as in check_flat_blob
  // assign_probas (double), cum_nneighbor_per_level (int), levels (int), offsets (size_t), neighbors (int)
  for (const std::size_t element : {sizeof(double), sizeof(int), sizeof(int), sizeof(std::size_t), sizeof(int)}) {
    const auto count = blob.read_value<std::uint64_t>();
    if (count > blob.remaining() / element) throw CorruptFile{"FAISS HNSW graph sizes exceed the file"};
    blob.skip(count * element);
  }
  blob.skip(5 * sizeof(int));  // entry_point, max_level, efConstruction, efSearch, upper_beam
  blob.read(fourcc.data(), fourcc.size());
  if (std::string_view(fourcc.data(), fourcc.size()) != "IxFI") throw CorruptFile{"FAISS HNSW storage is not flat"};
  check_flat_blob(blob);
}
void check_loaded_index(const faiss::Index& loaded, VectorIndexState state, std::size_t dimension,
                        std::size_t positions, const VectorIndexConfig& config) {
  using State = VectorIndexState;
  if (loaded.d != static_cast<faiss::Index::idx_t>(dimension)) throw CorruptFile{"FAISS index dimension differs"};
  if (loaded.metric_type != faiss::METRIC_INNER_PRODUCT) throw CorruptFile{"FAISS index metric is not IP"};
  if (loaded.ntotal != static_cast<faiss::Index::idx_t>(positions)) {
    throw CorruptFile{"FAISS index holds " + std::to_string(loaded.ntotal) + " vectors, the header " +
                      std::to_string(positions)};
  }
  bool expected = false;
  switch (state) {
    case State::flat:
    case State::ivf_untrained:
      if (const auto* flat = dynamic_cast<const faiss::IndexFlatIP*>(&loaded)) expected = flat_codes_sound(*flat);
      break;
    case State::flat_codes:
      if (const auto* codes = dynamic_cast<const faiss::IndexScalarQuantizer*>(&loaded)) {
        const auto& quantizer = codes->sq;
        expected = codes->is_trained && quantizer.qtype == faiss::ScalarQuantizer::QT_8bit_uniform &&
                   quantizer.d == dimension && quantizer.code_size == dimension && codes->code_size == dimension &&
                   quantizer.trained.size() == 2 && std::isfinite(quantizer.trained[0]) &&
                   std::isfinite(quantizer.trained[1]) && quantizer.trained[1] > 0 &&
                   codes->codes.size() == static_cast<std::size_t>(codes->ntotal) * codes->code_size;
      }
      break;
    case State::hnsw:
      if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSWFlat*>(&loaded)) {
        const auto* storage = dynamic_cast<const faiss::IndexFlat*>(hnsw->storage);
        expected = storage != nullptr && storage->ntotal == loaded.ntotal && storage->d == loaded.d &&
                   flat_codes_sound(*storage) && hnsw_graph_sound(hnsw->hnsw, loaded.ntotal);
      }
      break;
    case State::ivf_flat:
    case State::ivf_pq:
      if (const auto* ivf_index = dynamic_cast<const faiss::IndexIVF*>(&loaded)) {
        const bool pq = dynamic_cast<const faiss::IndexIVFPQ*>(&loaded) != nullptr;
        const bool flat = dynamic_cast<const faiss::IndexIVFFlat*>(&loaded) != nullptr;
        expected = ivf_index->is_trained && (state == State::ivf_pq ? pq : flat) &&
                   dynamic_cast<const faiss::ArrayInvertedLists*>(ivf_index->invlists) != nullptr &&
                   (state == State::ivf_pq || ivf_index->direct_map.type == faiss::DirectMap::Array) &&
                   ivf_lists_sound(*ivf_index) && (!pq || pq_sound(static_cast<const faiss::IndexIVFPQ&>(*ivf_index)));
      }
      break;
  }
  if (!expected) throw CorruptFile{"FAISS index type does not match the header"};
  if (!vector_index_type(config.type).may_be_in(state)) {
    throw CorruptFile{"index state does not match the configured type"};
  }
}

}  // namespace ragline::index
