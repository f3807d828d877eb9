// The int8 products of the local runtime (models/local/int8_gemm.hpp): every kernel this CPU
// runs (and the scalar one) against plain integer loops, exactly; and the quantised linear layer
// against the float product within the quantisation error.
#include "models/local/int8_gemm.hpp"

#include <gtest/gtest.h>

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
    for (Int8Kernel kernel : supported_kernels()) {
      std::vector<std::int32_t> sums(rows * out, 12345);
      int8_gemm(a, w, sums, kernel);
      EXPECT_EQ(sums, expected) << int8_kernel_name(kernel) << " on " << rows << "×" << in << " by " << out << "×"
                                << in;
    }
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
  // 8-bit symmetric quantisation of both sides: relative error of a few per cent at most.
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
  EXPECT_THROW(PackedInt8Weights::pack(std::vector<std::int8_t>(4, 1), 2, 3, std::vector<float>(2, 1.0f)), Error);
}

}  // namespace
}  // namespace ragline::models::local
