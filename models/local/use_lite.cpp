#include "models/local/use_lite.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include "core/check.hpp"

namespace ragline::models::local {
namespace {

// Texts per padded batch: enough rows for sgemm to run near its peak, few enough that a batch
// sorted by length wastes little on padding.
constexpr std::size_t kBatchTexts = 32;

const std::string kEncode = "module_apply_default/Encoder_en/KonaTransformer/Encode/";
const std::string kStack = kEncode + "TransformerStack/";
const std::string kVariables = "module/Encoder_en/KonaTransformer/Encode/";

struct Tensor {
  std::vector<std::size_t> shape;
  std::vector<float> values;  // int32 tensors are converted too: they are small constants
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  RAGLINE_CHECK(file, not_found, "cannot open " << path.string());
  std::stringstream content;
  content << file.rdbuf();
  RAGLINE_CHECK(!file.bad(), io, "cannot read " << path.string());
  return content.str();
}

float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = (half >> 15) & 1u;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  const std::uint32_t mantissa = half & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa ? std::nanf("") : INFINITY;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

// The weights of a TF.js weightsManifest: each group's shards are one byte stream holding its
// weights in order (float32 or int32, or quantised to uint8/uint16 with scale and min, or
// float16).
std::unordered_map<std::string, Tensor> read_weights(const std::filesystem::path& model_json_path,
                                                     const nlohmann::json& manifest) {
  const std::filesystem::path dir = model_json_path.parent_path();
  std::unordered_map<std::string, Tensor> weights;
  RAGLINE_CHECK(manifest.is_array(), format, model_json_path.string() << ": weightsManifest is not an array");
  for (const auto& group : manifest) {
    std::string bytes;
    for (const auto& shard : group.at("paths")) bytes += read_file(dir / shard.get<std::string>());
    std::size_t offset = 0;
    for (const auto& spec : group.at("weights")) {
      const std::string name = spec.at("name").get<std::string>();
      Tensor tensor;
      tensor.shape = spec.at("shape").get<std::vector<std::size_t>>();
      const std::size_t count =
          std::accumulate(tensor.shape.begin(), tensor.shape.end(), std::size_t{1}, std::multiplies<>());
      const std::string dtype = spec.at("dtype").get<std::string>();
      std::string stored = dtype;
      double scale = 1, minimum = 0;
      if (spec.contains("quantization")) {
        const auto& quantization = spec.at("quantization");
        stored = quantization.at("dtype").get<std::string>();
        scale = quantization.value("scale", 1.0);
        minimum = quantization.value("min", 0.0);
      }
      const std::size_t width = stored == "uint8" ? 1 : (stored == "uint16" || stored == "float16") ? 2 : 4;
      RAGLINE_CHECK(
          stored == "float32" || stored == "int32" || stored == "uint8" || stored == "uint16" || stored == "float16",
          format, model_json_path.string() << ": weight " << name << " has unsupported dtype " << stored);
      RAGLINE_CHECK(offset + count * width <= bytes.size(), format,
                    model_json_path.string() << ": the weight shards end inside weight " << name);
      tensor.values.resize(count);
      const char* source = bytes.data() + offset;
      for (std::size_t i = 0; i < count; ++i) {
        if (stored == "float32") {
          std::memcpy(&tensor.values[i], source + 4 * i, 4);
        } else if (stored == "int32") {
          std::int32_t value;
          std::memcpy(&value, source + 4 * i, 4);
          tensor.values[i] = static_cast<float>(value);
        } else if (stored == "float16") {
          std::uint16_t value;
          std::memcpy(&value, source + 2 * i, 2);
          tensor.values[i] = half_to_float(value);
        } else {
          std::uint32_t value = 0;
          if (width == 1) {
            value = static_cast<unsigned char>(source[i]);
          } else {
            std::uint16_t wide;
            std::memcpy(&wide, source + 2 * i, 2);
            value = wide;
          }
          tensor.values[i] = static_cast<float>(value * scale + minimum);
        }
      }
      offset += count * width;
      weights[name] = std::move(tensor);
    }
  }
  return weights;
}

class WeightSource {
 public:
  WeightSource(std::filesystem::path model_json, std::unordered_map<std::string, Tensor> weights)
      : model_json_(std::move(model_json)), weights_(std::move(weights)) {}

  bool has(const std::string& name) const { return weights_.count(name) > 0; }

