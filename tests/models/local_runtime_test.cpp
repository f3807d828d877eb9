// The local transformer runtime (models/local/runtime.hpp): each operation against a naive loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>

#include "models/local/runtime.hpp"
#include "ragline/error.hpp"

namespace ragline::models::local {
namespace {

Matrix random_matrix(std::size_t rows, std::size_t cols, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  Matrix m(rows, cols);
  for (float& value : m.values) value = normal(rng);
  return m;
}

std::vector<float> random_vector(std::size_t size, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(size);
  for (float& value : values) value = normal(rng);
  return values;
}

void expect_near(const Matrix& actual, const Matrix& expected, float tolerance) {
  ASSERT_EQ(actual.rows, expected.rows);
  ASSERT_EQ(actual.cols, expected.cols);
  for (std::size_t i = 0; i < actual.values.size(); ++i) {
    ASSERT_NEAR(actual.values[i], expected.values[i], tolerance)
        << "at row " << i / actual.cols << " col " << i % actual.cols;
  }
}

Matrix transpose(const Matrix& m) {
  Matrix t(m.cols, m.rows);
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c) t.at(c, r) = m.at(r, c);
  return t;
}

Matrix naive_product(const Matrix& a, const Matrix& b) {
  Matrix c(a.rows, b.cols);
  for (std::size_t i = 0; i < a.rows; ++i)
    for (std::size_t j = 0; j < b.cols; ++j) {
      double sum = 0;
      for (std::size_t p = 0; p < a.cols; ++p) sum += static_cast<double>(a.at(i, p)) * b.at(p, j);
      c.at(i, j) = static_cast<float>(sum);
    }
  return c;
}

TEST(LocalRuntime, MatmulMatchesNaiveProductForEveryTransposition) {
  std::mt19937 rng(1);
  const Matrix a = random_matrix(7, 5, rng);
  const Matrix b = random_matrix(5, 9, rng);
  const Matrix expected = naive_product(a, b);
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      Matrix out;
      matmul(transpose_a ? transpose(a) : a, transpose_a, transpose_b ? transpose(b) : b, transpose_b, out);
      expect_near(out, expected, 1e-4f);
    }
  }
}

TEST(LocalRuntime, MatmulScalesAndAccumulatesAndRejectsBadShapes) {
  std::mt19937 rng(2);
  const Matrix a = random_matrix(3, 4, rng);
  const Matrix b = random_matrix(4, 2, rng);
  Matrix out = random_matrix(3, 2, rng);
  Matrix expected = naive_product(a, b);
  for (std::size_t i = 0; i < expected.values.size(); ++i)
    expected.values[i] = 2 * expected.values[i] + 0.5f * out.values[i];
  matmul(a, false, b, false, out, 2.0f, 0.5f);
  expect_near(out, expected, 1e-4f);
  Matrix wrong;
  EXPECT_THROW(matmul(a, false, a, false, wrong), Error);
  Matrix mis_shaped(2, 2);
  EXPECT_THROW(matmul(a, false, b, false, mis_shaped, 1.0f, 1.0f), Error);
}

TEST(LocalRuntime, LinearIsInputTimesWeightTransposedPlusBias) {
  std::mt19937 rng(3);
  const Matrix input = random_matrix(6, 8, rng);
  const Matrix weight = random_matrix(3, 8, rng);  // out × in, PyTorch's layout
  const auto bias = random_vector(3, rng);
  Matrix out;
  linear(input, weight, bias, out);
  Matrix expected = naive_product(input, transpose(weight));
  for (std::size_t r = 0; r < expected.rows; ++r)
    for (std::size_t c = 0; c < 3; ++c) expected.at(r, c) += bias[c];
  expect_near(out, expected, 1e-4f);
  Matrix no_bias;
  linear(input, weight, {}, no_bias);
  expect_near(no_bias, naive_product(input, transpose(weight)), 1e-4f);
}

