#pragma once
// vectors.faiss, the file a VectorIndex is saved to. Layout (native little-endian): magic
// "RAGLVEC1", format version (u32, 3; 1 and 2 are read), state (u32, VectorIndexState), KB generation (i64),
// dimension (u64), embedder id (u32 length + bytes), KB id (u32 length + bytes; not in format 1,
// which is still read, with an empty KB id), VectorIndexConfig (type as u32 length +
// bytes, then hnsw_m, ef_construction, ef_search, nlist, nprobe, pq_m, pq_bits as i32), positions
// (u64), tombstones (u64) | labels (i64 per position) | tombstoned positions (u64 each) |
// faiss::write_index blob | blob size (u64) | checksum of all preceding bytes (u64).
//
// Reading verifies the checksum before FAISS parses a byte, and then still treats the contents as
// untrusted (faiss_validation.hpp): damage is Error(corrupt) naming the file, never a crash.
// Writing goes to `<path>.tmp-<pid>`, fsynced, renamed over `path`, directory fsynced.
//
// Thread safety: the functions share no state; one file must not be written by two at once.

#include <faiss/impl/io.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/vector_index.hpp"
#include "index/vector_index_types.hpp"

namespace ragline::index {

// Everything one vectors.faiss holds, read back and checked.
struct VectorFile {
  VectorIndexHeader header;
  VectorIndexState state = VectorIndexState::flat;
  std::vector<std::int64_t> labels;      // FAISS position -> chunk id
  std::vector<std::uint8_t> tombstoned;  // per position
  std::size_t tombstone_count = 0;
  std::unordered_map<std::int64_t, std::int64_t> positions;  // live chunk id -> position
  std::unique_ptr<faiss::Index> index;                       // ntotal == labels.size()
};

// Writes the file (temporary, fsync, rename, directory fsync). Error(invalid_argument) for an
// embedder id longer than the format allows, Error(io) naming the file when it cannot be written;
// the temporary file is removed then.
void write_vector_file(const std::filesystem::path& path, const VectorIndexHeader& header, VectorIndexState state,
                       std::span<const std::int64_t> labels, std::span<const std::uint8_t> tombstoned,
                       std::size_t tombstone_count, const faiss::Index& index);
// nullopt when the file is missing; Error(corrupt) naming the file when it is unreadable,
// Error(io) when it cannot be opened.
std::optional<VectorFile> read_vector_file(const std::filesystem::path& path);
// Only the header (cheap); nullopt when missing or unreadable.
std::optional<VectorIndexHeader> read_vector_file_header(const std::filesystem::path& path);

// --- the reading primitives, shared with faiss_validation.cpp ---------------------------------

// Why a file is unreadable; read_vector_file turns it into Error(corrupt) naming the file.
struct CorruptFile {
  std::string reason;
};

// Reads at most `limit` bytes, so a damaged size inside FAISS's data cannot read past the blob.
// Throws CorruptFile{"truncated"} when a read or skip wants more.
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

}  // namespace ragline::index
