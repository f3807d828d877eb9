#pragma once
// The embedder registry, the single place an EmbedderConfig::name is resolved: the built-in
// lexical embedder (here), openai and bedrock (HTTP model services), use-lite and bert (local
// models, models/local/), and whatever an application registers (register_embedder). The
// Embedder interface itself is public: ragline/embedder.hpp.
// Models are stateless: every call carries all the text it needs.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/embedder.hpp"
#include "ragline/types.hpp"

namespace ragline::models {

using ragline::Embedder;
using ragline::EmbeddingMatrix;
using ragline::EmbedPurpose;

// An embedder whose query vectors can weight each query term, e.g. by its rarity in the KB (the
// lexical embedder: documents are embedded without corpus statistics, queries with them).
class TermWeightedEmbedder {
 public:
  virtual ~TermWeightedEmbedder() = default;
  // `weight` is called once per distinct analysed query term.
  virtual std::vector<float> embed_query(std::string_view text,
                                         const std::function<float(std::string_view term)>& weight) = 0;
};

// The embedder config.name names, through the registry. Throws Error(invalid_argument) for an
// unknown name (listing the registered ones; "none" is not an embedder) or bad options. The
// lexical embedder drops the stopwords of the KB's analyser language.
std::unique_ptr<Embedder> make_embedder(const EmbedderConfig& config, const AnalyzerConfig& analyzer = {});
// Whether make_embedder knows `name`.
bool is_registered_embedder(const std::string& name);
// Throws Error(invalid_argument) "unknown embedder ..." listing the registered names (and "none")
// unless `name` is registered or "none".
void check_embedder_name(const std::string& name);

// What "auto" fusion means for an embedder that does not say (Embedder::fusion_defaults) and for
// a KB without one: weighted minmax fusion, alpha 0.3, 100 candidates per side.
FusionConfig model_fusion_defaults();

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
// A local model's folder from config.model: a bare name (no path separator, not "." or "..", not
// starting with "~") is a folder in local_models_dir(config); anything else is a path, returned
// as it is. A name whose folder is missing is Error(not_found) naming `what` (e.g. "bert model"),
// the folder searched and scripts/fetch-models.sh.
std::filesystem::path local_model_folder(const EmbedderConfig& config, std::string_view what);

// Scales a vector to unit L2 length in place (a zero vector stays zero).
void normalize_vector(std::span<float> vector);
// normalize_vector on each row.
void normalize_rows(EmbeddingMatrix& matrix);

}  // namespace ragline::models
