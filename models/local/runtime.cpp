#include "models/local/runtime.hpp"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>

#include "core/check.hpp"
#include "models/embedder.hpp"
#include "models/local/vector_loops.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RAGLINE_RUNTIME_X86 1
// GCC 12's AVX-512 headers start several intrinsics from a self-initialised "undefined" vector,
// which -Wuninitialized reports at the header's line (GCC bug 105593, fixed in 12.3).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // clang has no such warning group, and no such report to silence
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

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

namespace {

// -O2 left this residual add scalar (1.4% of the int8 forward pass); restrict and -O3 vectorise it.
RAGLINE_O3 void add_values(float* __restrict x, const float* __restrict y, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) x[i] += y[i];
}

}  // namespace

void add_in_place(Matrix& x, const Matrix& y) {
  RAGLINE_CHECK(x.rows == y.rows && x.cols == y.cols, invalid_argument,
                "adding a " << y.rows << "×" << y.cols << " matrix to a " << x.rows << "×" << x.cols << " one");
  if (&x == &y) {  // add_values' restrict forbids aliasing
    for (float& value : x.values) value += value;
    return;
  }
  add_values(x.data(), y.data(), x.values.size());
}

namespace {

// ---- Portable versions: plain C++ (baseline x86-64 or any other target). ----

// Two passes in double: the mean first, then the variance around it (no cancellation).
RAGLINE_O3 void layer_norm_row_portable(float* __restrict row, const float* __restrict gamma,
                                        const float* __restrict beta, std::size_t count, float eps) {
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
// by the float's exponent bits. The vector versions below compute the same steps.
constexpr float kExpLowest = -87.0f;  // below it e^x leaves float's normal range: 0, as std::exp(-inf)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2High = 0.693359375f;  // ln 2 in two parts, so n · ln 2 is exact enough
constexpr float kLn2Low = -2.12194440e-4f;
constexpr float kExpPolynomial[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                    4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

inline float exp_non_positive(float input) {
  const float x = std::max(input, kExpLowest);
  const float n = std::floor(x * kLog2e + 0.5f);
  const float r = (x - n * kLn2High) - n * kLn2Low;
  float p = kExpPolynomial[0];
  for (std::size_t i = 1; i < std::size(kExpPolynomial); ++i) p = p * r + kExpPolynomial[i];
  const float e_r = p * r * r + r + 1.0f;
  const float two_n = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
  return input < kExpLowest ? 0.0f : e_r * two_n;
}

RAGLINE_O3 void softmax_row_portable(float* __restrict values, std::size_t count) {
  float maximum = values[0];
  for (std::size_t i = 1; i < count; ++i) maximum = std::max(maximum, values[i]);
  // Scalar on baseline x86-64 (GCC does not vectorise this exp loop for SSE2): the AVX2 and
  // AVX-512 versions below are the fast ones.
  for (std::size_t i = 0; i < count; ++i) values[i] = exp_non_positive(values[i] - maximum);
  float sum = 0;
  for (std::size_t i = 0; i < count; ++i) sum += values[i];
  const float scale = 1.0f / sum;
  for (std::size_t i = 0; i < count; ++i) values[i] *= scale;
}

// erf(x) as a ratio of odd and even polynomials on [-3.83, 3.83], where float's erf reaches ±1
// (coefficients of Eigen's generic_fast_erf_float); branch-free.
constexpr float kErfLimit = 3.832506856900711f;
constexpr float kErfNumerator[] = {-2.72614225801306e-10f, 2.77068142495902e-08f,  -2.10102402082508e-06f,
                                   -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                                   -1.60960333262415e-02f};
constexpr float kErfDenominator[] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                                     -7.37332916720468e-03f, -1.42647390514189e-02f};
constexpr float kInverseSqrt2 = 0.70710678118654752f;

inline float fast_erf(float x) {
  x = std::clamp(x, -kErfLimit, kErfLimit);
  const float x2 = x * x;
  float p = kErfNumerator[0];
  for (std::size_t i = 1; i < std::size(kErfNumerator); ++i) p = p * x2 + kErfNumerator[i];
  float q = kErfDenominator[0];
  for (std::size_t i = 1; i < std::size(kErfDenominator); ++i) q = q * x2 + kErfDenominator[i];
  return x * p / q;
}

RAGLINE_O3 void bias_gelu_row_portable(float* __restrict row, const float* __restrict bias, std::size_t count) {
  for (std::size_t c = 0; c < count; ++c) {
    const float value = row[c] + bias[c];
    row[c] = 0.5f * value * (1.0f + fast_erf(value * kInverseSqrt2));
  }
}

#ifdef RAGLINE_RUNTIME_X86

// ---- AVX-512F: 16 floats per vector, tails by masked loads and stores. ----
// (GCC's target_clones of the portable loops stayed scalar for softmax: "control flow in loop".)

#define RAGLINE_AVX512 __attribute__((target("avx512f")))

RAGLINE_AVX512 inline __m512 exp_non_positive_avx512(__m512 input) {
  // max(lowest, input) keeps a NaN input NaN (maxps returns its second operand on NaN).
  const __m512 x = _mm512_max_ps(_mm512_set1_ps(kExpLowest), input);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low), r);
  __m512 p = _mm512_set1_ps(kExpPolynomial[0]);
  for (std::size_t i = 1; i < std::size(kExpPolynomial); ++i)
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPolynomial[i]));
  const __m512 e_r = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i exponent = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  const __mmask16 underflow = _mm512_cmp_ps_mask(input, _mm512_set1_ps(kExpLowest), _CMP_LT_OQ);
  return _mm512_maskz_mul_ps(static_cast<__mmask16>(~underflow), e_r, _mm512_castsi512_ps(exponent));
}

