#include "index/vector_index.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/invlists/InvertedLists.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <unordered_map>

#include "core/check.hpp"
#include "index/vector_file.hpp"
#include "index/vector_index_types.hpp"

namespace ragline::index {
namespace {

using Position = faiss::Index::idx_t;

using State = VectorIndexState;
static_assert(std::is_same_v<Position, std::int64_t>, "VectorFile keeps positions as int64");
// HNSW's beam grows as a filter or tombstones hide vectors, up to this (unless a query asks for more).
constexpr int kMaxScaledEfSearch = 4096;
constexpr std::size_t kMinIvfTrainingVectors = 1000;
// FAISS's k-means wants 39 points per centroid and prints a warning to stderr below that.
constexpr std::size_t kPointsPerCentroid = 39;

// --- scoring ----------------------------------------------------------------------------------

// Eight independent accumulators let the compiler keep two SIMD registers busy without
// reassociating a single sum (which it may not do without -ffast-math).
float inner_product(const float* a, const float* b, std::size_t dimension) {
  float acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= dimension; i += 8) {
    for (std::size_t lane = 0; lane < 8; ++lane) acc[lane] += a[i + lane] * b[i + lane];
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < dimension; ++i) sum += a[i] * b[i];
  return sum;
}

// The inner product with an int8 code row of the flat type: component c decodes to
// min + (c + 0.5) * range / 255 (FAISS's QT_8bit_uniform), so the score is
// min * sum(q) + range / 255 * (0.5 * sum(q) + sum(q * c)).
float inner_product_codes(const float* query, const std::uint8_t* code, std::size_t dimension, float query_sum,
                          float vmin, float vdiff) {
  float acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= dimension; i += 8) {
    for (std::size_t lane = 0; lane < 8; ++lane) acc[lane] += query[i + lane] * static_cast<float>(code[i + lane]);
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < dimension; ++i) sum += query[i] * static_cast<float>(code[i]);
  return vmin * query_sum + vdiff / 255.0f * (0.5f * query_sum + sum);
}

bool better(const VectorHit& a, const VectorHit& b) {
  return a.score > b.score || (a.score == b.score && a.chunk_id < b.chunk_id);
}