TEST(LocalRuntime, BiasAndResidualAdd) {
  std::mt19937 rng(4);
  Matrix x = random_matrix(3, 4, rng);
  const Matrix y = random_matrix(3, 4, rng);
  const auto bias = random_vector(4, rng);
  Matrix expected = x;
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 4; ++c) expected.at(r, c) += bias[c] + y.at(r, c);
  add_bias(x, bias);
  add_in_place(x, y);
  expect_near(x, expected, 1e-6f);
  EXPECT_THROW(add_bias(x, std::vector<float>(3)), Error);
  EXPECT_THROW(add_in_place(x, Matrix(4, 3)), Error);
}

TEST(LocalRuntime, LayerNormUsesBiasedVarianceAndEpsilon) {
  std::mt19937 rng(5);
  Matrix x = random_matrix(4, 10, rng, 3.0f);
  x.at(0, 0) = 1000.0f;  // a large offset must not lose precision
  const auto gamma = random_vector(10, rng);
  const auto beta = random_vector(10, rng);
  const float eps = 1e-3f;
  Matrix expected = x;
  for (std::size_t r = 0; r < 4; ++r) {
    double mean = 0, var = 0;
    for (std::size_t c = 0; c < 10; ++c) mean += x.at(r, c) / 10.0;
    for (std::size_t c = 0; c < 10; ++c) var += (x.at(r, c) - mean) * (x.at(r, c) - mean) / 10.0;
    for (std::size_t c = 0; c < 10; ++c)
      expected.at(r, c) = static_cast<float>((x.at(r, c) - mean) / std::sqrt(var + eps) * gamma[c] + beta[c]);
  }
  layer_norm(x, gamma, beta, eps);
  expect_near(x, expected, 1e-4f);
  // A constant row normalises to beta (its variance is zero; eps keeps it finite).
  Matrix constant(1, 10);
  std::fill(constant.values.begin(), constant.values.end(), 7.0f);
  layer_norm(constant, gamma, beta, eps);
  for (std::size_t c = 0; c < 10; ++c) EXPECT_NEAR(constant.at(0, c), beta[c], 1e-5f);
}

TEST(LocalRuntime, SoftmaxRowsSumToOneAndSurviveLargeLogits) {
  Matrix x(2, 3);
  x.values = {1.0f, 2.0f, 3.0f, 1000.0f, 1000.0f, -1000.0f};
  softmax_rows(x);
  const double denominator = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(x.at(0, 0), std::exp(1.0) / denominator, 1e-6);
  EXPECT_NEAR(x.at(0, 2), std::exp(3.0) / denominator, 1e-6);
  EXPECT_NEAR(x.at(1, 0), 0.5f, 1e-6);
  EXPECT_NEAR(x.at(1, 1), 0.5f, 1e-6);
  EXPECT_EQ(x.at(1, 2), 0.0f);
}

TEST(LocalRuntime, ActivationsMatchTheirDefinitions) {
  Matrix x(1, 7);
  x.values = {-5.0f, -1.5f, -0.3f, 0.0f, 0.4f, 1.0f, 6.0f};
  const Matrix input = x;
  Matrix gelu = x, rectified = x, hyperbolic = x;
  gelu_erf(gelu);
  relu(rectified);
  tanh_in_place(hyperbolic);
  for (std::size_t c = 0; c < 7; ++c) {
    const double v = input.values[c];
    EXPECT_NEAR(gelu.values[c], v * 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_EQ(rectified.values[c], v > 0 ? v : 0.0);
    EXPECT_NEAR(hyperbolic.values[c], std::tanh(v), 1e-6);
  }
  // Exact GELU differs from the tanh approximation by about 1e-4 near |x| = 2: the test tells them apart.
  Matrix two(1, 1);
  two.values = {-2.0f};
  gelu_erf(two);
  const double approx = 0.5 * -2.0 * (1 + std::tanh(std::sqrt(2 / M_PI) * (-2.0 + 0.044715 * -8.0)));
  EXPECT_NEAR(two.values[0], -2.0 * 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0))), 1e-7);
  EXPECT_GT(std::abs(two.values[0] - approx), 1e-5);
}

