#include "rerank/reranker_service.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/check.hpp"

namespace ragline::rerank {
namespace {

[[noreturn]] void throw_malformed(std::string_view endpoint, const std::string& what) {
  RAGLINE_THROW(format, endpoint << ": malformed rerank response: " << what);
}

const nlohmann::json* results_of(const nlohmann::json& body) {
  if (body.is_array()) return &body;
  if (!body.is_object()) return nullptr;
  for (const char* key : {"results", "data"}) {
    if (auto found = body.find(key); found != body.end() && found->is_array()) return &*found;
  }
  return nullptr;
}

}  // namespace

std::string document_text(const Hit& hit) {
  if (hit.title.empty() || hit.text.starts_with(hit.title)) return hit.text;
  return hit.title + "\n\n" + hit.text;
}

std::vector<std::optional<double>> read_batch_scores(const std::string& body, std::string_view endpoint,
                                                     std::size_t documents) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw_malformed(endpoint, "the body is not JSON");
  const nlohmann::json* results = results_of(parsed);
  if (results == nullptr) throw_malformed(endpoint, "no results array (a JSON array, \"results\" or \"data\")");
  std::vector<std::optional<double>> scores(documents);
  for (std::size_t item = 0; item < results->size(); ++item) {
    const nlohmann::json& result = (*results)[item];
    const std::string where = "results[" + std::to_string(item) + "]";
    if (!result.is_object()) throw_malformed(endpoint, where + " is not an object");
    const auto index = result.find("index");
    if (index == result.end() || !index->is_number_integer())
      throw_malformed(endpoint, where + " has no integer index");
    const std::int64_t position = index->get<std::int64_t>();
    if (position < 0 || static_cast<std::size_t>(position) >= documents) {
      throw_malformed(endpoint, where + " has index " + std::to_string(position) + " for " + std::to_string(documents) +
                                    " documents");
    }
    const nlohmann::json* score = nullptr;
    for (const char* key : {"relevance_score", "relevanceScore", "score"}) {
      if (auto found = result.find(key); found != result.end()) {
        score = &*found;
        break;
      }
    }
    if (score == nullptr || !score->is_number()) throw_malformed(endpoint, where + " has no numeric relevance score");
    if (scores[position]) throw_malformed(endpoint, where + " repeats index " + std::to_string(position));
    scores[position] = score->get<double>();
  }
  return scores;
}

ServiceReranker::ServiceReranker(const RerankerConfig& config, std::string stage)
    : config_(config), stage_(std::move(stage)) {
  RAGLINE_CHECK(config.batch_size >= 1, invalid_argument, "reranker " << stage_ << ": batch_size must be at least 1");
  RAGLINE_CHECK(config.max_in_flight >= 1, invalid_argument,
                "reranker " << stage_ << ": max_in_flight must be at least 1, got " << config.max_in_flight);
  RAGLINE_CHECK(config.timeout_seconds > 0, invalid_argument,
                "reranker " << stage_ << ": timeout_seconds must be positive, got " << config.timeout_seconds);
  RAGLINE_CHECK(config.max_retries >= 0, invalid_argument,
                "reranker " << stage_ << ": max_retries must not be negative, got " << config.max_retries);
  http_.max_in_flight = config.max_in_flight;
  http_.timeout_seconds = config.timeout_seconds;
  http_.max_retries = config.max_retries;
}

std::vector<Hit> ServiceReranker::rerank(const RerankRequest& request, std::vector<Hit> candidates) const {
  if (candidates.empty()) return candidates;
  std::vector<std::string> documents;
  documents.reserve(candidates.size());
  for (const auto& hit : candidates) documents.push_back(document_text(hit));

  std::vector<net::HttpRequest> requests;
  for (std::size_t begin = 0; begin < documents.size(); begin += config_.batch_size) {
    const std::size_t count = std::min(config_.batch_size, documents.size() - begin);
    requests.push_back(make_request(request.query, std::span<const std::string>(documents).subspan(begin, count)));
  }
  const auto responses = net::perform_http_requests(std::move(requests), http_);

  std::vector<std::optional<double>> scores;
  scores.reserve(candidates.size());
  for (std::size_t batch = 0; batch < responses.size(); ++batch) {
    const std::size_t begin = batch * config_.batch_size;
    const std::size_t count = std::min(config_.batch_size, documents.size() - begin);
    for (const auto& score : read_batch_scores(responses[batch].body, endpoint(), count)) scores.push_back(score);
  }

  // Scored hits by score, then the hits the service left out; retrieval order breaks ties.
  std::vector<std::size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (scores[a].has_value() != scores[b].has_value()) return scores[a].has_value();
    return scores[a] && *scores[a] > *scores[b];
  });
  std::vector<Hit> ranked;
  const std::size_t wanted = output_size(config_, request);
  for (const std::size_t i : order) {
    if (ranked.size() >= wanted) break;
    if (config_.min_score && (!scores[i] || *scores[i] < *config_.min_score)) continue;
    if (scores[i]) candidates[i].rerank_score = scores[i];
    ranked.push_back(std::move(candidates[i]));
  }
  return ranked;
}

}  // namespace ragline::rerank
