#include "models/local/runtime.hpp"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/check.hpp"
#include "models/embedder.hpp"

namespace ragline::models::local {

const char* blas_core_name() { return openblas_get_corename(); }

void set_thread_count(int threads) {
  RAGLINE_CHECK(threads >= 0, invalid_argument, "thread count must not be negative, got " << threads);
  if (threads > 0) openblas_set_num_threads(threads);
}

int thread_count() { return openblas_get_num_threads(); }

void matmul(const Matrix& a, bool transpose_a, const Matrix& b, bool transpose_b, Matrix& output, float alpha,
            float beta) {
  const std::size_t m = transpose_a ? a.cols : a.rows;
  const std::size_t inner_a = transpose_a ? a.rows : a.cols;
  const std::size_t inner_b = transpose_b ? b.cols : b.rows;
  const std::size_t n = transpose_b ? b.rows : b.cols;
  RAGLINE_CHECK(inner_a == inner_b, invalid_argument,
                "matmul: inner dimensions differ (" << m << "×" << inner_a << " by " << inner_b << "×" << n << ")");
  RAGLINE_CHECK(&output != &a && &output != &b, invalid_argument, "matmul: output must not alias an input");
  if (beta != 0.0f) {
    RAGLINE_CHECK(
        output.rows == m && output.cols == n, invalid_argument,
        "matmul: accumulating into a " << output.rows << "×" << output.cols << " output, need " << m << "×" << n);
  } else {
    output.resize(m, n);
  }
  if (m == 0 || n == 0) return;
  if (inner_a == 0) {
    for (float& value : output.values) value *= beta;
    return;
  }
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(inner_a), alpha, a.data(),
              static_cast<int>(a.cols), b.data(), static_cast<int>(b.cols), beta, output.data(), static_cast<int>(n));
}

void linear(const Matrix& input, const Matrix& weight, std::span<const float> bias, Matrix& output) {
  matmul(input, false, weight, true, output);
  if (!bias.empty()) add_bias(output, bias);
}

void add_bias(Matrix& x, std::span<const float> bias) {
  RAGLINE_CHECK(bias.size() == x.cols, invalid_argument,
                "bias of " << bias.size() << " values for a matrix of " << x.cols << " columns");
  for (std::size_t r = 0; r < x.rows; ++r) {
    float* row = x.data() + r * x.cols;
    for (std::size_t c = 0; c < x.cols; ++c) row[c] += bias[c];
  }
}

void add_in_place(Matrix& x, const Matrix& y) {
  RAGLINE_CHECK(x.rows == y.rows && x.cols == y.cols, invalid_argument,
                "adding a " << y.rows << "×" << y.cols << " matrix to a " << x.rows << "×" << x.cols << " one");
  for (std::size_t i = 0; i < x.values.size(); ++i) x.values[i] += y.values[i];
}

namespace {

// Element loops of the encoder run once per activation: GCC's -O2 vectorises only loops whose
// trip count is a multiple of the vector width, so these ask for -O3's vectoriser and a clone
// per instruction set.
#define RAGLINE_VECTOR_LOOP __attribute__((target_clones("avx512f", "avx2,fma", "default"), optimize("O3")))

RAGLINE_VECTOR_LOOP void layer_norm_row(float* __restrict row, const float* __restrict gamma,
                                        const float* __restrict beta, std::size_t count, float eps) {
  // Two passes in double: the mean first, then the variance around it (no cancellation).
  double sum = 0;
  for (std::size_t c = 0; c < count; ++c) sum += row[c];
  const double mean = sum / static_cast<double>(count);
  double squares = 0;
  for (std::size_t c = 0; c < count; ++c) squares += (row[c] - mean) * (row[c] - mean);
  const float inverse_std = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(count) + eps));
  const float mean_float = static_cast<float>(mean);
  for (std::size_t c = 0; c < count; ++c) row[c] = (row[c] - mean_float) * inverse_std * gamma[c] + beta[c];
}

