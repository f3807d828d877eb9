#pragma once
// Value types of the public API: options in, reports and hits out. Plain structs, copyable,
// no behaviour; every field has a default that a new KB or a plain query can use as is.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ragline {

// A metadata value attached to a document and inherited by its chunks. Numbers are doubles
// (as in JSON); lists hold strings only, as in Amazon Bedrock Knowledge Bases metadata.
using MetadataValue = std::variant<std::string, double, bool, std::vector<std::string>>;
using Metadata = std::map<std::string, MetadataValue>;

// How documents are cut into chunks. Token counts are ICU word-boundary segments that are not
// white space (words, numbers and punctuation marks each count one); see ingest/README.md for
// how they relate to a model's sub-word tokens.
struct ChunkerConfig {
  // markdown is the default: it follows headings, paragraphs, code fences and tables where the
  // text has them, and packs sentences where it has none.
  std::string name = "markdown";  // fixed | sentence | markdown | hierarchical | none
  int max_tokens = 256;           // fixed, sentence, markdown: upper bound of a chunk
  int overlap_tokens = 0;         // fixed, sentence: tokens repeated from the previous chunk
  int parent_tokens = 1024;       // hierarchical: size of the returned parent chunks
  int child_tokens = 128;         // hierarchical: size of the searched child chunks

  bool operator==(const ChunkerConfig&) const = default;
};

// How text is turned into search terms, for documents and queries alike. Fixed when a KB is
// created: the FTS5 index is built with it.
struct AnalyzerConfig {
  std::string language = "english";  // a Snowball stemmer name (english, german, french, ...)
  bool stemming = true;              // false: terms are folded but not stemmed
  bool stopwords = true;             // drop the language's stopwords (when it has a list)

  bool operator==(const AnalyzerConfig&) const = default;
};

enum class LogLevel { debug, info, warning, error };
// The library never writes to stdout or stderr itself; it reports through this callback, on the
// thread that called into the library.
using LogCallback = std::function<void(LogLevel, const std::string&)>;

struct OpenOptions {
  bool create_if_missing = true;
  // Settings for a KB that is created by this call. For an existing KB they must either be
  // left unset or match what the KB was created with (an Error names both otherwise).
  std::optional<ChunkerConfig> chunker;
  std::optional<AnalyzerConfig> analyzer;
  LogCallback log;
};

struct IngestProgress {
  std::size_t files_done = 0;
  std::size_t files_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  double seconds = 0;
  std::string current_path;
};
// Called on the thread that called ingest(), after each written batch and at the end.
using ProgressCallback = std::function<void(const IngestProgress&)>;

struct IngestOptions {
  std::vector<std::string> include_globs;  // file names matched against these (empty: all supported)
  std::vector<std::string> exclude_globs;  // applied after include; matched against relative paths and names
  bool prune = false;                      // remove documents whose source under the given roots is gone
  // JSON/JSONL record field names.
  std::string id_field = "id";  // BEIR's "_id" is accepted as well when this field is missing
  std::string title_field = "title";
  std::string text_field = "text";
  std::string metadata_field = "metadata";
  std::size_t batch_documents = 512;  // documents per transaction
  ProgressCallback progress;
};

// One input that could not be ingested: a whole file, or one record of a JSONL file.
struct IngestFailure {
  std::string location;  // path, or path:line for a record
  std::string reason;
};

struct IngestReport {
  std::size_t files_seen = 0;
  std::size_t documents_added = 0;
  std::size_t documents_updated = 0;
  std::size_t documents_unchanged = 0;
  std::size_t documents_pruned = 0;
  std::size_t chunks_written = 0;
  std::size_t invalid_utf8_replaced = 0;  // bytes replaced by U+FFFD across all inputs
  std::uint64_t bytes_read = 0;
  double seconds = 0;
  std::vector<IngestFailure> failures;
  bool ok() const { return failures.empty(); }
};

// BM25F ranking (Robertson & Zaragoza) over a chunk's text, its document's title and its heading
// path. The defaults were chosen on the Cranfield, MED and CISI collections together
// (bench/README.md), not on any one of them.
struct Bm25Config {
  double k1 = 2.0;  // term-frequency saturation
  double b = 0.75;  // length normalisation, 0 (none) to 1 (full)
  double weight_text = 1.0;
  double weight_title = 2.0;
  double weight_heading = 1.0;
};

struct Query {
  Query() = default;
  Query(std::string query_text, std::size_t top_k = 10, Bm25Config bm25_config = {})
      : text(std::move(query_text)), k(top_k), bm25(bm25_config) {}

  std::string text;
  std::size_t k = 10;  // results wanted
  Bm25Config bm25;
};

struct Hit {
  std::int64_t chunk_id = 0;
  std::string document_uri;
  std::string title;
  std::string heading_path;
  std::string text;
  std::size_t byte_start = 0;  // offsets into the document's normalised text
  std::size_t byte_end = 0;
  std::optional<int> page;  // 1-based page for paginated sources (PDF)
  Metadata metadata;
  double score = 0;  // higher is better
};

struct DocumentInfo {
  std::int64_t id = 0;
  std::string uri;
  std::string title;
  std::string mime_type;
  std::string content_hash;  // hex SHA-256 of the normalised text, title and metadata
  std::int64_t size_bytes = 0;
  std::int64_t mtime = 0;        // seconds since the epoch, of the source file
  std::int64_t ingested_at = 0;  // seconds since the epoch
  std::int64_t chunk_count = 0;
};

struct Stats {
  std::int64_t documents = 0;
  std::int64_t chunks = 0;
  std::int64_t searchable_chunks = 0;  // excludes hierarchical parents
  std::int64_t tokens = 0;
  std::uint64_t bytes_on_disk = 0;
  int schema_version = 0;
  ChunkerConfig chunker;
  AnalyzerConfig analyzer;
};

}  // namespace ragline