  // The weight as a matrix: its last dimension is the columns, the others the rows (a 1×1
  // convolution kernel [1, 1, in, out] is an in × out matrix). Zero for a size means "any".
  Matrix matrix(const std::string& name, std::size_t rows = 0, std::size_t cols = 0) const {
    const Tensor& tensor = find(name);
    Matrix result;
    result.cols = tensor.shape.empty() ? 1 : tensor.shape.back();
    result.rows = result.cols == 0 ? 0 : tensor.values.size() / result.cols;
    RAGLINE_CHECK((rows == 0 || rows == result.rows) && (cols == 0 || cols == result.cols), format,
                  model_json_.string() << ": weight " << name << " is " << result.rows << " × " << result.cols
                                       << ", expected " << rows << " × " << cols);
    result.values = tensor.values;
    return result;
  }
  float scalar(const std::string& name) const {
    const Tensor& tensor = find(name);
    RAGLINE_CHECK(tensor.values.size() == 1, format, model_json_.string() << ": " << name << " is not a scalar");
    return tensor.values[0];
  }

 private:
  const Tensor& find(const std::string& name) const {
    const auto found = weights_.find(name);
    RAGLINE_CHECK(
        found != weights_.end(), format,
        model_json_.string() << ": weight " << name << " is missing (not the Universal Sentence Encoder Lite graph?)");
    return found->second;
  }

