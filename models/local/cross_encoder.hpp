#pragma once
// BERT cross-encoders for reranking (ms-marco-MiniLM-L-6-v2, ms-marco-TinyBERT-L-2-v2 and the
// like): a Hugging Face BertForSequenceClassification folder with one label, run on the local
// runtime (runtime.hpp). The reranker "cross-encoder" (rerank/reranker_cross_encoder.cpp) uses it.
//
// Files read from the folder:
//   model.safetensors       the encoder (names with or without "bert."), the pooler
//                           (bert.pooler.dense) and the head (classifier), F32/F16/BF16
//   config.json             the BERT sizes (as bert.hpp), architectures (BertForSequenceClassification
//                           when present), num_labels or id2label (exactly one label), and the
//                           sentence-transformers activation: sentence_transformers.activation_fn
//                           or sbert_ce_default_activation_function ("...Identity" or "...Sigmoid")
//   vocab.txt               WordPiece vocabulary (wordpiece.hpp)
//   tokenizer_config.json   optional: do_lower_case, strip_accents, tokenize_chinese_chars,
//                           model_max_length (the pair's token limit when it is below
//                           max_position_embeddings)
//
// A pair is tokenized as Hugging Face's fast BERT tokenizer does it: [CLS] query [SEP] passage
// [SEP], token type 0 up to the first [SEP] and 1 after. A pair over the limit is cut longest
// first, as the tokenizers library cuts (TruncationStrategy::LongestFirst): with n1 <= n2 pieces
// and room r (the limit less 3), the longer side keeps max(n1, r - n1) when that fits, else both
// sides keep r/2 and the longer one the odd piece. (The slow Python tokenizer drops one piece at
// a time and can differ by one piece.)
//
// The score is BertForSequenceClassification's logit (the [CLS] row through the pooler's
// dense + tanh, then the classifier) passed through the activation sentence-transformers'
// CrossEncoder.predict applies by default: the one config.json names, else the sigmoid for a
// one-label model (CrossEncoder's default). The ms-marco cross-encoders name Identity, so they
// return raw logits. Both are monotone, so the ranking is the logit's either way; only the scale
// (what a min_score means) differs.
//
// The encoder is the bert embedder's (bert_encoder.hpp) with token types, its last layer run for
// the [CLS] row alone past the QKV projection (BertEncoder::encode_cls): the head reads nothing
// else.
//
// Thread safety: read-only after load(); scores() keeps its activations in locals.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/local/bert.hpp"

namespace ragline::models::local {

enum class CrossEncoderActivation { identity, sigmoid };

struct CrossEncoderOptions {
  // Tokens per pair including [CLS] and both [SEP]; 0: model_max_length of
  // tokenizer_config.json, else 512; always clipped to max_position_embeddings.
  std::size_t max_tokens = 0;
  // Pairs per forward pass at most (sorted by length first); a batch also stops at 8192 padded
  // tokens, which bounds its activations.
  std::size_t batch_size = 32;
  // The encoder's arithmetic, as the bert embedder's (bert.hpp, BertPrecision): int8 quantises
  // the encoder layers' products (not the pooler and classifier); scores differ slightly from
  // fp32, so int8 is part of the id.
  BertPrecision precision = BertPrecision::fp32;
};

struct CrossEncoderPair {
  std::vector<int> ids;          // [CLS] query [SEP] passage [SEP]
  std::vector<int> token_types;  // 0 for [CLS] query [SEP], 1 for passage [SEP]
  bool truncated = false;
};

class CrossEncoder {
 public:
  // Throws Error(not_found) naming a missing folder or file, Error(format) naming the file and
  // field or tensor that is malformed, Error(unsupported) for another architecture, more than
  // one label, or an activation other than Identity and Sigmoid.
  static std::unique_ptr<CrossEncoder> load(const std::filesystem::path& folder,
                                            const CrossEncoderOptions& options = {});
  ~CrossEncoder();

  CrossEncoderPair encode_pair(std::string_view query, std::string_view passage) const;
  // One score per passage, in order, after the activation.
  std::vector<float> scores(std::string_view query, std::span<const std::string> passages) const;
  // The classifier's logits, before the activation.
  std::vector<float> logits(std::string_view query, std::span<const std::string> passages) const;

  // "cross-encoder/<folder name>/<12 hex digits of the weights' header digest>" (the digest
  // covers the settings, and the precision when int8).
  const std::string& id() const;
  const BertConfig& config() const;
  std::size_t max_tokens() const;
  CrossEncoderActivation activation() const;
  BertPrecision precision() const;

  struct Model;

 private:
  explicit CrossEncoder(std::unique_ptr<Model> model);
  std::unique_ptr<const Model> model_;
};

}  // namespace ragline::models::local
