#pragma once
// What the HTTP embedders (embedder_openai.cpp, embedder_bedrock.cpp) share: checking the
// service options of an EmbedderConfig, cutting texts into request batches, reading vectors
// out of a JSON response.

#include <atomic>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/embedder.hpp"
#include "net/http_client.hpp"

namespace ragline::models {

// Texts [begin, end) go in one request.
struct TextBatch {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Consecutive batches of at most max_texts texts and max_bytes bytes of text; a text longer
// than max_bytes goes alone.
std::vector<TextBatch> plan_text_batches(std::span<const std::string> texts, std::size_t max_texts,
                                         std::size_t max_bytes);

// The HTTP options of `config`; throws Error(invalid_argument) naming the embedder and the bad
// field (batch_size, batch_bytes, max_in_flight, timeout_seconds, max_retries, dimension).
net::HttpOptions http_options_for(const EmbedderConfig& config, std::string_view embedder);

// Query-time embedding waits for a person and has a fallback (hybrid search answers from BM25
// alone when the query cannot be embedded), so it gets a shorter budget than ingest: at most
// kQueryMaxRetries retries and kQueryTimeoutSeconds per attempt, never more than `ingest` allows.
inline constexpr int kQueryMaxRetries = 1;
inline constexpr double kQueryTimeoutSeconds = 10;
net::HttpOptions query_http_options(const net::HttpOptions& ingest);

// `value` as a vector of floats; throws Error(format) "<endpoint>: malformed response: <where> ..."
std::vector<float> json_to_vector(const nlohmann::json& value, std::string_view endpoint, std::string_view where);

// Parses a response body; throws Error(format) naming the endpoint when it is not JSON.
nlohmann::json parse_json_response(const std::string& body, std::string_view endpoint);

[[noreturn]] void throw_malformed_response(std::string_view endpoint, std::string_view what);

// Checks that a response's vector at `where` has the dimension of every vector before it. The
// first vector fixes a dimension the configuration left open (`dimension` 0); thread-safe, as
// responses of requests in flight are read on several threads.
void check_response_dimension(std::atomic<std::size_t>& dimension, std::size_t size, std::string_view endpoint,
                              const std::string& where);

// The services' answers parsed apart from the HTTP calls, so they can be tested and fuzzed alone.
// Each returns the rows in input order and throws Error(format) "<endpoint>: malformed response:
// ..." for any other shape; checking the rows' dimension is the caller's part.
// OpenAI /v1/embeddings: {"data": [{"index": i, "embedding": [...]}, ...]} with `expected` entries.
std::vector<std::vector<float>> parse_openai_embeddings(const std::string& body, std::size_t expected,
                                                        std::string_view endpoint);
// Bedrock InvokeModel: Titan's {"embedding": [...]} (one text) when `titan`, else Cohere's
// {"embeddings": [[...]]} or {"embeddings": {"float": [[...]]}} with `expected` rows.
std::vector<std::vector<float>> parse_bedrock_embeddings(const std::string& body, std::size_t expected, bool titan,
                                                         std::string_view endpoint);

// One matrix of the rows parsed from a service's answers, each scaled to unit L2 norm.
EmbeddingMatrix unit_rows(const std::vector<std::vector<float>>& rows);

// The value of an environment variable, empty when unset.
std::string environment_variable(const std::string& name);

}  // namespace ragline::models