// Attention computed the obvious way: per sequence, per head, per query, a loop over real keys.
Matrix naive_attention(const Matrix& q, const Matrix& k, const Matrix& v, const std::vector<std::size_t>& lengths,
                       std::size_t max_length, std::size_t heads) {
  const std::size_t hidden = q.cols, head_dim = hidden / heads;
  Matrix out(q.rows, hidden);
  for (std::size_t b = 0; b < lengths.size(); ++b)
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < lengths[b]; ++i) {
        std::vector<double> weights(lengths[b]);
        double maximum = -1e300, sum = 0;
        for (std::size_t j = 0; j < lengths[b]; ++j) {
          double dot = 0;
          for (std::size_t d = 0; d < head_dim; ++d)
            dot += q.at(b * max_length + i, h * head_dim + d) * k.at(b * max_length + j, h * head_dim + d);
          weights[j] = dot / std::sqrt(static_cast<double>(head_dim));
          maximum = std::max(maximum, weights[j]);
        }
        for (double& w : weights) sum += (w = std::exp(w - maximum));
        for (std::size_t d = 0; d < head_dim; ++d) {
          double value = 0;
          for (std::size_t j = 0; j < lengths[b]; ++j)
            value += weights[j] / sum * v.at(b * max_length + j, h * head_dim + d);
          out.at(b * max_length + i, h * head_dim + d) = static_cast<float>(value);
        }
      }
  return out;
}

TEST(LocalRuntime, MultiHeadAttentionMasksPaddingLikeNaiveLoops) {
  std::mt19937 rng(6);
  const std::size_t max_length = 6, hidden = 12, heads = 3;
  const std::vector<std::size_t> lengths = {6, 3, 0, 1};
  const Matrix q = random_matrix(lengths.size() * max_length, hidden, rng);
  const Matrix k = random_matrix(lengths.size() * max_length, hidden, rng);
  Matrix v = random_matrix(lengths.size() * max_length, hidden, rng);
  Matrix out;
  multi_head_attention(q, k, v, lengths, max_length, heads, out);
  expect_near(out, naive_attention(q, k, v, lengths, max_length, heads), 1e-5f);
  // Padding rows are zero, and garbage in padded keys/values changes nothing.
  for (std::size_t c = 0; c < hidden; ++c) EXPECT_EQ(out.at(1 * max_length + 4, c), 0.0f);
  Matrix v_dirty = v;
  for (std::size_t c = 0; c < hidden; ++c) v_dirty.at(1 * max_length + 5, c) = 1e6f;
  Matrix out_dirty;
  multi_head_attention(q, k, v_dirty, lengths, max_length, heads, out_dirty);
  expect_near(out_dirty, out, 0.0f);
  EXPECT_THROW(multi_head_attention(q, k, v, lengths, max_length, 5, out), Error);
  EXPECT_THROW(multi_head_attention(q, k, v, std::vector<std::size_t>{7, 0, 0, 0}, max_length, heads, out), Error);
}

TEST(LocalRuntime, FusedQkvAttentionEqualsSeparateMatrices) {
  std::mt19937 rng(16);
  const std::size_t max_length = 7, hidden = 16, heads = 4;
  const std::vector<std::size_t> lengths = {7, 2, 0, 5};
  const std::size_t rows = lengths.size() * max_length;
  const Matrix q = random_matrix(rows, hidden, rng), k = random_matrix(rows, hidden, rng),
               v = random_matrix(rows, hidden, rng);
  Matrix qkv(rows, 3 * hidden);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < hidden; ++c) {
      qkv.at(r, c) = q.at(r, c);
      qkv.at(r, hidden + c) = k.at(r, c);
      qkv.at(r, 2 * hidden + c) = v.at(r, c);
    }
  Matrix fused;
  multi_head_attention_fused(qkv, lengths, max_length, heads, fused);
  expect_near(fused, naive_attention(q, k, v, lengths, max_length, heads), 1e-5f);
  EXPECT_THROW(multi_head_attention_fused(random_matrix(rows, 3 * hidden + 1, rng), lengths, max_length, heads, fused),
               Error);
}

