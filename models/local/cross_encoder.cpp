#include "models/local/cross_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/check.hpp"
#include "core/hash.hpp"
#include "models/local/runtime.hpp"
#include "models/local/safetensors.hpp"
#include "models/local/wordpiece.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kDefaultMaxTokens = 512;
constexpr std::size_t kMaxBatchTokens = 8192;
constexpr std::size_t kSpecialTokensPerPair = 3;  // [CLS], [SEP], [SEP]

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  RAGLINE_CHECK(in, not_found, "missing " << path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::exception& e) {
    RAGLINE_THROW(format, path.string() << ": not valid JSON (" << e.what() << ")");
  }
}

std::size_t positive_field(const json& config, const fs::path& path, const char* field) {
  RAGLINE_CHECK(config.contains(field) && config[field].is_number_unsigned() && config[field].get<std::size_t>() > 0,
                format, path.string() << ": field " << field << " must be a positive integer");
  return config[field].get<std::size_t>();
}

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
  struct Layer {
    Matrix query_weight, query_bias, key_weight, key_bias, value_weight, value_bias;
    Matrix attention_output_weight, attention_output_bias, attention_norm_weight, attention_norm_bias;
    Matrix intermediate_weight, intermediate_bias, output_weight, output_bias, output_norm_weight, output_norm_bias;
  };

  BertConfig config;
  std::size_t max_tokens = 0;
  std::size_t batch_size = 32;
  CrossEncoderActivation activation = CrossEncoderActivation::sigmoid;
  std::string id;
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  Matrix word_embeddings, position_embeddings, token_type_embeddings, embedding_norm_weight, embedding_norm_bias;
  std::vector<Layer> layers;
  Matrix pooler_weight, pooler_bias, classifier_weight, classifier_bias;

  // Logits of a batch of pairs (each within max_tokens).
  std::vector<float> forward(const std::vector<const CrossEncoderPair*>& pairs) const;
};

