// The int8 products of the local runtime (models/local/int8_gemm.hpp): every kernel this CPU
// runs (and the scalar one) against plain integer loops, exactly; and the quantised linear layer
// against the float product within the quantisation error.
#include "models/local/int8_gemm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "models/local/runtime.hpp"
#include "ragline/error.hpp"

namespace ragline::models::local {
namespace {

std::vector<std::int8_t> random_int8(std::size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> value(-127, 127);
  std::vector<std::int8_t> values(count);
  for (auto& v : values) v = static_cast<std::int8_t>(value(rng));
  return values;
}

std::vector<Int8Kernel> supported_kernels() {
  std::vector<Int8Kernel> kernels;
  for (Int8Kernel kernel : {Int8Kernel::scalar, Int8Kernel::avx2, Int8Kernel::avx512_vnni})
    if (int8_kernel_supported(kernel)) kernels.push_back(kernel);
  return kernels;
}

// Runs every supported kernel on a · wᵀ (rows × in by out × in) and compares with `expected`.
void expect_every_kernel_gives(const QuantizedRows& a, const PackedInt8Weights& w,
                               const std::vector<std::int32_t>& expected, std::size_t rows, std::size_t out,
                               std::size_t in) {
  for (Int8Kernel kernel : supported_kernels()) {
    std::vector<std::int32_t> sums(rows * out, 12345);
    int8_gemm(a, w, sums, kernel);
    EXPECT_EQ(sums, expected) << int8_kernel_name(kernel) << " on " << rows << "×" << in << " by " << out << "×" << in;
  }
}

TEST(Int8Gemm, EveryKernelGivesTheExactIntegerProduct) {
  std::mt19937 rng(11);
  ASSERT_TRUE(int8_kernel_supported(Int8Kernel::scalar));
  ASSERT_TRUE(int8_kernel_supported(best_int8_kernel()));
  // Odd sizes exercise the padding of inputs (to 4), outputs (to 16) and the row tiles;
  // 384 × 1536 is a MiniLM feed-forward layer; 130 rows cross a row chunk.
  const std::vector<std::array<std::size_t, 3>> shapes = {{1, 1, 1},   {3, 5, 7},      {9, 17, 33},
                                                          {8, 32, 64}, {130, 47, 385}, {20, 1536, 384}};
  for (const auto& [rows, out, in] : shapes) {
    const auto a_values = random_int8(rows * in, rng);
    auto w_values = random_int8(out * in, rng);
    // Extremes: every product at ±127 · ±127, where a saturating int16 kernel would go wrong.
    if (rows > 1) {
      for (std::size_t k = 0; k < in; ++k) w_values[k] = (k % 2) ? 127 : -127;
    }
    QuantizedRows a;
    a.assign(a_values, rows, in);
    const auto w = PackedInt8Weights::pack(w_values, out, in, std::vector<float>(out, 1.0f));
    std::vector<std::int32_t> expected(rows * out);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < out; ++j) {
        std::int64_t sum = 0;
        for (std::size_t k = 0; k < in; ++k) sum += std::int64_t{a_values[i * in + k]} * w_values[j * in + k];
        expected[i * out + j] = static_cast<std::int32_t>(sum);
      }
    expect_every_kernel_gives(a, w, expected, rows, out, in);
  }
}

TEST(Int8Gemm, ExtremeActivationsAgainstExtremeWeightsDoNotSaturate) {
  // All +127 against all -127 (and all -127 against -127) over 1536 inputs: the largest sums.
  for (Int8Kernel kernel : supported_kernels()) {
    for (int sign : {1, -1}) {
      const std::size_t in = 1536;
      QuantizedRows a;
      a.assign(std::vector<std::int8_t>(2 * in, static_cast<std::int8_t>(127 * sign)), 2, in);
      const auto w =
          PackedInt8Weights::pack(std::vector<std::int8_t>(16 * in, -127), 16, in, std::vector<float>(16, 1.0f));
      std::vector<std::int32_t> sums(2 * 16);
      int8_gemm(a, w, sums, kernel);
      for (std::int32_t s : sums) EXPECT_EQ(s, -127 * 127 * 1536 * sign) << int8_kernel_name(kernel);
    }
  }
}

TEST(Int8Gemm, UnsignedActivationsWithZeroPointsGiveTheExactProduct) {
  std::mt19937 rng(23);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::vector<std::array<std::size_t, 3>> shapes = {{1, 1, 1}, {7, 17, 33}, {130, 47, 385}, {20, 384, 1536}};
  for (const auto& [rows, out, in] : shapes) {
    std::vector<std::uint8_t> a_values(rows * in);
    for (auto& v : a_values) v = static_cast<std::uint8_t>(byte(rng));
    // Zero points at both ends and in between; the last row all 255 against the largest weights.
    std::vector<std::int32_t> zero_points(rows);
    for (std::size_t i = 0; i < rows; ++i) zero_points[i] = i % 3 == 0 ? 0 : (i % 3 == 1 ? 255 : byte(rng));
    auto w_values = random_int8(out * in, rng);
    if (rows > 1) {
      std::fill_n(a_values.end() - static_cast<std::ptrdiff_t>(in), in, std::uint8_t{255});
      for (std::size_t k = 0; k < in; ++k) w_values[k] = 127;
      zero_points.back() = 0;
    }
    QuantizedRows a;
    a.assign(a_values, zero_points, rows, in);
    const auto w = PackedInt8Weights::pack(w_values, out, in, std::vector<float>(out, 1.0f));
    std::vector<std::int32_t> expected(rows * out);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < out; ++j) {
        std::int64_t sum = 0;
        for (std::size_t k = 0; k < in; ++k)
          sum += (std::int64_t{a_values[i * in + k]} - zero_points[i]) * w_values[j * in + k];
        expected[i * out + j] = static_cast<std::int32_t>(sum);
      }
    expect_every_kernel_gives(a, w, expected, rows, out, in);
  }
}