// e^x for x <= 0 (softmax subtracts the maximum first): x = n·ln 2 + r with |r| <= ln 2 / 2,
// e^r by a degree-6 polynomial (Cephes expf's coefficients, relative error about 1e-7), 2^n
// by the float's exponent bits. Branch-free, so the loop over it vectorises.
inline float exp_non_positive(float input) {
  // Below -87, e^x underflows float's normal range: exactly 0, as std::exp gives for -inf.
  const float x = std::max(input, -87.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = p * r * r + r + 1.0f;
  const float two_n = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
  return input < -87.0f ? 0.0f : e_r * two_n;
}

RAGLINE_VECTOR_LOOP void softmax_row(float* __restrict values, std::size_t count) {
  float maximum = values[0];
  for (std::size_t i = 1; i < count; ++i) maximum = std::max(maximum, values[i]);
  float sum = 0;
  for (std::size_t i = 0; i < count; ++i) {
    values[i] = exp_non_positive(values[i] - maximum);
    sum += values[i];
  }
  const float scale = 1.0f / sum;
  for (std::size_t i = 0; i < count; ++i) values[i] *= scale;
}

}  // namespace

void layer_norm(Matrix& x, std::span<const float> gamma, std::span<const float> beta, float eps) {
  RAGLINE_CHECK(
      gamma.size() == x.cols && beta.size() == x.cols, invalid_argument,
      "layer norm parameters of " << gamma.size() << "/" << beta.size() << " values for " << x.cols << " columns");
  if (x.cols == 0) return;
  for (std::size_t r = 0; r < x.rows; ++r)
    layer_norm_row(x.data() + r * x.cols, gamma.data(), beta.data(), x.cols, eps);
}

void softmax(std::span<float> values) {
  if (values.empty()) return;
  softmax_row(values.data(), values.size());
}

void softmax_rows(Matrix& x) {
  for (std::size_t r = 0; r < x.rows; ++r) softmax(x.row(r));
}

void gelu_erf(Matrix& x) {
  constexpr float kInverseSqrt2 = 0.70710678118654752f;
  for (float& value : x.values) value = 0.5f * value * (1.0f + std::erf(value * kInverseSqrt2));
}

namespace {

// erf(x) as a ratio of odd and even polynomials on [-3.83, 3.83], where float's erf reaches ±1
// (coefficients of Eigen's generic_fast_erf_float); branch-free, so loops over it vectorise.
inline float fast_erf(float x) {
  x = std::clamp(x, -3.832506856900711f, 3.832506856900711f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

RAGLINE_VECTOR_LOOP void bias_gelu_row(float* __restrict row, const float* __restrict bias, std::size_t count) {
  constexpr float kInverseSqrt2 = 0.70710678118654752f;
  for (std::size_t c = 0; c < count; ++c) {
    const float value = row[c] + bias[c];
    row[c] = 0.5f * value * (1.0f + fast_erf(value * kInverseSqrt2));
  }
}

}  // namespace

void bias_gelu_erf(Matrix& x, std::span<const float> bias) {
  RAGLINE_CHECK(bias.empty() || bias.size() == x.cols, invalid_argument,
                "bias of " << bias.size() << " values for a matrix of " << x.cols << " columns");
  const std::vector<float> zeros(bias.empty() ? x.cols : 0, 0.0f);
  const float* bias_values = bias.empty() ? zeros.data() : bias.data();
  for (std::size_t r = 0; r < x.rows; ++r) bias_gelu_row(x.data() + r * x.cols, bias_values, x.cols);
}

void relu(Matrix& x) {
  for (float& value : x.values) value = value > 0.0f ? value : 0.0f;
}

void tanh_in_place(Matrix& x) {
  for (float& value : x.values) value = std::tanh(value);
}

namespace {

// Attention over q, k, v given as pointers into row-major storage with row stride ld (floats).
void attention_strided(const float* q, const float* k, const float* v, std::size_t ld, std::size_t hidden,
                       std::span<const std::size_t> lengths, std::size_t max_length, std::size_t heads,
                       Matrix& output) {
  const std::size_t batch = lengths.size();
  RAGLINE_CHECK(heads > 0 && hidden % heads == 0, invalid_argument,
                "attention: hidden size " << hidden << " is not a multiple of " << heads << " heads");
  for (std::size_t length : lengths) {
    RAGLINE_CHECK(length <= max_length, invalid_argument,
                  "attention: sequence length " << length << " exceeds the padded length " << max_length);
  }
  output.resize(batch * max_length, hidden);
  std::fill(output.values.begin(), output.values.end(), 0.0f);
  const std::size_t head_dim = hidden / heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int ldi = static_cast<int>(ld);
  const int ldo = static_cast<int>(hidden);
  std::vector<float> scores;
  for (std::size_t b = 0; b < batch; ++b) {
    const std::size_t length = lengths[b];
    if (length == 0) continue;
    const int n = static_cast<int>(length);
    scores.resize(length * length);
    for (std::size_t h = 0; h < heads; ++h) {
      // Head h of sequence b is a strided block of q/k/v: rows from b * max_length, columns from
      // h * head_dim, leading dimension ld; sgemm reads it in place, without copies. Only the
      // first `length` keys take part, which is the padding mask.
      const std::size_t offset = b * max_length * ld + h * head_dim;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, static_cast<int>(head_dim), scale, q + offset, ldi,
                  k + offset, ldi, 0.0f, scores.data(), n);
      for (std::size_t row = 0; row < length; ++row) softmax({scores.data() + row * length, length});
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, static_cast<int>(head_dim), n, 1.0f, scores.data(), n,
                  v + offset, ldi, 0.0f, output.data() + b * max_length * hidden + h * head_dim, ldo);
    }
  }
}

}  // namespace

