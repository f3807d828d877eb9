#include "models/local/int8_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/check.hpp"
#include "models/local/runtime.hpp"
#include "models/local/vector_loops.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RAGLINE_INT8_X86 1
#include <immintrin.h>
#endif

namespace ragline::models::local {
namespace {

constexpr std::size_t kBlock = 16;  // output channels per packed block
constexpr std::size_t kGroup = 4;   // inputs per group
constexpr std::size_t kGroupBytes = kBlock * kGroup;
// Rows of activations per cache chunk: a chunk of rows stays in L2 while every weight block
// passes over it.
constexpr std::size_t kRowChunk = 64;

std::size_t round_up(std::size_t value, std::size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

std::int8_t quantize_value(float value, float inverse_scale) {
  const float scaled = std::nearbyint(value * inverse_scale);
  return static_cast<std::int8_t>(std::clamp(scaled, -127.0f, 127.0f));
}

// The per-row loops below run once per activation value or output: GCC's -O2 vectorises only
// loops whose trip count is a multiple of the vector width, so these ask for -O3's vectoriser
// and a clone per instruction set (vector_loops.hpp).

// The row's range widened to include 0 (so that 0 gets an exact code, the zero point). GCC
// vectorises a float min/max reduction only when it may ignore NaNs and the sign of zero (which
// do not change the range here), and only written as comparisons: std::min/std::max stayed
// scalar, a sixteenth of the int8 forward pass.
struct RowRange {
  float low = 0, high = 0;
};
RAGLINE_FAST_RANGE_LOOP
RowRange row_range(const float* __restrict row, std::size_t count) {
  float low = 0, high = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const float value = row[k];
    low = value < low ? value : low;
    high = value > high ? value : high;
  }
  return {low, high};
}

// Rounds half away from zero, then shifts by the zero point; the clamp only catches the rounding
// at the ends of the range.
RAGLINE_VECTOR_LOOP void quantize_row(const float* __restrict row, std::size_t count, float inverse, int zero_point,
                                      std::uint8_t* __restrict values) {
  for (std::size_t k = 0; k < count; ++k) {
    const float scaled = row[k] * inverse;
    const int rounded = static_cast<int>(scaled + (scaled >= 0.0f ? 0.5f : -0.5f));
    values[k] = static_cast<std::uint8_t>(std::clamp(rounded + zero_point, 0, 255));
  }
}

RAGLINE_VECTOR_LOOP void dequantize_row(const std::int32_t* __restrict sums, std::size_t count, float row_scale,
                                        const float* __restrict weight_scales, const float* __restrict bias,
                                        float* __restrict destination) {
  for (std::size_t c = 0; c < count; ++c)
    destination[c] = static_cast<float>(sums[c]) * (row_scale * weight_scales[c]) + bias[c];
}

// A tile kernel: rows (<= its row tile) of a (unsigned, row stride lda bytes, zero points
// zero_points[0 .. rows)) times `blocks` packed weight blocks (1 or 2, consecutive, each
// groups * 64 bytes), written as exact int32 sums (a − zp) · w to out (row stride ldo,
// blocks * 16 columns).
struct TileArgs {
  const std::uint8_t* a;
  const std::int32_t* zero_points;
  std::size_t lda;
  std::size_t rows;
  const std::int8_t* weights;
  std::size_t groups;
  std::size_t blocks;
  const std::int32_t* weight_sums;  // blocks * 16 channel sums (zero-point correction)
  std::int32_t* out;
  std::size_t ldo;
};

void scalar_tile(const TileArgs& t) {
  for (std::size_t r = 0; r < t.rows; ++r) {
    for (std::size_t block = 0; block < t.blocks; ++block) {
      const std::int8_t* w = t.weights + block * t.groups * kGroupBytes;
      for (std::size_t column = 0; column < kBlock; ++column) {
        std::int32_t sum = 0;
        for (std::size_t g = 0; g < t.groups; ++g) {
          const std::uint8_t* a = t.a + r * t.lda + g * kGroup;
          const std::int8_t* b = w + g * kGroupBytes + column * kGroup;
          for (std::size_t k = 0; k < kGroup; ++k) sum += static_cast<std::int32_t>(a[k]) * b[k];
        }
        const std::size_t channel = block * kBlock + column;
        t.out[r * t.ldo + channel] = sum - t.zero_points[r] * t.weight_sums[channel];
      }
    }
  }
}
constexpr std::size_t kScalarRows = 4;

#ifdef RAGLINE_INT8_X86

constexpr std::size_t kVnniRows = 8;

template <std::size_t Rows, std::size_t Blocks>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_tile_fixed(const TileArgs& t) {
  __m512i acc[Rows][Blocks];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 2
    for (std::size_t b = 0; b < Blocks; ++b) acc[r][b] = _mm512_setzero_si512();
  const std::size_t block_stride = t.groups * kGroupBytes;
  for (std::size_t g = 0; g < t.groups; ++g) {
    __m512i w[Blocks];
#pragma GCC unroll 2
    for (std::size_t b = 0; b < Blocks; ++b) w[b] = _mm512_loadu_si512(t.weights + b * block_stride + g * kGroupBytes);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, t.a + r * t.lda + g * kGroup, sizeof quad);
      const __m512i a = _mm512_set1_epi32(quad);
#pragma GCC unroll 2
      for (std::size_t b = 0; b < Blocks; ++b) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], a, w[b]);
    }
  }