TEST(LocalRuntime, VectorisedSoftmaxAndGeluMatchTheLibraryFunctions) {
  // The polynomial exp of softmax and erf of bias_gelu_erf against std::exp / std::erf, over
  // the range attention scores and intermediate activations take, in odd lengths (vector tails).
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> wide(-30.0f, 30.0f);
  for (std::size_t length : {1u, 7u, 33u, 161u}) {
    std::vector<float> values(length);
    for (float& v : values) v = wide(rng);
    std::vector<double> expected(length);
    const double maximum = *std::max_element(values.begin(), values.end());
    double sum = 0;
    for (std::size_t i = 0; i < length; ++i) sum += expected[i] = std::exp(values[i] - maximum);
    softmax(values);
    for (std::size_t i = 0; i < length; ++i) EXPECT_NEAR(values[i], expected[i] / sum, 1e-6 + 1e-5 * expected[i] / sum);
  }
  Matrix x(3, 37);
  std::vector<float> bias(37);
  std::uniform_real_distribution<float> activations(-8.0f, 8.0f);
  for (float& v : x.values) v = activations(rng);
  for (float& v : bias) v = activations(rng) / 4;
  Matrix reference = x;
  add_bias(reference, bias);
  gelu_erf(reference);
  bias_gelu_erf(x, bias);
  expect_near(x, reference, 2e-6f);
  Matrix no_bias(1, 5);
  no_bias.values = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f};
  Matrix no_bias_reference = no_bias;
  gelu_erf(no_bias_reference);
  bias_gelu_erf(no_bias, {});
  expect_near(no_bias, no_bias_reference, 1e-6f);
  EXPECT_THROW(bias_gelu_erf(no_bias, std::vector<float>(4)), Error);
}

