#pragma once
// ChunkIdSet: the chunk ids a filtered search may return, as a bitmap over ids. Built once per
// query from the filter's SQL and shared by both sides (the FTS5 query and the FAISS selector),
// so BM25 and dense search rank exactly the same set of chunks.

#include <cstdint>
#include <span>
#include <vector>

namespace ragline::index {

class ChunkIdSet {
 public:
  ChunkIdSet() = default;
  explicit ChunkIdSet(std::span<const std::int64_t> ids) {
    for (auto id : ids) insert(id);
  }

  void insert(std::int64_t id) {
    if (id < 0) return;
    const auto i = static_cast<std::uint64_t>(id);
    if ((i >> 6) >= words_.size()) words_.resize((i >> 6) + 1, 0);
    const std::uint64_t bit = std::uint64_t{1} << (i & 63);
    if (!(words_[i >> 6] & bit)) {
      words_[i >> 6] |= bit;
      ++size_;
    }
  }

  bool contains(std::int64_t id) const {
    const auto i = static_cast<std::uint64_t>(id);
    return id >= 0 && (i >> 6) < words_.size() && ((words_[i >> 6] >> (i & 63)) & 1u);
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Ascending ids.
  std::vector<std::int64_t> ids() const {
    std::vector<std::int64_t> out;
    out.reserve(size_);
    for (std::size_t w = 0; w < words_.size(); ++w) {
      for (std::uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
        out.push_back(static_cast<std::int64_t>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))));
      }
    }
    return out;
  }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t size_ = 0;
};

}  // namespace ragline::index
