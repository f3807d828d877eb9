#pragma once
// Embedder: turns texts into fixed-size float vectors. Implementations are looked up by name
// (EmbedderConfig::name): lexical (built in, offline), openai and bedrock (HTTP model services),
// use-lite (a local neural model, models/local/).
// Models are stateless: every call carries all the text it needs.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/types.hpp"

namespace ragline::models {

// Row-major vectors: row i holds dimension floats for text i.
struct EmbeddingMatrix {
  std::size_t rows = 0;
  std::size_t dimension = 0;
  std::vector<float> values;

  std::span<const float> row(std::size_t i) const { return {values.data() + i * dimension, dimension}; }
  std::span<float> row(std::size_t i) { return {values.data() + i * dimension, dimension}; }
};

// Documents and queries may be embedded differently (Cohere's input_type, e5 prefixes).
enum class EmbedPurpose { document, query };

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Identifies the model and everything that changes its vectors, e.g. "lexical-v1/768",
  // "openai/text-embedding-3-small/1536". Vectors from different ids are never mixed.
  virtual std::string id() const = 0;
  virtual std::size_t dimension() const = 0;
  // One row per text, in order. Throws Error (kind network for service failures, naming the
  // endpoint and status, never a credential).
  virtual EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) = 0;
  // Whether vectors are worth keeping in the KB's embedding cache: true for model services,
  // false where computing a vector is cheaper than looking it up.
  virtual bool cacheable() const { return true; }
  // Texts this embedder has cut to its input window since it was made (models with a fixed
  // window, e.g. use-lite's 128 pieces); 0 for embedders that never cut. Thread-safe.
  virtual std::size_t texts_truncated() const { return 0; }
};

// An embedder whose query vectors can weight each query term, e.g. by its rarity in the KB (the
// lexical embedder: documents are embedded without corpus statistics, queries with them).
class TermWeightedEmbedder {
 public:
  virtual ~TermWeightedEmbedder() = default;
  // `weight` is called once per distinct analysed query term.
  virtual std::vector<float> embed_query(std::string_view text,
                                         const std::function<float(std::string_view term)>& weight) = 0;
};

// Throws Error(invalid_argument) for an unknown name or bad options ("none" is not an embedder).
// The lexical embedder drops the stopwords of the KB's analyser language.
std::unique_ptr<Embedder> make_embedder(const EmbedderConfig& config, const AnalyzerConfig& analyzer = {});

// The HTTP embedders (models/embedder_openai.cpp, models/embedder_bedrock.cpp).
std::unique_ptr<Embedder> make_openai_embedder(const EmbedderConfig& config);
std::unique_ptr<Embedder> make_bedrock_embedder(const EmbedderConfig& config);
// The local Universal Sentence Encoder Lite (models/local/use_lite_embedder.cpp): id
// "use-lite-v1/512". Throws Error(not_found) naming scripts/fetch-models.sh when the model is not
// in the models folder (EmbedderConfig::models_dir).
std::unique_ptr<Embedder> make_use_lite_embedder(const EmbedderConfig& config);
// The models folder of local embedders: config.models_dir, else $RAGLINE_MODELS_DIR, else
// models/ in the working directory.
std::filesystem::path local_models_dir(const EmbedderConfig& config);

// Scales a vector to unit L2 length in place (a zero vector stays zero).
void normalize_vector(std::span<float> vector);
// normalize_vector on each row.
void normalize_rows(EmbeddingMatrix& matrix);

}  // namespace ragline::models