std::vector<VectorIsa> supported_vector_isas() {
  std::vector<VectorIsa> isas;
  for (VectorIsa isa : {VectorIsa::portable, VectorIsa::avx2, VectorIsa::avx512})
    if (vector_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

TEST(LocalRuntime, EveryVectorIsaMatchesTheDefinitionsInEveryTail) {
  ASSERT_TRUE(vector_isa_supported(VectorIsa::portable));
  ASSERT_TRUE(vector_isa_supported(best_vector_isa()));
  std::mt19937 rng(34);
  // Lengths around both vector widths (8, 16) and their doubles, so every tail size occurs.
  const std::vector<std::size_t> lengths = {1, 2, 3, 5, 7, 8, 9, 12, 15, 16, 17, 23, 31, 32, 33, 47, 132, 384, 389};
  for (VectorIsa isa : supported_vector_isas()) {
    const std::string name(vector_isa_name(isa));
    for (std::size_t length : lengths) {
      // Softmax: scores spread over ±60, so some fall more than 87 below the maximum (exactly 0).
      std::uniform_real_distribution<float> scores(-60.0f, 60.0f);
      std::vector<float> values(length);
      for (float& v : values) v = scores(rng);
      const double maximum = *std::max_element(values.begin(), values.end());
      std::vector<double> expected(length);
      double sum = 0;
      for (std::size_t i = 0; i < length; ++i) sum += expected[i] = std::exp(values[i] - maximum);
      const std::vector<float> input = values;
      softmax(values, isa);
      for (std::size_t i = 0; i < length; ++i) {
        if (input[i] - maximum < -87.0) {
          EXPECT_EQ(values[i], 0.0f) << name << " length " << length;
        } else {
          EXPECT_NEAR(values[i], expected[i] / sum, 1e-6 + 1e-5 * expected[i] / sum) << name << " length " << length;
        }
      }

      // Layer norm on a row with a large offset: the double accumulation keeps the variance.
      Matrix x = random_matrix(2, length, rng, 2.0f);
      for (float& v : x.row(1)) v += 3000.0f;
      const auto gamma = random_vector(length, rng);
      const auto beta = random_vector(length, rng);
      Matrix normalised = x;
      layer_norm(normalised, gamma, beta, 1e-5f, isa);
      for (std::size_t r = 0; r < x.rows; ++r) {
        double mean = 0, var = 0;
        for (float v : x.row(r)) mean += v;
        mean /= static_cast<double>(length);
        for (float v : x.row(r)) var += (v - mean) * (v - mean);
        var /= static_cast<double>(length);
        for (std::size_t c = 0; c < length; ++c) {
          const double want = (x.at(r, c) - mean) / std::sqrt(var + 1e-5) * gamma[c] + beta[c];
          // Float rounding of the mean (half an ulp of |mean|) is the one error the offset scales.
          const double tolerance =
              1e-5 * (1.0 + std::abs(want)) + std::abs(gamma[c]) * std::abs(mean) * 6e-8 / std::sqrt(var + 1e-5);
          ASSERT_NEAR(normalised.at(r, c), want, tolerance) << name << " length " << length;
        }
      }

      // Bias + GELU against std::erf, including |x| past erf's clamp at 3.83·√2.
      std::uniform_real_distribution<float> activations(-9.0f, 9.0f);
      Matrix gelu(1, length);
      for (float& v : gelu.values) v = activations(rng);
      std::vector<float> bias(length);
      for (float& v : bias) v = activations(rng) / 4;
      Matrix reference = gelu;
      add_bias(reference, bias);
      gelu_erf(reference);
      bias_gelu_erf(gelu, bias, isa);
      for (std::size_t c = 0; c < length; ++c)
        ASSERT_NEAR(gelu.values[c], reference.values[c], 2e-6f) << name << " length " << length;
    }
  }
}

TEST(LocalRuntime, MaskedMeanPoolAveragesRealRowsOnly) {
  std::mt19937 rng(7);
  const std::vector<std::size_t> lengths = {2, 0, 3};
  const Matrix x = random_matrix(9, 4, rng);
  Matrix pooled;
  masked_mean_pool(x, lengths, 3, pooled);
  ASSERT_EQ(pooled.rows, 3u);
  for (std::size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(pooled.at(0, c), (x.at(0, c) + x.at(1, c)) / 2, 1e-6);
    EXPECT_EQ(pooled.at(1, c), 0.0f);
    EXPECT_NEAR(pooled.at(2, c), (x.at(6, c) + x.at(7, c) + x.at(8, c)) / 3, 1e-6);
  }
}

TEST(LocalRuntime, GatherRowsAndL2Normalise) {
  Matrix table(3, 2);
  table.values = {1, 2, 3, 4, 0, 0};
  Matrix out;
  const std::vector<int> ids = {1, 0, 1, 2};
  gather_rows(table, ids, out);
  EXPECT_EQ(out.values, (std::vector<float>{3, 4, 1, 2, 3, 4, 0, 0}));
  l2_normalize_rows(out);
  EXPECT_NEAR(out.at(0, 0), 0.6f, 1e-7);
  EXPECT_NEAR(out.at(0, 1), 0.8f, 1e-7);
  EXPECT_EQ(out.at(3, 0), 0.0f);
  EXPECT_THROW(gather_rows(table, std::vector<int>{3}, out), Error);
  EXPECT_THROW(gather_rows(table, std::vector<int>{-1}, out), Error);
}

TEST(LocalRuntime, ConcurrentCallersOnSharedWeightsGetTheSameResult) {
  std::mt19937 rng(8);
  const Matrix weight = random_matrix(64, 48, rng);  // shared, read-only
  const Matrix input = random_matrix(33, 48, rng);
  Matrix expected;
  linear(input, weight, {}, expected);
  set_thread_count(2);
  EXPECT_GE(thread_count(), 1);
  std::vector<Matrix> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) linear(input, weight, {}, result);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) expect_near(result, expected, 0.0f);
  EXPECT_THROW(set_thread_count(-1), Error);
}

}  // namespace
}  // namespace ragline::models::local
