#pragma once
// Chunkers cut a normalised Document into Chunks. Looked up by name; the KB stores the name
// and parameters it was created with.

#include <memory>
#include <string_view>
#include <vector>

#include "core/document.hpp"
#include "ragline/types.hpp"

namespace ragline::ingest {

class Chunker {
 public:
  virtual ~Chunker() = default;
  // Chunks in reading order with ordinals 0..n-1; every chunk's text is the exact byte range
  // [byte_start, byte_end) of document.text. Empty documents give no chunks.
  virtual std::vector<Chunk> chunk(const Document& document) const = 0;
  // Whether searches rank the searchable child chunks and return their parents (hierarchical):
  // the retriever then returns each parent once, scored by its best child.
  virtual bool returns_parents() const { return false; }
};

// fixed | sentence | markdown | hierarchical | none. Throws Error(invalid_argument) for an
// unknown name or parameters out of range (max_tokens < 1, overlap >= max, child > parent).
std::unique_ptr<Chunker> make_chunker(const ChunkerConfig& config);
std::vector<std::string_view> chunker_names();

}  // namespace ragline::ingest