void multi_head_attention(const Matrix& q, const Matrix& k, const Matrix& v, std::span<const std::size_t> lengths,
                          std::size_t max_length, std::size_t heads, Matrix& output) {
  const std::size_t hidden = q.cols;
  const std::size_t batch = lengths.size();
  RAGLINE_CHECK(
      q.rows == batch * max_length && k.rows == q.rows && v.rows == q.rows && k.cols == hidden && v.cols == hidden,
      invalid_argument,
      "attention: q, k, v must all be " << batch * max_length << "×" << hidden << " (batch " << batch << " × length "
                                        << max_length << ")");
  attention_strided(q.data(), k.data(), v.data(), hidden, hidden, lengths, max_length, heads, output);
}

void multi_head_attention_fused(const Matrix& qkv, std::span<const std::size_t> lengths, std::size_t max_length,
                                std::size_t heads, Matrix& output) {
  const std::size_t batch = lengths.size();
  RAGLINE_CHECK(
      qkv.rows == batch * max_length && qkv.cols % 3 == 0, invalid_argument,
      "attention: fused q|k|v must be " << batch * max_length << "×(3·hidden), got " << qkv.rows << "×" << qkv.cols);
  const std::size_t hidden = qkv.cols / 3;
  attention_strided(qkv.data(), qkv.data() + hidden, qkv.data() + 2 * hidden, qkv.cols, hidden, lengths, max_length,
                    heads, output);
}

void masked_mean_pool(const Matrix& x, std::span<const std::size_t> lengths, std::size_t max_length, Matrix& output) {
  RAGLINE_CHECK(x.rows == lengths.size() * max_length, invalid_argument,
                "mean pooling: " << x.rows << " rows for " << lengths.size() << " sequences of " << max_length);
  output.resize(lengths.size(), x.cols);
  std::fill(output.values.begin(), output.values.end(), 0.0f);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    RAGLINE_CHECK(lengths[b] <= max_length, invalid_argument,
                  "mean pooling: length " << lengths[b] << " exceeds the padded length " << max_length);
    if (lengths[b] == 0) continue;
    float* pooled = output.data() + b * x.cols;
    for (std::size_t t = 0; t < lengths[b]; ++t) {
      const float* row = x.data() + (b * max_length + t) * x.cols;
      for (std::size_t c = 0; c < x.cols; ++c) pooled[c] += row[c];
    }
    const float scale = 1.0f / static_cast<float>(lengths[b]);
    for (std::size_t c = 0; c < x.cols; ++c) pooled[c] *= scale;
  }
}

void gather_rows(const Matrix& table, std::span<const int> ids, Matrix& output) {
  output.resize(ids.size(), table.cols);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    RAGLINE_CHECK(ids[i] >= 0 && static_cast<std::size_t>(ids[i]) < table.rows, invalid_argument,
                  "embedding lookup: id " << ids[i] << " outside a table of " << table.rows << " rows");
    std::memcpy(output.data() + i * table.cols, table.data() + static_cast<std::size_t>(ids[i]) * table.cols,
                table.cols * sizeof(float));
  }
}

void l2_normalize_rows(Matrix& x) {
  for (std::size_t r = 0; r < x.rows; ++r) normalize_vector(x.row(r));
}

}  // namespace ragline::models::local
