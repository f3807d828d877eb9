// Fuzzes the Markdown parser and the chunkers behind it: any bytes as a .md file, normalised,
// then cut by the markdown chunker (the default) and the hierarchical one, checking the chunk
// invariant every chunker promises: a chunk's text is its byte range of the document.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_support.hpp"
#include "ingest/chunker.hpp"
#include "ingest/format.hpp"
#include "ingest/normalize.hpp"

namespace {

void check_chunks(const ragline::ingest::Document& document, const std::vector<ragline::ingest::Chunk>& chunks) {
  for (const auto& chunk : chunks) {
    if (chunk.byte_start > chunk.byte_end || chunk.byte_end > document.text.size() ||
        document.text.compare(chunk.byte_start, chunk.byte_end - chunk.byte_start, chunk.text) != 0) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ragline::ingest;
  static const auto markdown_chunker = make_chunker(ragline::ChunkerConfig{.name = "markdown", .max_tokens = 32});
  static const auto hierarchical_chunker =
      make_chunker(ragline::ChunkerConfig{.name = "hierarchical", .parent_tokens = 64, .child_tokens = 16});
  SourceFile file;
  file.path = "/fuzz/input.md";
  file.uri = "file:///fuzz/input.md";
  file.bytes.assign(reinterpret_cast<const char*>(data), size);
  try {
    auto parsed = parser_by_name("markdown")->parse(file, ParseOptions{});
    for (auto& document : parsed.documents) {
      normalise_document(document);
      check_chunks(document, markdown_chunker->chunk(document));
      check_chunks(document, hierarchical_chunker->chunk(document));
    }
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
