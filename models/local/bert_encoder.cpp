#include "models/local/bert_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "core/check.hpp"
#include "core/hash.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::size_t positive_field(const json& config, const fs::path& path, const char* field) {
  RAGLINE_CHECK(config.contains(field) && config[field].is_number_unsigned() && config[field].get<std::size_t>() > 0,
                format, path.string() << ": field " << field << " must be a positive integer");
  return config[field].get<std::size_t>();
}

}  // namespace

void require_bert_folder(const fs::path& folder, std::string_view kind, std::string_view folder_hint,
                         std::string_view weights_hint) {
  std::error_code error;
  RAGLINE_CHECK(fs::is_directory(folder, error), not_found,
                kind << " model folder " << folder.string() << " does not exist" << folder_hint);
  for (const char* required : {"config.json", "vocab.txt", "model.safetensors"}) {
    RAGLINE_CHECK(fs::is_regular_file(folder / required, error), not_found,
                  kind << " model folder " << folder.string() << " lacks " << required
                       << (std::string_view(required) == "model.safetensors" ? weights_hint : ""));
  }
}

std::string model_folder_name(const fs::path& folder) {
  const fs::path normal = fs::absolute(folder).lexically_normal();
  std::string name = normal.filename().string();
  return name.empty() ? normal.parent_path().filename().string() : name;
}

std::string bert_model_digest(const SafetensorsFile& weights, const fs::path& vocab, const json& settings) {
  std::ifstream vocab_in(vocab, std::ios::binary);
  std::stringstream vocab_bytes;
  vocab_bytes << vocab_in.rdbuf();
  return core::sha256_hex(weights.header() + '\0' + core::sha256(vocab_bytes.str()) + '\0' + settings.dump())
      .substr(0, 12);
}

