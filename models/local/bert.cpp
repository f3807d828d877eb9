#include "models/local/bert.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"
#include "models/local/bert_encoder.hpp"
#include "models/local/runtime.hpp"
#include "models/local/safetensors.hpp"
#include "models/local/wordpiece.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kBgeQueryInstruction = "Represent this sentence for searching relevant passages: ";

// The family a model belongs to, from the words of its folder name and config's _name_or_path.
std::string model_family(const std::string& folder_name, const json& config) {
  std::string names = folder_name + " " + config.value("_name_or_path", std::string());
  std::transform(names.begin(), names.end(), names.begin(), [](unsigned char c) { return std::tolower(c); });
  std::vector<std::string> words;
  std::string word;
  for (char c : names + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word.push_back(c);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  for (const auto& w : words) {
    if (w == "e5") return "e5";
    if (w == "bge") return "bge";
  }
  return "";
}

// scripts/fusion-sweep.sh --embedder bert --embed-model NAME on Cranfield, MED and CISI: the best
// mean nDCG@10 of the settings that lose to BM25 on no set (nDCG@10 and Recall@100).
std::optional<FusionConfig> measured_fusion_defaults(const std::string& folder_name) {
  if (folder_name == "all-MiniLM-L6-v2") {
    FusionConfig fusion;
    fusion.method = "weighted";
    fusion.normalization = "zscore";
    fusion.alpha = 0.6;
    fusion.candidates = 1000;
    return fusion;
  }
  return std::nullopt;
}

}  // namespace

struct BertEmbedder::Model {
  std::string folder_name;
  BertPooling pooling = BertPooling::mean;
  std::size_t max_tokens = 0;
  std::string query_prefix, passage_prefix;
  std::size_t batch_size = 32;
  std::string id;
  std::optional<FusionConfig> fusion;
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  BertEncoder encoder;

  // Pooled, normalised vectors of a batch of token sequences (each within max_tokens).
  Matrix forward(const std::vector<const std::vector<int>*>& sequences) const;
};

Matrix BertEmbedder::Model::forward(const std::vector<const std::vector<int>*>& sequences) const {
  const BertEncoderInput input = BertEncoderInput::pad(sequences, tokenizer->pad_id());
  Matrix pooled;
  if (pooling == BertPooling::mean) {
    masked_mean_pool(encoder.encode(input), input.lengths, input.max_length, pooled);
  } else {
    // The full last layer, not encode_cls: the vectors stay bit-for-bit those KBs already hold.
    const Matrix states = encoder.encode(input);
    const std::size_t hidden = encoder.config().hidden_size;
    pooled.resize(input.lengths.size(), hidden);
    for (std::size_t b = 0; b < input.lengths.size(); ++b) {
      std::copy_n(states.data() + b * input.max_length * hidden, hidden, pooled.data() + b * hidden);
    }
  }
  l2_normalize_rows(pooled);
  return pooled;
}

BertEmbedder::BertEmbedder(std::unique_ptr<Model> model) : model_(std::move(model)) {}
BertEmbedder::~BertEmbedder() = default;