#pragma GCC unroll 2
  for (std::size_t b = 0; b < Blocks; ++b) {
    const __m512i weight_sums = _mm512_loadu_si512(t.weight_sums + b * kBlock);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m512i correction = _mm512_mullo_epi32(weight_sums, _mm512_set1_epi32(t.zero_points[r]));
      _mm512_storeu_si512(t.out + r * t.ldo + b * kBlock, _mm512_sub_epi32(acc[r][b], correction));
    }
  }
}

template <std::size_t Blocks>
void vnni_tile_rows(const TileArgs& t) {
  switch (t.rows) {
    case 8:
      return vnni_tile_fixed<8, Blocks>(t);
    case 7:
      return vnni_tile_fixed<7, Blocks>(t);
    case 6:
      return vnni_tile_fixed<6, Blocks>(t);
    case 5:
      return vnni_tile_fixed<5, Blocks>(t);
    case 4:
      return vnni_tile_fixed<4, Blocks>(t);
    case 3:
      return vnni_tile_fixed<3, Blocks>(t);
    case 2:
      return vnni_tile_fixed<2, Blocks>(t);
    default:
      return vnni_tile_fixed<1, Blocks>(t);
  }
}

void vnni_tile(const TileArgs& t) { t.blocks == 2 ? vnni_tile_rows<2>(t) : vnni_tile_rows<1>(t); }

constexpr std::size_t kAvx2Rows = 2;

template <std::size_t Rows>
__attribute__((target("avx2"))) void avx2_tile_fixed(const TileArgs& t) {
  for (std::size_t block = 0; block < t.blocks; ++block) {
    const std::int8_t* weights = t.weights + block * t.groups * kGroupBytes;
    // acc[r][c]: columns 4c .. 4c + 3, two int32 lanes per column (inputs 0-1 and 2-3 of each group).
    __m256i acc[Rows][4];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 4
      for (std::size_t c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_si256();
    for (std::size_t g = 0; g < t.groups; ++g) {
      __m256i w[4];
#pragma GCC unroll 4
      for (std::size_t c = 0; c < 4; ++c) {
        w[c] = _mm256_cvtepi8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(weights + g * kGroupBytes + c * kBlock)));
      }
#pragma GCC unroll 4
      for (std::size_t r = 0; r < Rows; ++r) {
        std::int32_t quad;
        std::memcpy(&quad, t.a + r * t.lda + g * kGroup, sizeof quad);
        const __m128i a16 = _mm_cvtepu8_epi16(_mm_cvtsi32_si128(quad));
        const __m256i a = _mm256_broadcastq_epi64(a16);
#pragma GCC unroll 4
        for (std::size_t c = 0; c < 4; ++c) acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(a, w[c]));
      }
    }
