// hierarchical: parent chunks of up to parent_tokens (sentence packing), each followed by its
// children of up to child_tokens (sentence packing inside the parent's byte range). Children
// are searched; a hit returns its parent, which gives the model more context than the few
// sentences that matched.
#include <algorithm>

#include "ingest/chunk_packing.hpp"

namespace ragline::ingest::detail {
namespace {

class HierarchicalChunker final : public Chunker {
 public:
  HierarchicalChunker(int parent_tokens, int child_tokens)
      : parent_tokens_(parent_tokens), child_tokens_(child_tokens) {}

  bool returns_parents() const override { return true; }

  std::vector<Chunk> chunk(const Document& document) const override {
    const DocumentTokens tokens(document.text);
    const auto sentences = sentence_units(document.text, tokens, ByteRange{0, document.text.size()});
    std::vector<Chunk> chunks;
    std::vector<PackUnit> child_units;
    for (const ByteRange& parent : pack_units(tokens, sentences, parent_tokens_, 0)) {
      if (!append_chunk(document, parent, {}, chunks)) continue;
      const int parent_ordinal = chunks.back().ordinal;
      chunks.back().searchable = false;
      // A parent is whole sentences or a window of one long sentence: clipping the sentences
      // that overlap it to its range gives the units its children are packed from.
      child_units.clear();
      auto sentence = std::partition_point(sentences.begin(), sentences.end(),
                                           [&](const PackUnit& unit) { return unit.bytes.end <= parent.start; });
      for (; sentence != sentences.end() && sentence->bytes.start < parent.end; ++sentence) {
        const ByteRange clipped{std::max(sentence->bytes.start, parent.start),
                                std::min(sentence->bytes.end, parent.end)};
        child_units.push_back(make_unit(tokens, clipped, true));
      }
      for (const ByteRange& child : pack_units(tokens, child_units, child_tokens_, 0)) {
        if (append_chunk(document, child, {}, chunks)) chunks.back().parent_ordinal = parent_ordinal;
      }
    }
    return chunks;
  }

 private:
  int parent_tokens_;
  int child_tokens_;
};

}  // namespace

std::unique_ptr<Chunker> make_hierarchical_chunker(int parent_tokens, int child_tokens) {
  return std::make_unique<HierarchicalChunker>(parent_tokens, child_tokens);
}

}  // namespace ragline::ingest::detail