// The k best hits seen so far; the heap's front is the worst of them.
class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) { heap_.reserve(std::min<std::size_t>(k, 4096)); }

  void push(std::int64_t chunk_id, float score) {
    const VectorHit hit{chunk_id, score};
    if (heap_.size() < k_) {
      heap_.push_back(hit);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (k_ > 0 && better(hit, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = hit;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }

  std::vector<VectorHit> take() {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::vector<VectorHit> heap_;
};

// FAISS searches positions; a position is a candidate when it is live and its chunk is allowed.
class LiveAllowedSelector final : public faiss::IDSelector {
 public:
  LiveAllowedSelector(const std::vector<std::int64_t>& labels, const std::vector<std::uint8_t>& tombstoned,
                      const ChunkIdSet* allowed)
      : labels_(labels), tombstoned_(tombstoned), allowed_(allowed) {}

  bool is_member(idx_t position) const override {
    const auto p = static_cast<std::size_t>(position);
    return position >= 0 && p < labels_.size() && !tombstoned_[p] &&
           (allowed_ == nullptr || allowed_->contains(labels_[p]));
  }

 private:
  const std::vector<std::int64_t>& labels_;
  const std::vector<std::uint8_t>& tombstoned_;
  const ChunkIdSet* allowed_;
};

// A beam (HNSW efSearch, IVF nprobe) widened by 1 / the fraction of vectors a search may
// return, so that about as many candidates survive the selector as without one.
int scaled_beam(int base, double candidate_fraction, int cap) {
  if (candidate_fraction >= 1.0 || base >= cap) return base;
  const double scaled = std::ceil(static_cast<double>(base) / std::max(candidate_fraction, 1e-9));
  return static_cast<int>(std::min<double>(scaled, cap));
}

// FAISS opens an OpenMP team for every search, even for a single query, where the extra threads
// only wait; on a busy machine that waiting costs more than the search. Searches therefore run on
// the calling thread alone. libgomp keeps nthreads-var per thread (a thread outside any team gets
// its own copy on its first omp_set_num_threads), so concurrent searches and other threads are
// unaffected; add() and compact() keep FAISS's parallel insertion.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOpenMpThread() { omp_set_num_threads(previous_); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int previous_;
};

template <typename Function>
auto call_faiss(const char* what, Function&& function) {
  try {
    return function();
  } catch (const faiss::FaissException& error) {
    RAGLINE_THROW(internal, "FAISS failed to " << what << ": " << error.what());
  }
}

}  // namespace

// --- the index ------------------------------------------------------------------------------------

struct VectorIndex::Impl {
  std::size_t dimension;
  VectorIndexConfig config;
  State state = State::flat;
  std::unique_ptr<faiss::Index> index;
  // Guards the HNSW graph's own efSearch, which a search with a non-default beam changes.
  mutable std::shared_mutex beam_mutex;
  // FAISS position -> chunk id; index->ntotal == labels.size() always.
  std::vector<std::int64_t> labels;
  std::vector<std::uint8_t> tombstoned;
  std::size_t tombstone_count = 0;
  std::unordered_map<std::int64_t, Position> positions;  // live chunk id -> position

  Impl(std::size_t dimension_, const VectorIndexConfig& config_) : dimension(dimension_), config(config_) {
    RAGLINE_CHECK(dimension > 0, invalid_argument, "vector index dimension must be positive");
    const VectorIndexType& type = vector_index_type(config.type);
    type.validate(config, dimension);
    auto empty = type.create(dimension, config);
    index = std::move(empty.index);
    state = empty.state;
  }

  std::size_t live() const { return labels.size() - tombstone_count; }
  bool holds_full_vectors() const { return state != State::ivf_pq && state != State::flat_codes; }

  // The IndexFlat holding every position's full vector, or nullptr for IVF.
  const faiss::IndexFlat* flat_rows() const {
    switch (state) {
      case State::flat:
      case State::ivf_untrained:
        return static_cast<const faiss::IndexFlat*>(index.get());
      case State::hnsw:
        return static_cast<const faiss::IndexFlat*>(static_cast<const faiss::IndexHNSW*>(index.get())->storage);
      default:
        return nullptr;
    }
  }

  const faiss::IndexScalarQuantizer* flat_codes() const {
    return state == State::flat_codes ? static_cast<const faiss::IndexScalarQuantizer*>(index.get()) : nullptr;
  }

  faiss::IndexIVF* ivf() const { return static_cast<faiss::IndexIVF*>(index.get()); }

  // Rows of a live position's vector; `scratch` holds reconstructed IVF-Flat vectors.
  const float* row(Position position, std::vector<float>& scratch) const {
    if (const auto* rows = flat_rows()) return rows->get_xb() + static_cast<std::size_t>(position) * dimension;
    scratch.resize(dimension);
    call_faiss("reconstruct a vector", [&] { index->reconstruct(position, scratch.data()); });
    return scratch.data();
  }

  std::size_t ivf_list_count(std::size_t vectors) const {
    if (config.nlist > 0) return static_cast<std::size_t>(config.nlist);
    return std::max<std::size_t>(1, static_cast<std::size_t>(4.0 * std::sqrt(static_cast<double>(vectors))));
  }

  bool ivf_trainable() const {
    const std::size_t vectors = live();
    std::size_t needed = std::max(kMinIvfTrainingVectors, kPointsPerCentroid * ivf_list_count(vectors));
    if (config.pq_m > 0) needed = std::max(needed, kPointsPerCentroid << config.pq_bits);
    return vectors >= needed;
  }

  void append_labels(std::span<const std::int64_t> chunk_ids) {
    for (const auto chunk_id : chunk_ids) {
      const auto position = static_cast<Position>(labels.size());
      const auto [it, inserted] = positions.try_emplace(chunk_id, position);
      if (!inserted) {
        tombstoned[static_cast<std::size_t>(it->second)] = 1;
        ++tombstone_count;
        it->second = position;
      }
      labels.push_back(chunk_id);
      tombstoned.push_back(0);
    }
  }

  // Drops tombstoned labels, keeping the order of live positions, and renumbers.
  void compact_labels() {
    std::size_t next = 0;
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (tombstoned[position]) continue;
      labels[next] = labels[position];
      positions[labels[next]] = static_cast<Position>(next);
      ++next;
    }
    labels.resize(next);
    labels.shrink_to_fit();
    tombstoned.assign(next, 0);
    tombstoned.shrink_to_fit();
    tombstone_count = 0;
  }

  void compact_flat() {
    auto& flat = static_cast<faiss::IndexFlatCodes&>(*index);
    const std::size_t row_bytes = flat.code_size;
    std::size_t next = 0;
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (tombstoned[position]) continue;
      if (next != position) {
        std::memmove(flat.codes.data() + next * row_bytes, flat.codes.data() + position * row_bytes, row_bytes);
      }
      ++next;
    }
    flat.codes.resize(next * row_bytes);
    flat.codes.shrink_to_fit();
    flat.ntotal = static_cast<faiss::Index::idx_t>(next);
    compact_labels();
  }

  void compact_hnsw() {
    std::unique_ptr<faiss::Index> rebuilt = vector_index_type(config.type).create(dimension, config).index;
    const float* rows = flat_rows()->get_xb();
    // Added in batches so that FAISS's parallel insertion has work, without copying every row at once.
    constexpr std::size_t kBatch = 16384;
    std::vector<float> batch;
    batch.reserve(std::min(kBatch, live()) * dimension);
    auto flush = [&] {
      if (batch.empty()) return;
      call_faiss("rebuild the HNSW graph",
                 [&] { rebuilt->add(static_cast<faiss::Index::idx_t>(batch.size() / dimension), batch.data()); });
      batch.clear();
    };
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (tombstoned[position]) continue;
      batch.insert(batch.end(), rows + position * dimension, rows + (position + 1) * dimension);
      if (batch.size() == kBatch * dimension) flush();
    }
    flush();
    index = std::move(rebuilt);
    compact_labels();
  }

  // IVF keeps explicit ids (positions) in its inverted lists: copy live entries with their new
  // positions into fresh lists. Codes are copied as they are, so IVF-PQ loses nothing.
  void compact_ivf() {
    auto* ivf_index = ivf();
    std::vector<Position> new_position(labels.size(), -1);
    Position next = 0;
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (!tombstoned[position]) new_position[position] = next++;
    }
    auto lists = std::make_unique<faiss::ArrayInvertedLists>(ivf_index->nlist, ivf_index->code_size);
    const faiss::InvertedLists& old_lists = *ivf_index->invlists;
    for (std::size_t list = 0; list < ivf_index->nlist; ++list) {
      const std::size_t size = old_lists.list_size(list);
      faiss::InvertedLists::ScopedIds ids(&old_lists, list);
      faiss::InvertedLists::ScopedCodes codes(&old_lists, list);
      for (std::size_t entry = 0; entry < size; ++entry) {
        const Position renumbered = new_position[static_cast<std::size_t>(ids[entry])];
        if (renumbered >= 0) lists->add_entry(list, renumbered, codes.get() + entry * ivf_index->code_size);
      }
    }
    call_faiss("compact the IVF lists", [&] {
      ivf_index->replace_invlists(lists.release(), true);
      ivf_index->ntotal = next;
      if (state == State::ivf_flat) {
        ivf_index->make_direct_map(false);
        ivf_index->make_direct_map(true);
      }
    });
    compact_labels();
  }

  void compact() {
    if (tombstone_count == 0) return;
    switch (state) {
      case State::flat:
      case State::flat_codes:
      case State::ivf_untrained:
        compact_flat();
        break;
      case State::hnsw:
        compact_hnsw();
        break;
      case State::ivf_flat:
      case State::ivf_pq:
        compact_ivf();
        break;
    }
  }

  // Trains on every live vector (the flat index compacted first, so positions stay in order) and
  // moves them into the IVF index.
  void train_ivf() {
    compact_flat();
    const auto& flat = static_cast<const faiss::IndexFlat&>(*index);
    const auto count = flat.ntotal;
    const std::size_t list_count = ivf_list_count(static_cast<std::size_t>(count));
    auto quantizer = std::make_unique<faiss::IndexFlatIP>(static_cast<faiss::Index::idx_t>(dimension));
    std::unique_ptr<faiss::IndexIVF> trained;
    if (config.pq_m > 0) {
      trained = std::make_unique<faiss::IndexIVFPQ>(
          quantizer.get(), dimension, list_count, static_cast<std::size_t>(config.pq_m),
          static_cast<std::size_t>(config.pq_bits), faiss::METRIC_INNER_PRODUCT);
    } else {
      trained =
          std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dimension, list_count, faiss::METRIC_INNER_PRODUCT);
    }
    trained->own_fields = true;
    quantizer.release();
    trained->nprobe = static_cast<std::size_t>(config.nprobe);
    call_faiss("train the IVF index", [&] {
      trained->train(count, flat.get_xb());
      if (config.pq_m == 0) trained->make_direct_map(true);
      trained->add(count, flat.get_xb());
    });
    index = std::move(trained);
    state = config.pq_m > 0 ? State::ivf_pq : State::ivf_flat;
  }

  void add(std::span<const std::int64_t> chunk_ids, std::span<const float> vectors) {
    RAGLINE_CHECK(vectors.size() == chunk_ids.size() * dimension, invalid_argument,
                  "vector index add: " << chunk_ids.size() << " ids need " << chunk_ids.size() * dimension
                                       << " floats (dimension " << dimension << "), got " << vectors.size());
    for (const auto chunk_id : chunk_ids) {
      RAGLINE_CHECK(chunk_id >= 0, invalid_argument, "vector index add: negative chunk id " << chunk_id);
    }
    if (chunk_ids.empty()) return;
    call_faiss("add vectors", [&] { index->add(static_cast<faiss::Index::idx_t>(chunk_ids.size()), vectors.data()); });
    append_labels(chunk_ids);
    if (state == State::ivf_untrained && ivf_trainable()) train_ivf();
  }

  void remove(std::span<const std::int64_t> chunk_ids) {
    for (const auto chunk_id : chunk_ids) {
      const auto it = positions.find(chunk_id);
      if (it == positions.end()) continue;
      tombstoned[static_cast<std::size_t>(it->second)] = 1;
      ++tombstone_count;
      positions.erase(it);
    }
  }

  std::vector<VectorHit> scan_codes(std::span<const float> query, std::size_t k, const ChunkIdSet* allowed) const {
    const auto& codes = *flat_codes();
    float query_sum = 0;
    for (const float value : query) query_sum += value;
    const float vmin = codes.sq.trained[0];
    const float vdiff = codes.sq.trained[1];
    TopK top(k);
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (tombstoned[position] || (allowed != nullptr && !allowed->contains(labels[position]))) continue;
      top.push(labels[position], inner_product_codes(query.data(), codes.codes.data() + position * codes.code_size,
                                                     dimension, query_sum, vmin, vdiff));
    }
    return top.take();
  }

  std::vector<VectorHit> scan(std::span<const float> query, std::size_t k, const ChunkIdSet* allowed) const {
    if (state == State::flat_codes) return scan_codes(query, k, allowed);
    const float* rows = flat_rows()->get_xb();
    TopK top(k);
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (tombstoned[position] || (allowed != nullptr && !allowed->contains(labels[position]))) continue;
      top.push(labels[position], inner_product(query.data(), rows + position * dimension, dimension));
    }
    return top.take();
  }

  std::vector<VectorHit> search(std::span<const float> query, std::size_t k, const ChunkIdSet* allowed,
                                const VectorSearchOptions& options) const {
    RAGLINE_CHECK(query.size() == dimension, invalid_argument,
                  "vector index search: query has " << query.size() << " floats, the index dimension is " << dimension);
    if (k == 0 || live() == 0 || (allowed != nullptr && allowed->empty())) return {};
    if (state == State::flat || state == State::flat_codes || state == State::ivf_untrained) {
      return scan(query, k, allowed);
    }
    k = std::min(k, live());  // FAISS gets result buffers of k entries

    // The share of FAISS positions the selector lets through (allowed ids not in the index make
    // this an overestimate; counting exactly would cost a pass over the filter per query).
    double fraction = static_cast<double>(live()) / static_cast<double>(labels.size());
    if (allowed != nullptr) fraction *= std::min(1.0, static_cast<double>(allowed->size()) / live());
    const bool filtered = allowed != nullptr || tombstone_count > 0;
    LiveAllowedSelector selector(labels, tombstoned, allowed);

    std::vector<float> scores(k);
    std::vector<Position> found(k, -1);
    const OneOpenMpThread one_thread;
    const auto k_faiss = static_cast<faiss::Index::idx_t>(k);
    if (state == State::hnsw) {
      faiss::SearchParametersHNSW params;
      const int base = std::max(options.ef_search > 0 ? options.ef_search : config.ef_search,
                                static_cast<int>(std::min<std::size_t>(k, 1 << 30)));
      params.efSearch = scaled_beam(base, fraction, kMaxScaledEfSearch);
      params.sel = filtered ? &selector : nullptr;
      auto& graph = static_cast<faiss::IndexHNSWFlat*>(index.get())->hnsw;
      const auto search = [&] { index->search(1, query.data(), k_faiss, scores.data(), found.data(), &params); };
      if (params.efSearch == member_ef_search(config)) {
        std::shared_lock lock(beam_mutex);
        call_faiss("search the HNSW index", search);
      } else {
        std::unique_lock lock(beam_mutex);
        graph.efSearch = params.efSearch;
        try {
          call_faiss("search the HNSW index", search);
        } catch (...) {
          graph.efSearch = member_ef_search(config);
          throw;
        }
        graph.efSearch = member_ef_search(config);
      }
    } else {
      faiss::SearchParametersIVF params;
      const int list_count = static_cast<int>(ivf()->nlist);
      const int base = std::min(options.nprobe > 0 ? options.nprobe : config.nprobe, list_count);
      params.nprobe = static_cast<std::size_t>(scaled_beam(base, fraction, list_count));
      params.sel = filtered ? &selector : nullptr;
      call_faiss("search the IVF index",
                 [&] { index->search(1, query.data(), k_faiss, scores.data(), found.data(), &params); });
    }
    std::vector<VectorHit> hits;
    hits.reserve(k);
    for (std::size_t i = 0; i < k; ++i) {
      if (found[i] < 0 || !selector.is_member(found[i])) continue;
      hits.push_back({labels[static_cast<std::size_t>(found[i])], scores[i]});
    }
    std::sort(hits.begin(), hits.end(), better);
    return hits;
  }

  std::optional<std::vector<VectorHit>> search_exact(std::span<const float> query, std::size_t k,
                                                     std::span<const std::int64_t> chunk_ids) const {
    RAGLINE_CHECK(query.size() == dimension, invalid_argument,
                  "vector index search: query has " << query.size() << " floats, the index dimension is " << dimension);
    if (!holds_full_vectors()) return std::nullopt;
    std::vector<std::int64_t> unique_ids(chunk_ids.begin(), chunk_ids.end());
    std::sort(unique_ids.begin(), unique_ids.end());
    unique_ids.erase(std::unique(unique_ids.begin(), unique_ids.end()), unique_ids.end());
    TopK top(k);
    std::vector<float> scratch;
    for (const auto chunk_id : unique_ids) {
      const auto it = positions.find(chunk_id);
      if (it == positions.end()) continue;
      top.push(chunk_id, inner_product(query.data(), row(it->second, scratch), dimension));
    }
    return top.take();
  }

  std::size_t memory_bytes() const {
    std::size_t bytes = labels.capacity() * sizeof(std::int64_t) + tombstoned.capacity() +
                        positions.bucket_count() * sizeof(void*) +
                        positions.size() * (sizeof(std::pair<const std::int64_t, Position>) + 2 * sizeof(void*));
    if (const auto* rows = flat_rows()) bytes += rows->codes.capacity();
    if (const auto* codes = flat_codes()) bytes += codes->codes.capacity();
    if (state == State::hnsw) {
      const auto& graph = static_cast<const faiss::IndexHNSW&>(*index).hnsw;
      bytes += graph.neighbors.capacity() * sizeof(faiss::HNSW::storage_idx_t) +
               graph.offsets.capacity() * sizeof(std::size_t) + graph.levels.capacity() * sizeof(int);
    } else if (state == State::ivf_flat || state == State::ivf_pq) {
      const auto* ivf_index = ivf();
      bytes += static_cast<std::size_t>(ivf_index->ntotal) * (ivf_index->code_size + sizeof(Position));
      bytes += ivf_index->nlist * dimension * sizeof(float);  // centroids
      if (state == State::ivf_flat) bytes += static_cast<std::size_t>(ivf_index->ntotal) * sizeof(Position);
      if (state == State::ivf_pq) {
        const auto& pq = static_cast<const faiss::IndexIVFPQ&>(*index).pq;
        bytes += pq.centroids.capacity() * sizeof(float);
      }
    }
    return bytes;
  }

  // Takes the FAISS structure of a loaded vectors.faiss (read_vector_file checked it against the
  // header); the HNSW beam starts at the configured one.
  // A `flat` file of format 1 or 2 holds float rows: they are encoded here, and the next save
  // writes codes.
  void adopt(std::unique_ptr<faiss::Index> loaded, State loaded_state) {
    if (loaded_state == State::hnsw) {
      static_cast<faiss::IndexHNSW&>(*loaded).hnsw.efSearch = member_ef_search(config);
    }
    if (loaded_state == State::flat && config.type == "flat") {
      const auto& rows = static_cast<const faiss::IndexFlat&>(*loaded);
      auto empty = vector_index_type(config.type).create(dimension, config);
      call_faiss("encode the flat vectors", [&] { empty.index->add(rows.ntotal, rows.get_xb()); });
      loaded = std::move(empty.index);
      loaded_state = empty.state;
    }
    index = std::move(loaded);
    state = loaded_state;
  }
};

