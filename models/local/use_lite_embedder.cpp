// The `use-lite` Embedder: UseLiteModel behind the Embedder interface, found in the models folder.

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "core/check.hpp"
#include "models/embedder.hpp"
#include "models/local/use_lite.hpp"

namespace ragline::models {
namespace {

// One loaded copy per model folder in the process: a KB's retriever and its ingest pipeline
// each make an embedder, and the weights (28 MB) are read-only.
std::shared_ptr<const local::UseLiteModel> shared_model(const std::filesystem::path& model_dir) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::weak_ptr<const local::UseLiteModel>> loaded;
  std::lock_guard lock(mutex);
  auto& slot = loaded[model_dir];
  if (auto model = slot.lock()) return model;
  auto model = local::UseLiteModel::load(model_dir);
  slot = model;
  return model;
}

class UseLiteEmbedder final : public Embedder {
 public:
  explicit UseLiteEmbedder(std::shared_ptr<const local::UseLiteModel> model) : model_(std::move(model)) {}

  std::string id() const override { return "use-lite-v1/" + std::to_string(local::UseLiteModel::kDimension); }
  std::size_t dimension() const override { return local::UseLiteModel::kDimension; }
  std::size_t texts_truncated() const override { return truncated_.load(); }

  // scripts/fusion-sweep.sh --embedder use-lite: the best mean nDCG@10 of the settings that lose
  // to BM25 on no set; it needs the long candidate lists (100 per side lost on one set).
  FusionConfig fusion_defaults() const override {
    FusionConfig fusion;
    fusion.method = "weighted";
    fusion.normalization = "minmax";
    fusion.alpha = 0.2;
    fusion.candidates = 1000;
    return fusion;
  }

  // Documents and queries are embedded alike (the model has no query/passage distinction).
  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose) override {
    std::size_t truncated = 0;
    local::Matrix vectors = model_->embed(texts, &truncated);
    truncated_ += truncated;
    EmbeddingMatrix matrix;
    matrix.rows = vectors.rows;
    matrix.dimension = vectors.cols;
    matrix.values = std::move(vectors.values);
    return matrix;
  }

 private:
  std::shared_ptr<const local::UseLiteModel> model_;
  std::atomic<std::size_t> truncated_{0};
};

}  // namespace

std::filesystem::path local_models_dir(const EmbedderConfig& config) {
  if (!config.models_dir.empty()) return config.models_dir;
  const char* environment = std::getenv("RAGLINE_MODELS_DIR");
  if (environment && *environment) return environment;
  return "models";
}

std::filesystem::path local_model_folder(const EmbedderConfig& config, std::string_view what) {
  const std::string& model = config.model;
  const bool is_name = !model.empty() && model != "." && model != ".." && model.front() != '~' &&
                       model.find_first_of("/\\") == std::string::npos;
  if (!is_name) return model;
  const std::filesystem::path folder = local_models_dir(config) / model;
  std::error_code error;
  RAGLINE_CHECK(std::filesystem::is_directory(folder, error), not_found,
                what << " \"" << model << "\" not found: " << folder.string()
                     << " does not exist. Fetch the models with scripts/fetch-models.sh [MODELS_DIR] and "
                        "pass that folder as --models-dir (or $RAGLINE_MODELS_DIR), or give a model "
                        "folder's path (containing a /)");
  return folder;
}

std::unique_ptr<Embedder> make_use_lite_embedder(const EmbedderConfig& config) {
  RAGLINE_CHECK(config.dimension == 0 || config.dimension == static_cast<int>(local::UseLiteModel::kDimension),
                invalid_argument,
                "use-lite embeds into " << local::UseLiteModel::kDimension << " dimensions, not " << config.dimension);
  RAGLINE_CHECK(config.model.empty(), invalid_argument,
                "use-lite takes no model name (got \"" << config.model << "\"); its files come from the models folder");
  const std::filesystem::path model_dir = local_models_dir(config) / "use-lite";
  RAGLINE_CHECK(std::filesystem::exists(model_dir / "dist" / "model.json"), not_found,
                "use-lite model not found: " << (model_dir / "dist" / "model.json").string()
                                             << " is missing. Fetch it with scripts/fetch-models.sh [MODELS_DIR] and "
                                                "pass that folder as --models-dir (or $RAGLINE_MODELS_DIR)");
  return std::make_unique<UseLiteEmbedder>(shared_model(model_dir));
}

}  // namespace ragline::models