  std::filesystem::path model_json_;
  std::unordered_map<std::string, Tensor> weights_;
};

// Whether node `name` of the graph has exactly these inputs.
bool graph_has_node(const nlohmann::json& nodes, const std::string& name, const std::vector<std::string>& inputs) {
  for (const auto& node : nodes) {
    if (node.value("name", std::string()) != name) continue;
    return node.value("input", std::vector<std::string>()) == inputs;
  }
  return false;
}

std::span<const float> as_span(const Matrix& matrix) { return matrix.values; }

// Copies columns [first, first + count) of every row of `source` into `target`.
void copy_columns(const Matrix& source, std::size_t first, std::size_t count, Matrix& target) {
  target.resize(source.rows, count);
  for (std::size_t r = 0; r < source.rows; ++r) {
    std::memcpy(target.data() + r * count, source.data() + r * source.cols + first, count * sizeof(float));
  }
}

}  // namespace

std::shared_ptr<const UseLiteModel> UseLiteModel::load(const std::filesystem::path& model_dir) {
  const std::filesystem::path model_json_path = model_dir / "dist" / "model.json";
  const std::filesystem::path vocab_path = model_dir / "dist" / "vocab.json";
  nlohmann::json model_json;
  try {
    model_json = nlohmann::json::parse(read_file(model_json_path));
  } catch (const nlohmann::json::exception& error) {
    RAGLINE_THROW(format, model_json_path.string() << " is not JSON: " << error.what());
  }
  RAGLINE_CHECK(model_json.contains("modelTopology") && model_json.contains("weightsManifest"), format,
                model_json_path.string() << " is not a TF.js graph model (no modelTopology or weightsManifest)");

  std::shared_ptr<UseLiteModel> model(new UseLiteModel());
  model->tokenizer_ = SentencePieceUnigram::load_vocab_json(vocab_path);
  try {
    const nlohmann::json& nodes = model_json.at("modelTopology").at("node");
    const WeightSource weights(model_json_path, read_weights(model_json_path, model_json.at("weightsManifest")));

    // The graph feeds layer 0 the embedding plus (embedding + timing signal); reading the graph
    // confirms that this is the variant we implement.
    RAGLINE_CHECK(graph_has_node(nodes, kStack + "Layer_0/add",
                                 {kEncode + "Scatter/ScatterNd", kStack + "Layer_0/AddTimingSignal/Scatter/ScatterNd"}),
                  format, model_json_path.string() << ": layer 0's input is not embedding + (embedding + timing)");

    model->max_pieces_ = static_cast<std::size_t>(
        weights.scalar("module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y"));
    model->norm_epsilon_ =
        weights.scalar(kStack + "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x");
    model->embeddings_ = weights.matrix("module/Embeddings_en");
    RAGLINE_CHECK(model->embeddings_.rows >= model->tokenizer_.size(), format,
                  model_json_path.string() << ": " << model->embeddings_.rows << " embeddings for a vocabulary of "
                                           << model->tokenizer_.size() << " pieces");
    const std::size_t width = model->embeddings_.cols;
    RAGLINE_CHECK(width % 2 == 0, format, model_json_path.string() << ": odd embedding width " << width);
    model->inverse_timescales_ =
        weights.matrix(kStack + "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", 1, width / 2).values;

    std::size_t width_in = width;
    for (int index = 0; weights.has(kVariables + "Layer_" + std::to_string(index) +
                                    "/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0");
         ++index) {
      const std::string layer_name = "Layer_" + std::to_string(index) + "/TransformerLayer/";
      const std::string variables = kVariables + layer_name;
      const std::string encode = kEncode + layer_name;
      const std::string stack = kStack + layer_name;
      const std::string partitions = "/ConcatPartitions/concat";
      Layer layer;
      layer.attention_norm_scale =
          weights.matrix(encode + "layer_prepostprocess/layer_norm/layer_norm_scale" + partitions, 1, width_in);
      layer.attention_norm_bias =
          weights.matrix(encode + "layer_prepostprocess/layer_norm/layer_norm_bias" + partitions, 1, width_in);
      layer.qkv = weights.matrix(variables + "MultiheadAttention/qkv_transform_single/kernel/part_0", width_in);
      RAGLINE_CHECK(layer.qkv.cols % 3 == 0, format,
                    model_json_path.string() << ": layer " << index << " query/key/value width " << layer.qkv.cols
                                             << " is not three equal parts");
      const std::size_t attention_width = layer.qkv.cols / 3;
      layer.qkv_bias =
          weights.matrix(encode + "MultiheadAttention/qkv_transform_single/bias" + partitions, 1, layer.qkv.cols);
      // The graph splits the heads by reshaping to [batch, length, heads, head width]; the head
      // width is a constant of that reshape.
      const auto head_width = static_cast<std::size_t>(
          weights.scalar(stack + "MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3"));
      RAGLINE_CHECK(head_width > 0 && attention_width % head_width == 0, format,
                    model_json_path.string() << ": layer " << index << " head width " << head_width
                                             << " does not divide the attention width " << attention_width);
      layer.heads = attention_width / head_width;
      // The runtime scales attention logits by 1/sqrt(head width); the graph scales the queries by
      // its own constant, which must be that.
      const float query_scale = weights.scalar(stack + "MultiheadAttention/mul/y");
      RAGLINE_CHECK(std::abs(query_scale * std::sqrt(static_cast<float>(head_width)) - 1.0f) < 1e-5f, format,
                    model_json_path.string() << ": layer " << index << " scales queries by " << query_scale
                                             << ", not 1/sqrt(" << head_width << ")");
      layer.output =
          weights.matrix(variables + "MultiheadAttention/output_transform_single/kernel/part_0", attention_width);
      const std::size_t width_out = layer.output.cols;
      layer.output_bias =
          weights.matrix(encode + "MultiheadAttention/output_transform_single/bias" + partitions, 1, width_out);
      if (width_out != width_in) {
        layer.residual = weights.matrix(encode + "dense/kernel" + partitions, width_in, width_out);
        layer.residual_bias = weights.matrix(encode + "dense/bias" + partitions, 1, width_out);
      }
      layer.ffn_norm_scale =
          weights.matrix(encode + "FFN/layer_prepostprocess/layer_norm/layer_norm_scale" + partitions, 1, width_out);
      layer.ffn_norm_bias =
          weights.matrix(encode + "FFN/layer_prepostprocess/layer_norm/layer_norm_bias" + partitions, 1, width_out);
      layer.ffn_in = weights.matrix(stack + "FFN/conv1/Tensordot/Reshape_1", width_out);
      layer.ffn_in_bias = weights.matrix(encode + "FFN/conv1/bias" + partitions, 1, layer.ffn_in.cols);
      layer.ffn_out = weights.matrix(stack + "FFN/conv2/Tensordot/Reshape_1", layer.ffn_in.cols, width_out);
      layer.ffn_out_bias = weights.matrix(encode + "FFN/conv2/bias" + partitions, 1, width_out);
      model->layers_.push_back(std::move(layer));
      width_in = width_out;
    }
    RAGLINE_CHECK(!model->layers_.empty(), format, model_json_path.string() << ": no transformer layers found");
    model->projection_ = weights.matrix("module/Encoder_en/hidden_layers/tanh_layer_0/weights", width_in, kDimension);
    model->projection_bias_ = weights.matrix("module/Encoder_en/hidden_layers/tanh_layer_0/bias", 1, kDimension);
  } catch (const nlohmann::json::exception& error) {
    RAGLINE_THROW(format, model_json_path.string() << ": unexpected structure: " << error.what());
  }
  return model;
}

void UseLiteModel::run_layer(const Layer& layer, Matrix& x, std::span<const std::size_t> lengths,
                             std::size_t max_length) const {
  Matrix normalised = x;
  layer_norm(normalised, as_span(layer.attention_norm_scale), as_span(layer.attention_norm_bias), norm_epsilon_);
  Matrix qkv;
  matmul(normalised, false, layer.qkv, false, qkv);
  add_bias(qkv, as_span(layer.qkv_bias));
  const std::size_t attention_width = qkv.cols / 3;
  Matrix q, k, v, attended, projected;
  copy_columns(qkv, 0, attention_width, q);
  copy_columns(qkv, attention_width, attention_width, k);
  copy_columns(qkv, 2 * attention_width, attention_width, v);
  multi_head_attention(q, k, v, lengths, max_length, layer.heads, attended);
  matmul(attended, false, layer.output, false, projected);
  add_bias(projected, as_span(layer.output_bias));
  if (!layer.residual.values.empty()) {
    Matrix widened;
    matmul(x, false, layer.residual, false, widened);
    add_bias(widened, as_span(layer.residual_bias));
    x = std::move(widened);
  }
  add_in_place(x, projected);

  normalised = x;
  layer_norm(normalised, as_span(layer.ffn_norm_scale), as_span(layer.ffn_norm_bias), norm_epsilon_);
  Matrix hidden, output;
  matmul(normalised, false, layer.ffn_in, false, hidden);
  add_bias(hidden, as_span(layer.ffn_in_bias));
  relu(hidden);
  matmul(hidden, false, layer.ffn_out, false, output);
  add_bias(output, as_span(layer.ffn_out_bias));
  add_in_place(x, output);
}

void UseLiteModel::forward(std::span<const std::vector<int>* const> batch, Matrix& vectors) const {
  std::vector<std::size_t> lengths(batch.size());
  std::size_t max_length = 0;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    lengths[b] = std::min(batch[b]->size(), max_pieces_);
    max_length = std::max(max_length, lengths[b]);
  }
  Matrix pooled(batch.size(), layers_.back().output.cols);
  if (max_length > 0) {
    const std::size_t width = embeddings_.cols;
    const std::size_t half = width / 2;
    Matrix x(batch.size() * max_length, width);
    for (std::size_t b = 0; b < batch.size(); ++b) {
      for (std::size_t position = 0; position < lengths[b]; ++position) {
        const int id = (*batch[b])[position];
        RAGLINE_CHECK(id >= 0 && static_cast<std::size_t>(id) < embeddings_.rows, invalid_argument,
                      "use-lite: piece id " << id << " outside the vocabulary of " << embeddings_.rows);
        const float* embedding = embeddings_.data() + static_cast<std::size_t>(id) * width;
        float* row = x.data() + (b * max_length + position) * width;
        for (std::size_t c = 0; c < half; ++c) {
          // float32 angles as the graph computes them, sin/cos of them in double as TF.js does.
          const float angle = static_cast<float>(position) * inverse_timescales_[c];
          row[c] = 2.0f * embedding[c] + static_cast<float>(std::sin(static_cast<double>(angle)));
          row[half + c] = 2.0f * embedding[half + c] + static_cast<float>(std::cos(static_cast<double>(angle)));
        }
      }
    }
    for (const Layer& layer : layers_) run_layer(layer, x, lengths, max_length);
    masked_mean_pool(x, lengths, max_length, pooled);
  }
  matmul(pooled, false, projection_, false, vectors);
  add_bias(vectors, as_span(projection_bias_));
  tanh_in_place(vectors);
  l2_normalize_rows(vectors);
}

