// fixed: windows of max_tokens tokens, each starting max_tokens - overlap_tokens tokens after
// the previous one, regardless of sentences or structure.
#include "ingest/chunk_packing.hpp"

namespace ragline::ingest::detail {
namespace {

class FixedChunker final : public Chunker {
 public:
  FixedChunker(int max_tokens, int overlap_tokens) : max_tokens_(max_tokens), overlap_tokens_(overlap_tokens) {}

  std::vector<Chunk> chunk(const Document& document) const override {
    const DocumentTokens tokens(document.text);
    std::vector<ByteRange> ranges;
    append_fixed_windows(tokens, 0, tokens.size(), max_tokens_, overlap_tokens_, ranges);
    std::vector<Chunk> chunks;
    chunks.reserve(ranges.size());
    for (const ByteRange& range : ranges) append_chunk(document, range, {}, chunks);
    return chunks;
  }

 private:
  int max_tokens_;
  int overlap_tokens_;
};

}  // namespace

std::unique_ptr<Chunker> make_fixed_chunker(int max_tokens, int overlap_tokens) {
  return std::make_unique<FixedChunker>(max_tokens, overlap_tokens);
}

}  // namespace ragline::ingest::detail
