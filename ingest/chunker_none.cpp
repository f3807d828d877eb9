// none: the whole document is one chunk (trimmed of surrounding white space), whatever its size.
#include "ingest/chunk_packing.hpp"

namespace ragline::ingest::detail {
namespace {

class NoneChunker final : public Chunker {
 public:
  std::vector<Chunk> chunk(const Document& document) const override {
    std::vector<Chunk> chunks;
    append_chunk(document, ByteRange{0, document.text.size()}, {}, chunks);
    return chunks;
  }
};

}  // namespace

std::unique_ptr<Chunker> make_none_chunker() { return std::make_unique<NoneChunker>(); }

}  // namespace ragline::ingest::detail