json read_model_json(const fs::path& path) {
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

BertConfig read_bert_config(const json& config, const fs::path& path) {
  BertConfig c;
  c.hidden_size = positive_field(config, path, "hidden_size");
  c.num_layers = positive_field(config, path, "num_hidden_layers");
  c.num_heads = positive_field(config, path, "num_attention_heads");
  c.intermediate_size = positive_field(config, path, "intermediate_size");
  c.max_position_embeddings = positive_field(config, path, "max_position_embeddings");
  c.type_vocab_size = positive_field(config, path, "type_vocab_size");
  c.vocab_size = positive_field(config, path, "vocab_size");
  if (config.contains("layer_norm_eps")) {
    RAGLINE_CHECK(config["layer_norm_eps"].is_number(), format, path.string() << ": layer_norm_eps is not a number");
    c.layer_norm_eps = config["layer_norm_eps"].get<float>();
  }
  RAGLINE_CHECK(c.hidden_size % c.num_heads == 0, format,
                path.string() << ": hidden_size " << c.hidden_size << " is not a multiple of num_attention_heads "
                              << c.num_heads);
  const std::string activation = config.value("hidden_act", std::string("gelu"));
  RAGLINE_CHECK(
      activation == "gelu", unsupported,
      path.string() << ": hidden_act \"" << activation << "\" is not supported (only gelu, the exact erf form)");
  const std::string position_type = config.value("position_embedding_type", std::string("absolute"));
  RAGLINE_CHECK(position_type == "absolute", unsupported,
                path.string() << ": position_embedding_type \"" << position_type << "\" is not supported");
  return c;
}

WordPieceOptions read_wordpiece_options(const json& tokenizer_config, const fs::path& path) {
  WordPieceOptions options;
  if (tokenizer_config.contains("do_lower_case")) {
    RAGLINE_CHECK(tokenizer_config["do_lower_case"].is_boolean(), format,
                  path.string() << ": do_lower_case is not a boolean");
    options.lower_case = tokenizer_config["do_lower_case"].get<bool>();
  }
  if (tokenizer_config.contains("strip_accents") && tokenizer_config["strip_accents"].is_boolean()) {
    options.strip_accents = tokenizer_config["strip_accents"].get<bool>();
  }
  if (tokenizer_config.contains("tokenize_chinese_chars") && tokenizer_config["tokenize_chinese_chars"].is_boolean()) {
    options.split_cjk = tokenizer_config["tokenize_chinese_chars"].get<bool>();
  }
  return options;
}

Matrix read_bert_tensor(const SafetensorsFile& weights, const std::string& name, std::size_t rows, std::size_t cols) {
  std::string full = name;
  // Old checkpoints name LayerNorm parameters gamma and beta.
  if (!weights.find(full) && full.ends_with("LayerNorm.weight")) full = full.substr(0, full.size() - 6) + "gamma";
  if (!weights.find(full) && full.ends_with("LayerNorm.bias")) full = full.substr(0, full.size() - 4) + "beta";
  RAGLINE_CHECK(weights.find(full) != nullptr, format, weights.path().string() << ": no tensor \"" << name << "\"");
  Matrix matrix = weights.read_matrix(full);
  RAGLINE_CHECK(matrix.rows == rows && matrix.cols == cols, format,
                weights.path().string() << ": tensor \"" << full << "\" is " << matrix.rows << "×" << matrix.cols
                                        << ", config.json implies " << rows << "×" << cols);
  return matrix;
}

std::string bert_tensor_prefix(const SafetensorsFile& weights) {
  return weights.find("bert.embeddings.word_embeddings.weight") ? "bert." : "";
}

void for_each_length_batch(std::span<const std::size_t> lengths, std::size_t batch_size,
                           const std::function<void(std::span<const std::size_t>)>& run) {
  constexpr std::size_t kMaxBatchTokens = 8192;
  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
  for (std::size_t start = 0, end = 0; start < order.size(); start = end) {
    end = start + 1;
    while (end < order.size() && end - start < batch_size &&
           (end - start + 1) * lengths[order[end]] <= kMaxBatchTokens) {
      ++end;
    }
    run(std::span<const std::size_t>(order.data() + start, end - start));
  }
}

BertEncoderInput BertEncoderInput::pad(const std::vector<const std::vector<int>*>& sequences, int pad_id,
                                       const std::vector<const std::vector<int>*>& token_types) {
  BertEncoderInput input;
  const std::size_t batch = sequences.size();
  input.lengths.resize(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    input.lengths[b] = sequences[b]->size();
    input.max_length = std::max(input.max_length, input.lengths[b]);
  }
  input.ids.assign(batch * input.max_length, pad_id);
  for (std::size_t b = 0; b < batch; ++b) {
    std::copy(sequences[b]->begin(), sequences[b]->end(), input.ids.begin() + b * input.max_length);
  }
  if (!token_types.empty()) {
    input.token_types.assign(batch * input.max_length, 0);
    for (std::size_t b = 0; b < batch; ++b) {
      std::copy(token_types[b]->begin(), token_types[b]->end(), input.token_types.begin() + b * input.max_length);
    }
  }
  return input;
}

BertEncoder BertEncoder::load(const SafetensorsFile& weights, const std::string& prefix, const BertConfig& c,
                              BertPrecision precision) {
  BertEncoder encoder;
  encoder.config_ = c;
  encoder.precision_ = precision;
  const auto tensor = [&](const std::string& name, std::size_t rows, std::size_t cols) {
    return read_bert_tensor(weights, prefix + name, rows, cols);
  };
  const std::size_t h = c.hidden_size;
  encoder.word_embeddings_ = tensor("embeddings.word_embeddings.weight", c.vocab_size, h);
  encoder.position_embeddings_ = tensor("embeddings.position_embeddings.weight", c.max_position_embeddings, h);
  encoder.token_type_embeddings_ = tensor("embeddings.token_type_embeddings.weight", c.type_vocab_size, h);
  encoder.embedding_norm_weight_ = tensor("embeddings.LayerNorm.weight", 1, h);
  encoder.embedding_norm_bias_ = tensor("embeddings.LayerNorm.bias", 1, h);
  for (std::size_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer layer;
    layer.qkv_weight.resize(3 * h, h);
    layer.qkv_bias.resize(1, 3 * h);
    std::size_t part = 0;
    for (const char* projection : {"query", "key", "value"}) {
      const std::string name = p + "attention.self." + projection;
      const Matrix weight = tensor(name + ".weight", h, h);
      const Matrix bias = tensor(name + ".bias", 1, h);
      std::copy(weight.values.begin(), weight.values.end(), layer.qkv_weight.data() + part * h * h);
      std::copy(bias.values.begin(), bias.values.end(), layer.qkv_bias.data() + part * h);
      ++part;
    }
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
    if (precision == BertPrecision::int8) {
      layer.qkv_int8 = PackedInt8Weights::quantize(layer.qkv_weight);
      layer.attention_output_int8 = PackedInt8Weights::quantize(layer.attention_output_weight);
      layer.intermediate_int8 = PackedInt8Weights::quantize(layer.intermediate_weight);
      layer.output_int8 = PackedInt8Weights::quantize(layer.output_weight);
      layer.qkv_weight = layer.attention_output_weight = layer.intermediate_weight = layer.output_weight = Matrix();
    }
    encoder.layers_.push_back(std::move(layer));
  }
  return encoder;
}

struct BertEncoder::Workspace {
  explicit Workspace(BertPrecision arithmetic) : precision(arithmetic) {}

  BertPrecision precision;
  Matrix qkv, context, projected, intermediate;
  QuantizedRows quantized;

  void project(const Matrix& input, const Matrix& weight, const PackedInt8Weights& weight_int8, const Matrix& bias,
               Matrix& output) {
    if (precision == BertPrecision::int8) {
      quantized.quantize(input);
      int8_linear(quantized, weight_int8, bias.values, output);
    } else {
      linear(input, weight, bias.values, output);
    }
  }
};

Matrix BertEncoder::embed(const BertEncoderInput& input) const {
  const std::size_t hidden = config_.hidden_size;
  const std::size_t batch = input.lengths.size();
  Matrix x;
  gather_rows(word_embeddings_, input.ids, x);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t t = 0; t < input.max_length; ++t) {
      const std::size_t position_index = b * input.max_length + t;
      float* row = x.data() + position_index * hidden;
      const float* position = position_embeddings_.data() + t * hidden;
      const std::size_t type =
          input.token_types.empty() ? 0 : static_cast<std::size_t>(input.token_types[position_index]);
      const float* token_type = token_type_embeddings_.data() + type * hidden;
      for (std::size_t c = 0; c < hidden; ++c) row[c] += position[c] + token_type[c];
    }
  }
  layer_norm(x, embedding_norm_weight_.values, embedding_norm_bias_.values, config_.layer_norm_eps);
  return x;
}

