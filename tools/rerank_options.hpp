#pragma once
// The rerank options shared by the commands that retrieve (rag-query query, prompt, ask) and by
// rag-bench: add_rerank_options() declares them on a CLI11 command, rerankers_from() turns the
// parsed values into the Query::rerank chain. Header-only, public API only.

#include <CLI/CLI.hpp>
#include <optional>
#include <ragline/ragline.hpp>
#include <string>
#include <vector>

namespace ragline::cli {

struct RerankArguments {
  std::vector<std::string> names;  // the chain, in order
  std::string base_url, model, format, api_key_env, region;
  std::size_t candidates = 0, top_n = 0, batch_size = 0;
  std::optional<double> min_score;
  double mmr_lambda = RerankerConfig{}.lambda;
  std::string mmr_relevance = RerankerConfig{}.mmr_relevance;
  double timeout_seconds = 0;
  int max_retries = -1;
};

inline void add_rerank_options(CLI::App& command, RerankArguments& arguments) {
  std::string names;
  for (const auto& name : registered_rerankers()) names += (names.empty() ? "" : " | ") + name;
  command
      .add_option("--rerank", arguments.names,
                  "Rerank chain applied after fusion, in order: " + names + " (comma-separated)")
      ->delimiter(',');
  command.add_option("--rerank-url", arguments.base_url,
                     "http: service base URL (required: no service is assumed); bedrock: endpoint override");
  command.add_option(
      "--rerank-model", arguments.model,
      "http: model name; bedrock: model id or ARN; cross-encoder: model folder name (in $RAGLINE_MODELS_DIR, "
      "else ./models) or path");
  command.add_option("--rerank-format", arguments.format, "http: cohere (default) | jina | tei | llamacpp");
  command.add_option("--rerank-api-key-env", arguments.api_key_env,
                     "http: environment variable holding the API key (sent as a Bearer token)");
  command.add_option("--rerank-region", arguments.region, "bedrock: AWS region (default $AWS_REGION)");
  command.add_option("--rerank-candidates", arguments.candidates,
                     "Hits the first reranker takes in (default max(k, 50))");
  command.add_option("--rerank-top-n", arguments.top_n, "Hits each reranker passes on (default k)");
  command.add_option("--rerank-min-score", arguments.min_score,
                     "Drop hits scored below this (http, bedrock: the service score; cross-encoder: the model's score; "
                     "mmr: its relevance)");
  command.add_option("--rerank-batch", arguments.batch_size,
                     "http, bedrock: documents per request; cross-encoder: pairs per forward pass");
  command.add_option("--rerank-timeout", arguments.timeout_seconds, "http, bedrock: seconds per request");
  command.add_option("--rerank-retries", arguments.max_retries, "http, bedrock: retries per request");
  command.add_option("--mmr-lambda", arguments.mmr_lambda, "mmr: relevance weight against redundancy, 0..1")
      ->capture_default_str();
  command
      .add_option("--mmr-relevance", arguments.mmr_relevance,
                  "mmr: score (retrieval score, min-max normalised) | cosine (query-chunk cosine)")
      ->capture_default_str();
}

// Throws Error(invalid_argument) for `http` without --rerank-url: the library's default for the
// cohere format is a cloud service, and a query's text is never sent to one the user did not name.
inline std::vector<RerankerConfig> rerankers_from(const RerankArguments& arguments) {
  std::vector<RerankerConfig> stages;
  for (const auto& name : arguments.names) {
    if (name == "http" && arguments.base_url.empty()) {
      throw Error(ErrorKind::invalid_argument,
                  "--rerank http needs --rerank-url URL (the rerank service's base URL, e.g. http://127.0.0.1:8080)");
    }
    RerankerConfig stage;
    stage.name = name;
    stage.lambda = arguments.mmr_lambda;
    stage.mmr_relevance = arguments.mmr_relevance;
    if (!arguments.format.empty()) stage.format = arguments.format;
    stage.base_url = arguments.base_url;
    stage.model = arguments.model;
    stage.api_key_env = arguments.api_key_env;
    stage.region = arguments.region;
    // Later stages take everything the one before passes on.
    if (stages.empty()) stage.candidates = arguments.candidates;
    stage.top_n = arguments.top_n;
    // reorder does not score hits; a minimum applies to the stages that do.
    if (name != "reorder") stage.min_score = arguments.min_score;
    if (arguments.batch_size > 0) stage.batch_size = arguments.batch_size;
    if (arguments.timeout_seconds > 0) stage.timeout_seconds = arguments.timeout_seconds;
    if (arguments.max_retries >= 0) stage.max_retries = arguments.max_retries;
    stages.push_back(std::move(stage));
  }
  return stages;
}

}  // namespace ragline::cli
