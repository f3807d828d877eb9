#include "models/local/cross_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"
#include "models/local/bert_encoder.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kSpecialTokensPerPair = 3;  // [CLS], [SEP], [SEP]

CrossEncoderActivation read_activation(const json& config, const fs::path& path) {
  std::string name;
  if (config.contains("sentence_transformers") && config["sentence_transformers"].is_object()) {
    name = config["sentence_transformers"].value("activation_fn", std::string());
  }
  if (name.empty()) name = config.value("sbert_ce_default_activation_function", std::string());
  if (name.empty()) return CrossEncoderActivation::sigmoid;  // CrossEncoder's default for one label
  if (name.ends_with(".Identity")) return CrossEncoderActivation::identity;
  if (name.ends_with(".Sigmoid")) return CrossEncoderActivation::sigmoid;
  RAGLINE_THROW(unsupported, path.string() << ": activation \"" << name << "\" is not supported (Identity or Sigmoid)");
}

}  // namespace

struct CrossEncoder::Model {
  std::size_t max_tokens = 0;
  std::size_t batch_size = 32;
  CrossEncoderActivation activation = CrossEncoderActivation::sigmoid;
  std::string id;
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  BertEncoder encoder;
  Matrix pooler_weight, pooler_bias, classifier_weight, classifier_bias;

  // Logits of a batch of pairs (each within max_tokens).
  std::vector<float> forward(const std::vector<const CrossEncoderPair*>& pairs) const;
};

std::vector<float> CrossEncoder::Model::forward(const std::vector<const CrossEncoderPair*>& pairs) const {
  std::vector<const std::vector<int>*> ids, token_types;
  for (const CrossEncoderPair* pair : pairs) {
    ids.push_back(&pair->ids);
    token_types.push_back(&pair->token_types);
  }
  // The head reads only the [CLS] row.
  const Matrix cls = encoder.encode_cls(BertEncoderInput::pad(ids, tokenizer->pad_id(), token_types));
  // BertPooler: dense + tanh on the [CLS] row; then the one-label classifier.
  Matrix pooled, logit;
  linear(cls, pooler_weight, pooler_bias.values, pooled);
  tanh_in_place(pooled);
  linear(pooled, classifier_weight, classifier_bias.values, logit);
  return logit.values;
}

CrossEncoder::CrossEncoder(std::unique_ptr<Model> model) : model_(std::move(model)) {}
CrossEncoder::~CrossEncoder() = default;

std::unique_ptr<CrossEncoder> CrossEncoder::load(const fs::path& folder, const CrossEncoderOptions& options) {
  require_bert_folder(folder, "cross-encoder", "", " (only the safetensors weight format is read)");
  std::error_code error;
  auto model = std::make_unique<Model>();
  const std::string folder_name = model_folder_name(folder);

  const fs::path config_path = folder / "config.json";
  const json config = read_model_json(config_path);
  RAGLINE_CHECK(config.is_object(), format, config_path.string() << ": not a JSON object");
  if (config.contains("architectures")) {
    RAGLINE_CHECK(config["architectures"].is_array(), format,
                  config_path.string() << ": architectures is not an array");
    for (const auto& architecture : config["architectures"]) {
      RAGLINE_CHECK(architecture == "BertForSequenceClassification", unsupported,
                    config_path.string() << ": architecture " << architecture.dump()
                                         << " is not supported (only BertForSequenceClassification)");
    }
  }
  std::size_t labels = 2;  // PretrainedConfig's default
  if (config.contains("id2label") && config["id2label"].is_object()) labels = config["id2label"].size();
  if (config.contains("num_labels") && config["num_labels"].is_number_unsigned())
    labels = config["num_labels"].get<std::size_t>();
  RAGLINE_CHECK(labels == 1, unsupported,
                config_path.string() << ": the model has " << labels
                                     << " labels; a reranker needs a one-label (relevance) classifier");
  model->activation = read_activation(config, config_path);

  const BertConfig c = read_bert_config(config, config_path);
  RAGLINE_CHECK(c.type_vocab_size >= 2, format,
                config_path.string() << ": type_vocab_size " << c.type_vocab_size
                                     << " leaves no token type for the passage (a pair needs 2)");

  WordPieceOptions tokenizer_options;
  std::size_t max_tokens = options.max_tokens;
  const fs::path tokenizer_config_path = folder / "tokenizer_config.json";
  if (fs::is_regular_file(tokenizer_config_path, error)) {
    const json tokenizer_config = read_model_json(tokenizer_config_path);
    tokenizer_options = read_wordpiece_options(tokenizer_config, tokenizer_config_path);
    // Hugging Face writes a huge sentinel (1e30) when the tokenizer has no limit.
    if (max_tokens == 0 && tokenizer_config.contains("model_max_length") &&
        tokenizer_config["model_max_length"].is_number_unsigned() &&
        tokenizer_config["model_max_length"].get<std::uint64_t>() <= c.max_position_embeddings) {
      max_tokens = tokenizer_config["model_max_length"].get<std::size_t>();
    }
  }
  if (max_tokens == 0) max_tokens = kBertDefaultMaxTokens;
  model->max_tokens = std::max(kSpecialTokensPerPair + 2, std::min(max_tokens, c.max_position_embeddings));
  model->tokenizer =
      std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::load(folder / "vocab.txt", tokenizer_options));
  RAGLINE_CHECK(model->tokenizer->vocab_size() <= c.vocab_size, format,
                (folder / "vocab.txt").string() << " has " << model->tokenizer->vocab_size()
                                                << " pieces, more than config.json's vocab_size " << c.vocab_size);
  RAGLINE_CHECK(options.batch_size > 0, invalid_argument, "cross-encoder batch size must be positive");
  model->batch_size = options.batch_size;

  const SafetensorsFile weights = SafetensorsFile::open(folder / "model.safetensors");
  const std::string prefix = bert_tensor_prefix(weights);
  model->encoder = BertEncoder::load(weights, prefix, c, options.precision);
  const std::size_t h = c.hidden_size;
  model->pooler_weight = read_bert_tensor(weights, prefix + "pooler.dense.weight", h, h);
  model->pooler_bias = read_bert_tensor(weights, prefix + "pooler.dense.bias", 1, h);
  model->classifier_weight = read_bert_tensor(weights, "classifier.weight", 1, h);
  model->classifier_bias = read_bert_tensor(weights, "classifier.bias", 1, 1);

  json settings = {{"file_size", weights.file_size()},
                   {"lower_case", tokenizer_options.lower_case},
                   {"max_tokens", model->max_tokens},
                   {"activation", model->activation == CrossEncoderActivation::sigmoid ? "sigmoid" : "identity"}};
  // fp32 ids predate the precision setting.
  if (options.precision == BertPrecision::int8) settings["precision"] = "int8";
  model->id = "cross-encoder/" + folder_name + "/" + bert_model_digest(weights, folder / "vocab.txt", settings);
  return std::unique_ptr<CrossEncoder>(new CrossEncoder(std::move(model)));
}

