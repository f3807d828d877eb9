#include "models/embedder_http.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/check.hpp"

namespace ragline::models {

std::vector<TextBatch> plan_text_batches(std::span<const std::string> texts, std::size_t max_texts,
                                         std::size_t max_bytes) {
  std::vector<TextBatch> batches;
  std::size_t bytes = 0;
  for (std::size_t index = 0; index < texts.size(); ++index) {
    const std::size_t size = texts[index].size();
    const bool fits =
        !batches.empty() && batches.back().end - batches.back().begin < max_texts && bytes + size <= max_bytes;
    if (!fits) {
      batches.push_back({index, index});
      bytes = 0;
    }
    batches.back().end = index + 1;
    bytes += size;
  }
  return batches;
}

net::HttpOptions http_options_for(const EmbedderConfig& config, std::string_view embedder) {
  RAGLINE_CHECK(config.dimension >= 0, invalid_argument,
                embedder << " embedder: dimension must not be negative, got " << config.dimension);
  RAGLINE_CHECK(config.batch_size >= 1, invalid_argument, embedder << " embedder: batch_size must be at least 1");
  RAGLINE_CHECK(config.batch_bytes >= 1, invalid_argument, embedder << " embedder: batch_bytes must be at least 1");
  RAGLINE_CHECK(config.max_in_flight >= 1, invalid_argument,
                embedder << " embedder: max_in_flight must be at least 1, got " << config.max_in_flight);
  RAGLINE_CHECK(config.timeout_seconds > 0, invalid_argument,
                embedder << " embedder: timeout_seconds must be positive, got " << config.timeout_seconds);
  RAGLINE_CHECK(config.max_retries >= 0, invalid_argument,
                embedder << " embedder: max_retries must not be negative, got " << config.max_retries);
  net::HttpOptions options;
  options.max_in_flight = config.max_in_flight;
  options.timeout_seconds = config.timeout_seconds;
  options.max_retries = config.max_retries;
  return options;
}

net::HttpOptions query_http_options(const net::HttpOptions& ingest) {
  net::HttpOptions options = ingest;
  options.max_retries = std::min(ingest.max_retries, kQueryMaxRetries);
  options.timeout_seconds = std::min(ingest.timeout_seconds, kQueryTimeoutSeconds);
  return options;
}

void throw_malformed_response(std::string_view endpoint, std::string_view what) {
  RAGLINE_THROW(format, endpoint << ": malformed response: " << what);
}

void check_response_dimension(std::atomic<std::size_t>& dimension, std::size_t size, std::string_view endpoint,
                              const std::string& where) {
  std::size_t expected = 0;
  if (dimension.compare_exchange_strong(expected, size)) return;
  if (size != expected) {
    throw_malformed_response(endpoint,
                             where + " has " + std::to_string(size) + " values, expected " + std::to_string(expected));
  }
}

nlohmann::json parse_json_response(const std::string& body, std::string_view endpoint) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw_malformed_response(endpoint, "the body is not JSON");
  return parsed;
}

std::vector<float> json_to_vector(const nlohmann::json& value, std::string_view endpoint, std::string_view where) {
  if (!value.is_array()) throw_malformed_response(endpoint, std::string(where) + " is not an array");
  if (value.empty()) throw_malformed_response(endpoint, std::string(where) + " is empty");
  std::vector<float> vector;
  vector.reserve(value.size());
  for (const auto& number : value) {
    if (!number.is_number())
      throw_malformed_response(endpoint, std::string(where) + " holds a value that is not a number");
    vector.push_back(number.get<float>());
  }
  return vector;
}

EmbeddingMatrix unit_rows(const std::vector<std::vector<float>>& rows) {
  EmbeddingMatrix matrix;
  matrix.rows = rows.size();
  matrix.dimension = rows.empty() ? 0 : rows.front().size();
  matrix.values.reserve(matrix.rows * matrix.dimension);
  for (const auto& row : rows) matrix.values.insert(matrix.values.end(), row.begin(), row.end());
  normalize_rows(matrix);
  return matrix;
}

std::string environment_variable(const std::string& name) {
  const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace ragline::models
