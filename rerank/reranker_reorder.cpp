// Long-context reordering. Language models use the start and the end of a long context better
// than its middle (Liu et al. 2023, "Lost in the Middle"), so the ranked hits are dealt
// alternately to the front and to the back: ranks 1,2,3,4,5 become 1,3,5,4,2.

#include <algorithm>

#include "core/check.hpp"
#include "rerank/reranker.hpp"

namespace ragline::rerank {
namespace {

class ReorderReranker final : public Reranker {
 public:
  explicit ReorderReranker(const RerankerConfig& config) : config_(config) {
    RAGLINE_CHECK(!config.min_score, invalid_argument,
                  "reranker reorder: min_score is not supported (the stage does not score hits)");
  }

  std::string describe() const override { return "reorder"; }

  std::vector<Hit> rerank(const RerankRequest& request, std::vector<Hit> candidates) const override {
    // The cut comes first: the hits passed on are the strongest ones, arranged.
    const std::size_t count = std::min(candidates.size(), output_size(config_, request));
    std::vector<Hit> arranged(count);
    std::size_t front = 0;
    std::size_t back = count;
    for (std::size_t rank = 0; rank < count; ++rank) {
      if (rank % 2 == 0) {
        arranged[front++] = std::move(candidates[rank]);
      } else {
        arranged[--back] = std::move(candidates[rank]);
      }
    }
    return arranged;
  }

 private:
  RerankerConfig config_;
};

}  // namespace

std::unique_ptr<Reranker> make_reorder_reranker(const RerankerConfig& config) {
  return std::make_unique<ReorderReranker>(config);
}

}  // namespace ragline::rerank
