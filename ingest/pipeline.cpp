#include "ingest/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_set>

#include "core/check.hpp"
#include "core/hash.hpp"
#include "ingest/chunker.hpp"
#include "ingest/file_walker.hpp"
#include "ingest/format.hpp"
#include "ingest/normalize.hpp"
#include "ragline/knowledge_base.hpp"

namespace ragline::ingest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Files are read whole (records are streamed from memory); this bounds the memory one file takes.
constexpr std::uint64_t kMaxFileBytes = 8ull << 30;

struct StoreFailure {};

// For errors raised after a document was parsed, when only the store can fail with these kinds
// (SQLite reports a full disk or an I/O error as io).
bool is_store_error(const Error& error) {
  switch (error.kind()) {
    case ErrorKind::io:
    case ErrorKind::database:
    case ErrorKind::busy:
    case ErrorKind::corrupt:
      return true;
    default:
      return false;
  }
}

struct PreparedDocument {
  Document document;
  std::string hash;
  std::vector<Chunk> chunks;
  bool replaces_existing = false;
};

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  RAGLINE_CHECK(in.good(), io, "cannot open for reading");
  std::string bytes;
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  RAGLINE_CHECK(size >= 0, io, "cannot determine file size");
  bytes.resize(static_cast<std::size_t>(size));
  in.seekg(0, std::ios::beg);
  in.read(bytes.data(), size);
  RAGLINE_CHECK(in.good() || in.eof(), io, "read failed");
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

nlohmann::json metadata_json(const Metadata& metadata) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : metadata) {
    std::visit([&](const auto& v) { json[key] = v; }, value);
  }
  return json;
}

bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\n") == std::string_view::npos; }

class Ingest {
 public:
  Ingest(index::Store& store, const IngestOptions& options, const LogCallback& log)
      : store_(store), options_(options), log_(log), chunker_(make_chunker(store.chunker())) {
    parse_options_.id_field = options.id_field;
    parse_options_.title_field = options.title_field;
    parse_options_.text_field = options.text_field;
    parse_options_.metadata_field = options.metadata_field;
    RAGLINE_CHECK(options.batch_documents > 0, invalid_argument, "batch_documents must be at least 1");
  }

  IngestReport run(const std::vector<fs::path>& paths) {
    const auto started = Clock::now();
    WalkResult walk = walk_inputs(paths, options_.include_globs, options_.exclude_globs);
    for (auto& failure : walk.failures) fail(std::move(failure.location), std::move(failure.reason));

    progress_.files_total = walk.files.size();
    for (const auto& file : walk.files) progress_.bytes_total += file.size;

    started_ = started;
    for (const auto& file : walk.files) {
      progress_.current_path = file.path.string();
      ingest_file(file);
      ++report_.files_seen;
      ++progress_.files_done;
      bytes_of_finished_files_ += file.size;
      file_bytes_ = file_bytes_prepared_ = 0;
      report_progress();
    }
    flush();
    if (options_.prune) prune(walk.roots);
    report_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return std::move(report_);
  }

 private:
  // Within a large file (JSON Lines), progress moves with the records prepared so far.
  void report_progress() {
    if (!options_.progress) return;
    progress_.bytes_done = bytes_of_finished_files_ + std::min(file_bytes_prepared_, file_bytes_);
    progress_.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    options_.progress(progress_);
  }

  void fail(std::string location, std::string reason) {
    if (log_) log_(LogLevel::warning, location + ": " + reason);
    report_.failures.push_back({std::move(location), std::move(reason)});
  }

  void ingest_file(const FoundFile& file) {
    const std::string path = file.path.string();
    ParsedFile parsed;
    std::size_t documents_in_file = 0;
    std::exception_ptr store_failure;
    file_bytes_ = file.size;
    file_bytes_prepared_ = 0;
    try {
      RAGLINE_CHECK(file.size <= kMaxFileBytes, format,
                    "file too large (" << file.size << " bytes; limit " << kMaxFileBytes << ")");
      SourceFile source;
      source.path = file.path;
      source.uri = file_uri(file.path);
      source.bytes = read_whole_file(file.path);
      source.mtime = file.mtime;
      source.sidecar_metadata = read_sidecar_metadata(file.path);
      RAGLINE_CHECK(!source.bytes.empty(), format, "empty file");
      report_.bytes_read += source.bytes.size();
      const FormatParser* parser = parser_for(file.path);
      RAGLINE_CHECK(parser != nullptr, format, "unsupported file type");
      parser->parse_each(
          source, parse_options_,
          [&](Document&& document) {
            ++documents_in_file;
            // A failure here is the store's (a batch write), not the file's: it ends the
            // ingest instead of being reported as a bad file.
            try {
              prepare(std::move(document), file);
            } catch (...) {
              store_failure = std::current_exception();
              throw StoreFailure{};
            }
          },
          parsed);
    } catch (const StoreFailure&) {
      std::rethrow_exception(store_failure);
    } catch (const Error& error) {
      failed_sources_.insert(path);
      fail(path, error.what());
      return;
    } catch (const std::exception& error) {
      failed_sources_.insert(path);
      fail(path, std::string("unexpected error: ") + error.what());
      return;
    }
    report_.invalid_utf8_replaced += parsed.invalid_utf8_replaced;
    if (!parsed.item_failures.empty()) failed_sources_.insert(path);
    for (auto& failure : parsed.item_failures) fail(std::move(failure.location), std::move(failure.reason));
    if (documents_in_file == 0 && parsed.item_failures.empty()) {
      failed_sources_.insert(path);
      fail(path, "no documents found");
    }
  }

