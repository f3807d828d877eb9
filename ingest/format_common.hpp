#pragma once
// Internal to the format parsers: the parser instances the registry hands out, and the steps
// that several parsers share. Not part of the public ingest interface.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "ingest/format.hpp"

namespace ragline::ingest::formats {

const FormatParser& text_parser();
const FormatParser& markdown_parser();
const FormatParser& rst_parser();
const FormatParser& html_parser();
const FormatParser& pdf_parser();
const FormatParser& json_parser();

struct DecodedText {
  std::string text;          // valid UTF-8, byte order mark removed
  std::size_t replaced = 0;  // invalid sequences replaced by U+FFFD
};

// Bytes of a text-like file to UTF-8. UTF-16 with a byte order mark is converted; anything else
// is taken as UTF-8 and repaired. Throws Error(format) for binary content: a NUL byte, or more
// than 10% of the first 8 KiB being control bytes other than \t \n \r \f.
DecodedText decode_text_file(std::string_view bytes);

// A document for a whole-file source with uri, source_path, size, mtime and mime type filled in.
Document document_for_file(const SourceFile& file, std::string mime_type);

// The name a gzip-compressed file's content had: `notes.md.gz` -> `notes.md`; other paths as they are.
std::filesystem::path name_inside_gzip(const std::filesystem::path& path);

// The title used when a source names none: the file name without its last extension (after a
// `.gz`: `notes.md.gz` -> `notes`).
std::string file_stem_title(const SourceFile& file);

// Adds the sidecar's keys that the document does not already have: a document's own metadata
// wins over its sidecar's.
void merge_sidecar_metadata(Metadata& own, const Metadata& sidecar);

// The result of a format whose file is one document.
ParsedFile single_document(Document document, std::size_t invalid_utf8_replaced);

}  // namespace ragline::ingest::formats
