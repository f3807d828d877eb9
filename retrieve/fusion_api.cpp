#include "ragline/fusion.hpp"
#include "retrieve/fusion.hpp"

namespace ragline {

std::vector<FusedId> fuse_rankings(const FusionConfig& config, std::span<const RankedId> bm25,
                                   std::span<const RankedId> dense) {
  retrieve::validate(config);
  const auto convert = [](std::span<const RankedId> list) {
    std::vector<retrieve::ScoredId> converted;
    converted.reserve(list.size());
    for (const auto& item : list) converted.push_back({item.id, item.score});
    return converted;
  };
  const auto bm25_list = convert(bm25);
  const auto dense_list = convert(dense);
  std::vector<FusedId> fused;
  for (const auto& hit : retrieve::fuse(config, bm25_list, dense_list)) {
    fused.push_back({hit.id, hit.score, hit.bm25, hit.dense});
  }
  return fused;
}

}  // namespace ragline
