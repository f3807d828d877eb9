#pragma once
// Reader for the safetensors format (Hugging Face): an 8-byte little-endian header length N,
// N bytes of JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the end of the header; an optional "__metadata__" entry of strings), then
// the raw little-endian tensor bytes.
//
// open() reads and validates only the header (every tensor's dtype, shape and byte range against
// the file size); read_matrix() then reads one tensor, converting F32, F16 and BF16 to float32.
// Errors are Error(format) naming the file and, where there is one, the tensor.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "models/local/runtime.hpp"

namespace ragline::models::local {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // as written: F32, F16, BF16, I64, ...
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;  // byte range in the data section
  std::uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Throws Error(not_found) for a missing file, Error(format) for a malformed header.
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // The header JSON bytes as stored, and the file size: together they identify the weights
  // cheaply (tensor names, shapes, dtypes and layout) without hashing hundreds of megabytes.
  const std::string& header() const { return header_; }
  std::uint64_t file_size() const { return file_size_; }

  // The tensor as float32: rank 1 becomes 1 × n, rank 2 rows × cols; higher ranks fold every
  // leading dimension into rows. Throws Error(format) for a missing tensor or a dtype other than
  // F32, F16, BF16, and Error(io) when reading fails.
  Matrix read_matrix(std::string_view name) const;

 private:
  std::filesystem::path path_;
  std::string header_;
  std::uint64_t file_size_ = 0;
  std::uint64_t data_start_ = 0;
  std::vector<SafetensorsTensor> tensors_;  // sorted by name
};

// IEEE half and bfloat16 to float (exact: every value is representable).
float half_to_float(std::uint16_t bits);
float bfloat16_to_float(std::uint16_t bits);

}  // namespace ragline::models::local
