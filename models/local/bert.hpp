#pragma once
// BERT-family sentence embedders from a Hugging Face model folder the user downloaded
// (all-MiniLM-L6-v2, bge-small/base-en-v1.5, e5-small-v2, gte-small and the like), run on the
// local runtime (runtime.hpp). Registered as embedder "bert"; EmbedderConfig::model is the
// model's name in the models folder or its folder's path (make_bert_embedder).
//
// Files read from the folder:
//   model.safetensors       weights, F32, F16 or BF16 (safetensors.hpp); names with or without "bert."
//   config.json             hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
//                           max_position_embeddings, type_vocab_size, vocab_size, layer_norm_eps,
//                           hidden_act (must be "gelu": the exact, erf form)
//   vocab.txt               WordPiece vocabulary (wordpiece.hpp)
//   tokenizer_config.json   optional: do_lower_case (default true), strip_accents, tokenize_chinese_chars
//   modules.json            optional: the sentence-transformers pipeline; a Dense or other unknown
//                           module after pooling is refused rather than silently skipped
//   1_Pooling/config.json   optional (path from modules.json): pooling_mode_cls_token or
//                           pooling_mode_mean_tokens; without it, mean pooling
//   sentence_bert_config.json  optional: max_seq_length, the default token limit
//
// The forward pass is BERT's (Devlin et al. 2018): word + position + token-type-0 embeddings,
// LayerNorm, then post-LayerNorm encoder layers (self-attention with a padding mask, output
// projection + residual + LayerNorm, intermediate projection + exact GELU, output projection +
// residual + LayerNorm); then mean pooling over the real tokens ([CLS] and [SEP] included, as
// sentence-transformers does) or the [CLS] row; then L2 normalisation, always (the KB compares
// vectors by inner product, so the Normalize module is implied).
//
// Thread safety: the weights are read-only after load(); embed() keeps its activations in locals
// and may be called from many threads at once.

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/embedder.hpp"

namespace ragline::models::local {

struct BertConfig {
  std::size_t vocab_size = 0;
  std::size_t hidden_size = 0;
  std::size_t num_layers = 0;
  std::size_t num_heads = 0;
  std::size_t intermediate_size = 0;
  std::size_t max_position_embeddings = 0;
  std::size_t type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
};

enum class BertPooling { mean, cls };

// Arithmetic of the linear layers (int8_gemm.hpp). fp32: float32 through OpenBLAS. int8: weights
// quantised per output channel at load and activations per row at each layer, 8-bit integer
// products (AVX-512 VNNI, AVX2 or scalar, chosen by CPU), layer norms, softmax, GELU and
// attention in float32. The vectors differ slightly (mean cosine to fp32 >= 0.995 on
// all-MiniLM-L6-v2), so the precision is part of the embedder id: a KB never mixes them.
enum class BertPrecision { fp32, int8 };
// "fp32" / "int8"; an empty string is fp32. Throws Error(invalid_argument) naming the value.
BertPrecision parse_bert_precision(std::string_view name);

struct BertOptions {
  // Tokens per text including [CLS] and [SEP]; longer texts are cut (and counted, see
  // texts_truncated()). 0: max_seq_length of sentence_bert_config.json, else 512. Always clipped
  // to max_position_embeddings.
  std::size_t max_tokens = 0;
  // Prepended to query / document texts before tokenizing. Unset: the model family's default,
  // recognised from the folder name or config.json's _name_or_path: e5 -> "query: " and
  // "passage: "; bge -> "Represent this sentence for searching relevant passages: " for queries
  // and nothing for passages; other models none. Set to "" for no prefix.
  std::optional<std::string> query_prefix;
  std::optional<std::string> passage_prefix;
  // Sequences per forward pass at most (texts are sorted by length first); a batch also stops
  // at 8192 padded tokens, which bounds its activations.
  std::size_t batch_size = 32;
  int threads = 0;  // OpenBLAS threads (process-wide); 0 leaves the current setting
  BertPrecision precision = BertPrecision::fp32;
};

class BertEmbedder final : public Embedder {
 public:
  // Throws Error(not_found) naming a missing folder or required file, Error(format) naming the
  // file and field or tensor that is malformed, Error(unsupported) for a model this runtime
  // does not run (hidden_act other than gelu, an extra Dense module, max pooling).
  static std::unique_ptr<BertEmbedder> load(const std::filesystem::path& folder, const BertOptions& options = {});
  ~BertEmbedder() override;

  // "bert/<folder name>/<dimension>/<12 hex digits>": SHA-256 over the safetensors header, the
  // file size, vocab.txt, and every setting that changes vectors (lower casing, pooling, token
  // limit, prefixes, and the precision when int8: fp32 ids predate it).
  std::string id() const override;
  std::size_t dimension() const override;
  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) override;
  // The fusion scripts/fusion-sweep.sh chose for a measured model, recognised by its folder name
  // (the name scripts/fetch-models.sh gives it; models/README.md has the figures); other models
  // get the library's default (models::model_fusion_defaults).
  FusionConfig fusion_defaults() const override;

  // [CLS] pieces [SEP] for the text with its prefix, cut to max_tokens(); *truncated says
  // whether anything was cut.
  std::vector<int> token_ids(std::string_view text, EmbedPurpose purpose, bool* truncated = nullptr) const;
  // Texts cut to max_tokens() by embed() since load.
  std::size_t texts_truncated() const override { return truncated_texts_.load(); }

  const BertConfig& config() const;
  BertPooling pooling() const;
  std::size_t max_tokens() const;
  const std::string& query_prefix() const;
  const std::string& passage_prefix() const;
  BertPrecision precision() const;

  struct Model;

 private:
  explicit BertEmbedder(std::unique_ptr<Model> model);
  std::unique_ptr<const Model> model_;
  std::atomic<std::size_t> truncated_texts_{0};
};

// make_embedder's entry for "bert": config.model is a model's name, a bare folder name without a
// path separator looked up in the models folder (local_models_dir: --models-dir,
// $RAGLINE_MODELS_DIR, ./models; scripts/fetch-models.sh fills it), or else a folder's path.
// A name not found there is Error(not_found) naming the fetch script. query_prefix /
// passage_prefix override the family defaults when not empty ("none" means no prefix); config.precision is
// fp32 (also when empty) or int8.
std::unique_ptr<Embedder> make_bert_embedder(const EmbedderConfig& config);

}  // namespace ragline::models::local