std::vector<float> CrossEncoder::Model::forward(const std::vector<const CrossEncoderPair*>& pairs) const {
  const std::size_t batch = pairs.size();
  const std::size_t hidden = config.hidden_size;
  std::size_t max_length = 0;
  std::vector<std::size_t> lengths(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    lengths[b] = pairs[b]->ids.size();
    max_length = std::max(max_length, lengths[b]);
  }
  std::vector<int> ids(batch * max_length, tokenizer->pad_id());
  for (std::size_t b = 0; b < batch; ++b)
    std::copy(pairs[b]->ids.begin(), pairs[b]->ids.end(), ids.begin() + b * max_length);

  Matrix x, q, k, v, context, projected, intermediate;
  gather_rows(word_embeddings, ids, x);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t t = 0; t < max_length; ++t) {
      float* row = x.data() + (b * max_length + t) * hidden;
      const float* position = position_embeddings.data() + t * hidden;
      const int type = t < lengths[b] ? pairs[b]->token_types[t] : 0;
      const float* token_type = token_type_embeddings.data() + static_cast<std::size_t>(type) * hidden;
      for (std::size_t c = 0; c < hidden; ++c) row[c] += position[c] + token_type[c];
    }
  }
  layer_norm(x, embedding_norm_weight.values, embedding_norm_bias.values, config.layer_norm_eps);

  // Every layer but the last runs on all tokens; the head reads only the [CLS] row, so the last
  // layer needs keys and values of all tokens but a query, attention output and feed-forward for
  // [CLS] alone (about 5/6 of that layer's work saved).
  for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
    const Layer& layer = layers[l];
    linear(x, layer.query_weight, layer.query_bias.values, q);
    linear(x, layer.key_weight, layer.key_bias.values, k);
    linear(x, layer.value_weight, layer.value_bias.values, v);
    multi_head_attention(q, k, v, lengths, max_length, config.num_heads, context);
    linear(context, layer.attention_output_weight, layer.attention_output_bias.values, projected);
    add_in_place(projected, x);
    layer_norm(projected, layer.attention_norm_weight.values, layer.attention_norm_bias.values, config.layer_norm_eps);
    std::swap(x, projected);
    linear(x, layer.intermediate_weight, layer.intermediate_bias.values, intermediate);
    gelu_erf(intermediate);
    linear(intermediate, layer.output_weight, layer.output_bias.values, projected);
    add_in_place(projected, x);
    layer_norm(projected, layer.output_norm_weight.values, layer.output_norm_bias.values, config.layer_norm_eps);
    std::swap(x, projected);
  }

  const Layer& last = layers.back();
  Matrix cls(batch, hidden), pooled, logit;
  for (std::size_t b = 0; b < batch; ++b) {
    std::copy_n(x.data() + b * max_length * hidden, hidden, cls.data() + b * hidden);
  }
  linear(x, last.key_weight, last.key_bias.values, k);
  linear(x, last.value_weight, last.value_bias.values, v);
  linear(cls, last.query_weight, last.query_bias.values, q);
  const std::size_t head_dim = hidden / config.num_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  context.resize(batch, hidden);
  std::fill(context.values.begin(), context.values.end(), 0.0f);
  std::vector<float> weights(max_length);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t head = 0; head < config.num_heads; ++head) {
      const float* query = q.data() + b * hidden + head * head_dim;
      for (std::size_t t = 0; t < lengths[b]; ++t) {
        const float* key = k.data() + (b * max_length + t) * hidden + head * head_dim;
        float dot = 0;
        for (std::size_t d = 0; d < head_dim; ++d) dot += query[d] * key[d];
        weights[t] = dot * scale;
      }
      softmax(std::span<float>(weights.data(), lengths[b]));
      float* out = context.data() + b * hidden + head * head_dim;
      for (std::size_t t = 0; t < lengths[b]; ++t) {
        const float* value = v.data() + (b * max_length + t) * hidden + head * head_dim;
        for (std::size_t d = 0; d < head_dim; ++d) out[d] += weights[t] * value[d];
      }
    }
  }
  linear(context, last.attention_output_weight, last.attention_output_bias.values, projected);
  add_in_place(projected, cls);
  layer_norm(projected, last.attention_norm_weight.values, last.attention_norm_bias.values, config.layer_norm_eps);
  std::swap(cls, projected);
  linear(cls, last.intermediate_weight, last.intermediate_bias.values, intermediate);
  gelu_erf(intermediate);
  linear(intermediate, last.output_weight, last.output_bias.values, projected);
  add_in_place(projected, cls);
  layer_norm(projected, last.output_norm_weight.values, last.output_norm_bias.values, config.layer_norm_eps);
  std::swap(cls, projected);

  // BertPooler: dense + tanh on the [CLS] row; then the one-label classifier.
  linear(cls, pooler_weight, pooler_bias.values, pooled);
  tanh_in_place(pooled);
  linear(pooled, classifier_weight, classifier_bias.values, logit);
  return logit.values;
}

CrossEncoder::CrossEncoder(std::unique_ptr<Model> model) : model_(std::move(model)) {}
CrossEncoder::~CrossEncoder() = default;

