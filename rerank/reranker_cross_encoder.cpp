// The local cross-encoder stage: every candidate's text is scored against the query by a BERT
// cross-encoder run in this process (models/local/cross_encoder.hpp), and the hits are sorted by
// that score.

#include <algorithm>
#include <map>
#include <mutex>
#include <numeric>

#include "core/check.hpp"
#include "models/embedder.hpp"
#include "models/local/cross_encoder.hpp"
#include "rerank/reranker.hpp"
#include "rerank/reranker_service.hpp"

namespace ragline::rerank {
namespace {

namespace fs = std::filesystem;
using models::local::CrossEncoder;

// A model is loaded once per process and folder: the chain builds its stages for every query.
std::shared_ptr<const CrossEncoder> shared_model(const fs::path& folder, std::size_t batch_size) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::size_t>, std::shared_ptr<const CrossEncoder>> models;
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(folder, error);
  const auto key = std::make_pair((error ? folder : canonical).string(), batch_size);
  std::lock_guard lock(mutex);
  if (const auto found = models.find(key); found != models.end()) return found->second;
  models::local::CrossEncoderOptions options;
  options.batch_size = batch_size;
  std::shared_ptr<const CrossEncoder> model = CrossEncoder::load(folder, options);
  models.emplace(key, model);
  return model;
}

class CrossEncoderReranker final : public Reranker {
 public:
  CrossEncoderReranker(const RerankerConfig& config, std::shared_ptr<const CrossEncoder> model)
      : config_(config), model_(std::move(model)) {}

  std::string describe() const override { return "cross-encoder model=" + config_.model; }

  std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const override {
    std::vector<std::string> documents;
    documents.reserve(candidates.size());
    for (const Hit& hit : candidates) documents.push_back(document_text(hit));
    const std::vector<float> scores = model_->scores(request.query, documents);
    std::vector<std::size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), 0);
    // Ties keep the retrieval order.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    std::vector<Hit> ranked;
    const std::size_t limit = output_size(config_, request);
    for (const std::size_t i : order) {
      if (ranked.size() >= limit) break;
      if (config_.min_score && scores[i] < *config_.min_score) continue;
      candidates[i].rerank_score = scores[i];
      ranked.push_back(std::move(candidates[i]));
    }
    return ranked;
  }

 private:
  RerankerConfig config_;
  std::shared_ptr<const CrossEncoder> model_;
};

}  // namespace

std::unique_ptr<Reranker> make_cross_encoder_reranker(const RerankerConfig& config) {
  RAGLINE_CHECK(!config.model.empty(), invalid_argument,
                "reranker cross-encoder needs a model: a name in the models folder or a folder path (--rerank-model)");
  RAGLINE_CHECK(config.batch_size > 0, invalid_argument, "reranker cross-encoder: batch_size must be positive");
  EmbedderConfig model_location;
  model_location.model = config.model;
  const fs::path folder = models::local_model_folder(model_location, "cross-encoder model");
  std::error_code error;
  RAGLINE_CHECK(fs::is_directory(folder, error), not_found,
                "cross-encoder model folder " << folder.string()
                                              << " does not exist: pass the path of a Hugging Face "
                                                 "BertForSequenceClassification folder (config.json, vocab.txt, "
                                                 "model.safetensors), or a name fetched by scripts/fetch-models.sh");
  return std::make_unique<CrossEncoderReranker>(config,
                                                shared_model(folder, std::min<std::size_t>(config.batch_size, 64)));
}

}  // namespace ragline::rerank