TEST(Int8Gemm, ExtremeUnsignedActivationsDoNotSaturate) {
  // 255 with zero point 0 and 0 with zero point 255 against ±127 over 1536 inputs: the largest
  // raw sums (255 · 127 · 1536) and the largest corrections.
  const std::size_t in = 1536;
  for (Int8Kernel kernel : supported_kernels()) {
    for (std::int8_t weight : {std::int8_t{127}, std::int8_t{-127}}) {
      std::vector<std::uint8_t> values(2 * in, 255);
      std::fill(values.begin() + in, values.end(), std::uint8_t{0});
      QuantizedRows a;
      a.assign(values, std::vector<std::int32_t>{0, 255}, 2, in);
      const auto w =
          PackedInt8Weights::pack(std::vector<std::int8_t>(16 * in, weight), 16, in, std::vector<float>(16, 1.0f));
      std::vector<std::int32_t> sums(2 * 16);
      int8_gemm(a, w, sums, kernel);
      for (std::size_t j = 0; j < 16; ++j) {
        EXPECT_EQ(sums[j], 255 * weight * 1536) << int8_kernel_name(kernel);
        EXPECT_EQ(sums[16 + j], -255 * weight * 1536) << int8_kernel_name(kernel);
      }
    }
  }
}

TEST(Int8Gemm, OneSidedRowsUseTheWholeByteRange) {
  // A row like GELU's output (>= -0.17, long positive tail): the zero point sits near 0, the codes
  // span 0..255, zero is exact, and every value comes back within half a step.
  std::mt19937 rng(3);
  std::exponential_distribution<float> tail(1.0f);
  const std::size_t in = 1536;
  Matrix x(2, in);
  for (std::size_t k = 0; k < in; ++k) x.at(0, k) = tail(rng) - 0.17f * static_cast<float>(k % 2);
  x.at(0, 5) = 0.0f;
  x.at(0, 7) = -0.17f;
  // Row 1 all zeros: scale 0, and a product that is exactly the bias.
  QuantizedRows quantized;
  quantized.quantize(x);
  ASSERT_EQ(quantized.zero_points.size(), 2u);
  const std::uint8_t* row = quantized.values.data();
  EXPECT_EQ(*std::min_element(row, row + in), 0);
  EXPECT_EQ(*std::max_element(row, row + in), 255);
  EXPECT_GT(quantized.zero_points[0], 0);
  EXPECT_LT(quantized.zero_points[0], 32);
  EXPECT_EQ(row[5], quantized.zero_points[0]);
  for (std::size_t k = 0; k < in; ++k) {
    const float restored = static_cast<float>(row[k] - quantized.zero_points[0]) * quantized.scales[0];
    EXPECT_NEAR(restored, x.at(0, k), 0.5f * quantized.scales[0] * 1.001f) << k;
  }
  EXPECT_EQ(quantized.scales[1], 0.0f);

  Matrix weight(3, in);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (float& v : weight.values) v = normal(rng);
  const std::vector<float> bias = {0.5f, -1.0f, 2.0f};
  Matrix output;
  int8_linear(quantized, PackedInt8Weights::quantize(weight), bias, output);
  for (std::size_t j = 0; j < 3; ++j) EXPECT_EQ(output.at(1, j), bias[j]);
}