VectorIndex::VectorIndex(std::size_t dimension, const VectorIndexConfig& config)
    : impl_(std::make_unique<Impl>(dimension, config)) {}
VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

std::size_t VectorIndex::dimension() const { return impl_->dimension; }
const VectorIndexConfig& VectorIndex::config() const { return impl_->config; }
std::size_t VectorIndex::size() const { return impl_->live(); }
std::size_t VectorIndex::tombstones() const { return impl_->tombstone_count; }
bool VectorIndex::contains(std::int64_t chunk_id) const { return impl_->positions.contains(chunk_id); }
std::vector<std::int64_t> VectorIndex::ids() const {
  std::vector<std::int64_t> live;
  live.reserve(impl_->positions.size());
  for (const auto& entry : impl_->positions) live.push_back(entry.first);
  std::sort(live.begin(), live.end());
  return live;
}

bool VectorIndex::holds_full_vectors() const { return impl_->holds_full_vectors(); }

std::size_t VectorIndex::rescore_candidates(std::size_t k) const {
  if (impl_->state != State::flat_codes || k == 0) return 0;
  return std::max<std::size_t>(4 * k, 100);
}

float VectorIndex::vector_tolerance() const {
  if (impl_->state == State::flat_codes) return kFlatCodeRange / 255.0f + 1e-5f;
  return 1e-5f;
}

