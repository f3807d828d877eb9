// Amazon Bedrock Rerank (bedrock-agent-runtime, POST /rerank), signed with SigV4 (service
// "bedrock") afresh for every attempt. Models: amazon.rerank-v1:0 (the default) and
// cohere.rerank-v3-5:0, given as a model id (turned into the foundation-model ARN of the
// region) or a full ARN. Credentials come from the environment at each rerank() call.

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.hpp"
#include "net/sigv4.hpp"
#include "net/url.hpp"
#include "rerank/reranker_service.hpp"

namespace ragline::rerank {
namespace {

constexpr std::string_view kDefaultModel = "amazon.rerank-v1:0";
// The API takes at most this many sources (numberOfResults is 1 to 1000).
constexpr std::size_t kMaxSources = 1000;

std::string resolve_region(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* from_environment = std::getenv("AWS_REGION");
  return from_environment == nullptr || *from_environment == '\0' ? "us-east-1" : from_environment;
}

RerankerConfig bounded(RerankerConfig config) {
  config.batch_size = std::min(config.batch_size, kMaxSources);
  return config;
}

class BedrockReranker final : public ServiceReranker {
 public:
  explicit BedrockReranker(const RerankerConfig& config)
      : ServiceReranker(bounded(config), "bedrock"),
        scope_{resolve_region(config.region), "bedrock"},
        model_(config.model.empty() ? std::string(kDefaultModel) : config.model),
        model_arn_(model_.starts_with("arn:") ? model_
                                              : "arn:aws:bedrock:" + scope_.region + "::foundation-model/" + model_) {
    const std::string base_url =
        config.base_url.empty() ? "https://bedrock-agent-runtime." + scope_.region + ".amazonaws.com" : config.base_url;
    endpoint_ = net::join_url(base_url, net::url_path_ends_with(base_url, "/rerank") ? "" : "/rerank");
  }

  std::string describe() const override {
    std::ostringstream text;
    text << "bedrock " << model_ << " region=" << scope_.region;
    if (config().min_score) text << " min_score=" << *config().min_score;
    return text.str();
  }

 protected:
  net::HttpRequest make_request(const std::string& query, std::span<const std::string> documents) const override {
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& document : documents) {
      sources.push_back(
          {{"type", "INLINE"}, {"inlineDocumentSource", {{"type", "TEXT"}, {"textDocument", {{"text", document}}}}}});
    }
    const nlohmann::json body = {
        {"queries", nlohmann::json::array({{{"type", "TEXT"}, {"textQuery", {{"text", query}}}}})},
        {"sources", std::move(sources)},
        {"rerankingConfiguration",
         {{"type", "BEDROCK_RERANKING_MODEL"},
          {"bedrockRerankingConfiguration",
           {{"numberOfResults", documents.size()}, {"modelConfiguration", {{"modelArn", model_arn_}}}}}}}};
    net::HttpRequest request;
    request.url = endpoint_;
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // A signature is valid for minutes only and carries its time: sign each attempt anew.
    request.before_attempt = [scope = scope_, credentials = net::credentials_from_environment()](
                                 net::HttpRequest& attempt) { net::sigv4_sign_request(attempt, scope, credentials); };
    return request;
  }

  std::string endpoint() const override { return net::redact_url(endpoint_); }

 private:
  net::SigV4Scope scope_;
  std::string model_;
  std::string model_arn_;
  std::string endpoint_;
};

}  // namespace

std::unique_ptr<Reranker> make_bedrock_reranker(const RerankerConfig& config) {
  return std::make_unique<BedrockReranker>(config);
}

}  // namespace ragline::rerank
