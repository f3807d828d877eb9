// sentence: ICU sentences packed greedily up to max_tokens; a sentence is cut (into fixed
// windows) only when it alone is longer than max_tokens.
#include "ingest/chunk_packing.hpp"

namespace ragline::ingest::detail {
namespace {

class SentenceChunker final : public Chunker {
 public:
  SentenceChunker(int max_tokens, int overlap_tokens) : max_tokens_(max_tokens), overlap_tokens_(overlap_tokens) {}

  std::vector<Chunk> chunk(const Document& document) const override {
    const DocumentTokens tokens(document.text);
    const auto units = sentence_units(document.text, tokens, ByteRange{0, document.text.size()});
    std::vector<Chunk> chunks;
    for (const ByteRange& range : pack_units(tokens, units, max_tokens_, overlap_tokens_)) {
      append_chunk(document, range, {}, chunks);
    }
    return chunks;
  }

 private:
  int max_tokens_;
  int overlap_tokens_;
};

}  // namespace

std::unique_ptr<Chunker> make_sentence_chunker(int max_tokens, int overlap_tokens) {
  return std::make_unique<SentenceChunker>(max_tokens, overlap_tokens);
}

}  // namespace ragline::ingest::detail