#pragma GCC unroll 4
    for (std::size_t r = 0; r < Rows; ++r) {
      alignas(32) std::int32_t lanes[8];
      for (std::size_t c = 0; c < 4; ++c) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[r][c]);
        for (std::size_t j = 0; j < 4; ++j) {
          const std::size_t channel = block * kBlock + c * 4 + j;
          t.out[r * t.ldo + channel] = lanes[2 * j] + lanes[2 * j + 1] - t.zero_points[r] * t.weight_sums[channel];
        }
      }
    }
  }
}

void avx2_tile(const TileArgs& t) { t.rows == 2 ? avx2_tile_fixed<2>(t) : avx2_tile_fixed<1>(t); }

#endif

struct KernelInfo {
  void (*tile)(const TileArgs&);
  std::size_t rows;    // row tile
  std::size_t blocks;  // weight blocks per tile call
};

KernelInfo kernel_info(Int8Kernel kernel) {
  switch (kernel) {
#ifdef RAGLINE_INT8_X86
    case Int8Kernel::avx512_vnni:
      return {vnni_tile, kVnniRows, 2};
    case Int8Kernel::avx2:
      return {avx2_tile, kAvx2Rows, 1};
#endif
    default:
      return {scalar_tile, kScalarRows, 1};
  }
}

// Runs the tile kernel over rows [row_begin, row_end) of a × wᵀ, handing each finished row
// chunk × block range of int32 sums to finish(first_row, rows, first_column, columns, sums, ldo).
template <typename Finish>
void run_gemm(const QuantizedRows& a, const PackedInt8Weights& w, Int8Kernel kernel, std::size_t row_begin,
              std::size_t row_end, Finish&& finish) {
  RAGLINE_CHECK(a.padded_in == w.padded_in && a.in == w.in, invalid_argument,
                "int8 product: activations have " << a.in << " columns, the weights " << w.in << " inputs");
  RAGLINE_CHECK(int8_kernel_supported(kernel), invalid_argument,
                "int8 kernel " << int8_kernel_name(kernel) << " is not supported on this CPU");
  if (a.rows == 0 || w.out == 0) return;
  const KernelInfo info = kernel_info(kernel);
  const std::size_t groups = w.padded_in / kGroup;
  const std::size_t block_bytes = groups * kGroupBytes;
  const std::size_t block_count = w.padded_out / kBlock;
  const std::size_t step = info.blocks * kBlock;
  thread_local std::vector<std::int32_t> tile;
  tile.resize(kRowChunk * step);
  for (std::size_t row0 = row_begin; row0 < row_end; row0 += kRowChunk) {
    const std::size_t chunk_rows = std::min(kRowChunk, row_end - row0);
    for (std::size_t block = 0; block < block_count; block += info.blocks) {
      const std::size_t blocks = std::min(info.blocks, block_count - block);
      for (std::size_t r = 0; r < chunk_rows; r += info.rows) {
        TileArgs args{};
        args.a = a.values.data() + (row0 + r) * a.padded_in;
        args.zero_points = a.zero_points.data() + row0 + r;
        args.lda = a.padded_in;
        args.rows = std::min(info.rows, chunk_rows - r);
        args.weights = w.packed.data() + block * block_bytes;
        args.groups = groups;
        args.blocks = blocks;
        args.weight_sums = w.sums.data() + block * kBlock;
        args.out = tile.data() + r * step;
        args.ldo = step;
        info.tile(args);
      }
      const std::size_t first_column = block * kBlock;
      const std::size_t columns = std::min(blocks * kBlock, w.out - std::min(w.out, first_column));
      if (columns > 0) finish(row0, chunk_rows, first_column, columns, tile.data(), step);
    }
  }
}

Int8Kernel detect_best_kernel() {
  Int8Kernel best = Int8Kernel::scalar;
  for (Int8Kernel candidate : {Int8Kernel::avx2, Int8Kernel::avx512_vnni})
    if (int8_kernel_supported(candidate)) best = candidate;
  if (const char* requested = std::getenv("RAGLINE_INT8_KERNEL")) {
    for (Int8Kernel candidate : {Int8Kernel::scalar, Int8Kernel::avx2, Int8Kernel::avx512_vnni}) {
      if (int8_kernel_name(candidate) == requested && int8_kernel_supported(candidate)) return candidate;
    }
  }
  return best;
}

}  // namespace