void BertEncoder::finish_layer(const Layer& layer, const Matrix& context, Matrix& x, Workspace& work) const {
  work.project(context, layer.attention_output_weight, layer.attention_output_int8, layer.attention_output_bias,
               work.projected);
  add_in_place(work.projected, x);
  layer_norm(work.projected, layer.attention_norm_weight.values, layer.attention_norm_bias.values,
             config_.layer_norm_eps);
  std::swap(x, work.projected);
  if (precision_ == BertPrecision::int8) {
    work.project(x, layer.intermediate_weight, layer.intermediate_int8, layer.intermediate_bias, work.intermediate);
    bias_gelu_erf(work.intermediate, {});
  } else {
    matmul(x, false, layer.intermediate_weight, true, work.intermediate);
    bias_gelu_erf(work.intermediate, layer.intermediate_bias.values);
  }
  work.project(work.intermediate, layer.output_weight, layer.output_int8, layer.output_bias, work.projected);
  add_in_place(work.projected, x);
  layer_norm(work.projected, layer.output_norm_weight.values, layer.output_norm_bias.values, config_.layer_norm_eps);
  std::swap(x, work.projected);
}

void BertEncoder::run_layer(const Layer& layer, const BertEncoderInput& input, Matrix& x, Workspace& work) const {
  work.project(x, layer.qkv_weight, layer.qkv_int8, layer.qkv_bias, work.qkv);
  multi_head_attention_fused(work.qkv, input.lengths, input.max_length, config_.num_heads, work.context);
  finish_layer(layer, work.context, x, work);
}

Matrix BertEncoder::encode(const BertEncoderInput& input) const {
  Workspace work(precision_);
  Matrix x = embed(input);
  for (const Layer& layer : layers_) run_layer(layer, input, x, work);
  return x;
}

Matrix BertEncoder::encode_cls(const BertEncoderInput& input) const {
  const std::size_t batch = input.lengths.size();
  const std::size_t hidden = config_.hidden_size;
  const std::size_t max_length = input.max_length;
  Workspace work(precision_);
  Matrix x = embed(input);
  for (std::size_t l = 0; l + 1 < layers_.size(); ++l) run_layer(layers_[l], input, x, work);

  // The last layer: keys and values of every token, the rest for the [CLS] rows alone.
  const Layer& last = layers_.back();
  work.project(x, last.qkv_weight, last.qkv_int8, last.qkv_bias, work.qkv);
  Matrix cls(batch, hidden);
  for (std::size_t b = 0; b < batch; ++b) {
    std::copy_n(x.data() + b * max_length * hidden, hidden, cls.data() + b * hidden);
  }
  const std::size_t heads = config_.num_heads;
  const std::size_t head_dim = hidden / heads;
  const std::size_t stride = 3 * hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  Matrix context(batch, hidden);
  std::vector<float> weights(max_length);
  for (std::size_t b = 0; b < batch; ++b) {
    const float* rows = work.qkv.data() + b * max_length * stride;
    for (std::size_t head = 0; head < heads; ++head) {
      const float* query = rows + head * head_dim;
      for (std::size_t t = 0; t < input.lengths[b]; ++t) {
        const float* key = rows + t * stride + hidden + head * head_dim;
        float dot = 0;
        for (std::size_t d = 0; d < head_dim; ++d) dot += query[d] * key[d];
        weights[t] = dot * scale;
      }
      softmax(std::span<float>(weights.data(), input.lengths[b]));
      float* out = context.data() + b * hidden + head * head_dim;
      for (std::size_t t = 0; t < input.lengths[b]; ++t) {
        const float* value = rows + t * stride + 2 * hidden + head * head_dim;
        for (std::size_t d = 0; d < head_dim; ++d) out[d] += weights[t] * value[d];
      }
    }
  }
  finish_layer(last, context, cls, work);
  return cls;
}

}  // namespace ragline::models::local
