#pragma once
// The units that flow through ingestion: a Document parsed from a source, and the Chunks a
// Chunker cuts from it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ragline/types.hpp"

namespace ragline {

struct Document {
  std::string uri;          // file:///abs/path, or file:///abs/path#record-id for a JSON record
  std::string source_path;  // absolute path of the file it came from (used by --prune)
  std::string title;
  std::string mime_type;  // text/plain, text/markdown, text/html, application/pdf, application/json
  // The document's text. Parsers fill it raw; normalise_document() replaces it with the
  // normalised text that chunk offsets refer to.
  std::string text;
  Metadata metadata;
  // Byte offsets into `text` at which pages 2, 3, ... begin (page 1 begins at 0). Empty for
  // sources without pages.
  std::vector<std::size_t> page_starts;
  std::int64_t size_bytes = 0;  // size of the source file
  std::int64_t mtime = 0;       // seconds since the epoch
};

// 1-based page holding byte `offset`, or nullopt for documents without pages.
std::optional<int> page_at(const Document& document, std::size_t offset);

struct Chunk {
  int ordinal = 0;   // position in the document's chunk list, from 0
  std::string text;  // exactly document.text.substr(byte_start, byte_end - byte_start)
  std::size_t byte_start = 0;
  std::size_t byte_end = 0;
  std::string heading_path;           // "Heading 1 > Heading 1.2", empty outside headed sections
  std::optional<int> parent_ordinal;  // hierarchical children: ordinal of their parent
  bool searchable = true;             // false for hierarchical parents (returned, not searched)
  int token_count = 0;
};

}  // namespace ragline