  void prepare(Document document, const FoundFile& file) {
    file_bytes_prepared_ += static_cast<std::uint64_t>(std::max<std::int64_t>(document.size_bytes, 0));
    if (document.source_path.empty()) document.source_path = file.path.string();
    if (document.size_bytes == 0) document.size_bytes = static_cast<std::int64_t>(file.size);
    if (document.mtime == 0) document.mtime = file.mtime;
    if (!seen_uris_.insert(document.uri).second) {
      fail(document.uri, "duplicate document URI in this ingest; the first one was kept");
      return;
    }
    try {
      normalise_document(document);
      RAGLINE_CHECK(!is_blank(document.text), format, "no text after normalisation");
      PreparedDocument prepared;
      prepared.hash = content_hash(document);
      if (auto existing = store_.find_document(document.uri)) {
        if (existing->content_hash == prepared.hash) {
          ++report_.documents_unchanged;
          return;
        }
        prepared.replaces_existing = true;
      }
      prepared.chunks = chunker_->chunk(document);
      prepared.document = std::move(document);
      pending_bytes_ += prepared.document.text.size();
      pending_.push_back(std::move(prepared));
    } catch (const Error& error) {
      if (is_store_error(error)) throw;  // the KB's problem, not this document's
      failed_sources_.insert(document.source_path);
      fail(document.uri, error.what());
      return;
    }
    if (pending_.size() >= options_.batch_documents || pending_bytes_ >= kBatchBytes) flush();
  }

  void flush() {
    if (pending_.empty()) return;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    index::WriteTransaction transaction(store_.database());
    for (const auto& prepared : pending_) {
      store_.put_document(prepared.document, prepared.hash, prepared.chunks, now);
    }
    store_.bump_generation();
    transaction.commit();
    for (const auto& prepared : pending_) {
      ++(prepared.replaces_existing ? report_.documents_updated : report_.documents_added);
      report_.chunks_written += prepared.chunks.size();
    }
    pending_.clear();
    pending_bytes_ = 0;
    if (file_bytes_ > 0) report_progress();
  }

  void prune(const std::vector<fs::path>& roots) {
    index::WriteTransaction transaction(store_.database());
    std::size_t pruned = 0;
    std::unordered_set<std::int64_t> done;
    for (const auto& root : roots) {
      for (const auto& [document_id, uri] : store_.documents_from(root)) {
        if (seen_uris_.count(uri) || done.count(document_id)) continue;
        // A document from a file that failed this time is kept: its source is not gone.
        if (auto state = store_.find_document(uri); state && failed_sources_.count(state->source_path)) continue;
        store_.delete_document(document_id);
        done.insert(document_id);
        ++pruned;
        if (log_) log_(LogLevel::info, "pruned " + uri);
      }
    }
    if (pruned > 0) store_.bump_generation();
    transaction.commit();
    report_.documents_pruned = pruned;
  }

  static constexpr std::size_t kBatchBytes = 64u << 20;

  index::Store& store_;
  const IngestOptions& options_;
  const LogCallback& log_;
  std::unique_ptr<Chunker> chunker_;
  ParseOptions parse_options_;
  IngestReport report_;
  IngestProgress progress_;
  Clock::time_point started_;
  std::uint64_t bytes_of_finished_files_ = 0;
  std::uint64_t file_bytes_ = 0;           // size of the file being ingested
  std::uint64_t file_bytes_prepared_ = 0;  // of which its documents prepared so far account for
  std::vector<PreparedDocument> pending_;
  std::size_t pending_bytes_ = 0;
  std::unordered_set<std::string> seen_uris_;
  std::set<std::string> failed_sources_;
};

}  // namespace

std::string content_hash(const Document& document) {
  core::Sha256 hash;
  hash.update_field(document.mime_type).update_field(document.title).update_field(document.text);
  std::string pages;
  for (auto start : document.page_starts) pages += std::to_string(start) + ",";
  hash.update_field(pages).update_field(metadata_json(document.metadata).dump());
  return hash.hex_digest();
}

IngestReport run_ingest(index::Store& store, const std::vector<std::filesystem::path>& paths,
                        const IngestOptions& options, const LogCallback& log) {
  return Ingest(store, options, log).run(paths);
}

}  // namespace ragline::ingest
