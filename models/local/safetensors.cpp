#include "models/local/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/check.hpp"

namespace ragline::models::local {
namespace {

// The reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

// Bytes per element of every dtype the format defines; anything else is a format error.
std::uint64_t dtype_size(std::string_view dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

std::uint64_t read_le64(const unsigned char* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

}  // namespace

float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  std::uint32_t result;
  if (exponent == 0x1f) {
    result = sign | 0x7f800000u | (mantissa << 13);  // infinity, NaN
  } else if (exponent != 0) {
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    result = sign;
  } else {
    // Subnormal half: normalise the mantissa into a normal float.
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    result = sign | (static_cast<std::uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(result);
}

float bfloat16_to_float(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile file;
  file.path_ = path;
  const std::string where = path.string();
  std::error_code error;
  RAGLINE_CHECK(std::filesystem::is_regular_file(path, error), not_found, "missing model file " << where);
  file.file_size_ = std::filesystem::file_size(path, error);
  RAGLINE_CHECK(!error, io, "cannot read the size of " << where << ": " << error.message());
  std::ifstream in(path, std::ios::binary);
  RAGLINE_CHECK(in, io, "cannot open " << where);
  RAGLINE_CHECK(file.file_size_ >= 8, format,
                where << ": " << file.file_size_ << " bytes, too short for a safetensors header");
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  RAGLINE_CHECK(in, io, "cannot read " << where);
  const std::uint64_t header_length = read_le64(length_bytes);
  RAGLINE_CHECK(header_length <= kMaxHeaderBytes && header_length <= file.file_size_ - 8, format,
                where << ": header length " << header_length << " does not fit in a file of " << file.file_size_
                      << " bytes (not a safetensors file?)");
  file.header_.resize(header_length);
  in.read(file.header_.data(), static_cast<std::streamsize>(header_length));
  RAGLINE_CHECK(in, io, "cannot read the header of " << where);
  file.data_start_ = 8 + header_length;
  const std::uint64_t data_size = file.file_size_ - file.data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.header_);
  } catch (const nlohmann::json::exception& e) {
    RAGLINE_THROW(format, where << ": header is not valid JSON (" << e.what() << ")");
  }
  RAGLINE_CHECK(header.is_object(), format, where << ": header is not a JSON object");
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string context = where + ": tensor \"" + name + "\"";
    RAGLINE_CHECK(
        entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
        format, context << " lacks dtype, shape or data_offsets");
    RAGLINE_CHECK(entry["dtype"].is_string(), format, context << ": dtype is not a string");
    SafetensorsTensor tensor;
    tensor.name = name;
    tensor.dtype = entry["dtype"].get<std::string>();
    const std::uint64_t element_size = dtype_size(tensor.dtype);
    RAGLINE_CHECK(element_size > 0, format, context << ": unknown dtype " << tensor.dtype);
    const auto& shape = entry["shape"];
    RAGLINE_CHECK(shape.is_array(), format, context << ": shape is not an array");
    std::uint64_t elements = 1;
    for (const auto& dimension : shape) {
      RAGLINE_CHECK(dimension.is_number_unsigned(), format, context << ": shape holds " << dimension.dump());
      const std::uint64_t size = dimension.get<std::uint64_t>();
      RAGLINE_CHECK(size == 0 || elements <= std::numeric_limits<std::uint64_t>::max() / size / element_size, format,
                    context << ": shape overflows");
      elements *= size;
      tensor.shape.push_back(size);
    }
    const auto& offsets = entry["data_offsets"];
    RAGLINE_CHECK(
        offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
        format, context << ": data_offsets is not [begin, end]");
    tensor.begin = offsets[0].get<std::uint64_t>();
    tensor.end = offsets[1].get<std::uint64_t>();
    RAGLINE_CHECK(tensor.begin <= tensor.end && tensor.end <= data_size, format,
                  context << ": data_offsets [" << tensor.begin << ", " << tensor.end
                          << "] out of range of the data section (" << data_size << " bytes)");
    RAGLINE_CHECK(
        tensor.end - tensor.begin == elements * element_size, format,
        context << ": " << tensor.end - tensor.begin << " bytes for " << elements << " elements of " << tensor.dtype);
    file.tensors_.push_back(std::move(tensor));
  }
  // Tensors must not overlap (the format also forbids holes, but a hole harms nobody).
  std::vector<const SafetensorsTensor*> by_offset;
  for (const auto& tensor : file.tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    RAGLINE_CHECK(
        by_offset[i]->begin >= by_offset[i - 1]->end || by_offset[i]->begin == by_offset[i]->end, format,
        where << ": tensors \"" << by_offset[i - 1]->name << "\" and \"" << by_offset[i]->name << "\" overlap");
  }
  std::sort(file.tensors_.begin(), file.tensors_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it =
      std::lower_bound(tensors_.begin(), tensors_.end(), name,
                       [](const SafetensorsTensor& tensor, std::string_view key) { return tensor.name < key; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

Matrix SafetensorsFile::read_matrix(std::string_view name) const {
  const SafetensorsTensor* tensor = find(name);
  RAGLINE_CHECK(tensor != nullptr, format, path_.string() << ": no tensor \"" << name << "\"");
  const bool f32 = tensor->dtype == "F32", f16 = tensor->dtype == "F16", bf16 = tensor->dtype == "BF16";
  RAGLINE_CHECK(
      f32 || f16 || bf16, format,
      path_.string() << ": tensor \"" << name << "\" has dtype " << tensor->dtype << " (supported: F32, F16, BF16)");
  std::size_t rows = 1, cols = 1;
  if (!tensor->shape.empty()) {
    cols = tensor->shape.back();
    for (std::size_t i = 0; i + 1 < tensor->shape.size(); ++i) rows *= tensor->shape[i];
  }
  std::string bytes(tensor->end - tensor->begin, '\0');
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(data_start_ + tensor->begin));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  RAGLINE_CHECK(in, io, "cannot read tensor \"" << name << "\" from " << path_.string());
  Matrix matrix(rows, cols);
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t count = rows * cols;
  static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");
  if (f32) {
    std::memcpy(matrix.data(), raw, count * sizeof(float));
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      const auto bits = static_cast<std::uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8));
      matrix.values[i] = f16 ? half_to_float(bits) : bfloat16_to_float(bits);
    }
  }
  return matrix;
}

}  // namespace ragline::models::local
