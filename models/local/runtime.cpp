#include "models/local/runtime.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.hpp"
#include "models/embedder.hpp"

namespace ragline::models::local {

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

void layer_norm(Matrix& x, std::span<const float> gamma, std::span<const float> beta, float eps) {
  RAGLINE_CHECK(
      gamma.size() == x.cols && beta.size() == x.cols, invalid_argument,
      "layer norm parameters of " << gamma.size() << "/" << beta.size() << " values for " << x.cols << " columns");
  if (x.cols == 0) return;
  for (std::size_t r = 0; r < x.rows; ++r) {
    float* row = x.data() + r * x.cols;
    // Two passes in double: the mean first, then the variance around it (no cancellation).
    double sum = 0;
    for (std::size_t c = 0; c < x.cols; ++c) sum += row[c];
    const double mean = sum / static_cast<double>(x.cols);
    double squares = 0;
    for (std::size_t c = 0; c < x.cols; ++c) squares += (row[c] - mean) * (row[c] - mean);
    const double inverse_std = 1.0 / std::sqrt(squares / static_cast<double>(x.cols) + eps);
    for (std::size_t c = 0; c < x.cols; ++c) {
      row[c] = static_cast<float>((row[c] - mean) * inverse_std) * gamma[c] + beta[c];
    }
  }
}

void softmax(std::span<float> values) {
  if (values.empty()) return;
  const float maximum = *std::max_element(values.begin(), values.end());
  float sum = 0;
  for (float& value : values) {
    value = std::exp(value - maximum);
    sum += value;
  }
  const float scale = 1.0f / sum;
  for (float& value : values) value *= scale;
}

void softmax_rows(Matrix& x) {
  for (std::size_t r = 0; r < x.rows; ++r) softmax(x.row(r));
}

void gelu_erf(Matrix& x) {
  constexpr float kInverseSqrt2 = 0.70710678118654752f;
  for (float& value : x.values) value = 0.5f * value * (1.0f + std::erf(value * kInverseSqrt2));
}

void relu(Matrix& x) {
  for (float& value : x.values) value = value > 0.0f ? value : 0.0f;
}

void tanh_in_place(Matrix& x) {
  for (float& value : x.values) value = std::tanh(value);
}

void multi_head_attention(const Matrix& q, const Matrix& k, const Matrix& v, std::span<const std::size_t> lengths,
                          std::size_t max_length, std::size_t heads, Matrix& output) {
  const std::size_t hidden = q.cols;
  const std::size_t batch = lengths.size();
  RAGLINE_CHECK(heads > 0 && hidden % heads == 0, invalid_argument,
                "attention: hidden size " << hidden << " is not a multiple of " << heads << " heads");
  RAGLINE_CHECK(
      q.rows == batch * max_length && k.rows == q.rows && v.rows == q.rows && k.cols == hidden && v.cols == hidden,
      invalid_argument,
      "attention: q, k, v must all be " << batch * max_length << "×" << hidden << " (batch " << batch << " × length "
                                        << max_length << ")");
  for (std::size_t length : lengths) {
    RAGLINE_CHECK(length <= max_length, invalid_argument,
                  "attention: sequence length " << length << " exceeds the padded length " << max_length);
  }
  output.resize(q.rows, hidden);
  std::fill(output.values.begin(), output.values.end(), 0.0f);
  const std::size_t head_dim = hidden / heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int ld = static_cast<int>(hidden);
  std::vector<float> scores;
  for (std::size_t b = 0; b < batch; ++b) {
    const std::size_t length = lengths[b];
    if (length == 0) continue;
    const int n = static_cast<int>(length);
    scores.resize(length * length);
    for (std::size_t h = 0; h < heads; ++h) {
      // Head h of sequence b is a strided block of q/k/v: rows from b * max_length, columns from
      // h * head_dim, leading dimension hidden; sgemm reads it in place, without copies. Only the
      // first `length` keys take part, which is the padding mask.
      const std::size_t offset = b * max_length * hidden + h * head_dim;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, static_cast<int>(head_dim), scale, q.data() + offset,
                  ld, k.data() + offset, ld, 0.0f, scores.data(), n);
      for (std::size_t row = 0; row < length; ++row) softmax({scores.data() + row * length, length});
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, static_cast<int>(head_dim), n, 1.0f, scores.data(), n,
                  v.data() + offset, ld, 0.0f, output.data() + offset, ld);
    }
  }
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
