#pragma once
// The ingest pipeline: walk → read → parse → normalise → hash → chunk → store, in batches of
// documents, each batch one write transaction. Two stages on two threads: a preparing thread
// (read ... chunk, with its own read-only connection) and the calling thread, which writes each
// batch while the next one is prepared, and alone calls the log and progress callbacks.

#include <filesystem>
#include <string_view>
#include <vector>

#include "index/store.hpp"
#include "ragline/types.hpp"

namespace ragline::ingest {

IngestReport run_ingest(index::Store& store, const std::vector<std::filesystem::path>& paths,
                        const IngestOptions& options, const LogCallback& log);

// The hash that decides whether a document changed: its normalised text, title, mime type,
// page layout and metadata, and the redaction config (canonical JSON; empty when not redacting),
// so that a changed config re-ingests documents.
std::string content_hash(const Document& document, std::string_view redaction = {});

}  // namespace ragline::ingest
