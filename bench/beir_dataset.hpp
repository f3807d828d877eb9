#pragma once
// Loader for datasets in the BEIR layout (Thakur et al. 2021, github.com/beir-cellar/beir):
//
//   DIR/corpus.jsonl       one JSON object per line: "_id", "title", "text", optional "metadata"
//   DIR/queries.jsonl      one JSON object per line: "_id", "text"
//   DIR/qrels/<split>.tsv  header "query-id<TAB>corpus-id<TAB>score", then one judgment per line
//
// Ids may be JSON strings or integers (both become strings). Anything malformed throws
// ragline::Error of kind `format` whose message starts with "<file>:<line>:", a missing file
// throws kind `not_found`. The corpus is only validated and counted here (ids unique, records
// are objects): the knowledge base ingests corpus.jsonl itself.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/metrics.hpp"

namespace ragline::bench {

struct BeirQuery {
  std::string id;
  std::string text;
};

struct BeirDataset {
  std::filesystem::path directory;
  std::filesystem::path corpus_path;
  std::filesystem::path queries_path;
  std::filesystem::path qrels_path;

  std::unordered_set<std::string> document_ids;
  std::uint64_t corpus_bytes = 0;  // size of corpus.jsonl, the numerator of ingest MB/s

  std::vector<BeirQuery> queries;                    // in queries.jsonl order
  std::unordered_map<std::string, Judgments> qrels;  // query id -> its judgments
  std::size_t judgments = 0;                         // qrels data lines
  // Judgments that name an id missing from corpus.jsonl / queries.jsonl. Not fatal (published
  // BEIR sets have a few), but the bench reports them: such a document can never be retrieved.
  std::size_t judgments_unknown_document = 0;
  std::size_t judgments_unknown_query = 0;

  // Queries that have at least one judgment, the ones that are scored.
  std::size_t judged_query_count() const;
};

// Loads DIR in the layout above; `split` names the qrels file (test, dev, train).
BeirDataset load_beir_dataset(const std::filesystem::path& directory, std::string_view split = "test");

// The BEIR record id of a document URI: the part after the last '#', percent-decoded (ingest
// keys a JSONL record as "<file-uri>#<percent-encoded id>"). nullopt when the URI has no '#'.
std::optional<std::string> document_id_from_uri(std::string_view uri);

// Collapses a ranked list of chunk-level document ids to distinct documents: each document takes
// the rank of its best (first) chunk. Stops after `max_documents` documents.
std::vector<std::string> collapse_to_documents(std::span<const std::string> chunk_document_ids,
                                               std::size_t max_documents);

// Calls `visit(line, line_number)` for every line of a text file that is not blank, with a
// trailing CR and a leading UTF-8 byte order mark removed (both common in files that passed
// through Windows). Throws Error (not_found, io).
void for_each_line(const std::filesystem::path& path, const std::function<void(std::string_view, std::size_t)>& visit);

// Throws Error(format) located as path:line.
[[noreturn]] void throw_at(const std::filesystem::path& path, std::size_t line_number, const std::string& message);

// One JSONL line as a JSON object; Error(format) at path:line when it is not valid JSON or not
// an object.
nlohmann::json parse_record(const std::filesystem::path& path, std::size_t line_number, std::string_view line);

}  // namespace ragline::bench
