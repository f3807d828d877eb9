#pragma once
// The ingest pipeline: walk → read → parse → normalise → hash → chunk → store, in batches of
// documents, each batch one write transaction. Two stages on two threads: a preparing thread
// (read ... chunk, with its own read-only connection) and the calling thread, which writes each
// batch while the next one is prepared, and alone calls the log and progress callbacks.

#include <filesystem>
#include <string_view>
#include <vector>

#include "index/store.hpp"
#include "models/embedder.hpp"
#include "ragline/types.hpp"

namespace ragline::ingest {

// Ingests with `embedder` (the KB's; null for a KB without vectors). It is called on the
// preparing thread only, and must outlive the call.
IngestReport run_ingest(index::Store& store, models::Embedder* embedder,
                        const std::vector<std::filesystem::path>& paths, const IngestOptions& options,
                        const LogCallback& log);
// Adds or replaces in-memory documents (KnowledgeBase::upsert) through the same stages: each
// document's id is its URI (non-empty, valid UTF-8, at most kMaxDocumentIdBytes; a bad id or a
// repeated one is a failure in the report); unchanged ones are skipped by content hash.
// options.prune, the globs and the JSON field names do not apply; files_seen stays 0, bytes_read
// counts the texts' bytes, and progress counts documents as files.
IngestReport run_upsert(index::Store& store, models::Embedder* embedder, const std::vector<DocumentInput>& documents,
                        const IngestOptions& options, const LogCallback& log);
// The same with the embedder the store's recorded config names, from the registry.
IngestReport run_ingest(index::Store& store, const std::vector<std::filesystem::path>& paths,
                        const IngestOptions& options, const LogCallback& log);

// The hash that decides whether a document changed: its normalised text, title, mime type,
// page layout and metadata, and the redaction config (canonical JSON; empty when not redacting),
// so that a changed config re-ingests documents.
std::string content_hash(const Document& document, std::string_view redaction = {});

}  // namespace ragline::ingest
