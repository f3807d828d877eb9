#pragma once
// Embedding texts without a knowledge base, for checks and debugging (rag-query embed).

#include <string>
#include <vector>

#include "ragline/export.hpp"
#include "ragline/types.hpp"

namespace ragline {

// One vector per text, in order, from the embedder `config` names (the registry KnowledgeBase
// uses: ragline/embedder.hpp, registered_embedders()). Query vectors when `as_query`
// (some models embed queries differently). Throws Error(invalid_argument) for an unknown
// embedder, Error(not_found) for a local model that has not been fetched, Error(network) for a
// model service that failed.
RAGLINE_API std::vector<std::vector<float>> embed_texts(const EmbedderConfig& config,
                                                        const std::vector<std::string>& texts, bool as_query = false);

}  // namespace ragline