RAGLINE_AVX512 inline __mmask16 tail_mask_avx512(std::size_t remaining) {
  return static_cast<__mmask16>((1u << remaining) - 1u);
}

RAGLINE_AVX512 void softmax_row_avx512(float* __restrict values, std::size_t count) {
  const std::size_t full = count - count % 16;
  const __mmask16 tail = tail_mask_avx512(count % 16);
  __m512 maxima = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::size_t i = 0; i < full; i += 16) maxima = _mm512_max_ps(maxima, _mm512_loadu_ps(values + i));
  if (tail) maxima = _mm512_mask_max_ps(maxima, tail, maxima, _mm512_maskz_loadu_ps(tail, values + full));
  const __m512 maximum = _mm512_set1_ps(_mm512_reduce_max_ps(maxima));
  __m512 sums = _mm512_setzero_ps();
  for (std::size_t i = 0; i < full; i += 16) {
    const __m512 e = exp_non_positive_avx512(_mm512_sub_ps(_mm512_loadu_ps(values + i), maximum));
    _mm512_storeu_ps(values + i, e);
    sums = _mm512_add_ps(sums, e);
  }
  if (tail) {
    const __m512 e = exp_non_positive_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, values + full), maximum));
    _mm512_mask_storeu_ps(values + full, tail, e);
    sums = _mm512_mask_add_ps(sums, tail, sums, e);
  }
  const __m512 scale = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sums));
  for (std::size_t i = 0; i < full; i += 16)
    _mm512_storeu_ps(values + i, _mm512_mul_ps(_mm512_loadu_ps(values + i), scale));
  if (tail)
    _mm512_mask_storeu_ps(values + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, values + full), scale));
}

// The statistics in double lanes (8 per vector), as the portable version sums in double.
RAGLINE_AVX512 void layer_norm_row_avx512(float* __restrict row, const float* __restrict gamma,
                                          const float* __restrict beta, std::size_t count, float eps) {
  const std::size_t full8 = count - count % 8;
  __m512d sum_a = _mm512_setzero_pd(), sum_b = _mm512_setzero_pd();
  std::size_t c = 0;
  for (; c + 16 <= full8; c += 16) {
    sum_a = _mm512_add_pd(sum_a, _mm512_cvtps_pd(_mm256_loadu_ps(row + c)));
    sum_b = _mm512_add_pd(sum_b, _mm512_cvtps_pd(_mm256_loadu_ps(row + c + 8)));
  }
  if (c < full8) sum_a = _mm512_add_pd(sum_a, _mm512_cvtps_pd(_mm256_loadu_ps(row + c)));
  double sum = _mm512_reduce_add_pd(_mm512_add_pd(sum_a, sum_b));
  for (c = full8; c < count; ++c) sum += row[c];
  const double mean = sum / static_cast<double>(count);

  const __m512d mean_vector = _mm512_set1_pd(mean);
  __m512d squares_a = _mm512_setzero_pd(), squares_b = _mm512_setzero_pd();
  for (c = 0; c + 16 <= full8; c += 16) {
    const __m512d d_a = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(row + c)), mean_vector);
    const __m512d d_b = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(row + c + 8)), mean_vector);
    squares_a = _mm512_fmadd_pd(d_a, d_a, squares_a);
    squares_b = _mm512_fmadd_pd(d_b, d_b, squares_b);
  }
  if (c < full8) {
    const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(row + c)), mean_vector);
    squares_a = _mm512_fmadd_pd(d, d, squares_a);
  }
  double squares = _mm512_reduce_add_pd(_mm512_add_pd(squares_a, squares_b));
  for (c = full8; c < count; ++c) squares += (row[c] - mean) * (row[c] - mean);

  const __m512 inverse_std =
      _mm512_set1_ps(static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(count) + eps)));
  const __m512 mean_float = _mm512_set1_ps(static_cast<float>(mean));
  const std::size_t full = count - count % 16;
  for (c = 0; c < full; c += 16) {
    const __m512 normalised = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(row + c), mean_float), inverse_std);
    _mm512_storeu_ps(row + c, _mm512_fmadd_ps(normalised, _mm512_loadu_ps(gamma + c), _mm512_loadu_ps(beta + c)));
  }
  if (const __mmask16 tail = tail_mask_avx512(count % 16)) {
    const __m512 normalised =
        _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, row + full), mean_float), inverse_std);
    _mm512_mask_storeu_ps(row + full, tail,
                          _mm512_fmadd_ps(normalised, _mm512_maskz_loadu_ps(tail, gamma + full),
                                          _mm512_maskz_loadu_ps(tail, beta + full)));
  }
}

