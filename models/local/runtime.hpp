#pragma once
// A small float32 transformer runtime for local embedding models (BERT, Universal Sentence
// Encoder Lite): row-major matrices, matrix products through OpenBLAS cblas_sgemm, and the
// element-wise and row-wise operations an encoder layer needs.
//
// Conventions
// - Every tensor is a Matrix: rows × cols float32, row-major, owning its storage. A batch of
//   sequences is one Matrix of (batch * max_length) rows × hidden columns: sequence b occupies
//   rows [b * max_length, (b + 1) * max_length), of which the first lengths[b] are real tokens
//   and the rest padding.
// - Linear layers keep PyTorch's layout: weight is out_features × in_features, and
//   linear(x, W, b) computes x · Wᵀ + b, so weights load without transposing.
//
// Thread safety
// - Loaded weights are read-only after loading and may be shared by any number of threads.
// - Every function here is reentrant: it touches only its arguments (outputs are written, inputs
//   only read), so an embedder whose embed() keeps its activations in locals is thread-safe.
// - The thread count (set_thread_count) is process-wide: it is OpenBLAS's own pool, which every
//   cblas_sgemm in the process shares. OpenBLAS (pthread build, >= 0.3.7) serialises or runs
//   concurrent callers safely.

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace ragline::models::local {

struct Matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> values;  // rows * cols, row-major

  Matrix() = default;
  // Zero-filled.
  Matrix(std::size_t row_count, std::size_t col_count)
      : rows(row_count), cols(col_count), values(row_count * col_count) {}

  // Reshapes to rows × cols, keeping the allocation when it is large enough; values are
  // unspecified afterwards (callers overwrite them).
  void resize(std::size_t row_count, std::size_t col_count) {
    rows = row_count;
    cols = col_count;
    values.resize(row_count * col_count);
  }
  float* data() { return values.data(); }
  const float* data() const { return values.data(); }
  std::span<float> row(std::size_t i) { return {values.data() + i * cols, cols}; }
  std::span<const float> row(std::size_t i) const { return {values.data() + i * cols, cols}; }
  float& at(std::size_t r, std::size_t c) { return values[r * cols + c]; }
  float at(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
};

// The name of the kernel set OpenBLAS runs (its own CPU detection, or $OPENBLAS_CORETYPE), for
// reports: OpenBLAS 0.3.21 picks Cooperlake (AVX-512) on AMD Zen 5, and a forced Haswell
// (AVX2) halves its sgemm rate there.
const char* blas_core_name();

// Threads OpenBLAS may use for one product (process-wide; >= 1). 0 leaves OpenBLAS's default
// (OPENBLAS_NUM_THREADS or the core count).
void set_thread_count(int threads);
int thread_count();

// output = alpha · op(a) · op(b) + beta · output, op(x) = x or xᵀ. output is resized (and its
// prior values used only when beta != 0, which then requires the right shape). Throws
// Error(invalid_argument) on mismatched shapes.
void matmul(const Matrix& a, bool transpose_a, const Matrix& b, bool transpose_b, Matrix& output, float alpha = 1.0f,
            float beta = 0.0f);

// output = input · weightᵀ + bias (bias may be empty: no bias). weight is out × in.
void linear(const Matrix& input, const Matrix& weight, std::span<const float> bias, Matrix& output);

// Adds bias (cols long) to every row.
void add_bias(Matrix& x, std::span<const float> bias);
// x += y (same shape): residual connections.
void add_in_place(Matrix& x, const Matrix& y);

// Instruction sets the row-wise kernels (layer norm, softmax, bias + GELU) are written for:
// AVX-512F (16 floats a vector, masked tails), AVX2 + FMA (8 floats) and portable C++.
// best_vector_isa() is the widest the CPU supports (__builtin_cpu_supports), chosen once per
// process; RAGLINE_VECTOR_ISA=portable|avx2|avx512 asks for another supported one (for
// comparisons). An explicit isa the CPU lacks throws Error(invalid_argument). The versions
// differ only in rounding (FMA, summation order): within about 1e-6 of each other.
enum class VectorIsa { portable, avx2, avx512 };
std::string_view vector_isa_name(VectorIsa isa);
bool vector_isa_supported(VectorIsa isa);
VectorIsa best_vector_isa();

// Per row: (x - mean) / sqrt(var + eps) * gamma + beta, var the biased variance (as PyTorch's
// LayerNorm), mean and variance accumulated in double (two passes: no cancellation). gamma and
// beta are cols long.
void layer_norm(Matrix& x, std::span<const float> gamma, std::span<const float> beta, float eps,
                VectorIsa isa = best_vector_isa());

// Softmax of each row in place (max-subtracted, so large logits do not overflow). exp is a
// polynomial (Cephes expf's, relative error about 1e-7); inputs below the maximum by more than
// 87 give exactly 0.
void softmax_rows(Matrix& x);
// Softmax over one span in place.
void softmax(std::span<float> values, VectorIsa isa = best_vector_isa());

// Element-wise activations in place.
void gelu_erf(Matrix& x);  // x · ½(1 + erf(x / √2)): BERT's exact GELU, not the tanh approximation
// x = gelu_erf(x + bias) in one pass over x (bias cols long, or empty: none). erf here is a
// rational approximation (absolute error below 1e-6, the form Eigen and XLA use) that the
// compiler vectorises, where std::erf is a scalar call per element: on MiniLM-sized models the
// GELU of the intermediate layer costs about a tenth of the forward pass with std::erf.
void bias_gelu_erf(Matrix& x, std::span<const float> bias, VectorIsa isa = best_vector_isa());
void relu(Matrix& x);
void tanh_in_place(Matrix& x);

// Multi-head scaled dot-product attention over a padded batch (Vaswani et al. 2017):
// for each sequence b and head h, softmax(Q_bh K_bhᵀ / √head_dim) V_bh, where head h owns
// columns [h * head_dim, (h + 1) * head_dim) of q, k and v. Keys beyond lengths[b] are masked
// out exactly (as an additive -inf mask would), so padding never changes a real token's output.
// q, k, v: (batch * max_length) × hidden; lengths: batch entries, each <= max_length. output is
// resized to the same shape; rows of padding positions are set to zero. A sequence of length 0
// gives all-zero rows. Throws Error(invalid_argument) when hidden is not a multiple of heads.
void multi_head_attention(const Matrix& q, const Matrix& k, const Matrix& v, std::span<const std::size_t> lengths,
                          std::size_t max_length, std::size_t heads, Matrix& output);

// The same attention reading q, k and v side by side from one matrix, as one fused projection
// (x · [Wq; Wk; Wv]ᵀ) writes them: qkv is (batch * max_length) × (3 · hidden), q in columns
// [0, hidden), k in [hidden, 2 · hidden), v in [2 · hidden, 3 · hidden). Per sequence and head,
// only the length × length score block is materialised.
void multi_head_attention_fused(const Matrix& qkv, std::span<const std::size_t> lengths, std::size_t max_length,
                                std::size_t heads, Matrix& output);

// output row b = mean of the real rows of sequence b (rows b * max_length .. + lengths[b]);
// zero for a sequence of length 0. output: batch × hidden.
void masked_mean_pool(const Matrix& x, std::span<const std::size_t> lengths, std::size_t max_length, Matrix& output);

// output row i = table row ids[i] (embedding lookup). Throws Error(invalid_argument) for an id
// outside the table.
void gather_rows(const Matrix& table, std::span<const int> ids, Matrix& output);

// Scales each row to unit L2 norm (zero rows stay zero).
void l2_normalize_rows(Matrix& x);

}  // namespace ragline::models::local
