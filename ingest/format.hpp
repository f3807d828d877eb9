#pragma once
// Format parsers: bytes of one source file in, documents out. Parsers are registered by name
// and chosen by file extension; adding a format touches only its own file and the registry.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/document.hpp"
#include "ragline/types.hpp"

namespace ragline::ingest {

struct SourceFile {
  std::filesystem::path path;  // absolute
  std::string uri;             // file_uri(path)
  std::string bytes;           // the whole file
  std::int64_t mtime = 0;
  Metadata sidecar_metadata;  // from <file>.metadata.json, merged under each document's own
};

// Options a parser may read (JSON field names); a subset of IngestOptions.
struct ParseOptions {
  std::string id_field = "id";
  std::string title_field = "title";
  std::string text_field = "text";
  std::string metadata_field = "metadata";
};

// One item of a file that failed while the rest of the file was usable (a malformed JSONL line).
struct ItemFailure {
  std::string location;  // path:line
  std::string reason;
};

struct ParsedFile {
  std::vector<Document> documents;  // raw text; not yet normalised
  std::vector<ItemFailure> item_failures;
  std::size_t invalid_utf8_replaced = 0;  // bytes the parser replaced while decoding
};

using DocumentCallback = std::function<void(Document&&)>;

class FormatParser {
 public:
  virtual ~FormatParser() = default;
  virtual std::string_view name() const = 0;  // "text", "markdown", "rst", "html", "pdf", "json"
  // Throws ragline::Error (kind format) when the whole file is unusable; the message says why
  // (the pipeline adds the path).
  virtual ParsedFile parse(const SourceFile& file, const ParseOptions& options) const = 0;
  // The same documents handed to `emit` one at a time as they are parsed, so that a file of
  // millions of records never holds them all at once; `result` receives the failures and counts
  // (its documents stay empty). The default parses the whole file first; JSON Lines streams.
  virtual void parse_each(const SourceFile& file, const ParseOptions& options, const DocumentCallback& emit,
                          ParsedFile& result) const {
    result = parse(file, options);
    for (auto& document : result.documents) emit(std::move(document));
    result.documents.clear();
  }
};

// The parser for a path by its extension (case-insensitive), or nullptr when unsupported.
// .txt .text .md .markdown .rst .rest .html .htm .pdf .jsonl .ndjson .json
const FormatParser* parser_for(const std::filesystem::path& path);
// Whether the parser for `path` streams its records (JSON Lines: .jsonl, .ndjson), so that the
// file's size bounds memory only through each record (IngestOptions::max_file_bytes).
bool parser_streams_records(const std::filesystem::path& path);
const FormatParser* parser_by_name(std::string_view name);

// How a listed file is read. The name decides when its extension is known (.rst and .rest are
// reStructuredText); `NAME.gz` is gzip-compressed and read as NAME would be. A name that decides
// nothing (README, LICENSE, copyright, changelog.Debian.gz) is sniffed: its first 8 KiB
// (inflated, for .gz) are text when they start with a UTF-8 or UTF-16 byte order mark, or hold
// no NUL byte, valid UTF-8 (a sequence cut at the 8 KiB mark aside) and at most 10% control
// bytes; such a file is read as plain text, anything else is skipped with the reason.
struct FormatChoice {
  const FormatParser* parser = nullptr;  // null: skipped, `skip_reason` says why
  bool gzip = false;                     // the parser reads the inflated bytes (gunzip)
  std::string skip_reason;
};
// Reads at most the file's first 64 KiB, and only when the name does not decide. Throws Error(io)
// when the file cannot be opened or read.
FormatChoice choose_format(const std::filesystem::path& path);

// Why `head` (a file's first bytes; `truncated`: more follow) is not text a person wrote, or an
// empty string when it is (see FormatChoice).
std::string why_not_text(std::string_view head, bool truncated);

// The inflated bytes of gzip data (RFC 1952; concatenated members as gzip -d reads them).
// Throws Error(format) for data that is not gzip or is damaged or cut short, and, against gzip
// bombs, as soon as the output exceeds `max_bytes` (0: no limit): "inflates to more than N bytes".
// With `prefix_only` it returns the first `max_bytes` bytes instead (for sniffing), and input
// that ends early is not an error.
std::string gunzip(std::string_view compressed, std::uint64_t max_bytes, bool prefix_only = false);

// Reads <path>.metadata.json (Amazon Bedrock Knowledge Bases form: {"metadataAttributes": {...}}
// whose values are plain JSON values or {"value": {"type": "STRING"|"NUMBER"|"BOOLEAN"|
// "STRING_LIST", "stringValue"|"numberValue"|"booleanValue"|"stringListValue": ...}}).
// Returns an empty map when there is no sidecar; throws Error(format) naming the sidecar file
// and field when it is malformed.
Metadata read_sidecar_metadata(const std::filesystem::path& path);
bool is_sidecar_metadata_file(const std::filesystem::path& path);

}  // namespace ragline::ingest