std::unique_ptr<CrossEncoder> CrossEncoder::load(const fs::path& folder, const CrossEncoderOptions& options) {
  std::error_code error;
  RAGLINE_CHECK(fs::is_directory(folder, error), not_found,
                "cross-encoder model folder " << folder.string() << " does not exist");
  for (const char* required : {"config.json", "vocab.txt", "model.safetensors"}) {
    RAGLINE_CHECK(fs::is_regular_file(folder / required, error), not_found,
                  "cross-encoder model folder " << folder.string() << " lacks " << required
                                                << (std::string_view(required) == "model.safetensors"
                                                        ? " (only the safetensors weight format is read)"
                                                        : ""));
  }
  auto model = std::make_unique<Model>();
  std::string folder_name = fs::absolute(folder).lexically_normal().filename().string();
  if (folder_name.empty()) folder_name = fs::absolute(folder).lexically_normal().parent_path().filename().string();

  const fs::path config_path = folder / "config.json";
  const json config = read_json(config_path);
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

  BertConfig& c = model->config;
  c.hidden_size = positive_field(config, config_path, "hidden_size");
  c.num_layers = positive_field(config, config_path, "num_hidden_layers");
  c.num_heads = positive_field(config, config_path, "num_attention_heads");
  c.intermediate_size = positive_field(config, config_path, "intermediate_size");
  c.max_position_embeddings = positive_field(config, config_path, "max_position_embeddings");
  c.type_vocab_size = positive_field(config, config_path, "type_vocab_size");
  c.vocab_size = positive_field(config, config_path, "vocab_size");
  if (config.contains("layer_norm_eps")) {
    RAGLINE_CHECK(config["layer_norm_eps"].is_number(), format,
                  config_path.string() << ": layer_norm_eps is not a number");
    c.layer_norm_eps = config["layer_norm_eps"].get<float>();
  }
  RAGLINE_CHECK(c.hidden_size % c.num_heads == 0, format,
                config_path.string() << ": hidden_size " << c.hidden_size
                                     << " is not a multiple of num_attention_heads " << c.num_heads);
  RAGLINE_CHECK(c.type_vocab_size >= 2, format,
                config_path.string() << ": type_vocab_size " << c.type_vocab_size
                                     << " leaves no token type for the passage (a pair needs 2)");
  const std::string activation = config.value("hidden_act", std::string("gelu"));
  RAGLINE_CHECK(
      activation == "gelu", unsupported,
      config_path.string() << ": hidden_act \"" << activation << "\" is not supported (only gelu, the exact erf form)");
  const std::string position_type = config.value("position_embedding_type", std::string("absolute"));
  RAGLINE_CHECK(position_type == "absolute", unsupported,
                config_path.string() << ": position_embedding_type \"" << position_type << "\" is not supported");

  WordPieceOptions tokenizer_options;
  std::size_t max_tokens = options.max_tokens;
  const fs::path tokenizer_config_path = folder / "tokenizer_config.json";
  if (fs::is_regular_file(tokenizer_config_path, error)) {
    const json tokenizer_config = read_json(tokenizer_config_path);
    if (tokenizer_config.contains("do_lower_case")) {
      RAGLINE_CHECK(tokenizer_config["do_lower_case"].is_boolean(), format,
                    tokenizer_config_path.string() << ": do_lower_case is not a boolean");
      tokenizer_options.lower_case = tokenizer_config["do_lower_case"].get<bool>();
    }
    if (tokenizer_config.contains("strip_accents") && tokenizer_config["strip_accents"].is_boolean()) {
      tokenizer_options.strip_accents = tokenizer_config["strip_accents"].get<bool>();
    }
    if (tokenizer_config.contains("tokenize_chinese_chars") &&
        tokenizer_config["tokenize_chinese_chars"].is_boolean()) {
      tokenizer_options.split_cjk = tokenizer_config["tokenize_chinese_chars"].get<bool>();
    }
    // Hugging Face writes a huge sentinel (1e30) when the tokenizer has no limit.
    if (max_tokens == 0 && tokenizer_config.contains("model_max_length") &&
        tokenizer_config["model_max_length"].is_number_unsigned() &&
        tokenizer_config["model_max_length"].get<std::uint64_t>() <= c.max_position_embeddings) {
      max_tokens = tokenizer_config["model_max_length"].get<std::size_t>();
    }
  }
  if (max_tokens == 0) max_tokens = kDefaultMaxTokens;
  model->max_tokens = std::max(kSpecialTokensPerPair + 2, std::min(max_tokens, c.max_position_embeddings));
  model->tokenizer =
      std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::load(folder / "vocab.txt", tokenizer_options));
  RAGLINE_CHECK(model->tokenizer->vocab_size() <= c.vocab_size, format,
                (folder / "vocab.txt").string() << " has " << model->tokenizer->vocab_size()
                                                << " pieces, more than config.json's vocab_size " << c.vocab_size);
  RAGLINE_CHECK(options.batch_size > 0, invalid_argument, "cross-encoder batch size must be positive");
  model->batch_size = options.batch_size;

  const SafetensorsFile weights = SafetensorsFile::open(folder / "model.safetensors");
  const std::string prefix = weights.find("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  const auto tensor = [&](const std::string& name, std::size_t rows, std::size_t cols, bool encoder = true) {
    std::string full = (encoder ? prefix : std::string()) + name;
    if (!weights.find(full) && full.ends_with("LayerNorm.weight")) full = full.substr(0, full.size() - 6) + "gamma";
    if (!weights.find(full) && full.ends_with("LayerNorm.bias")) full = full.substr(0, full.size() - 4) + "beta";
    RAGLINE_CHECK(weights.find(full) != nullptr, format,
                  weights.path().string() << ": no tensor \"" << (encoder ? prefix : std::string()) + name << "\"");
    Matrix matrix = weights.read_matrix(full);
    RAGLINE_CHECK(matrix.rows == rows && matrix.cols == cols, format,
                  weights.path().string() << ": tensor \"" << full << "\" is " << matrix.rows << "×" << matrix.cols
                                          << ", config.json implies " << rows << "×" << cols);
    return matrix;
  };
  const std::size_t h = c.hidden_size;
  model->word_embeddings = tensor("embeddings.word_embeddings.weight", c.vocab_size, h);
  model->position_embeddings = tensor("embeddings.position_embeddings.weight", c.max_position_embeddings, h);
  model->token_type_embeddings = tensor("embeddings.token_type_embeddings.weight", c.type_vocab_size, h);
  model->embedding_norm_weight = tensor("embeddings.LayerNorm.weight", 1, h);
  model->embedding_norm_bias = tensor("embeddings.LayerNorm.bias", 1, h);
  for (std::size_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Model::Layer layer;
    layer.query_weight = tensor(p + "attention.self.query.weight", h, h);
    layer.query_bias = tensor(p + "attention.self.query.bias", 1, h);
    layer.key_weight = tensor(p + "attention.self.key.weight", h, h);
    layer.key_bias = tensor(p + "attention.self.key.bias", 1, h);
    layer.value_weight = tensor(p + "attention.self.value.weight", h, h);
    layer.value_bias = tensor(p + "attention.self.value.bias", 1, h);
    layer.attention_output_weight = tensor(p + "attention.output.dense.weight", h, h);
    layer.attention_output_bias = tensor(p + "attention.output.dense.bias", 1, h);
    layer.attention_norm_weight = tensor(p + "attention.output.LayerNorm.weight", 1, h);
    layer.attention_norm_bias = tensor(p + "attention.output.LayerNorm.bias", 1, h);
    layer.intermediate_weight = tensor(p + "intermediate.dense.weight", c.intermediate_size, h);
    layer.intermediate_bias = tensor(p + "intermediate.dense.bias", 1, c.intermediate_size);
    layer.output_weight = tensor(p + "output.dense.weight", h, c.intermediate_size);
    layer.output_bias = tensor(p + "output.dense.bias", 1, h);
    layer.output_norm_weight = tensor(p + "output.LayerNorm.weight", 1, h);
    layer.output_norm_bias = tensor(p + "output.LayerNorm.bias", 1, h);
    model->layers.push_back(std::move(layer));
  }
  model->pooler_weight = tensor("pooler.dense.weight", h, h);
  model->pooler_bias = tensor("pooler.dense.bias", 1, h);
  model->classifier_weight = tensor("classifier.weight", 1, h, false);
  model->classifier_bias = tensor("classifier.bias", 1, 1, false);

  std::ifstream vocab_in(folder / "vocab.txt", std::ios::binary);
  std::stringstream vocab_bytes;
  vocab_bytes << vocab_in.rdbuf();
  const json settings = {{"file_size", weights.file_size()},
                         {"lower_case", tokenizer_options.lower_case},
                         {"max_tokens", model->max_tokens},
                         {"activation", model->activation == CrossEncoderActivation::sigmoid ? "sigmoid" : "identity"}};
  const std::string digest =
      core::sha256_hex(weights.header() + '\0' + core::sha256(vocab_bytes.str()) + '\0' + settings.dump());
  model->id = "cross-encoder/" + folder_name + "/" + digest.substr(0, 12);
  return std::unique_ptr<CrossEncoder>(new CrossEncoder(std::move(model)));
}

const std::string& CrossEncoder::id() const { return model_->id; }
const BertConfig& CrossEncoder::config() const { return model_->config; }
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
  // Sorting by length keeps padding, which costs as much as real tokens, small.
  std::vector<std::size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return pairs[a].ids.size() < pairs[b].ids.size(); });
  for (std::size_t start = 0, end = 0; start < order.size(); start = end) {
    end = start + 1;
    while (end < order.size() && end - start < model_->batch_size &&
           (end - start + 1) * pairs[order[end]].ids.size() <= kMaxBatchTokens) {
      ++end;
    }
    std::vector<const CrossEncoderPair*> batch;
    for (std::size_t i = start; i < end; ++i) batch.push_back(&pairs[order[i]]);
    const std::vector<float> batch_logits = model_->forward(batch);
    for (std::size_t i = start; i < end; ++i) result[order[i]] = batch_logits[i - start];
  }
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