TEST(Int8Gemm, QuantisedLinearIsCloseToTheFloatProduct) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::size_t rows = 37, out = 70, in = 130;
  Matrix x(rows, in), weight(out, in);
  for (float& v : x.values) v = normal(rng);
  for (float& v : weight.values) v = 0.05f * normal(rng);
  for (std::size_t k = 0; k < in; ++k) weight.at(3, k) = 0.0f;  // an all-zero channel: scale 0
  std::vector<float> bias(out);
  for (float& v : bias) v = normal(rng);
  Matrix reference;
  linear(x, weight, bias, reference);

  QuantizedRows quantized;
  quantized.quantize(x);
  const auto packed = PackedInt8Weights::quantize(weight);
  Matrix output;
  int8_linear(quantized, packed, bias, output);
  ASSERT_EQ(output.rows, rows);
  ASSERT_EQ(output.cols, out);
  double error = 0, magnitude = 0;
  for (std::size_t i = 0; i < output.values.size(); ++i) {
    error += std::pow(output.values[i] - reference.values[i], 2);
    magnitude += std::pow(reference.values[i] - bias[i % out], 2);
  }
  // 8-bit quantisation of both sides: relative error of a few per cent at most.
  EXPECT_LT(std::sqrt(error / magnitude), 0.03);
  for (std::size_t i = 0; i < rows; ++i) EXPECT_FLOAT_EQ(output.at(i, 3), bias[3]);
}

TEST(Int8Gemm, MismatchedShapesAndOutOfRangeValuesAreRefused) {
  QuantizedRows a;
  a.assign(std::vector<std::int8_t>(2 * 8, 1), 2, 8);
  const auto w = PackedInt8Weights::pack(std::vector<std::int8_t>(3 * 12, 1), 3, 12, std::vector<float>(3, 1.0f));
  std::vector<std::int32_t> sums(6);
  EXPECT_THROW(int8_gemm(a, w, sums, Int8Kernel::scalar), Error);
  EXPECT_THROW(a.assign(std::vector<std::int8_t>(4, -128), 2, 2), Error);
  EXPECT_THROW(a.assign(std::vector<std::uint8_t>(4, 1), std::vector<std::int32_t>{0, 256}, 2, 2), Error);
  EXPECT_THROW(a.assign(std::vector<std::uint8_t>(4, 1), std::vector<std::int32_t>{0}, 2, 2), Error);
  EXPECT_THROW(PackedInt8Weights::pack(std::vector<std::int8_t>(4, 1), 2, 3, std::vector<float>(2, 1.0f)), Error);
}

}  // namespace
}  // namespace ragline::models::local
