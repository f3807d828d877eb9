#pragma once
// A toy embedding model for tests of model embedders over HTTP: letter frequencies of the text
// over 26 dimensions, so texts sharing letters are close and every vector is predictable.

#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ragline::testing {

inline std::vector<float> toy_embedding(const std::string& text) {
  std::vector<float> vector(26, 0.0f);
  for (unsigned char c : text) {
    if (std::isalpha(c)) vector[static_cast<std::size_t>(std::tolower(c) - 'a')] += 1.0f;
  }
  return vector;
}

// toy_embedding scaled to unit length (a zero vector stays zero), as an in-process model returns it.
inline std::vector<float> unit_toy_embedding(const std::string& text) {
  auto vector = toy_embedding(text);
  double norm = 0;
  for (float value : vector) norm += value * value;
  for (float& value : vector) value = norm > 0 ? static_cast<float>(value / std::sqrt(norm)) : 0.0f;
  return vector;
}

// The "data" array an OpenAI-compatible /v1/embeddings service answers to `request_body`.
inline nlohmann::json toy_embedding_data(const std::string& request_body) {
  const auto body = nlohmann::json::parse(request_body);
  nlohmann::json data = nlohmann::json::array();
  int index = 0;
  for (const auto& input : body.at("input")) {
    data.push_back({{"index", index++}, {"embedding", toy_embedding(input.get<std::string>())}});
  }
  return data;
}

}  // namespace ragline::testing