std::unique_ptr<BertEmbedder> BertEmbedder::load(const fs::path& folder, const BertOptions& options) {
  require_bert_folder(folder, "bert", " (download a Hugging Face model folder)",
                      " (only the safetensors weight format is read, not pytorch_model.bin)");
  std::error_code error;
  auto model = std::make_unique<Model>();
  model->folder_name = model_folder_name(folder);

  model->fusion = measured_fusion_defaults(model->folder_name);

  // config.json
  const fs::path config_path = folder / "config.json";
  const json config = read_model_json(config_path);
  RAGLINE_CHECK(config.is_object(), format, config_path.string() << ": not a JSON object");
  const BertConfig c = read_bert_config(config, config_path);

  // Tokenizer.
  WordPieceOptions tokenizer_options;
  const fs::path tokenizer_config_path = folder / "tokenizer_config.json";
  if (fs::is_regular_file(tokenizer_config_path, error)) {
    tokenizer_options = read_wordpiece_options(read_model_json(tokenizer_config_path), tokenizer_config_path);
  }
  model->tokenizer =
      std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::load(folder / "vocab.txt", tokenizer_options));
  RAGLINE_CHECK(model->tokenizer->vocab_size() <= c.vocab_size, format,
                (folder / "vocab.txt").string() << " has " << model->tokenizer->vocab_size()
                                                << " pieces, more than config.json's vocab_size " << c.vocab_size);

  // Sentence-transformers modules and pooling.
  fs::path pooling_path = folder / "1_Pooling" / "config.json";
  const fs::path modules_path = folder / "modules.json";
  if (fs::is_regular_file(modules_path, error)) {
    const json modules = read_model_json(modules_path);
    RAGLINE_CHECK(modules.is_array(), format, modules_path.string() << ": not a JSON array");
    for (const auto& module : modules) {
      const std::string type = module.is_object() ? module.value("type", std::string()) : std::string();
      if (type.ends_with(".Transformer") || type.ends_with(".Normalize")) continue;
      if (type.ends_with(".Pooling")) {
        pooling_path = folder / module.value("path", std::string("1_Pooling")) / "config.json";
        continue;
      }
      RAGLINE_THROW(unsupported, modules_path.string() << ": module \"" << type
                                                       << "\" is not supported (only Transformer, Pooling, Normalize)");
    }
  }
  if (fs::is_regular_file(pooling_path, error)) {
    const json pooling = read_model_json(pooling_path);
    const bool cls = pooling.value("pooling_mode_cls_token", false);
    const bool mean = pooling.value("pooling_mode_mean_tokens", false);
    for (const char* other : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                              "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
      RAGLINE_CHECK(!pooling.value(other, false), unsupported,
                    pooling_path.string() << ": " << other << " is not supported");
    }
    RAGLINE_CHECK(
        cls != mean, unsupported,
        pooling_path.string() << ": exactly one of pooling_mode_cls_token and pooling_mode_mean_tokens must be true");
    model->pooling = cls ? BertPooling::cls : BertPooling::mean;
  }

  // Token limit.
  std::size_t max_tokens = options.max_tokens;
  const fs::path sentence_config_path = folder / "sentence_bert_config.json";
  if (max_tokens == 0 && fs::is_regular_file(sentence_config_path, error)) {
    const json sentence_config = read_model_json(sentence_config_path);
    if (sentence_config.contains("max_seq_length") && sentence_config["max_seq_length"].is_number_unsigned()) {
      max_tokens = sentence_config["max_seq_length"].get<std::size_t>();
    }
  }
  if (max_tokens == 0) max_tokens = kBertDefaultMaxTokens;
  model->max_tokens = std::max<std::size_t>(2, std::min(max_tokens, c.max_position_embeddings));

  // Prefixes.
  const std::string family = model_family(model->folder_name, config);
  model->query_prefix = options.query_prefix.value_or(family == "e5"    ? "query: "
                                                      : family == "bge" ? std::string(kBgeQueryInstruction)
                                                                        : "");
  model->passage_prefix = options.passage_prefix.value_or(family == "e5" ? "passage: " : "");
  RAGLINE_CHECK(options.batch_size > 0, invalid_argument, "bert batch size must be positive");
  model->batch_size = options.batch_size;
  if (options.threads > 0) set_thread_count(options.threads);

  // Weights.
  const SafetensorsFile weights = SafetensorsFile::open(folder / "model.safetensors");
  model->encoder = BertEncoder::load(weights, bert_tensor_prefix(weights), c, options.precision);

  // Identity: what the weights are (header + size is cheap and changes with any re-export) and
  // every setting that changes vectors.
  json settings = {{"file_size", weights.file_size()},
                   {"lower_case", tokenizer_options.lower_case},
                   {"strip_accents", tokenizer_options.strip_accents.value_or(tokenizer_options.lower_case)},
                   {"split_cjk", tokenizer_options.split_cjk},
                   {"pooling", model->pooling == BertPooling::cls ? "cls" : "mean"},
                   {"max_tokens", model->max_tokens},
                   {"query_prefix", model->query_prefix},
                   {"passage_prefix", model->passage_prefix}};
  if (options.precision == BertPrecision::int8) settings["precision"] = "int8";
  model->id = "bert/" + model->folder_name + "/" + std::to_string(c.hidden_size) + "/" +
              bert_model_digest(weights, folder / "vocab.txt", settings);
  return std::unique_ptr<BertEmbedder>(new BertEmbedder(std::move(model)));
}