RAGLINE_AVX512 inline __m512 bias_gelu_avx512(__m512 value) {
  const __m512 x =
      _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(value, _mm512_set1_ps(kInverseSqrt2)), _mm512_set1_ps(-kErfLimit)),
                    _mm512_set1_ps(kErfLimit));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(kErfNumerator[0]);
  for (std::size_t i = 1; i < std::size(kErfNumerator); ++i)
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(kErfNumerator[i]));
  __m512 q = _mm512_set1_ps(kErfDenominator[0]);
  for (std::size_t i = 1; i < std::size(kErfDenominator); ++i)
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(kErfDenominator[i]));
  const __m512 erf = _mm512_div_ps(_mm512_mul_ps(x, p), q);
  const __m512 half_value = _mm512_mul_ps(value, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(half_value, erf, half_value);
}

RAGLINE_AVX512 void bias_gelu_row_avx512(float* __restrict row, const float* __restrict bias, std::size_t count) {
  const std::size_t full = count - count % 16;
  for (std::size_t c = 0; c < full; c += 16)
    _mm512_storeu_ps(row + c, bias_gelu_avx512(_mm512_add_ps(_mm512_loadu_ps(row + c), _mm512_loadu_ps(bias + c))));
  if (const __mmask16 tail = tail_mask_avx512(count % 16)) {
    const __m512 value =
        _mm512_add_ps(_mm512_maskz_loadu_ps(tail, row + full), _mm512_maskz_loadu_ps(tail, bias + full));
    _mm512_mask_storeu_ps(row + full, tail, bias_gelu_avx512(value));
  }
}

// ---- AVX2 + FMA: 8 floats per vector, tails by the portable versions' scalar steps. ----

#define RAGLINE_AVX2 __attribute__((target("avx2,fma")))

RAGLINE_AVX2 inline __m256 exp_non_positive_avx2(__m256 input) {
  const __m256 x = _mm256_max_ps(_mm256_set1_ps(kExpLowest), input);
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2High), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Low), r);
  __m256 p = _mm256_set1_ps(kExpPolynomial[0]);
  for (std::size_t i = 1; i < std::size(kExpPolynomial); ++i)
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpPolynomial[i]));
  const __m256 e_r = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 underflow = _mm256_cmp_ps(input, _mm256_set1_ps(kExpLowest), _CMP_LT_OQ);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(e_r, _mm256_castsi256_ps(exponent)));
}

RAGLINE_AVX2 inline float horizontal_sum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