std::string_view int8_kernel_name(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::avx2:
      return "avx2";
    case Int8Kernel::avx512_vnni:
      return "avx512-vnni";
    default:
      return "scalar";
  }
}

bool int8_kernel_supported(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::scalar:
      return true;
#ifdef RAGLINE_INT8_X86
    case Int8Kernel::avx2:
      return __builtin_cpu_supports("avx2");
    case Int8Kernel::avx512_vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
#endif
    default:
      return false;
  }
}

Int8Kernel best_int8_kernel() {
  static const Int8Kernel best = detect_best_kernel();
  return best;
}

PackedInt8Weights PackedInt8Weights::pack(std::span<const std::int8_t> values, std::size_t out, std::size_t in,
                                          std::span<const float> scales) {
  RAGLINE_CHECK(
      values.size() == out * in && scales.size() == out, invalid_argument,
      "int8 weights: " << values.size() << " values and " << scales.size() << " scales for " << out << "×" << in);
  // Beyond this many inputs 255 · 127 · in could leave int32.
  RAGLINE_CHECK(in <= 66000, invalid_argument, "int8 weights: " << in << " inputs, more than int32 sums allow");
  PackedInt8Weights w;
  w.out = out;
  w.in = in;
  w.padded_in = round_up(in, kGroup);
  w.padded_out = round_up(out, kBlock);
  w.packed.assign(w.padded_out * w.padded_in, 0);
  w.scales.assign(scales.begin(), scales.end());
  w.sums.assign(w.padded_out, 0);
  const std::size_t groups = w.padded_in / kGroup;
  for (std::size_t j = 0; j < out; ++j) {
    const std::size_t block = j / kBlock, column = j % kBlock;
    std::int8_t* destination = w.packed.data() + block * groups * kGroupBytes + column * kGroup;
    for (std::size_t k = 0; k < in; ++k) {
      const std::int8_t value = values[j * in + k];
      RAGLINE_CHECK(value != -128, invalid_argument, "int8 weights must lie in [-127, 127]");
      destination[(k / kGroup) * kGroupBytes + k % kGroup] = value;
      w.sums[j] += value;
    }
  }
  return w;
}

PackedInt8Weights PackedInt8Weights::quantize(const Matrix& weight) {
  std::vector<std::int8_t> values(weight.rows * weight.cols);
  std::vector<float> scales(weight.rows);
  for (std::size_t j = 0; j < weight.rows; ++j) {
    float largest = 0;
    for (float v : weight.row(j)) largest = std::max(largest, std::abs(v));
    scales[j] = largest / 127.0f;
    const float inverse = largest > 0 ? 127.0f / largest : 0.0f;
    for (std::size_t k = 0; k < weight.cols; ++k)
      values[j * weight.cols + k] = quantize_value(weight.at(j, k), inverse);
  }
  return pack(values, weight.rows, weight.cols, scales);
}

void QuantizedRows::quantize(const Matrix& x) {
  rows = x.rows;
  in = x.cols;
  padded_in = round_up(in, kGroup);
  values.resize(rows * padded_in);
  zero_points.resize(rows);
  scales.resize(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const float* row = x.data() + i * in;
    const RowRange range = row_range(row, in);
    const float width = range.high - range.low;
    scales[i] = width / 255.0f;
    const float inverse = width > 0 ? 255.0f / width : 0.0f;
    zero_points[i] = std::clamp(static_cast<int>(std::nearbyint(-range.low * inverse)), 0, 255);
    std::uint8_t* destination = values.data() + i * padded_in;
    quantize_row(row, in, inverse, zero_points[i], destination);
    std::fill(destination + in, destination + padded_in, static_cast<std::uint8_t>(zero_points[i]));
  }
}

