#include "index/vector_file.hpp"

#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>

#include "core/check.hpp"
#include "index/faiss_validation.hpp"

namespace ragline::index {
namespace {

using State = VectorIndexState;

constexpr char kMagic[8] = {'R', 'A', 'G', 'L', 'V', 'E', 'C', '1'};
// 2 added the KB id after the embedder id; format 1 files (no KB id) are still read. 3: the
// `flat` type holds int8 codes (state flat_codes) instead of float rows; 1 and 2 are still read.
constexpr std::uint32_t kFormatVersion = 3;
constexpr std::size_t kMaxKbIdBytes = 256;
constexpr std::size_t kMaxEmbedderIdBytes = 4096;
constexpr std::size_t kMaxTypeBytes = 64;

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

// Layout (native little-endian): magic, format version, state, generation, dimension, embedder id,
// KB id (format 2), VectorIndexConfig, positions, tombstones | labels (i64 per position) | tombstoned positions
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
  if (version < 1 || version > kFormatVersion) {
    throw CorruptFile{"format version " + std::to_string(version) + " is not 1 to " + std::to_string(kFormatVersion)};
  }
  FileHeader file;
  const auto state = reader.read_value<std::uint32_t>();
  if (state > static_cast<std::uint32_t>(kLastVectorIndexState)) throw CorruptFile{"unknown index state"};
  if (version < 3 && state == static_cast<std::uint32_t>(State::flat_codes)) {
    throw CorruptFile{"int8 codes in a format " + std::to_string(version) + " file"};
  }
  file.state = static_cast<State>(state);
  file.header.generation = reader.read_value<std::int64_t>();
  file.header.dimension = reader.read_value<std::uint64_t>();
  if (file.header.dimension == 0 || file.header.dimension > (1u << 16)) throw CorruptFile{"implausible dimension"};
  file.header.embedder_id = reader.read_string(kMaxEmbedderIdBytes, "embedder id");
  if (version >= 2) file.header.kb_id = reader.read_string(kMaxKbIdBytes, "KB id");
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
}  // namespace

void write_vector_file(const std::filesystem::path& path, const VectorIndexHeader& header, VectorIndexState state,
                       std::span<const std::int64_t> labels, std::span<const std::uint8_t> tombstoned,
                       std::size_t tombstone_count, const faiss::Index& index) {
  RAGLINE_CHECK(header.embedder_id.size() <= kMaxEmbedderIdBytes, invalid_argument,
                "embedder id is longer than " << kMaxEmbedderIdBytes << " bytes");
  RAGLINE_CHECK(header.kb_id.size() <= kMaxKbIdBytes, invalid_argument,
                "KB id is longer than " << kMaxKbIdBytes << " bytes");
  auto temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid());
  FilePtr file(std::fopen(temporary.c_str(), "wb"));
  RAGLINE_CHECK(file != nullptr, io, "cannot create " << temporary << ": " << std::strerror(errno));
  try {
    ChecksummedWriter writer(file.get(), temporary);
    writer.write(kMagic, sizeof kMagic);
    writer.write_value(kFormatVersion);
    writer.write_value(static_cast<std::uint32_t>(state));
    writer.write_value(header.generation);
    writer.write_value(static_cast<std::uint64_t>(header.dimension));
    writer.write_string(header.embedder_id);
    writer.write_string(header.kb_id);
    const auto& config = header.config;
    writer.write_string(config.type);
    for (int field : {config.hnsw_m, config.ef_construction, config.ef_search, config.nlist, config.nprobe, config.pq_m,
                      config.pq_bits}) {
      writer.write_value(static_cast<std::int32_t>(field));
    }
    writer.write_value(static_cast<std::uint64_t>(labels.size()));
    writer.write_value(static_cast<std::uint64_t>(tombstone_count));
    writer.write(labels.data(), labels.size() * sizeof(std::int64_t));
    for (std::size_t position = 0; position < labels.size(); ++position) {
      if (tombstoned[position]) writer.write_value(static_cast<std::uint64_t>(position));
    }
    const std::uint64_t blob_start = writer.bytes();
    try {
      faiss::write_index(&index, &writer);
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

std::optional<VectorFile> read_vector_file(const std::filesystem::path& path) {
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

    try {
      validate_vector_index_config(header.header.config, header.header.dimension);
    } catch (const Error& error) {
      throw CorruptFile{std::string("invalid settings: ") + error.what()};
    }
    VectorFile contents;
    contents.labels.resize(header.positions);
    reader.read(contents.labels.data(), contents.labels.size() * sizeof(std::int64_t));
    contents.tombstoned.assign(header.positions, 0);
    for (std::uint64_t i = 0; i < header.tombstones; ++i) {
      const auto position = reader.read_value<std::uint64_t>();
      if (position >= header.positions || contents.tombstoned[position]) throw CorruptFile{"bad tombstone list"};
      contents.tombstoned[position] = 1;
    }
    contents.tombstone_count = header.tombstones;
    contents.positions.reserve(header.positions - header.tombstones);
    for (std::size_t position = 0; position < contents.labels.size(); ++position) {
      if (contents.tombstoned[position]) continue;
      if (contents.labels[position] < 0 ||
          !contents.positions.try_emplace(contents.labels[position], static_cast<std::int64_t>(position)).second) {
        throw CorruptFile{"bad or duplicate chunk id " + std::to_string(contents.labels[position])};
      }
    }

    const std::uint64_t blob_bytes = reader.remaining();
    const off_t blob_start = ftello(file.get());
    {
      BoundedReader blob(file.get(), blob_bytes);
      check_faiss_blob(blob);
    }
    if (blob_start < 0 || fseeko(file.get(), blob_start, SEEK_SET) != 0) throw CorruptFile{"cannot seek"};
    try {
      contents.index.reset(faiss::read_index(&reader));
    } catch (const std::exception& error) {  // FaissException, and bad_alloc on absurd sizes
      throw CorruptFile{std::string("FAISS could not read the index: ") + error.what()};
    }
    if (reader.remaining() != 0) throw CorruptFile{"trailing bytes after the FAISS index"};
    std::uint64_t stored_blob_bytes = 0;
    if (std::fread(&stored_blob_bytes, sizeof stored_blob_bytes, 1, file.get()) != 1 ||
        stored_blob_bytes != blob_bytes) {
      throw CorruptFile{"FAISS index size does not match the trailer"};
    }
    check_loaded_index(*contents.index, header.state, header.header.dimension, contents.labels.size(),
                       header.header.config);
    contents.header = std::move(header.header);
    contents.state = header.state;
    return contents;
  } catch (const CorruptFile& corrupt) {
    RAGLINE_THROW(corrupt, "vector index " << path << " is unreadable: " << corrupt.reason);
  }
}

std::optional<VectorIndexHeader> read_vector_file_header(const std::filesystem::path& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return std::nullopt;
  try {
    BoundedReader reader(file.get(), std::numeric_limits<std::uint64_t>::max());
    return read_file_header(reader).header;
  } catch (const CorruptFile&) {
    return std::nullopt;
  }
}

}  // namespace ragline::index
