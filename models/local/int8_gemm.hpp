#pragma once
// int8 matrix products for the local runtime's quantised path (precision int8): linear layers
// whose weights are quantised once at load, per output channel, and whose activations are
// quantised per row at each call, then multiplied in 8-bit integers with 32-bit accumulation
// and dequantised to float32 (bias added there). Everything around them (layer norms, softmax,
// GELU, attention) stays float32.
//
// Quantisation
// - weight row j (an output channel), symmetric: scale_j = max|w_j| / 127, q = round(w / scale_j),
//   in [-127, 127]; Σ_k qw[j][k] is kept per channel;
// - activation row i, asymmetric (unsigned with a zero point), recomputed at every call: the range
//   [min(x_i, 0), max(x_i, 0)] maps onto 0..255, scale_i = range / 255, zp_i = round(-min / scale_i),
//   qx = clamp(round(x / scale_i) + zp_i, 0, 255). Symmetric rows would spend half of the 8 bits on
//   a side some rows barely use (GELU's output, the FFN down-projection's input, is >= -0.17);
//   with a zero point the whole 0..255 covers the row's real range;
// - output[i][j] = scale_i · scale_j · (Σ_k qx[i][k] · qw[j][k] − zp_i · Σ_k qw[j][k]) + bias[j].
//   The bracket is an exact integer, so every kernel gives the same one.
//
// Kernels (chosen at run time from the CPU's features, __builtin_cpu_supports)
// - avx512_vnni: vpdpbusd (unsigned × signed bytes, 4 products summed into each int32 lane without
//   saturation): exactly the u8 activation × s8 weight product.
// - avx2: activations zero-extended and weights sign-extended to int16, multiplied with vpmaddwd
//   (2 products per int32 lane, at most 2 · 255 · 127). vpmaddubsw would be twice as wide but
//   saturates at int16, so its results would not be exact.
// - scalar: portable C++, the reference the others are tested against.
// All kernels read the same packed weight layout, subtract zp_i · Σ_k qw[j][k] themselves, and give
// identical int32 sums. Weights never take -128, activations any of 0..255; with in <= 66,000
// inputs nothing leaves int32.
//
// Thread safety: packed weights are read-only after packing; int8_linear writes only its output.
// Threads: int8_gemm runs on the calling thread; int8_linear splits the rows over the runtime's
// thread count (runtime.hpp, set_thread_count), starting helper threads for the call when it
// is above 1 and there are at least two 64-row chunks.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ragline::models::local {

struct Matrix;

enum class Int8Kernel { scalar, avx2, avx512_vnni };

// "scalar", "avx2", "avx512-vnni".
std::string_view int8_kernel_name(Int8Kernel kernel);
// Whether this CPU (and this build) can run the kernel; scalar always can.
bool int8_kernel_supported(Int8Kernel kernel);
// The fastest supported kernel; the environment variable RAGLINE_INT8_KERNEL (scalar, avx2,
// avx512-vnni) may ask for a slower one, e.g. to compare them; an unsupported request is ignored.
Int8Kernel best_int8_kernel();

// A weight matrix (out × in, PyTorch's layout) quantised per output channel and packed for the
// kernels: columns in blocks of 16 output channels, and within a block, groups of 4 consecutive
// inputs of each of the 16 channels side by side (64 bytes), so one 512-bit load feeds
// vpdpbusd. in is padded to a multiple of 4, out to a multiple of 16, both with zeros.
struct PackedInt8Weights {
  std::size_t out = 0;              // output channels (rows of the float weight)
  std::size_t in = 0;               // inputs (columns of the float weight)
  std::size_t padded_in = 0;        // in rounded up to a multiple of 4
  std::size_t padded_out = 0;       // out rounded up to a multiple of 16
  std::vector<std::int8_t> packed;  // padded_out / 16 blocks of padded_in / 4 groups of 64 bytes
  std::vector<float> scales;        // out: dequantisation scale of each channel
  std::vector<std::int32_t> sums;   // padded_out: Σ_k q[j][k], for the zero-point correction

  // Quantises and packs weight (out × in). All-zero rows get scale 0 and give zero outputs.
  static PackedInt8Weights quantize(const Matrix& weight);
  // Packs already quantised weights (out × in, row-major, each in [-127, 127]) with the given
  // scales: used by the tests to feed exact integers.
  static PackedInt8Weights pack(std::span<const std::int8_t> values, std::size_t out, std::size_t in,
                                std::span<const float> scales);
};

// Activations quantised per row: rows × padded_in unsigned values (padding = the row's zero point,
// which stands for 0), a scale and a zero point per row.
struct QuantizedRows {
  std::size_t rows = 0;
  std::size_t in = 0;
  std::size_t padded_in = 0;
  std::vector<std::uint8_t> values;
  std::vector<std::int32_t> zero_points;  // rows, each in [0, 255]
  std::vector<float> scales;

  // Quantises x (rows × in) into *this, reusing its storage.
  void quantize(const Matrix& x);
  // Takes already quantised signed rows (rows × in, each value in [-127, 127]) with scale 1: stored
  // as value + 128 with zero point 128.
  void assign(std::span<const std::int8_t> quantized, std::size_t row_count, std::size_t in_count);
  // Takes already quantised unsigned rows (rows × in) with their zero points (each in [0, 255]) and
  // scale 1: used by the tests to feed exact integers.
  void assign(std::span<const std::uint8_t> quantized, std::span<const std::int32_t> row_zero_points,
              std::size_t row_count, std::size_t in_count);
};

// sums (a.rows × w.out, row-major) = exact int32 products (a − zp) · wᵀ, on the given kernel (which
// must be supported). Throws Error(invalid_argument) on mismatched inner sizes or an unsupported
// kernel.
void int8_gemm(const QuantizedRows& a, const PackedInt8Weights& w, std::span<std::int32_t> sums, Int8Kernel kernel);

// output (a.rows × w.out) = dequantised a · wᵀ + bias (bias empty: none), on best_int8_kernel().
void int8_linear(const QuantizedRows& a, const PackedInt8Weights& w, std::span<const float> bias, Matrix& output);

}  // namespace ragline::models::local
