#include "models/embedder.hpp"
#include "ragline/embedding.hpp"

namespace ragline {

std::vector<std::vector<float>> embed_texts(const EmbedderConfig& config, const std::vector<std::string>& texts,
                                            bool as_query) {
  auto embedder = models::make_embedder(config);
  const auto matrix = embedder->embed(texts, as_query ? models::EmbedPurpose::query : models::EmbedPurpose::document);
  std::vector<std::vector<float>> vectors;
  vectors.reserve(matrix.rows);
  for (std::size_t i = 0; i < matrix.rows; ++i) {
    const auto row = matrix.row(i);
    vectors.emplace_back(row.begin(), row.end());
  }
  return vectors;
}

}  // namespace ragline
