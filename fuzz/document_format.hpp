#pragma once
// What the document-format targets (markdown.cpp, html.cpp) share: the bytes as a file of one
// format, normalised and chunked, checking the invariant every chunker promises: a chunk's text
// is its byte range of the document.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "ingest/chunker.hpp"
#include "ingest/format.hpp"
#include "text/normalize.hpp"

namespace ragline::fuzz {

inline void check_chunks(const ragline::Document& document, const std::vector<ragline::Chunk>& chunks) {
  for (const auto& chunk : chunks) {
    if (chunk.byte_start > chunk.byte_end || chunk.byte_end > document.text.size() ||
        document.text.compare(chunk.byte_start, chunk.byte_end - chunk.byte_start, chunk.text) != 0) {
      std::abort();
    }
  }
}

// One input as a file of the given format (parser name, file extension): parsed, normalised,
// then cut by the markdown chunker (the default) and the hierarchical one.
inline void fuzz_document_format(const std::uint8_t* data, std::size_t size, const char* parser,
                                 const char* extension) {
  using namespace ragline::ingest;
  static const auto markdown_chunker = make_chunker(ragline::ChunkerConfig{.name = "markdown", .max_tokens = 32});
  static const auto hierarchical_chunker =
      make_chunker(ragline::ChunkerConfig{.name = "hierarchical", .parent_tokens = 64, .child_tokens = 16});
  SourceFile file;
  const std::string path = std::string("/fuzz/input") + extension;
  file.path = path;
  file.uri = "file://" + path;
  file.bytes.assign(reinterpret_cast<const char*>(data), size);
  try {
    auto parsed = parser_by_name(parser)->parse(file, ParseOptions{});
    for (auto& document : parsed.documents) {
      ragline::text::normalise_document(document);
      check_chunks(document, markdown_chunker->chunk(document));
      check_chunks(document, hierarchical_chunker->chunk(document));
    }
  } catch (const ragline::Error& error) {
    expect_input_error(error);
  }
}

}  // namespace ragline::fuzz