std::string BertEmbedder::id() const { return model_->id; }
std::size_t BertEmbedder::dimension() const { return model_->encoder.config().hidden_size; }
FusionConfig BertEmbedder::fusion_defaults() const {
  return model_->fusion ? *model_->fusion : models::model_fusion_defaults();
}
const BertConfig& BertEmbedder::config() const { return model_->encoder.config(); }
BertPooling BertEmbedder::pooling() const { return model_->pooling; }
std::size_t BertEmbedder::max_tokens() const { return model_->max_tokens; }
const std::string& BertEmbedder::query_prefix() const { return model_->query_prefix; }
const std::string& BertEmbedder::passage_prefix() const { return model_->passage_prefix; }
BertPrecision BertEmbedder::precision() const { return model_->encoder.precision(); }

BertPrecision parse_bert_precision(std::string_view name) {
  if (name.empty() || name == "fp32") return BertPrecision::fp32;
  if (name == "int8") return BertPrecision::int8;
  RAGLINE_THROW(invalid_argument, "bert precision \"" << name << "\" is not fp32 or int8");
}

std::vector<int> BertEmbedder::token_ids(std::string_view text, EmbedPurpose purpose, bool* truncated) const {
  const std::string& prefix = purpose == EmbedPurpose::query ? model_->query_prefix : model_->passage_prefix;
  std::vector<int> pieces = model_->tokenizer->encode(prefix.empty() ? std::string(text) : prefix + std::string(text));
  const std::size_t room = model_->max_tokens - 2;
  if (truncated) *truncated = pieces.size() > room;
  if (pieces.size() > room) pieces.resize(room);
  std::vector<int> ids;
  ids.reserve(pieces.size() + 2);
  ids.push_back(model_->tokenizer->cls_id());
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(model_->tokenizer->sep_id());
  return ids;
}

EmbeddingMatrix BertEmbedder::embed(std::span<const std::string> texts, EmbedPurpose purpose) {
  EmbeddingMatrix result;
  result.rows = texts.size();
  result.dimension = dimension();
  result.values.assign(texts.size() * result.dimension, 0.0f);
  std::vector<std::vector<int>> sequences(texts.size());
  std::size_t truncated_count = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    bool truncated = false;
    sequences[i] = token_ids(texts[i], purpose, &truncated);
    truncated_count += truncated ? 1 : 0;
  }
  truncated_texts_ += truncated_count;
  std::vector<std::size_t> lengths(sequences.size());
  for (std::size_t i = 0; i < sequences.size(); ++i) lengths[i] = sequences[i].size();
  for_each_length_batch(lengths, model_->batch_size, [&](std::span<const std::size_t> indices) {
    std::vector<const std::vector<int>*> batch;
    for (const std::size_t i : indices) batch.push_back(&sequences[i]);
    const Matrix pooled = model_->forward(batch);
    for (std::size_t j = 0; j < indices.size(); ++j) {
      std::copy_n(pooled.data() + j * result.dimension, result.dimension,
                  result.values.data() + indices[j] * result.dimension);
    }
  });
  return result;
}

std::unique_ptr<Embedder> make_bert_embedder(const EmbedderConfig& config) {
  RAGLINE_CHECK(!config.model.empty(), invalid_argument,
                "the bert embedder needs a model: a name in the models folder (--embed-model all-MiniLM-L6-v2) "
                "or a model folder's path (EmbedderConfig::model)");
  BertOptions options;
  const auto prefix = [](const std::string& value) -> std::optional<std::string> {
    if (value.empty()) return std::nullopt;
    if (value == "none") return std::string();
    return value;
  };
  options.query_prefix = prefix(config.query_prefix);
  options.passage_prefix = prefix(config.passage_prefix);
  options.batch_size = std::max<std::size_t>(1, std::min<std::size_t>(config.batch_size, 64));
  options.precision = parse_bert_precision(config.precision);
  auto embedder = BertEmbedder::load(local_model_folder(config, "bert model"), options);
  RAGLINE_CHECK(config.dimension == 0 || static_cast<std::size_t>(config.dimension) == embedder->dimension(),
                invalid_argument,
                "the bert model in " << config.model << " gives " << embedder->dimension()
                                     << "-dimensional vectors, not " << config.dimension);
  return embedder;
}

}  // namespace ragline::models::local