float VectorIndex::score_error_bound(std::span<const float> query) const {
  const auto* codes = impl_->flat_codes();
  if (codes == nullptr) return 0;
  float absolute_sum = 0;
  for (const float value : query) absolute_sum += std::abs(value);
  return codes->sq.trained[1] / 255.0f * absolute_sum;
}

std::string VectorIndex::description() const {
  switch (impl_->state) {
    case State::flat:
    case State::flat_codes:
      return "flat";
    case State::hnsw:
      return "hnsw";
    case State::ivf_untrained:
      return "flat (ivf untrained)";
    case State::ivf_flat:
      return "ivf-flat";
    case State::ivf_pq:
      return "ivf-pq";
  }
  return "unknown";
}

void VectorIndex::add(std::span<const std::int64_t> chunk_ids, std::span<const float> vectors) {
  impl_->add(chunk_ids, vectors);
}
void VectorIndex::remove(std::span<const std::int64_t> chunk_ids) { impl_->remove(chunk_ids); }
void VectorIndex::compact() { impl_->compact(); }

std::vector<VectorHit> VectorIndex::search(std::span<const float> query, std::size_t k, const ChunkIdSet* allowed,
                                           const VectorSearchOptions& options) const {
  return impl_->search(query, k, allowed, options);
}

std::optional<std::vector<VectorHit>> VectorIndex::search_exact(std::span<const float> query, std::size_t k,
                                                                std::span<const std::int64_t> chunk_ids) const {
  return impl_->search_exact(query, k, chunk_ids);
}

