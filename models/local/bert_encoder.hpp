#pragma once
// The BERT encoder (Devlin et al. 2018) shared by the bert embedder (bert.hpp: pooling and
// normalisation on top) and the cross-encoder (cross_encoder.hpp: pooler and classifier on the
// [CLS] row). Internal to models/local: not installed, not part of the public API.
//
// It owns the weights of the embeddings and the encoder layers (Q, K and V stacked into one
// 3·hidden × hidden product; with precision int8 the four products of a layer quantised at load
// and their float copies dropped) and runs the forward pass: word + position + token-type
// embeddings, LayerNorm, then post-LayerNorm layers (fused QKV projection and attention with a
// padding mask, output projection + residual + LayerNorm, intermediate projection + exact GELU,
// output projection + residual + LayerNorm).
//
// Also the config.json / tokenizer_config.json readers both models share, so that they accept
// and refuse the same folders with the same messages.
//
// Thread safety: read-only after load(); the forward passes keep activations in locals.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/local/bert.hpp"
#include "models/local/int8_gemm.hpp"
#include "models/local/runtime.hpp"
#include "models/local/safetensors.hpp"
#include "models/local/wordpiece.hpp"

namespace ragline::models::local {

// Error(not_found) unless `folder` is a folder holding config.json, vocab.txt and
// model.safetensors; the messages name the model `kind` ("bert", "cross-encoder"), end a missing
// folder's with folder_hint and a missing model.safetensors's with weights_hint.
void require_bert_folder(const std::filesystem::path& folder, std::string_view kind, std::string_view folder_hint,
                         std::string_view weights_hint);
// The folder's own name (that of its parent for "dir/" or "dir/."): the readable part of an id.
std::string model_folder_name(const std::filesystem::path& folder);
// 12 hex digits of SHA-256 over the weights' header (cheap, and changes with any re-export), the
// digest of vocab.txt and `settings` (whatever else changes the model's output).
std::string bert_model_digest(const SafetensorsFile& weights, const std::filesystem::path& vocab,
                              const nlohmann::json& settings);

// A JSON file's contents. Error(not_found) for a missing file, Error(format) naming it when it
// does not parse.
nlohmann::json read_model_json(const std::filesystem::path& path);

// The BERT sizes of a parsed config.json (path for messages). Error(format) naming a missing or
// non-positive size or hidden_size not a multiple of num_attention_heads; Error(unsupported)
// for hidden_act other than gelu or position_embedding_type other than absolute.
BertConfig read_bert_config(const nlohmann::json& config, const std::filesystem::path& path);

// WordPiece settings of a parsed tokenizer_config.json: do_lower_case (must be a boolean),
// strip_accents, tokenize_chinese_chars.
WordPieceOptions read_wordpiece_options(const nlohmann::json& tokenizer_config, const std::filesystem::path& path);

// The tensor `name` (the full name) checked to be rows × cols; old checkpoints' LayerNorm gamma
// and beta are accepted for weight and bias. Error(format) naming the file and tensor.
Matrix read_bert_tensor(const SafetensorsFile& weights, const std::string& name, std::size_t rows, std::size_t cols);
// "bert." when the checkpoint nests the encoder under it (BertModel saved inside a task head),
// else "".
std::string bert_tensor_prefix(const SafetensorsFile& weights);

// The token limit when neither the caller nor the model folder sets one.
inline constexpr std::size_t kBertDefaultMaxTokens = 512;

// Splits sequences of the given lengths into forward-pass batches and calls run with the indices
// of each. They go sorted by length (stable), since padding costs as much as real tokens; a batch
// holds at most batch_size sequences and stops before 8192 padded tokens, which bounds its
// activations (the intermediate layer holds batch × length × intermediate_size floats).
void for_each_length_batch(std::span<const std::size_t> lengths, std::size_t batch_size,
                           const std::function<void(std::span<const std::size_t>)>& run);

// A padded batch of token sequences.
struct BertEncoderInput {
  std::vector<int> ids;              // batch × max_length, padding past each length
  std::vector<int> token_types;      // same shape, or empty: type 0 everywhere
  std::vector<std::size_t> lengths;  // real tokens per sequence
  std::size_t max_length = 0;

  // Sequences side by side, padded with pad_id; token_types (when given) one per sequence,
  // each as long as its sequence.
  static BertEncoderInput pad(const std::vector<const std::vector<int>*>& sequences, int pad_id,
                              const std::vector<const std::vector<int>*>& token_types = {});
};

class BertEncoder {
 public:
  BertEncoder() = default;
  // The embeddings and layers of `weights` (names under `prefix`, see bert_tensor_prefix).
  static BertEncoder load(const SafetensorsFile& weights, const std::string& prefix, const BertConfig& config,
                          BertPrecision precision);

  // Hidden states of every position: (batch · max_length) × hidden, padding rows included.
  Matrix encode(const BertEncoderInput& input) const;
  // Hidden states of the [CLS] rows only: batch × hidden. Every layer but the last runs on all
  // tokens; the last computes Q, K and V for all (one product) but attention, output projection
  // and feed-forward for [CLS] alone, about 3/4 of that layer's work saved; same results.
  Matrix encode_cls(const BertEncoderInput& input) const;

  const BertConfig& config() const { return config_; }
  BertPrecision precision() const { return precision_; }

 private:
  struct Layer {
    Matrix attention_output_weight, attention_output_bias, attention_norm_weight, attention_norm_bias;
    Matrix intermediate_weight, intermediate_bias, output_weight, output_bias, output_norm_weight, output_norm_bias;
    // Q, K and V projections stacked (3·hidden × hidden): one product instead of three.
    Matrix qkv_weight, qkv_bias;
    // precision int8: the four products' weights quantised (the float ones are then dropped).
    PackedInt8Weights qkv_int8, attention_output_int8, intermediate_int8, output_int8;
  };

  // The activations of one forward pass and the product that picks fp32 or int8.
  struct Workspace;

  Matrix embed(const BertEncoderInput& input) const;
  // x = the layer's output (x's rows are all positions).
  void run_layer(const Layer& layer, const BertEncoderInput& input, Matrix& x, Workspace& work) const;
  // attention output + feed-forward of a layer for rows whose attention context is given.
  void finish_layer(const Layer& layer, const Matrix& context, Matrix& x, Workspace& work) const;

  BertConfig config_;
  BertPrecision precision_ = BertPrecision::fp32;
  Matrix word_embeddings_, position_embeddings_, token_type_embeddings_, embedding_norm_weight_, embedding_norm_bias_;
  std::vector<Layer> layers_;
};

}  // namespace ragline::models::local