Matrix UseLiteModel::embed_ids(std::span<const std::vector<int>> ids) const {
  // Sorted by length, batches pad little.
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::min(ids[a].size(), max_pieces_) < std::min(ids[b].size(), max_pieces_);
  });
  Matrix result(ids.size(), kDimension);
  std::vector<const std::vector<int>*> batch;
  Matrix vectors;
  for (std::size_t first = 0; first < order.size(); first += kBatchTexts) {
    const std::size_t count = std::min(kBatchTexts, order.size() - first);
    batch.clear();
    for (std::size_t i = 0; i < count; ++i) batch.push_back(&ids[order[first + i]]);
    forward(batch, vectors);
    for (std::size_t i = 0; i < count; ++i) {
      std::memcpy(result.data() + order[first + i] * kDimension, vectors.data() + i * kDimension,
                  kDimension * sizeof(float));
    }
  }
  return result;
}

Matrix UseLiteModel::embed(std::span<const std::string> texts, std::size_t* truncated) const {
  std::vector<std::vector<int>> ids;
  ids.reserve(texts.size());
  std::size_t cut = 0;
  for (const auto& text : texts) {
    ids.push_back(tokenizer_.encode(text));
    if (ids.back().size() > max_pieces_) ++cut;
  }
  if (truncated) *truncated = cut;
  return embed_ids(ids);
}

double UseLiteModel::flops(std::span<const std::size_t> lengths) const {
  double tokens = 0, squares = 0;
  for (std::size_t length : lengths) {
    tokens += static_cast<double>(length);
    squares += static_cast<double>(length) * static_cast<double>(length);
  }
  double total = 0;
  for (const Layer& layer : layers_) {
    const double per_token =
        static_cast<double>(layer.qkv.values.size() + layer.output.values.size() + layer.residual.values.size() +
                            layer.ffn_in.values.size() + layer.ffn_out.values.size());
    // Q·Kᵀ and weights·V: each length² × attention width multiply-adds per sequence.
    total += 2.0 * per_token * tokens + 2.0 * 2.0 * squares * static_cast<double>(layer.output.rows);
  }
  total += 2.0 * static_cast<double>(projection_.values.size()) * static_cast<double>(lengths.size());
  return total;
}

}  // namespace ragline::models::local