const std::string& CrossEncoder::id() const { return model_->id; }
const BertConfig& CrossEncoder::config() const { return model_->encoder.config(); }
BertPrecision CrossEncoder::precision() const { return model_->encoder.precision(); }
std::size_t CrossEncoder::max_tokens() const { return model_->max_tokens; }
CrossEncoderActivation CrossEncoder::activation() const { return model_->activation; }

CrossEncoderPair CrossEncoder::encode_pair(std::string_view query, std::string_view passage) const {
  std::vector<int> first = model_->tokenizer->encode(query);
  std::vector<int> second = model_->tokenizer->encode(passage);
  const std::size_t room = model_->max_tokens - kSpecialTokensPerPair;
  CrossEncoderPair pair;
  if (first.size() + second.size() > room) {
    // The tokenizers library's LongestFirst for pairs (see the header).
    std::size_t shorter = std::min(first.size(), second.size());
    std::size_t longer = std::max(first.size(), second.size());
    longer = shorter > room ? shorter : std::max(shorter, room - shorter);
    if (shorter + longer > room) {
      shorter = room / 2;
      longer = shorter + room % 2;
    }
    const bool first_is_longer = first.size() > second.size();
    first.resize(std::min(first.size(), first_is_longer ? longer : shorter));
    second.resize(std::min(second.size(), first_is_longer ? shorter : longer));
    pair.truncated = true;
  }
  pair.ids.reserve(first.size() + second.size() + kSpecialTokensPerPair);
  pair.ids.push_back(model_->tokenizer->cls_id());
  pair.ids.insert(pair.ids.end(), first.begin(), first.end());
  pair.ids.push_back(model_->tokenizer->sep_id());
  pair.token_types.assign(pair.ids.size(), 0);
  pair.ids.insert(pair.ids.end(), second.begin(), second.end());
  pair.ids.push_back(model_->tokenizer->sep_id());
  pair.token_types.resize(pair.ids.size(), 1);
  return pair;
}

std::vector<float> CrossEncoder::logits(std::string_view query, std::span<const std::string> passages) const {
  std::vector<CrossEncoderPair> pairs;
  pairs.reserve(passages.size());
  for (const auto& passage : passages) pairs.push_back(encode_pair(query, passage));
  std::vector<float> result(passages.size(), 0.0f);
  std::vector<std::size_t> lengths(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) lengths[i] = pairs[i].ids.size();
  for_each_length_batch(lengths, model_->batch_size, [&](std::span<const std::size_t> indices) {
    std::vector<const CrossEncoderPair*> batch;
    for (const std::size_t i : indices) batch.push_back(&pairs[i]);
    const std::vector<float> batch_logits = model_->forward(batch);
    for (std::size_t j = 0; j < indices.size(); ++j) result[indices[j]] = batch_logits[j];
  });
  return result;
}

std::vector<float> CrossEncoder::scores(std::string_view query, std::span<const std::string> passages) const {
  std::vector<float> values = logits(query, passages);
  if (model_->activation == CrossEncoderActivation::sigmoid) {
    for (float& value : values) value = 1.0f / (1.0f + std::exp(-value));
  }
  return values;
}

}  // namespace ragline::models::local
