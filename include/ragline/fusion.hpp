#pragma once
// Score fusion as a free function, for tools that fuse ranked lists themselves (rag-bench's
// offline sweep reuses one pair of candidate lists for every fusion setting). The engine's
// hybrid search uses the same code.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ragline/export.hpp"
#include "ragline/types.hpp"

namespace ragline {

struct RankedId {
  std::int64_t id = 0;
  double score = 0;  // raw score of its list, higher is better
};

struct FusedId {
  std::int64_t id = 0;
  double score = 0;
  std::optional<SourceScore> bm25;
  std::optional<SourceScore> dense;
};

// Fuses two lists (each best first) by config.method; throws Error(invalid_argument) for a bad
// config. The result is sorted by fused score, ties by smaller id.
RAGLINE_API std::vector<FusedId> fuse_rankings(const FusionConfig& config, std::span<const RankedId> bm25,
                                               std::span<const RankedId> dense);

}  // namespace ragline
