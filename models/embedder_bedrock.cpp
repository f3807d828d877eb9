// Amazon Bedrock InvokeModel embedders, signed with SigV4 (service "bedrock") afresh for every
// attempt. Supported model families:
//  - Amazon Titan Text Embeddings v2 (amazon.titan-embed-text-v2:0, the default): one text per
//    request, dimension 256, 512 or 1024 (default 1024), normalised by the service.
//  - Cohere Embed v3 (cohere.embed-english-v3, cohere.embed-multilingual-v3): up to 96 texts
//    per request, 1024 values; input_type follows the EmbedPurpose.
//  - Cohere Embed v4 and later (other cohere.embed* ids): as v3, with output_dimension sent when
//    a dimension is configured; with dimension 0 the model's size is learnt from the first
//    response (dimension() is 0 until then).
// Inference-profile ids ("us.cohere.embed-v4:0") are recognised by the same names.
// Credentials come from the environment (AWS_ACCESS_KEY_ID...) at each embed() call.

#include <algorithm>
#include <atomic>
#include <utility>

#include "core/check.hpp"
#include "models/embedder.hpp"
#include "models/embedder_http.hpp"
#include "net/sigv4.hpp"
#include "net/url.hpp"

namespace ragline::models {
namespace {

constexpr std::string_view kDefaultModel = "amazon.titan-embed-text-v2:0";
constexpr std::size_t kCohereMaxTexts = 96;

enum class ModelFamily { titan_v2, cohere_v3, cohere_later };

ModelFamily family_of(const std::string& model) {
  const auto contains = [&](std::string_view part) { return model.find(part) != std::string::npos; };
  if (contains("amazon.titan-embed-text-v2")) return ModelFamily::titan_v2;
  if (contains("cohere.embed-english-v3") || contains("cohere.embed-multilingual-v3")) return ModelFamily::cohere_v3;
  if (contains("cohere.embed")) return ModelFamily::cohere_later;
  RAGLINE_THROW(unsupported, "bedrock embedder: unsupported model " << model
                                                                    << " (supported: amazon.titan-embed-text-v2*, "
                                                                       "cohere.embed*)");
}

std::size_t checked_dimension(ModelFamily family, int dimension, const std::string& model) {
  switch (family) {
    case ModelFamily::titan_v2:
      RAGLINE_CHECK(dimension == 0 || dimension == 256 || dimension == 512 || dimension == 1024, invalid_argument,
                    "bedrock embedder: " << model << " supports dimension 256, 512 or 1024, not " << dimension);
      return dimension == 0 ? 1024 : static_cast<std::size_t>(dimension);
    case ModelFamily::cohere_v3:
      RAGLINE_CHECK(dimension == 0 || dimension == 1024, invalid_argument,
                    "bedrock embedder: " << model << " has dimension 1024, not " << dimension);
      return 1024;
    case ModelFamily::cohere_later:
      RAGLINE_CHECK(dimension == 0 || dimension == 256 || dimension == 512 || dimension == 1024 || dimension == 1536,
                    invalid_argument,
                    "bedrock embedder: " << model << " supports dimension 256, 512, 1024 or 1536, not " << dimension);
      return static_cast<std::size_t>(dimension);
  }
  return 0;
}

std::string resolve_region(const std::string& configured) {
  if (!configured.empty()) return configured;
  const std::string from_environment = environment_variable("AWS_REGION");
  return from_environment.empty() ? "us-east-1" : from_environment;
}

std::string invoke_url(std::string base_url, const std::string& region, const std::string& model) {
  if (base_url.empty()) base_url = "https://bedrock-runtime." + region + ".amazonaws.com";
  return net::join_url(base_url, "/model/" + net::uri_encode(model) + "/invoke");
}

class BedrockEmbedder final : public Embedder {
 public:
  explicit BedrockEmbedder(const EmbedderConfig& config)
      : model_(config.model.empty() ? std::string(kDefaultModel) : config.model),
        family_(family_of(model_)),
        configured_dimension_(config.dimension),
        dimension_(checked_dimension(family_, config.dimension, model_)),
        scope_{resolve_region(config.region), "bedrock"},
        url_(invoke_url(config.base_url, scope_.region, model_)),
        endpoint_(net::redact_url(url_)),
        http_(http_options_for(config, "bedrock")),
        query_http_(query_http_options(http_)),
        batch_size_(family_ == ModelFamily::titan_v2 ? 1 : std::min(config.batch_size, kCohereMaxTexts)),
        batch_bytes_(config.batch_bytes) {}

  std::string id() const override { return "bedrock/" + model_ + "/" + std::to_string(dimension()); }
  std::size_t dimension() const override { return dimension_.load(); }

  EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) override {
    if (texts.empty()) return EmbeddingMatrix{0, dimension(), {}};

    const net::AwsCredentials credentials = net::credentials_from_environment();
    const auto batches = plan_text_batches(texts, batch_size_, batch_bytes_);
    std::vector<net::HttpRequest> requests;
    requests.reserve(batches.size());
    for (const auto& batch : batches) {
      net::HttpRequest request;
      request.url = url_;
      request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
      request.body = request_body(texts.subspan(batch.begin, batch.end - batch.begin), purpose)
                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      // A signature is valid for minutes only and carries its time: sign each attempt anew.
      request.before_attempt = [scope = scope_, credentials](net::HttpRequest& attempt) {
        net::sigv4_sign_request(attempt, scope, credentials);
      };
      requests.push_back(std::move(request));
    }
    const auto responses =
        net::perform_http_requests(std::move(requests), purpose == EmbedPurpose::query ? query_http_ : http_);

    std::vector<std::vector<float>> rows;
    rows.reserve(texts.size());
    for (std::size_t batch = 0; batch < batches.size(); ++batch) {
      read_batch(responses[batch].body, batches[batch].end - batches[batch].begin, rows);
    }
    return unit_rows(rows);
  }

 private:
  nlohmann::json request_body(std::span<const std::string> texts, EmbedPurpose purpose) const {
    if (family_ == ModelFamily::titan_v2) {
      return {{"inputText", texts.front()}, {"dimensions", dimension_.load()}, {"normalize", true}};
    }
    nlohmann::json body = {{"texts", std::vector<std::string>(texts.begin(), texts.end())},
                           {"input_type", purpose == EmbedPurpose::query ? "search_query" : "search_document"},
                           {"truncate", "END"}};
    if (family_ == ModelFamily::cohere_later) {
      body["embedding_types"] = {"float"};
      if (configured_dimension_ > 0) body["output_dimension"] = configured_dimension_;
    }
    return body;
  }

  void read_batch(const std::string& body, std::size_t expected, std::vector<std::vector<float>>& rows) {
    auto parsed = parse_bedrock_embeddings(body, expected, family_ == ModelFamily::titan_v2, endpoint_);
    for (std::size_t item = 0; item < parsed.size(); ++item) {
      check_dimension(parsed[item].size(), family_ == ModelFamily::titan_v2
                                               ? std::string("embedding")
                                               : "embeddings[" + std::to_string(item) + "]");
      rows.push_back(std::move(parsed[item]));
    }
  }

  void check_dimension(std::size_t size, const std::string& where) {
    check_response_dimension(dimension_, size, endpoint_, where);
  }

  std::string model_;
  ModelFamily family_;
  int configured_dimension_;
  std::atomic<std::size_t> dimension_;
  net::SigV4Scope scope_;
  std::string url_;       // what is requested, query string included
  std::string endpoint_;  // what messages name: url_ without query string
  net::HttpOptions http_;
  net::HttpOptions query_http_;  // shorter budget for queries (embedder_http.hpp)
  std::size_t batch_size_;
  std::size_t batch_bytes_;
};

}  // namespace

std::vector<std::vector<float>> parse_bedrock_embeddings(const std::string& body, std::size_t expected, bool titan,
                                                         std::string_view endpoint) {
  const nlohmann::json response = parse_json_response(body, endpoint);
  if (!response.is_object()) throw_malformed_response(endpoint, "the body is not a JSON object");
  std::vector<std::vector<float>> rows;
  if (titan) {
    if (!response.contains("embedding")) throw_malformed_response(endpoint, "no \"embedding\"");
    rows.push_back(json_to_vector(response["embedding"], endpoint, "embedding"));
    return rows;
  }
  // Cohere answers {"embeddings": [[...]]}, or {"embeddings": {"float": [[...]]}} when
  // embedding_types was given.
  const nlohmann::json* embeddings = response.contains("embeddings") ? &response["embeddings"] : nullptr;
  if (embeddings != nullptr && embeddings->is_object()) {
    embeddings = embeddings->contains("float") ? &(*embeddings)["float"] : nullptr;
  }
  if (embeddings == nullptr || !embeddings->is_array()) {
    throw_malformed_response(endpoint, "no \"embeddings\" array (or \"embeddings\".\"float\")");
  }
  if (embeddings->size() != expected) {
    throw_malformed_response(
        endpoint, std::to_string(embeddings->size()) + " embeddings for " + std::to_string(expected) + " texts");
  }
  for (std::size_t item = 0; item < embeddings->size(); ++item) {
    rows.push_back(json_to_vector((*embeddings)[item], endpoint, "embeddings[" + std::to_string(item) + "]"));
  }
  return rows;
}

std::unique_ptr<Embedder> make_bedrock_embedder(const EmbedderConfig& config) {
  return std::make_unique<BedrockEmbedder>(config);
}

}  // namespace ragline::models
