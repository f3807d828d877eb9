#include "index/vector_index.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "core/check.hpp"

namespace ragline::index {
namespace {

using Position = faiss::Index::idx_t;

enum class State : std::uint32_t { flat = 0, hnsw = 1, ivf_untrained = 2, ivf_flat = 3, ivf_pq = 4 };

constexpr char kMagic[8] = {'R', 'A', 'G', 'L', 'V', 'E', 'C', '1'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kMaxEmbedderIdBytes = 4096;
constexpr std::size_t kMaxTypeBytes = 64;
// HNSW's beam grows as a filter or tombstones hide vectors, up to this (unless a query asks for more).
constexpr int kMaxScaledEfSearch = 4096;

// FAISS 1.7.3's HNSW::search sizes its candidate queue from the index's own efSearch and reads
// SearchParametersHNSW::efSearch only in its stopping test: a beam above the member has no
// effect, and a member far above the beam costs 2-3 times the search time (bench/README.md,
// rag-bench-vectors). The member therefore stays at the configured beam, and a search that needs
// another one sets it under an exclusive lock (searches at the configured beam share the lock).
int member_ef_search(const VectorIndexConfig& config) { return config.ef_search; }
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

// --- file format --------------------------------------------------------------------------------

// A 64-bit checksum in the style of xxHash64 (four multiply-rotate lanes over 32-byte blocks; not
// the real XXH64 output). It detects corruption, so that FAISS never parses damaged bytes.
class Checksum {
 public:
  void update(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    total_ += size;
    if (buffered_ > 0) {
      const std::size_t take = std::min(size, sizeof buffer_ - buffered_);
      std::memcpy(buffer_ + buffered_, bytes, take);
      buffered_ += take;
      bytes += take;
      size -= take;
      if (buffered_ < sizeof buffer_) return;
      consume_block(buffer_);
      buffered_ = 0;
    }
    for (; size >= sizeof buffer_; bytes += sizeof buffer_, size -= sizeof buffer_) consume_block(bytes);
    std::memcpy(buffer_, bytes, size);
    buffered_ = size;
  }

  std::uint64_t digest() const {
    std::uint64_t hash = std::rotl(lanes_[0], 1) + std::rotl(lanes_[1], 7) + std::rotl(lanes_[2], 12) +
                         std::rotl(lanes_[3], 18) + total_;
    for (std::size_t i = 0; i < buffered_; ++i) hash = std::rotl(hash ^ (buffer_[i] * kPrime5), 11) * kPrime1;
    hash ^= hash >> 33;
    hash *= kPrime2;
    hash ^= hash >> 29;
    hash *= kPrime3;
    return hash ^ (hash >> 32);
  }

 private:
  static constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
  static constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr std::uint64_t kPrime3 = 0x165667B19E3779F9ULL;
  static constexpr std::uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

  void consume_block(const unsigned char* block) {
    for (std::size_t lane = 0; lane < 4; ++lane) {
      std::uint64_t word;
      std::memcpy(&word, block + lane * 8, 8);
      lanes_[lane] = std::rotl(lanes_[lane] + word * kPrime2, 31) * kPrime1;
    }
  }

  std::array<std::uint64_t, 4> lanes_{kPrime1 + kPrime2, kPrime2, 0, 0 - kPrime1};
  unsigned char buffer_[32] = {};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

struct CorruptFile {
  std::string reason;
};

// Every byte written goes through the checksum; FAISS writes through this too.
class ChecksummedWriter final : public faiss::IOWriter {
 public:
  ChecksummedWriter(std::FILE* file, const std::filesystem::path& path) : file_(file), path_(path) {}

  size_t operator()(const void* data, size_t size, size_t count) override {
    // FAISS writes empty vectors (e.g. IVF-PQ's unused direct map) as data() == nullptr, count 0;
    // fwrite's buffer is declared nonnull even then.
    if (size == 0 || count == 0) return 0;
    const std::size_t written = std::fwrite(data, size, count, file_);
    checksum_.update(data, written * size);
    bytes_ += written * size;
    return written;
  }

  void write(const void* data, std::size_t size) {
    if (size == 0) return;
    RAGLINE_CHECK((*this)(data, size, 1) == 1, io, "cannot write " << path_ << ": " << std::strerror(errno));
  }
  template <typename T>
  void write_value(const T& value) {
    write(&value, sizeof value);
  }
  void write_string(const std::string& text) {
    write_value(static_cast<std::uint32_t>(text.size()));
    write(text.data(), text.size());
  }

  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t digest() const { return checksum_.digest(); }

 private:
  std::FILE* file_;
  const std::filesystem::path& path_;
  Checksum checksum_;
  std::uint64_t bytes_ = 0;
};

// Reads at most `limit` bytes, so a damaged size inside FAISS's data cannot read past the blob.
class BoundedReader final : public faiss::IOReader {
 public:
  BoundedReader(std::FILE* file, std::uint64_t limit) : file_(file), remaining_(limit) {}

  size_t operator()(void* data, size_t size, size_t count) override {
    if (size == 0 || count == 0) return 0;
    const std::size_t wanted = static_cast<std::size_t>(std::min<std::uint64_t>(count, remaining_ / size));
    const std::size_t got = std::fread(data, size, wanted, file_);
    remaining_ -= got * size;
    return got;
  }

  void read(void* data, std::size_t size) {
    if (size == 0) return;
    if ((*this)(data, size, 1) != 1) throw CorruptFile{"truncated"};
  }
  template <typename T>
  T read_value() {
    T value;
    read(&value, sizeof value);
    return value;
  }
  std::string read_string(std::size_t max_bytes, const char* field) {
    const auto size = read_value<std::uint32_t>();
    if (size > max_bytes) throw CorruptFile{std::string(field) + " is implausibly long"};
    std::string text(size, '\0');
    read(text.data(), size);
    return text;
  }

  void skip(std::uint64_t bytes) {
    if (bytes > remaining_ || fseeko(file_, static_cast<off_t>(bytes), SEEK_CUR) != 0) throw CorruptFile{"truncated"};
    remaining_ -= bytes;
  }

  std::uint64_t remaining() const { return remaining_; }

 private:
  std::FILE* file_;
  std::uint64_t remaining_;
};

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

void check_faiss_blob(BoundedReader& blob) {
  std::array<char, 4> fourcc{};
  blob.read(fourcc.data(), fourcc.size());
  const std::string_view kind(fourcc.data(), fourcc.size());
  if (kind == "IxFI") return check_flat_blob(blob);
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

// Layout (native little-endian): magic, format version, state, generation, dimension, embedder id,
// VectorIndexConfig, positions, tombstones | labels (i64 per position) | tombstoned positions
// (u64 each) | faiss::write_index blob | blob size (u64) | checksum of all preceding bytes (u64).
struct FileHeader {
  VectorIndexHeader header;
  State state = State::flat;
  std::uint64_t positions = 0;
  std::uint64_t tombstones = 0;
};

FileHeader read_file_header(BoundedReader& reader) {
  char magic[sizeof kMagic];
  reader.read(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) throw CorruptFile{"not a ragline vector index (bad magic)"};
  const auto version = reader.read_value<std::uint32_t>();
  if (version != kFormatVersion) {
    throw CorruptFile{"format version " + std::to_string(version) + " is not " + std::to_string(kFormatVersion)};
  }
  FileHeader file;
  const auto state = reader.read_value<std::uint32_t>();
  if (state > static_cast<std::uint32_t>(State::ivf_pq)) throw CorruptFile{"unknown index state"};
  file.state = static_cast<State>(state);
  file.header.generation = reader.read_value<std::int64_t>();
  file.header.dimension = reader.read_value<std::uint64_t>();
  if (file.header.dimension == 0 || file.header.dimension > (1u << 16)) throw CorruptFile{"implausible dimension"};
  file.header.embedder_id = reader.read_string(kMaxEmbedderIdBytes, "embedder id");
  auto& config = file.header.config;
  config.type = reader.read_string(kMaxTypeBytes, "index type");
  for (int* field : {&config.hnsw_m, &config.ef_construction, &config.ef_search, &config.nlist, &config.nprobe,
                     &config.pq_m, &config.pq_bits}) {
    *field = reader.read_value<std::int32_t>();
  }
  file.positions = reader.read_value<std::uint64_t>();
  file.tombstones = reader.read_value<std::uint64_t>();
  if (file.tombstones > file.positions) throw CorruptFile{"more tombstones than vectors"};
  return file;
}

std::uint64_t file_size(std::FILE* file) {
  if (fseeko(file, 0, SEEK_END) != 0) throw CorruptFile{"cannot seek"};
  const off_t size = ftello(file);
  if (size < 0 || fseeko(file, 0, SEEK_SET) != 0) throw CorruptFile{"cannot seek"};
  return static_cast<std::uint64_t>(size);
}

void verify_checksum(std::FILE* file, std::uint64_t size) {
  // The trailer alone is two u64 (blob size, checksum); load() bounds its reader by size - 16.
  if (size < 2 * sizeof(std::uint64_t)) throw CorruptFile{"truncated"};
  Checksum checksum;
  std::vector<unsigned char> buffer(1 << 20);
  for (std::uint64_t left = size - sizeof(std::uint64_t); left > 0;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    if (std::fread(buffer.data(), 1, want, file) != want) throw CorruptFile{"truncated"};
    checksum.update(buffer.data(), want);
    left -= want;
  }
  std::uint64_t stored = 0;
  if (std::fread(&stored, sizeof stored, 1, file) != 1) throw CorruptFile{"truncated"};
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // A fuzzer could almost never produce a matching checksum, and would then test nothing past it.
  if (stored != checksum.digest()) throw CorruptFile{"checksum mismatch (damaged or truncated)"};
#endif
}

void fsync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RAGLINE_CHECK(fd >= 0, io, "cannot open directory " << directory << ": " << std::strerror(errno));
  const int result = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  RAGLINE_CHECK(result == 0, io, "cannot fsync directory " << directory << ": " << std::strerror(saved_errno));
}

void validate_config(std::size_t dimension, const VectorIndexConfig& config) {
  RAGLINE_CHECK(dimension > 0, invalid_argument, "vector index dimension must be positive");
  if (config.type == "flat") return;
  if (config.type == "hnsw") {
    RAGLINE_CHECK(config.hnsw_m >= 2 && config.hnsw_m <= 512, invalid_argument,
                  "vector index hnsw_m must be in [2, 512], got " << config.hnsw_m);
    RAGLINE_CHECK(config.ef_construction >= 1, invalid_argument,
                  "vector index ef_construction must be positive, got " << config.ef_construction);
    RAGLINE_CHECK(config.ef_search >= 1, invalid_argument,
                  "vector index ef_search must be positive, got " << config.ef_search);
    return;
  }
  RAGLINE_CHECK(config.type == "ivf", invalid_argument,
                "vector index type \"" << config.type << "\" is not flat, hnsw or ivf");
  RAGLINE_CHECK(config.nlist >= 0, invalid_argument, "vector index nlist must not be negative, got " << config.nlist);
  RAGLINE_CHECK(config.nprobe >= 1, invalid_argument, "vector index nprobe must be positive, got " << config.nprobe);
  RAGLINE_CHECK(config.pq_m >= 0, invalid_argument, "vector index pq_m must not be negative, got " << config.pq_m);
  if (config.pq_m > 0) {
    RAGLINE_CHECK(dimension % static_cast<std::size_t>(config.pq_m) == 0, invalid_argument,
                  "vector index pq_m " << config.pq_m << " does not divide the dimension " << dimension);
    RAGLINE_CHECK(config.pq_bits >= 1 && config.pq_bits <= 16, invalid_argument,
                  "vector index pq_bits must be in [1, 16], got " << config.pq_bits);
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
    validate_config(dimension, config);
    if (config.type == "hnsw") {
      auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(dimension), config.hnsw_m,
                                                         faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = config.ef_construction;
      hnsw->hnsw.efSearch = member_ef_search(config);
      index = std::move(hnsw);
      state = State::hnsw;
    } else {
      index = std::make_unique<faiss::IndexFlatIP>(static_cast<faiss::Index::idx_t>(dimension));
      state = config.type == "ivf" ? State::ivf_untrained : State::flat;
    }
  }

  std::size_t live() const { return labels.size() - tombstone_count; }

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
    auto& flat = static_cast<faiss::IndexFlat&>(*index);
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
    auto rebuilt =
        std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(dimension), config.hnsw_m, faiss::METRIC_INNER_PRODUCT);
    rebuilt->hnsw.efConstruction = config.ef_construction;
    rebuilt->hnsw.efSearch = member_ef_search(config);
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

  std::vector<VectorHit> scan(std::span<const float> query, std::size_t k, const ChunkIdSet* allowed) const {
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
    if (state == State::flat || state == State::ivf_untrained) return scan(query, k, allowed);
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
    if (state == State::ivf_pq) return std::nullopt;
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

  // FAISS's reader takes sizes and ids as they come: a graph or an inverted list pointing past
  // the vectors would make a search read out of bounds (found by fuzz/vector_index.cpp). These
  // checks are linear in the index size, small next to reading it.
  static bool flat_codes_sound(const faiss::IndexFlat& flat) {
    return flat.codes.size() == static_cast<std::size_t>(flat.ntotal) * flat.code_size;
  }

  static bool pq_sound(const faiss::IndexIVFPQ& ivf_pq) {
    const auto& pq = ivf_pq.pq;
    return pq.M > 0 && pq.nbits > 0 && pq.nbits <= 16 && pq.d == static_cast<std::size_t>(ivf_pq.d) &&
           pq.dsub * pq.M == pq.d && pq.ksub == (std::size_t{1} << pq.nbits) &&
           pq.centroids.size() == pq.M * pq.ksub * pq.dsub && pq.code_size == ivf_pq.code_size &&
           pq.code_size == (pq.M * pq.nbits + 7) / 8;
  }

  static bool hnsw_graph_sound(const faiss::HNSW& graph, faiss::Index::idx_t ntotal) {
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
  bool ivf_lists_sound(const faiss::IndexIVF& ivf_index) const {
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

  // Checks that what read_index returned is what the header says, so a search never meets a
  // structure it does not expect.
  void adopt(std::unique_ptr<faiss::Index> loaded, State loaded_state) {
    if (loaded->d != static_cast<faiss::Index::idx_t>(dimension)) throw CorruptFile{"FAISS index dimension differs"};
    if (loaded->metric_type != faiss::METRIC_INNER_PRODUCT) throw CorruptFile{"FAISS index metric is not IP"};
    if (loaded->ntotal != static_cast<faiss::Index::idx_t>(labels.size())) {
      throw CorruptFile{"FAISS index holds " + std::to_string(loaded->ntotal) + " vectors, the header " +
                        std::to_string(labels.size())};
    }
    bool expected = false;
    switch (loaded_state) {
      case State::flat:
      case State::ivf_untrained:
        if (auto* flat = dynamic_cast<faiss::IndexFlatIP*>(loaded.get())) expected = flat_codes_sound(*flat);
        break;
      case State::hnsw:
        if (auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(loaded.get())) {
          hnsw->hnsw.efSearch = member_ef_search(config);
          const auto* storage = dynamic_cast<faiss::IndexFlat*>(hnsw->storage);
          expected = storage != nullptr && storage->ntotal == loaded->ntotal && storage->d == loaded->d &&
                     flat_codes_sound(*storage) && hnsw_graph_sound(hnsw->hnsw, loaded->ntotal);
        }
        break;
      case State::ivf_flat:
      case State::ivf_pq:
        if (auto* ivf_index = dynamic_cast<faiss::IndexIVF*>(loaded.get())) {
          const bool pq = dynamic_cast<faiss::IndexIVFPQ*>(loaded.get()) != nullptr;
          const bool flat = dynamic_cast<faiss::IndexIVFFlat*>(loaded.get()) != nullptr;
          expected = ivf_index->is_trained && (loaded_state == State::ivf_pq ? pq : flat) &&
                     dynamic_cast<faiss::ArrayInvertedLists*>(ivf_index->invlists) != nullptr &&
                     (loaded_state == State::ivf_pq || ivf_index->direct_map.type == faiss::DirectMap::Array) &&
                     ivf_lists_sound(*ivf_index) && (!pq || pq_sound(static_cast<faiss::IndexIVFPQ&>(*ivf_index)));
        }
        break;
    }
    if (!expected) throw CorruptFile{"FAISS index type does not match the header"};
    if (config.type != (loaded_state == State::flat ? "flat" : loaded_state == State::hnsw ? "hnsw" : "ivf")) {
      throw CorruptFile{"index state does not match the configured type"};
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

std::string VectorIndex::description() const {
  switch (impl_->state) {
    case State::flat:
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

void VectorIndex::save(const std::filesystem::path& path, std::int64_t generation,
                       const std::string& embedder_id) const {
  RAGLINE_CHECK(embedder_id.size() <= kMaxEmbedderIdBytes, invalid_argument,
                "embedder id is longer than " << kMaxEmbedderIdBytes << " bytes");
  const Impl& impl = *impl_;
  auto temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid());
  FilePtr file(std::fopen(temporary.c_str(), "wb"));
  RAGLINE_CHECK(file != nullptr, io, "cannot create " << temporary << ": " << std::strerror(errno));
  try {
    ChecksummedWriter writer(file.get(), temporary);
    writer.write(kMagic, sizeof kMagic);
    writer.write_value(kFormatVersion);
    writer.write_value(static_cast<std::uint32_t>(impl.state));
    writer.write_value(generation);
    writer.write_value(static_cast<std::uint64_t>(impl.dimension));
    writer.write_string(embedder_id);
    const auto& config = impl.config;
    writer.write_string(config.type);
    for (int field : {config.hnsw_m, config.ef_construction, config.ef_search, config.nlist, config.nprobe, config.pq_m,
                      config.pq_bits}) {
      writer.write_value(static_cast<std::int32_t>(field));
    }
    writer.write_value(static_cast<std::uint64_t>(impl.labels.size()));
    writer.write_value(static_cast<std::uint64_t>(impl.tombstone_count));
    writer.write(impl.labels.data(), impl.labels.size() * sizeof(std::int64_t));
    for (std::size_t position = 0; position < impl.labels.size(); ++position) {
      if (impl.tombstoned[position]) writer.write_value(static_cast<std::uint64_t>(position));
    }
    const std::uint64_t blob_start = writer.bytes();
    try {
      faiss::write_index(impl.index.get(), &writer);
    } catch (const faiss::FaissException& error) {
      RAGLINE_THROW(io, "cannot write " << temporary << ": " << std::strerror(errno) << " (" << error.what() << ")");
    }
    writer.write_value(writer.bytes() - blob_start);
    const std::uint64_t checksum = writer.digest();
    writer.write_value(checksum);
    RAGLINE_CHECK(std::fflush(file.get()) == 0 && ::fsync(::fileno(file.get())) == 0, io,
                  "cannot write " << temporary << ": " << std::strerror(errno));
    RAGLINE_CHECK(std::fclose(file.release()) == 0, io, "cannot write " << temporary << ": " << std::strerror(errno));
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    RAGLINE_CHECK(!error, io, "cannot rename " << temporary << " to " << path << ": " << error.message());
  } catch (...) {
    file.reset();
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
  fsync_directory(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."));
}

std::optional<std::pair<VectorIndex, VectorIndexHeader>> VectorIndex::load(const std::filesystem::path& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    if (errno == ENOENT) return std::nullopt;
    RAGLINE_THROW(io, "cannot open vector index " << path << ": " << std::strerror(errno));
  }
  try {
    const std::uint64_t size = file_size(file.get());
    verify_checksum(file.get(), size);
    if (fseeko(file.get(), 0, SEEK_SET) != 0) throw CorruptFile{"cannot seek"};
    BoundedReader reader(file.get(), size - 2 * sizeof(std::uint64_t));
    FileHeader header = read_file_header(reader);
    if (header.positions > reader.remaining() / sizeof(std::int64_t) ||
        header.tombstones > (reader.remaining() - header.positions * sizeof(std::int64_t)) / sizeof(std::uint64_t)) {
      throw CorruptFile{"truncated"};
    }

    std::optional<VectorIndex> vector_index;
    try {
      vector_index.emplace(header.header.dimension, header.header.config);
    } catch (const Error& error) {
      throw CorruptFile{std::string("invalid settings: ") + error.what()};
    }
    Impl& impl = *vector_index->impl_;
    impl.labels.resize(header.positions);
    reader.read(impl.labels.data(), impl.labels.size() * sizeof(std::int64_t));
    impl.tombstoned.assign(header.positions, 0);
    for (std::uint64_t i = 0; i < header.tombstones; ++i) {
      const auto position = reader.read_value<std::uint64_t>();
      if (position >= header.positions || impl.tombstoned[position]) throw CorruptFile{"bad tombstone list"};
      impl.tombstoned[position] = 1;
    }
    impl.tombstone_count = header.tombstones;
    impl.positions.reserve(header.positions - header.tombstones);
    for (std::size_t position = 0; position < impl.labels.size(); ++position) {
      if (impl.tombstoned[position]) continue;
      if (impl.labels[position] < 0 ||
          !impl.positions.try_emplace(impl.labels[position], static_cast<Position>(position)).second) {
        throw CorruptFile{"bad or duplicate chunk id " + std::to_string(impl.labels[position])};
      }
    }

    const std::uint64_t blob_bytes = reader.remaining();
    const off_t blob_start = ftello(file.get());
    {
      BoundedReader blob(file.get(), blob_bytes);
      check_faiss_blob(blob);
    }
    if (blob_start < 0 || fseeko(file.get(), blob_start, SEEK_SET) != 0) throw CorruptFile{"cannot seek"};
    std::unique_ptr<faiss::Index> loaded;
    try {
      loaded.reset(faiss::read_index(&reader));
    } catch (const std::exception& error) {  // FaissException, and bad_alloc on absurd sizes
      throw CorruptFile{std::string("FAISS could not read the index: ") + error.what()};
    }
    if (reader.remaining() != 0) throw CorruptFile{"trailing bytes after the FAISS index"};
    std::uint64_t stored_blob_bytes = 0;
    if (std::fread(&stored_blob_bytes, sizeof stored_blob_bytes, 1, file.get()) != 1 ||
        stored_blob_bytes != blob_bytes) {
      throw CorruptFile{"FAISS index size does not match the trailer"};
    }
    impl.adopt(std::move(loaded), header.state);
    return std::make_pair(std::move(*vector_index), std::move(header.header));
  } catch (const CorruptFile& corrupt) {
    RAGLINE_THROW(corrupt, "vector index " << path << " is unreadable: " << corrupt.reason);
  }
}

std::optional<VectorIndexHeader> VectorIndex::read_header(const std::filesystem::path& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return std::nullopt;
  try {
    BoundedReader reader(file.get(), std::numeric_limits<std::uint64_t>::max());
    return read_file_header(reader).header;
  } catch (const CorruptFile&) {
    return std::nullopt;
  }
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
