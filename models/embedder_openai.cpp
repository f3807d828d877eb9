// An OpenAI-compatible /v1/embeddings client (OpenAI, Azure-style proxies, Ollama, vLLM, LM
// Studio...). With dimension 0 the model's own size is learnt from the first response:
// dimension() is 0 and id() ends in "/0" until a call to embed() has succeeded.

#include <atomic>
#include <utility>

#include "core/check.hpp"
#include "models/embedder.hpp"
#include "models/embedder_http.hpp"
#include "net/api_key.hpp"
#include "net/url.hpp"

namespace ragline::models {
namespace {

constexpr std::string_view kDefaultBaseUrl = "https://api.openai.com";

std::string embeddings_url(const std::string& base_url) {
  return net::join_versioned_url(base_url.empty() ? kDefaultBaseUrl : base_url, "/v1", "/embeddings");
}

class OpenAiEmbedder final : public Embedder {
 public:
  explicit OpenAiEmbedder(const EmbedderConfig& config)
      : config_(config),
        url_(embeddings_url(config.base_url)),
        endpoint_(net::redact_url(url_)),
        http_(http_options_for(config, "openai")),
        query_http_(query_http_options(http_)),
        dimension_(static_cast<std::size_t>(config.dimension)) {
    RAGLINE_CHECK(!config.model.empty(), invalid_argument,
                  "openai embedder: a model is required (e.g. text-embedding-3-small)");
  }

  std::string id() const override { return "openai/" + config_.model + "/" + std::to_string(dimension()); }
  std::size_t dimension() const override { return dimension_.load(); }

  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) override {
    if (texts.empty()) return EmbeddingMatrix{0, dimension(), {}};

    const auto batches = plan_text_batches(texts, config_.batch_size, config_.batch_bytes);
    // Read per call, so that a key set after the KB was opened is used; and checked here, not when
    // the embedder is made, so that a KB whose named key variable is unset still opens and
    // answers keyword searches.
    const std::string api_key =
        net::api_key_from_environment(config_.api_key_env, net::kOpenAiKeyVariable, "openai embedder");
    std::vector<net::HttpRequest> requests;
    requests.reserve(batches.size());
    for (const auto& batch : batches) {
      nlohmann::json body = {
          {"model", config_.model},
          {"input", std::vector<std::string>(texts.begin() + static_cast<std::ptrdiff_t>(batch.begin),
                                             texts.begin() + static_cast<std::ptrdiff_t>(batch.end))},
          {"encoding_format", "float"}};
      if (config_.dimension > 0) body["dimensions"] = config_.dimension;
      net::HttpRequest request;
      request.url = url_;
      request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
      if (!api_key.empty()) request.headers.emplace_back("Authorization", "Bearer " + api_key);
      request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      requests.push_back(std::move(request));
    }
    const auto responses =
        net::perform_http_requests(std::move(requests), purpose == EmbedPurpose::query ? query_http_ : http_);

    std::vector<std::vector<float>> rows(texts.size());
    for (std::size_t batch = 0; batch < batches.size(); ++batch) {
      read_batch(responses[batch].body, batches[batch], rows);
    }
    return unit_rows(rows);
  }

 private:
  // Fills rows[batch.begin, batch.end) from one response, in the order of its "index" fields.
  void read_batch(const std::string& body, const TextBatch& batch, std::vector<std::vector<float>>& rows) {
    auto parsed = parse_openai_embeddings(body, batch.end - batch.begin, endpoint_);
    for (std::size_t index = 0; index < parsed.size(); ++index) {
      check_dimension(parsed[index].size(), "data[" + std::to_string(index) + "]");
      rows[batch.begin + index] = std::move(parsed[index]);
    }
  }

  void check_dimension(std::size_t size, const std::string& where) {
    check_response_dimension(dimension_, size, endpoint_, where);
  }

  EmbedderConfig config_;
  std::string url_;       // what is requested, query string included
  std::string endpoint_;  // what messages name: url_ without query string (it may hold a key)
  net::HttpOptions http_;
  net::HttpOptions query_http_;  // shorter budget for queries (embedder_http.hpp)
  std::atomic<std::size_t> dimension_;
};

}  // namespace

std::vector<std::vector<float>> parse_openai_embeddings(const std::string& body, std::size_t expected,
                                                        std::string_view endpoint) {
  const nlohmann::json response = parse_json_response(body, endpoint);
  if (!response.is_object() || !response.contains("data") || !response["data"].is_array()) {
    throw_malformed_response(endpoint, "no \"data\" array");
  }
  const auto& data = response["data"];
  if (data.size() != expected) {
    throw_malformed_response(endpoint,
                             std::to_string(data.size()) + " embeddings for " + std::to_string(expected) + " inputs");
  }
  std::vector<std::vector<float>> rows(expected);
  for (std::size_t item = 0; item < data.size(); ++item) {
    const auto& entry = data[item];
    const std::string where = "data[" + std::to_string(item) + "]";
    if (!entry.is_object() || !entry.contains("index") || !entry["index"].is_number_unsigned()) {
      throw_malformed_response(endpoint, where + " has no \"index\"");
    }
    const auto index = entry["index"].get<std::size_t>();
    if (index >= expected || !rows[index].empty()) {
      throw_malformed_response(endpoint, where + " has an index out of range or repeated: " + std::to_string(index));
    }
    if (!entry.contains("embedding")) throw_malformed_response(endpoint, where + " has no \"embedding\"");
    rows[index] = json_to_vector(entry["embedding"], endpoint, where + ".embedding");
  }
  return rows;
}

std::unique_ptr<Embedder> make_openai_embedder(const EmbedderConfig& config) {
  return std::make_unique<OpenAiEmbedder>(config);
}

}  // namespace ragline::models
