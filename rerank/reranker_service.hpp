#pragma once
// What the rerankers backed by a model service (http, bedrock) share: hit texts cut into
// batches of documents, one request per batch through net/http_client (concurrent, with
// timeouts and retries), scores read back by index and merged, hits sorted by score.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_client.hpp"
#include "rerank/reranker.hpp"

namespace ragline::rerank {

// The text a service scores for a hit: its title, a blank line and its text (the title carries
// the topic of short chunks); the text alone when there is no title or the text starts with it.
std::string document_text(const Hit& hit);

// Scores of one batch's response, by position in the batch (nullopt: not scored). Accepts
// a JSON array of results or an object holding one under "results" or "data"; each result has
// "index" and one of "relevance_score", "relevanceScore" or "score". Throws Error(format)
// "<endpoint>: malformed response: ..." for anything else, an index out of range or repeated.
std::vector<std::optional<double>> read_batch_scores(const std::string& body, std::string_view endpoint,
                                                     std::size_t documents);

class ServiceReranker : public Reranker {
 public:
  std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const override;

 protected:
  // `stage` names the reranker in messages ("http", "bedrock"); validates the service fields.
  ServiceReranker(const RerankerConfig& config, std::string stage);
  // The request scoring `documents` against `query` (one batch).
  virtual net::HttpRequest make_request(const std::string& query, std::span<const std::string> documents) const = 0;
  // The URL requests go to, as it may appear in messages.
  virtual std::string endpoint() const = 0;

  const RerankerConfig& config() const { return config_; }
  const std::string& stage() const { return stage_; }

 private:
  RerankerConfig config_;
  std::string stage_;
  net::HttpOptions http_;
};

}  // namespace ragline::rerank