RAGLINE_AVX2 inline float horizontal_max_avx2(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

RAGLINE_AVX2 inline double horizontal_sum_avx2(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

RAGLINE_AVX2 void softmax_row_avx2(float* __restrict values, std::size_t count) {
  const std::size_t full = count - count % 8;
  __m256 maxima = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::size_t i = 0; i < full; i += 8) maxima = _mm256_max_ps(maxima, _mm256_loadu_ps(values + i));
  float maximum = horizontal_max_avx2(maxima);
  for (std::size_t i = full; i < count; ++i) maximum = std::max(maximum, values[i]);
  const __m256 maximum_vector = _mm256_set1_ps(maximum);
  __m256 sums = _mm256_setzero_ps();
  for (std::size_t i = 0; i < full; i += 8) {
    const __m256 e = exp_non_positive_avx2(_mm256_sub_ps(_mm256_loadu_ps(values + i), maximum_vector));
    _mm256_storeu_ps(values + i, e);
    sums = _mm256_add_ps(sums, e);
  }
  float sum = horizontal_sum_avx2(sums);
  for (std::size_t i = full; i < count; ++i) sum += values[i] = exp_non_positive(values[i] - maximum);
  const float scale = 1.0f / sum;
  const __m256 scale_vector = _mm256_set1_ps(scale);
  for (std::size_t i = 0; i < full; i += 8)
    _mm256_storeu_ps(values + i, _mm256_mul_ps(_mm256_loadu_ps(values + i), scale_vector));
  for (std::size_t i = full; i < count; ++i) values[i] *= scale;
}

RAGLINE_AVX2 void layer_norm_row_avx2(float* __restrict row, const float* __restrict gamma,
                                      const float* __restrict beta, std::size_t count, float eps) {
  const std::size_t full4 = count - count % 4;
  __m256d sum_a = _mm256_setzero_pd(), sum_b = _mm256_setzero_pd();
  std::size_t c = 0;
  for (; c + 8 <= full4; c += 8) {
    sum_a = _mm256_add_pd(sum_a, _mm256_cvtps_pd(_mm_loadu_ps(row + c)));
    sum_b = _mm256_add_pd(sum_b, _mm256_cvtps_pd(_mm_loadu_ps(row + c + 4)));
  }
  if (c < full4) sum_a = _mm256_add_pd(sum_a, _mm256_cvtps_pd(_mm_loadu_ps(row + c)));
  double sum = horizontal_sum_avx2(_mm256_add_pd(sum_a, sum_b));
  for (c = full4; c < count; ++c) sum += row[c];
  const double mean = sum / static_cast<double>(count);

  const __m256d mean_vector = _mm256_set1_pd(mean);
  __m256d squares_a = _mm256_setzero_pd(), squares_b = _mm256_setzero_pd();
  for (c = 0; c + 8 <= full4; c += 8) {
    const __m256d d_a = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + c)), mean_vector);
    const __m256d d_b = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + c + 4)), mean_vector);
    squares_a = _mm256_fmadd_pd(d_a, d_a, squares_a);
    squares_b = _mm256_fmadd_pd(d_b, d_b, squares_b);
  }
  if (c < full4) {
    const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + c)), mean_vector);
    squares_a = _mm256_fmadd_pd(d, d, squares_a);
  }
  double squares = horizontal_sum_avx2(_mm256_add_pd(squares_a, squares_b));
  for (c = full4; c < count; ++c) squares += (row[c] - mean) * (row[c] - mean);

  const float inverse_std = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(count) + eps));
  const float mean_float = static_cast<float>(mean);
  const __m256 inverse_std_vector = _mm256_set1_ps(inverse_std);
  const __m256 mean_float_vector = _mm256_set1_ps(mean_float);
  const std::size_t full = count - count % 8;
  for (c = 0; c < full; c += 8) {
    const __m256 normalised =
        _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + c), mean_float_vector), inverse_std_vector);
    _mm256_storeu_ps(row + c, _mm256_fmadd_ps(normalised, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
  }
  for (c = full; c < count; ++c) row[c] = (row[c] - mean_float) * inverse_std * gamma[c] + beta[c];
}

RAGLINE_AVX2 void bias_gelu_row_avx2(float* __restrict row, const float* __restrict bias, std::size_t count) {
  const std::size_t full = count - count % 8;
  for (std::size_t c = 0; c < full; c += 8) {
    const __m256 value = _mm256_add_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(bias + c));
    const __m256 x =
        _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(value, _mm256_set1_ps(kInverseSqrt2)), _mm256_set1_ps(-kErfLimit)),
                      _mm256_set1_ps(kErfLimit));
    const __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(kErfNumerator[0]);
    for (std::size_t i = 1; i < std::size(kErfNumerator); ++i)
      p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(kErfNumerator[i]));
    __m256 q = _mm256_set1_ps(kErfDenominator[0]);
    for (std::size_t i = 1; i < std::size(kErfDenominator); ++i)
      q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(kErfDenominator[i]));
    const __m256 erf = _mm256_div_ps(_mm256_mul_ps(x, p), q);
    const __m256 half_value = _mm256_mul_ps(value, _mm256_set1_ps(0.5f));
    _mm256_storeu_ps(row + c, _mm256_fmadd_ps(half_value, erf, half_value));
  }
  bias_gelu_row_portable(row + full, bias + full, count - full);
}

