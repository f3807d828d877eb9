// Cross-encoder rerank services over HTTP. One `format` per request shape:
//  - cohere:   POST /v2/rerank {model, query, documents, top_n} -> {results: [{index, relevance_score}]}
//  - jina:     POST /v1/rerank {model, query, documents, top_n, return_documents} -> the same results
//  - tei:      POST /rerank {query, texts, raw_scores} -> [{index, score}] (text-embeddings-inference)
//  - llamacpp: POST /v1/rerank {model, query, documents, top_n} -> {results: [...]} (llama.cpp server)
// Every document of a batch is asked for (top_n = the batch's size): the stage's own top_n and
// min_score apply to the merged scores of all batches.

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"
#include "net/api_key.hpp"
#include "net/url.hpp"
#include "rerank/reranker_service.hpp"

namespace ragline::rerank {
namespace {

struct FormatDefaults {
  std::string_view base_url;
  std::string_view path;
  std::string_view model;
  std::string_view api_key_env;
};

FormatDefaults defaults_of(const std::string& format) {
  if (format == "cohere") return {"https://api.cohere.com", "/v2/rerank", "rerank-v3.5", "COHERE_API_KEY"};
  if (format == "jina")
    return {"https://api.jina.ai", "/v1/rerank", "jina-reranker-v2-base-multilingual", "JINA_API_KEY"};
  if (format == "tei") return {"http://127.0.0.1:8080", "/rerank", "", ""};
  if (format == "llamacpp") return {"http://127.0.0.1:8080", "/v1/rerank", "", ""};
  RAGLINE_THROW(invalid_argument,
                "reranker http: unknown format \"" << format << "\" (known: cohere, jina, tei, llamacpp)");
}

std::string endpoint_of(const std::string& base_url, std::string_view path) {
  // A base URL that already names the rerank route is used as given.
  return net::join_url(base_url, net::url_path_ends_with(base_url, "/rerank") ? std::string_view{} : path);
}

class HttpReranker final : public ServiceReranker {
 public:
  explicit HttpReranker(const RerankerConfig& config)
      : ServiceReranker(config, "http"),
        defaults_(defaults_of(config.format)),
        endpoint_(
            endpoint_of(config.base_url.empty() ? std::string(defaults_.base_url) : config.base_url, defaults_.path)),
        model_(config.model.empty() ? std::string(defaults_.model) : config.model) {
    api_key_ = net::api_key_from_environment(
        config.api_key_env.empty() ? defaults_.api_key_env : std::string_view(config.api_key_env),
        defaults_.api_key_env, "reranker http");
  }

  std::string describe() const override {
    std::ostringstream text;
    text << "http " << config().format << " " << net::redact_url(endpoint_);
    if (!model_.empty()) text << " model=" << model_;
    if (config().min_score) text << " min_score=" << *config().min_score;
    return text.str();
  }

 protected:
  net::HttpRequest make_request(const std::string& query, std::span<const std::string> documents) const override {
    nlohmann::json body;
    const std::vector<std::string> texts(documents.begin(), documents.end());
    if (config().format == "tei") {
      body = {{"query", query}, {"texts", texts}, {"raw_scores", false}};
    } else {
      if (!model_.empty()) body["model"] = model_;
      body["query"] = query;
      body["documents"] = texts;
      body["top_n"] = texts.size();
      if (config().format == "jina") body["return_documents"] = false;
    }
    net::HttpRequest request;
    request.url = endpoint_;
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!api_key_.empty()) request.headers.emplace_back("Authorization", "Bearer " + api_key_);
    request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return request;
  }

  std::string endpoint() const override { return net::redact_url(endpoint_); }

 private:
  FormatDefaults defaults_;
  std::string endpoint_;
  std::string model_;
  std::string api_key_;
};

}  // namespace

std::unique_ptr<Reranker> make_http_reranker(const RerankerConfig& config) {
  return std::make_unique<HttpReranker>(config);
}

}  // namespace ragline::rerank