std::size_t VectorIndex::memory_bytes() const { return impl_->memory_bytes(); }

std::optional<std::vector<float>> VectorIndex::vector(std::int64_t chunk_id) const {
  const Impl& impl = *impl_;
  if (impl.state == State::ivf_pq) return std::nullopt;
  const auto found = impl.positions.find(chunk_id);
  if (found == impl.positions.end()) return std::nullopt;
  std::vector<float> scratch;
  const float* row = impl.row(found->second, scratch);
  return std::vector<float>(row, row + impl.dimension);
}

void VectorIndex::save(const std::filesystem::path& path, std::int64_t generation, const std::string& embedder_id,
                       const std::string& kb_id) const {
  const Impl& impl = *impl_;
  write_vector_file(path, VectorIndexHeader{generation, embedder_id, impl.dimension, impl.config, kb_id}, impl.state,
                    impl.labels, impl.tombstoned, impl.tombstone_count, *impl.index);
}

std::optional<std::pair<VectorIndex, VectorIndexHeader>> VectorIndex::load(const std::filesystem::path& path) {
  auto file = read_vector_file(path);
  if (!file) return std::nullopt;
  VectorIndex vector_index(file->header.dimension, file->header.config);
  Impl& impl = *vector_index.impl_;
  impl.labels = std::move(file->labels);
  impl.tombstoned = std::move(file->tombstoned);
  impl.tombstone_count = file->tombstone_count;
  impl.positions = std::move(file->positions);
  impl.adopt(std::move(file->index), file->state);
  return std::make_pair(std::move(vector_index), std::move(file->header));
}

std::optional<VectorIndexHeader> VectorIndex::read_header(const std::filesystem::path& path) {
  return read_vector_file_header(path);
}

std::vector<VectorHit> exact_top_k(std::span<const float> query, std::size_t k, std::span<const std::int64_t> ids,
                                   std::span<const float> vectors) {
  const std::size_t dimension = query.size();
  RAGLINE_CHECK(dimension > 0 && vectors.size() == ids.size() * dimension, invalid_argument,
                "exact_top_k: " << ids.size() << " ids of dimension " << dimension << " need " << ids.size() * dimension
                                << " floats, got " << vectors.size());
  TopK top(k);
  for (std::size_t row = 0; row < ids.size(); ++row) {
    top.push(ids[row], inner_product(query.data(), vectors.data() + row * dimension, dimension));
  }
  return top.take();
}

}  // namespace ragline::index