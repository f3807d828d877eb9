#pragma once
// Library-side JSON of the public value types (docs/json.md): what rag-query --json prints, what
// the C API takes and returns, what the server and the Python package use. Every document a
// to_json() returns is an object carrying "ragline_json": kJsonVersion; the *_from_json()
// readers accept the same shapes (unknown fields are refused, naming them; missing ones keep
// their defaults) and throw Error(format) naming the field for a wrong type or value.

#include <string>
#include <string_view>
#include <vector>

#include "ragline/check.hpp"
#include "ragline/export.hpp"
#include "ragline/prompt.hpp"
#include "ragline/types.hpp"

namespace ragline {

// The version of the JSON shapes; bumped when a field changes meaning or is removed.
inline constexpr int kJsonVersion = 1;

RAGLINE_API std::string to_json(const SearchResult& result);  // {"ragline_json", "hits", "explanation"}
RAGLINE_API std::string to_json(const Hit& hit);
RAGLINE_API std::string to_json(const IngestReport& report);
RAGLINE_API std::string to_json(const Stats& stats);
RAGLINE_API std::string to_json(const CheckReport& report);
RAGLINE_API std::string to_json(const RepairReport& report);
RAGLINE_API std::string to_json(const CompactReport& report);  // {"bytes_before", "bytes_after", "actions"}
RAGLINE_API std::string to_json(const Prompt& prompt);
RAGLINE_API std::string to_json(const std::vector<DocumentInfo>& documents);  // {"ragline_json", "documents"}
RAGLINE_API std::string to_json(const Query& query);
RAGLINE_API std::string to_json(const OpenOptions& options);  // the settings; the log callback is not JSON
// {"ragline_json", "query", "hits", "explanation"}: the result with the query text it answers.
RAGLINE_API std::string to_json(const SearchResult& result, std::string_view query_text);
RAGLINE_API std::string to_json(const IngestOptions& options);  // the progress callback is not JSON
RAGLINE_API std::string to_json(const PromptOptions& options);  // the token counter is not JSON
// {"ragline_json", "documents": [{"id", "title", "text", "metadata"}, ...]}: upsert input.
RAGLINE_API std::string to_json(const std::vector<DocumentInput>& documents);
// {"ragline_json", "id", "title", "text", "metadata", "content_hash", "chunks"}: KnowledgeBase::get.
RAGLINE_API std::string to_json(const StoredDocument& document);
// {"ragline_json", "vectors": [[...], ...]}: embed_texts()' vectors, one per text, in order.
RAGLINE_API std::string embeddings_to_json(const std::vector<std::vector<float>>& vectors);

// {"text": "...", "k": 3, "mode": "hybrid", "filter": {...}, "fusion": {...}, "rerank": [...], ...}
RAGLINE_API Query query_from_json(std::string_view json);
// {"create_if_missing": false, "chunker": {...}, "analyzer": {...}, "embedder": {...}, "vector_index": {...}}
RAGLINE_API OpenOptions open_options_from_json(std::string_view json);
// {"include_globs": [...], "exclude_globs": [...], "prune": true, "batch_documents": 512, "redaction": {...}, ...}
RAGLINE_API IngestOptions ingest_options_from_json(std::string_view json);
// {"context_window": 8192, "answer_reserve": 1024, "template_text": "...", "expand": "sentences", ...}
RAGLINE_API PromptOptions prompt_options_from_json(std::string_view json);

// Documents to upsert: a list [{"id": "...", "title": "...", "text": "...", "metadata": {...}}, ...]
// or {"documents": [...]}. "id" and "text" are required strings, "title" a string, "metadata" an
// object of strings, numbers, booleans and lists of strings. Empty or bad ids are not refused
// here: KnowledgeBase::upsert reports them, one failure each.
RAGLINE_API std::vector<DocumentInput> documents_from_json(std::string_view json);
// One document to upsert, {"id": "...", "title": "...", "text": "...", "metadata": {...}}, as
// an element of documents_from_json's list (a JSON Lines record of `rag-query upsert`); errors
// name the field as "document.text".
RAGLINE_API DocumentInput document_input_from_json(std::string_view json);
// What to_json(StoredDocument) wrote.
RAGLINE_API StoredDocument stored_document_from_json(std::string_view json);

// "bm25" | "dense" | "hybrid"; the one parser of search modes (CLI, JSON, bench).
RAGLINE_API std::string_view to_string(SearchMode mode) noexcept;
// Throws Error(invalid_argument) naming the known modes for any other name.
RAGLINE_API SearchMode parse_search_mode(std::string_view name);

}  // namespace ragline