#endif  // RAGLINE_RUNTIME_X86

struct RowKernels {
  void (*layer_norm_row)(float*, const float*, const float*, std::size_t, float);
  void (*softmax_row)(float*, std::size_t);
  void (*bias_gelu_row)(float*, const float*, std::size_t);
};

const RowKernels& row_kernels(VectorIsa isa) {
  RAGLINE_CHECK(vector_isa_supported(isa), invalid_argument,
                "vector kernels " << vector_isa_name(isa) << " are not supported on this CPU");
  static constexpr RowKernels portable{layer_norm_row_portable, softmax_row_portable, bias_gelu_row_portable};
#ifdef RAGLINE_RUNTIME_X86
  static constexpr RowKernels avx2{layer_norm_row_avx2, softmax_row_avx2, bias_gelu_row_avx2};
  static constexpr RowKernels avx512{layer_norm_row_avx512, softmax_row_avx512, bias_gelu_row_avx512};
  if (isa == VectorIsa::avx512) return avx512;
  if (isa == VectorIsa::avx2) return avx2;
#endif
  return portable;
}

VectorIsa detect_best_vector_isa() {
  VectorIsa best = VectorIsa::portable;
  for (VectorIsa candidate : {VectorIsa::avx2, VectorIsa::avx512})
    if (vector_isa_supported(candidate)) best = candidate;
  if (const char* requested = std::getenv("RAGLINE_VECTOR_ISA")) {
    for (VectorIsa candidate : {VectorIsa::portable, VectorIsa::avx2, VectorIsa::avx512}) {
      if (vector_isa_name(candidate) == requested && vector_isa_supported(candidate)) return candidate;
    }
  }
  return best;
}

}  // namespace

std::string_view vector_isa_name(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::avx2:
      return "avx2";
    case VectorIsa::avx512:
      return "avx512";
    default:
      return "portable";
  }
}

bool vector_isa_supported(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::portable:
      return true;
#ifdef RAGLINE_RUNTIME_X86
    case VectorIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case VectorIsa::avx512:
      return __builtin_cpu_supports("avx512f");
#endif
    default:
      return false;
  }
}

VectorIsa best_vector_isa() {
  static const VectorIsa best = detect_best_vector_isa();
  return best;
}

void layer_norm(Matrix& x, std::span<const float> gamma, std::span<const float> beta, float eps, VectorIsa isa) {
  RAGLINE_CHECK(
      gamma.size() == x.cols && beta.size() == x.cols, invalid_argument,
      "layer norm parameters of " << gamma.size() << "/" << beta.size() << " values for " << x.cols << " columns");
  if (x.cols == 0) return;
  const auto row_function = row_kernels(isa).layer_norm_row;
  for (std::size_t r = 0; r < x.rows; ++r) row_function(x.data() + r * x.cols, gamma.data(), beta.data(), x.cols, eps);
}

void softmax(std::span<float> values, VectorIsa isa) {
  if (values.empty()) return;
  row_kernels(isa).softmax_row(values.data(), values.size());
}

void softmax_rows(Matrix& x) {
  if (x.cols == 0) return;
  const auto row_function = row_kernels(best_vector_isa()).softmax_row;
  for (std::size_t r = 0; r < x.rows; ++r) row_function(x.data() + r * x.cols, x.cols);
}

void gelu_erf(Matrix& x) {
  for (float& value : x.values) value = 0.5f * value * (1.0f + std::erf(value * kInverseSqrt2));
}

void bias_gelu_erf(Matrix& x, std::span<const float> bias, VectorIsa isa) {
  RAGLINE_CHECK(bias.empty() || bias.size() == x.cols, invalid_argument,
                "bias of " << bias.size() << " values for a matrix of " << x.cols << " columns");
  const std::vector<float> zeros(bias.empty() ? x.cols : 0, 0.0f);
  const float* bias_values = bias.empty() ? zeros.data() : bias.data();
  const auto row_function = row_kernels(isa).bias_gelu_row;
  for (std::size_t r = 0; r < x.rows; ++r) row_function(x.data() + r * x.cols, bias_values, x.cols);
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
  const auto softmax_row = row_kernels(best_vector_isa()).softmax_row;
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
      for (std::size_t row = 0; row < length; ++row) softmax_row(scores.data() + row * length, length);
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