void QuantizedRows::assign(std::span<const std::int8_t> quantized, std::size_t row_count, std::size_t in_count) {
  RAGLINE_CHECK(quantized.size() == row_count * in_count, invalid_argument,
                "int8 rows: " << quantized.size() << " values for " << row_count << "×" << in_count);
  std::vector<std::uint8_t> shifted(quantized.size());
  for (std::size_t k = 0; k < quantized.size(); ++k) {
    RAGLINE_CHECK(quantized[k] != -128, invalid_argument, "int8 activations must lie in [-127, 127]");
    shifted[k] = static_cast<std::uint8_t>(quantized[k] + 128);
  }
  assign(shifted, std::vector<std::int32_t>(row_count, 128), row_count, in_count);
}

void QuantizedRows::assign(std::span<const std::uint8_t> quantized, std::span<const std::int32_t> row_zero_points,
                           std::size_t row_count, std::size_t in_count) {
  RAGLINE_CHECK(quantized.size() == row_count * in_count && row_zero_points.size() == row_count, invalid_argument,
                "int8 rows: " << quantized.size() << " values and " << row_zero_points.size() << " zero points for "
                              << row_count << "×" << in_count);
  for (std::int32_t zero_point : row_zero_points)
    RAGLINE_CHECK(zero_point >= 0 && zero_point <= 255, invalid_argument,
                  "int8 rows: zero point " << zero_point << " outside [0, 255]");
  rows = row_count;
  in = in_count;
  padded_in = round_up(in, kGroup);
  values.assign(rows * padded_in, 0);
  zero_points.assign(row_zero_points.begin(), row_zero_points.end());
  scales.assign(rows, 1.0f);
  for (std::size_t i = 0; i < rows; ++i) {
    std::copy_n(quantized.data() + i * in, in, values.data() + i * padded_in);
    std::fill(values.data() + i * padded_in + in, values.data() + (i + 1) * padded_in,
              static_cast<std::uint8_t>(zero_points[i]));
  }
}

void int8_gemm(const QuantizedRows& a, const PackedInt8Weights& w, std::span<std::int32_t> sums, Int8Kernel kernel) {
  RAGLINE_CHECK(sums.size() == a.rows * w.out, invalid_argument,
                "int8 product: output of " << sums.size() << " values for " << a.rows << "×" << w.out);
  run_gemm(a, w, kernel, 0, a.rows,
           [&](std::size_t row0, std::size_t rows, std::size_t column0, std::size_t columns, const std::int32_t* tile,
               std::size_t ldo) {
             for (std::size_t r = 0; r < rows; ++r)
               std::copy_n(tile + r * ldo, columns, sums.data() + (row0 + r) * w.out + column0);
           });
}

void int8_linear(const QuantizedRows& a, const PackedInt8Weights& w, std::span<const float> bias, Matrix& output) {
  RAGLINE_CHECK(bias.empty() || bias.size() == w.out, invalid_argument,
                "int8 linear: bias of " << bias.size() << " values for " << w.out << " outputs");
  output.resize(a.rows, w.out);
  thread_local std::vector<float> zeros;
  if (bias.empty()) {
    zeros.assign(w.out, 0.0f);
    bias = zeros;
  }
  const auto run_rows = [&](std::size_t row_begin, std::size_t row_end) {
    run_gemm(a, w, best_int8_kernel(), row_begin, row_end,
             [&](std::size_t row0, std::size_t rows, std::size_t column0, std::size_t columns, const std::int32_t* tile,
                 std::size_t ldo) {
               for (std::size_t r = 0; r < rows; ++r) {
                 dequantize_row(tile + r * ldo, columns, a.scales[row0 + r], w.scales.data() + column0,
                                bias.data() + column0, output.data() + (row0 + r) * w.out + column0);
               }
             });
  };
  // Row ranges of whole chunks, one per thread (the runtime's thread count), the first on the
  // calling thread.
  const std::size_t chunks = (a.rows + kRowChunk - 1) / kRowChunk;
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, thread_count())), chunks);
  if (workers <= 1) {
    run_rows(0, a.rows);
    return;
  }
  const auto range_start = [&](std::size_t i) { return std::min(a.rows, (chunks * i / workers) * kRowChunk); };
  std::vector<std::thread> helpers;
  for (std::size_t i = 1; i < workers; ++i) helpers.emplace_back(run_rows, range_start(i), range_start(i + 1));
  run_rows(0, range_start(1));
  for (auto& helper : helpers) helper.join();
}

}  // namespace ragline::models::local
