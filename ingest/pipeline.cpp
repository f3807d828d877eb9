#include "ingest/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "core/check.hpp"
#include "core/hash.hpp"
#include "ingest/chunker.hpp"
#include "ingest/file_walker.hpp"
#include "ingest/format.hpp"
#include "models/caching_embedder.hpp"
#include "models/embedder.hpp"
#include "ragline/uri.hpp"
#include "text/normalize.hpp"
#include "text/redact.hpp"

namespace ragline::ingest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// JSON Lines files are read whole but parsed a record at a time; this bounds the one copy.
constexpr std::uint64_t kMaxStreamedFileBytes = 8ull << 30;

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

constexpr std::size_t kBatchBytes = 64u << 20;

struct PreparedDocument {
  Document document;
  std::string hash;
  std::vector<Chunk> chunks;
  bool replaces_existing = false;
  // One row per searchable chunk, in chunk order; empty when the KB has no embedder or
  // embedding failed (the next ingest completes such chunks).
  std::vector<float> vectors;
  std::map<std::string, std::size_t> redactions;  // matches replaced, by type
};

// A vector the model computed in this run, for the KB's embedding cache.
struct CacheEntry {
  std::string embedder_id;
  std::string key;  // models::embedding_cache_key
  std::vector<float> vector;
};

// The KB's embedding cache as ingest sees it: read through the preparing thread's read-only
// connection; vectors computed meanwhile wait here until the writer stores them in the
// transaction of the batch they belong to (so the cache never holds a vector of a text the KB
// did not commit, nor misses one it did).
class IngestEmbeddingCache final : public models::EmbeddingCacheStore {
 public:
  explicit IngestEmbeddingCache(index::Database& database)
      : lookup_(database.prepare("SELECT vector FROM embedding_cache WHERE embedder_id = ?1 AND text_hash = ?2")) {}

  std::vector<float> find(const std::string& embedder_id, const std::string& key) override {
    std::vector<float> vector;
    lookup_.bind(1, embedder_id).bind_blob(2, key.data(), key.size());
    if (lookup_.step()) {
      const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(lookup_.get(), 0));
      const auto* data = static_cast<const float*>(sqlite3_column_blob(lookup_.get(), 0));
      vector.assign(data, data + bytes / sizeof(float));
    }
    lookup_.reset();
    return vector;
  }

  void keep(const std::string& embedder_id, const std::string& key, std::span<const float> vector) override {
    new_entries_.push_back({embedder_id, key, std::vector<float>(vector.begin(), vector.end())});
  }

  std::vector<CacheEntry> take_new_entries() { return std::exchange(new_entries_, {}); }

 private:
  index::Statement lookup_;
  std::vector<CacheEntry> new_entries_;
};

// The KB's embedder through its ingest cache, with the counts the report needs.
class CachedEmbedding {
 public:
  // `claimed_id` is the embedder id the KB's vectors have (empty for a KB without vectors yet).
  CachedEmbedding(models::Embedder& embedder, index::Database& database, const std::string& claimed_id)
      : cache_(database), embedder_(embedder, cache_) {
    embedder_.expect_id(claimed_id);
  }

  struct Result {
    models::EmbeddingMatrix matrix;
    std::vector<CacheEntry> computed;  // to store in the batch's transaction
    std::size_t from_cache = 0;
    std::size_t truncated = 0;  // computed texts the embedder cut to its input window
  };

  Result embed(const std::vector<std::string>& texts) {
    Result result;
    const std::size_t hits_before = embedder_.cache_hits();
    const std::size_t truncated_before = embedder_.texts_truncated();
    try {
      result.matrix = embedder_.embed(texts, models::EmbedPurpose::document);
    } catch (...) {
      cache_.take_new_entries();
      throw;
    }
    result.computed = cache_.take_new_entries();
    result.from_cache = embedder_.cache_hits() - hits_before;
    result.truncated = embedder_.texts_truncated() - truncated_before;
    return result;
  }

  std::string embedder_id() const { return embedder_.id(); }

 private:
  IngestEmbeddingCache cache_;
  models::CachingEmbedder embedder_;
};

nlohmann::json metadata_json(const Metadata& metadata) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& entry : metadata) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture those in a lambda.
    const std::string& key = entry.first;
    std::visit([&](const auto& v) { json[key] = v; }, entry.second);
  }
  return json;
}

bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\n") == std::string_view::npos; }

// What the preparing thread hands to the writing thread: documents ready to write (possibly
// none), the failures met while preparing them, and how far preparation had got.
struct Batch {
  std::vector<PreparedDocument> documents;
  std::vector<IngestFailure> failures;
  std::vector<IngestSkip> skipped;
  IngestProgress progress;
  std::size_t dimension = 0;  // of the documents' vectors
  std::string embedder_id;    // of the documents' vectors
  std::vector<CacheEntry> cache_entries;
  std::size_t chunks_embedded = 0;
  std::size_t embeddings_from_cache = 0;
  std::size_t chunks_truncated = 0;
  double embed_seconds = 0;
};

// A bounded hand-over between the two stages. The writer closes it to stop the preparer early.
class BatchQueue {
 public:
  explicit BatchQueue(std::size_t capacity) : capacity_(capacity) {}

  // Blocks while full; false when the writer has closed the queue.
  bool push(Batch batch) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return batches_.size() < capacity_ || closed_; });
    if (closed_) return false;
    batches_.push_back(std::move(batch));
    ready_.notify_one();
    return true;
  }

  // The next batch, or nullopt once the preparer has finished and everything was taken.
  std::optional<Batch> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !batches_.empty() || finished_; });
    if (batches_.empty()) return std::nullopt;
    Batch batch = std::move(batches_.front());
    batches_.pop_front();
    space_.notify_one();
    return batch;
  }

  void finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
    ready_.notify_all();
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    space_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable space_;
  std::deque<Batch> batches_;
  bool finished_ = false;
  bool closed_ = false;
};

struct Cancelled {};

// Stage one, on its own thread: read, parse, normalise, hash, compare with the stored hash,
// chunk. It reads the KB through its own read-only connection and never writes; it calls no
// user callback (those run on the caller's thread, in the writer).
class Preparer {
 public:
  Preparer(const std::filesystem::path& database_path, const ChunkerConfig& chunker, const IngestOptions& options,
           models::Embedder* embedder, const std::string& claimed_embedder_id, BatchQueue& queue,
           const text::Redactor* redactor, std::string redaction_json)
      : redactor_(redactor),
        redaction_json_(std::move(redaction_json)),
        database_(index::Database::open(database_path, false, /*read_only=*/true)),
        find_hash_(database_.prepare("SELECT content_hash FROM documents WHERE uri = ?1")),
        chunker_(make_chunker(chunker)),
        options_(options),
        queue_(queue) {
    if (embedder) embedding_.emplace(*embedder, database_, claimed_embedder_id);
    parse_options_.id_field = options.id_field;
    parse_options_.title_field = options.title_field;
    parse_options_.text_field = options.text_field;
    parse_options_.metadata_field = options.metadata_field;
  }

  void run(const WalkResult& walk) {
    progress_.files_total = walk.files.size();
    for (const auto& file : walk.files) progress_.bytes_total += file.size;
    started_ = Clock::now();
    for (const auto& file : walk.files) {
      progress_.current_path = file.path.string();
      file_bytes_ = file.size;
      file_bytes_prepared_ = 0;
      ingest_file(file);
      ++files_seen_;
      ++progress_.files_done;
      bytes_of_finished_files_ += file.size;
      file_bytes_ = file_bytes_prepared_ = 0;
      if (Clock::now() - last_progress_ > std::chrono::milliseconds(50)) send();
    }
    send();
  }

  // The in-memory source (KnowledgeBase::upsert): each document's id is its URI; it has no file
  // (an empty source_path, so no --prune root ever holds it). Progress counts documents as files.
  void run(const std::vector<DocumentInput>& inputs) {
    progress_.files_total = inputs.size();
    for (const auto& input : inputs) progress_.bytes_total += input.text.size();
    started_ = Clock::now();
    for (std::size_t index = 0; index < inputs.size(); ++index) {
      const DocumentInput& input = inputs[index];
      progress_.current_path = input.id;
      file_bytes_ = input.text.size();
      file_bytes_prepared_ = 0;
      bytes_read_ += input.text.size();
      if (auto problem = input_problem(input)) {
        fail(problem->bad_id ? "documents[" + std::to_string(index) + "]" : input.id, problem->reason);
      } else {
        Document document;
        document.uri = input.id;
        document.mime_type = "text/plain";
        auto title = text::repair_utf8(input.title);
        auto body = text::repair_utf8(input.text);
        invalid_utf8_replaced_ += title.replaced + body.replaced;
        document.title = std::move(title.text);
        document.text = std::move(body.text);
        document.metadata = input.metadata;
        document.size_bytes = static_cast<std::int64_t>(input.text.size());
        prepare_document(std::move(document), "duplicate document id in this upsert; the first one was kept");
      }
      ++progress_.files_done;
      bytes_of_finished_files_ += input.text.size();
      file_bytes_ = file_bytes_prepared_ = 0;
      if (Clock::now() - last_progress_ > std::chrono::milliseconds(50)) send();
    }
    send();
  }

  std::size_t files_seen() const { return files_seen_; }
  std::size_t documents_unchanged() const { return documents_unchanged_; }
  std::size_t invalid_utf8_replaced() const { return invalid_utf8_replaced_; }
  std::uint64_t bytes_read() const { return bytes_read_; }
  const std::unordered_set<std::string>& seen_uris() const { return seen_uris_; }
  const std::set<std::string>& failed_sources() const { return failed_sources_; }
  // Files that were read but some of whose records (lines) could not be parsed.
  const std::set<std::string>& sources_with_bad_records() const { return sources_with_bad_records_; }

 private:
  void fail(std::string location, std::string reason, IngestFailureKind kind = IngestFailureKind::input) {
    batch_.failures.push_back({std::move(location), std::move(reason), kind});
  }

  void skip(std::string location, std::string reason) {
    batch_.skipped.push_back({std::move(location), std::move(reason)});
  }

  // Hands the current batch (documents, failures, progress) to the writer.
  void send() {
    embed_batch();
    progress_.bytes_done = bytes_of_finished_files_ + std::min(file_bytes_prepared_, file_bytes_);
    progress_.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    batch_.progress = progress_;
    if (!queue_.push(std::move(batch_))) throw Cancelled{};
    batch_ = Batch{};
    batch_bytes_ = 0;
    last_progress_ = Clock::now();
  }

  // Embeds the searchable chunks of the batch's documents. A model service that fails (after
  // its retries) is not asked again in this run: the documents are written without vectors and
  // the next ingest embeds them, so nothing is lost and nothing is marked done that is not.
  void embed_batch() {
    if (!embedding_ || embedding_failed_ || batch_.documents.empty()) return;
    std::vector<std::string> texts;
    for (const auto& prepared : batch_.documents) {
      for (const auto& chunk : prepared.chunks) {
        if (chunk.searchable) texts.push_back(chunk.text);
      }
    }
    if (texts.empty()) return;
    const auto started = Clock::now();
    try {
      auto result = embedding_->embed(texts);
      const std::size_t dimension = result.matrix.dimension;
      std::size_t row = 0;
      for (auto& prepared : batch_.documents) {
        const std::size_t first_row = row;
        for (const auto& chunk : prepared.chunks) {
          if (chunk.searchable) ++row;
        }
        prepared.vectors.assign(result.matrix.values.begin() + static_cast<std::ptrdiff_t>(first_row * dimension),
                                result.matrix.values.begin() + static_cast<std::ptrdiff_t>(row * dimension));
      }
      batch_.cache_entries = std::move(result.computed);
      batch_.dimension = dimension;
      batch_.embedder_id = embedding_->embedder_id();
      batch_.embeddings_from_cache += result.from_cache;
      batch_.chunks_embedded += texts.size() - result.from_cache;
      batch_.chunks_truncated += result.truncated;
    } catch (const Error& error) {
      if (is_store_error(error)) throw;
      embedding_failed_ = true;
      for (auto& prepared : batch_.documents) prepared.vectors.clear();
      fail("embedder " + embedding_->embedder_id(),
           std::string(error.what()) + " (the documents are stored without vectors; the next ingest embeds them)",
           IngestFailureKind::embedder);
    }
    batch_.embed_seconds += std::chrono::duration<double>(Clock::now() - started).count();
  }

  void ingest_file(const FoundFile& file) {
    const std::string path = file.path.string();
    ParsedFile parsed;
    std::size_t documents_in_file = 0;
    std::exception_ptr fatal;
    try {
      // A file that becomes one document costs several times its size while it is normalised
      // and chunked; JSON Lines streams its records, costing about its own size, so it keeps the
      // old ceiling and max_file_bytes bounds each record instead (prepare()).
      const std::uint64_t max_bytes =
          parser_streams_records(file.path) && !file.gzip ? kMaxStreamedFileBytes : options_.max_file_bytes;
      RAGLINE_CHECK(
          max_bytes == 0 || file.size <= max_bytes, format,
          "file too large: " << file.size << " bytes, max_file_bytes is " << max_bytes << " (--max-file-bytes)");
      SourceFile source;
      source.path = file.path;
      source.uri = file_uri(file.path);
      source.bytes = read_listed_file(file.path, max_bytes);
      source.mtime = file.mtime;
      source.sidecar_metadata = read_sidecar_metadata(file.path);
      bytes_read_ += source.bytes.size();
      // Emptied since it was listed: skipped, as the walker skips empty files.
      if (source.bytes.empty()) return skip(path, "empty file");
      // A gzip bomb stops at max_file_bytes of output, the bound a plain file has.
      if (file.gzip) source.bytes = gunzip(source.bytes, options_.max_file_bytes);
      if (source.bytes.empty()) return skip(path, "empty file (after decompression)");
      const FormatParser* parser = file.parser != nullptr ? file.parser : parser_for(file.path);
      RAGLINE_CHECK(parser != nullptr, format, "unsupported file type");
      parser->parse_each(
          source, parse_options_,
          [&](Document&& document) {
            ++documents_in_file;
            // What fails here is the KB (a read) or the hand-over, not the file: it ends the
            // ingest instead of being reported as a bad file.
            try {
              prepare(std::move(document), file);
            } catch (...) {
              fatal = std::current_exception();
              throw StoreFailure{};
            }
          },
          parsed);
    } catch (const StoreFailure&) {
      std::rethrow_exception(fatal);
    } catch (const Error& error) {
      failed_sources_.insert(path);
      fail(path, error.what());
      return;
    } catch (const std::exception& error) {
      failed_sources_.insert(path);
      fail(path, std::string("unexpected error: ") + error.what());
      return;
    }
    invalid_utf8_replaced_ += parsed.invalid_utf8_replaced;
    if (!parsed.item_failures.empty()) {
      failed_sources_.insert(path);
      sources_with_bad_records_.insert(path);
    }
    for (auto& failure : parsed.item_failures) fail(std::move(failure.location), std::move(failure.reason));
    if (documents_in_file == 0 && parsed.item_failures.empty()) {
      failed_sources_.insert(path);
      fail(path, "no documents found");
    }
  }

  std::optional<std::string> stored_hash(const std::string& uri) {
    find_hash_.bind(1, uri);
    std::optional<std::string> hash;
    if (find_hash_.step()) hash = find_hash_.column_string(0);
    find_hash_.reset();
    return hash;
  }

  void prepare(Document document, const FoundFile& file) {
    file_bytes_prepared_ += static_cast<std::uint64_t>(std::max<std::int64_t>(document.size_bytes, 0));
    if (document.source_path.empty()) document.source_path = file.path.string();
    if (document.size_bytes == 0) document.size_bytes = static_cast<std::int64_t>(file.size);
    if (document.mtime == 0) document.mtime = file.mtime;
    // A document under the file's own URI is the whole file: one with nothing but whitespace (or
    // a BOM) is skipped like an empty file. A record of a multi-document file (URI#id) with no
    // text stays a failure of that record.
    const bool whole_file = document.uri == file_uri(file.path);
    prepare_document(std::move(document), "duplicate document URI in this ingest; the first one was kept",
                     whole_file ? file.path.string() : std::string());
  }

  struct InputProblem {
    bool bad_id = false;  // the id itself is the problem: the failure is located by index
    std::string reason;
  };

  // What makes an in-memory document unusable before it is even normalised: its id (the URI
  // it would be stored under) or metadata that is not valid UTF-8.
  static std::optional<InputProblem> input_problem(const DocumentInput& input) {
    if (input.id.empty()) return InputProblem{true, "document id is empty"};
    if (input.id.size() > kMaxDocumentIdBytes) {
      return InputProblem{true, "document id \"" + text::repair_utf8(input.id.substr(0, 64)).text + "...\" is " +
                                    std::to_string(input.id.size()) + " bytes, at most " +
                                    std::to_string(kMaxDocumentIdBytes) + " are allowed"};
    }
    if (auto repaired = text::repair_utf8(input.id); repaired.replaced > 0) {
      return InputProblem{true, "document id \"" + repaired.text + "\" is not valid UTF-8"};
    }
    for (const auto& [key, value] : input.metadata) {
      bool valid = text::repair_utf8(key).replaced == 0;
      if (const auto* string = std::get_if<std::string>(&value))
        valid = valid && text::repair_utf8(*string).replaced == 0;
      if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
        for (const auto& item : *list) valid = valid && text::repair_utf8(item).replaced == 0;
      }
      if (!valid) {
        return InputProblem{false, "metadata \"" + text::repair_utf8(key).text + "\" is not valid UTF-8"};
      }
    }
    return std::nullopt;
  }

  // The stages every document goes through, whatever its source: normalise, hash and compare
  // with the stored hash, redact, chunk; then into the batch.
  // skip_blank_as: the file to report as skipped ("no text") when the document is blank;
  // empty when a blank document is a failure.
  void prepare_document(Document document, const char* duplicate_reason, const std::string& skip_blank_as = {}) {
    if (!seen_uris_.insert(document.uri).second) {
      fail(document.uri, duplicate_reason);
      return;
    }
    try {
      RAGLINE_CHECK(options_.max_file_bytes == 0 || document.text.size() <= options_.max_file_bytes, format,
                    "record too large: " << document.text.size() << " bytes of text, max_file_bytes is "
                                         << options_.max_file_bytes << " (--max-file-bytes)");
      text::normalise_document(document);
      if (!skip_blank_as.empty() && is_blank(document.text)) {
        // Not seen, as an empty file is not: a stored earlier version of it is pruned.
        seen_uris_.erase(document.uri);
        skip(skip_blank_as, "no text");
        return;
      }
      RAGLINE_CHECK(!is_blank(document.text), format, "no text after normalisation");
      PreparedDocument prepared;
      prepared.hash = content_hash(document, redaction_json_);
      if (auto existing = stored_hash(document.uri)) {
        if (*existing == prepared.hash) {
          ++documents_unchanged_;
          return;
        }
        prepared.replaces_existing = true;
      }
      if (redactor_) redactor_->redact_document(document, prepared.redactions);
      prepared.chunks = chunker_->chunk(document);
      RAGLINE_CHECK(options_.max_chunks_per_document == 0 || prepared.chunks.size() <= options_.max_chunks_per_document,
                    format,
                    "too many chunks: " << prepared.chunks.size() << ", max_chunks_per_document is "
                                        << options_.max_chunks_per_document << " (--max-chunks-per-document)");
      prepared.document = std::move(document);
      batch_bytes_ += prepared.document.text.size();
      batch_.documents.push_back(std::move(prepared));
    } catch (const Error& error) {
      if (is_store_error(error)) throw;  // the KB's problem, not this document's
      failed_sources_.insert(document.source_path);
      fail(document.uri, error.what());
      return;
    }
    if (batch_.documents.size() >= options_.batch_documents || batch_bytes_ >= kBatchBytes) send();
  }

  const text::Redactor* redactor_;
  std::string redaction_json_;  // empty when not redacting
  index::Database database_;
  index::Statement find_hash_;
  std::optional<CachedEmbedding> embedding_;
  bool embedding_failed_ = false;
  std::unique_ptr<Chunker> chunker_;
  const IngestOptions& options_;
  BatchQueue& queue_;
  ParseOptions parse_options_;

  Batch batch_;
  std::size_t batch_bytes_ = 0;
  IngestProgress progress_;
  Clock::time_point started_;
  Clock::time_point last_progress_;
  std::uint64_t bytes_of_finished_files_ = 0;
  std::uint64_t file_bytes_ = 0;           // size of the file being prepared
  std::uint64_t file_bytes_prepared_ = 0;  // of which its documents prepared so far account for

  std::size_t files_seen_ = 0;
  std::size_t documents_unchanged_ = 0;
  std::size_t invalid_utf8_replaced_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::unordered_set<std::string> seen_uris_;
  std::set<std::string> failed_sources_;
  std::set<std::string> sources_with_bad_records_;
};

// Stage two, on the caller's thread: writes each batch in one transaction, reports progress and
// failures through the caller's callbacks, then prunes.
class Ingest {
 public:
  Ingest(index::Store& store, models::Embedder* embedder, const IngestOptions& options, const LogCallback& log)
      : store_(store), options_(options), log_(log), embedder_(embedder) {
    RAGLINE_CHECK(options.batch_documents > 0, invalid_argument, "batch_documents must be at least 1");
  }

  IngestReport run(const std::vector<fs::path>& paths) {
    const auto started = Clock::now();
    resolve_redaction();
    complete_missing_vectors();
    WalkResult walk = walk_inputs(paths, options_.include_globs, options_.exclude_globs);
    for (auto& failure : walk.failures) fail(std::move(failure.location), std::move(failure.reason));
    for (auto& skipped : walk.skipped) report_.skipped.push_back(std::move(skipped));
    prepare_and_write([&](Preparer& preparer) { preparer.run(walk); },
                      [&](const Preparer& preparer) {
                        if (options_.prune) {
                          prune(walk.roots, preparer.seen_uris(), preparer.failed_sources(),
                                preparer.sources_with_bad_records());
                        }
                      });
    return finish(started);
  }

  // In-memory documents go through the same stages; an upsert never prunes (it has no roots).
  IngestReport run(const std::vector<DocumentInput>& documents) {
    const auto started = Clock::now();
    resolve_redaction();
    complete_missing_vectors();
    prepare_and_write([&](Preparer& preparer) { preparer.run(documents); }, [](const Preparer&) {});
    return finish(started);
  }

 private:
  // Runs the two stages: `feed` drives the preparer over its source on the preparing thread
  // while this thread writes the batches; `after` runs once everything is written.
  template <class Feed, class After>
  void prepare_and_write(Feed feed, After after) {
    // Two batches in flight let parsing and chunking of the next batch overlap the write of
    // this one, on two cores, while bounding memory.
    BatchQueue queue(2);
    Preparer preparer(store_.database().path(), store_.chunker(), options_, embedder_, store_.embedder_id(), queue,
                      redactor_ ? &*redactor_ : nullptr, redactor_ ? redaction_json_ : std::string());
    std::exception_ptr preparer_failure;
    std::thread preparing([&] {
      try {
        feed(preparer);
      } catch (const Cancelled&) {
      } catch (...) {
        preparer_failure = std::current_exception();
      }
      queue.finish();
    });
    try {
      while (auto batch = queue.pop()) write(*batch);
    } catch (...) {
      queue.close();
      preparing.join();
      throw;
    }
    preparing.join();
    if (preparer_failure) std::rethrow_exception(preparer_failure);

    report_.files_seen = preparer.files_seen();
    report_.documents_unchanged = preparer.documents_unchanged();
    report_.invalid_utf8_replaced = preparer.invalid_utf8_replaced();
    report_.bytes_read = preparer.bytes_read();
    after(preparer);
  }

  IngestReport finish(Clock::time_point started) {
    report_pending_vectors();
    report_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return std::move(report_);
  }

  void fail(std::string location, std::string reason, IngestFailureKind kind = IngestFailureKind::input) {
    if (log_) log_(LogLevel::warning, location + ": " + reason);
    report_.failures.push_back({std::move(location), std::move(reason), kind});
  }

  // The redaction of this run: the one asked for, else the one the KB recorded. One asked for is
  // checked before anything is written, then recorded; a different recorded one is replaced,
  // with a warning, since documents ingested before keep theirs until they are re-ingested.
  void resolve_redaction() {
    const std::string recorded = store_.read_setting(text::kRedactionSetting);
    std::optional<RedactionConfig> config;
    if (options_.redaction) {
      config = options_.redaction;
      redactor_.emplace(*config);
      redaction_json_ = text::redaction_config_json(*config);
      if (redaction_json_ != recorded && (!recorded.empty() || text::redaction_active(*config))) {
        if (!recorded.empty()) {
          const std::string warning = "redaction config " + recorded + " replaced by " + redaction_json_ +
                                      "; documents ingested before keep the old redaction until re-ingested";
          if (log_) log_(LogLevel::warning, warning);
          report_.warnings.push_back(warning);
        }
        index::WriteTransaction transaction(store_.database());
        store_.write_setting(text::kRedactionSetting, redaction_json_);
        transaction.commit();
      }
    } else if (!recorded.empty()) {
      config = text::redaction_config_from_json(recorded, store_.database().path().string());
      redactor_.emplace(*config);
      redaction_json_ = recorded;
    }
    if (!config || !text::redaction_active(*config)) redactor_.reset();
  }

  // After an embedding failure, one more entry names the documents whose chunks still wait for
  // vectors: what the next ingest completes.
  void report_pending_vectors() {
    const bool embedder_failed = std::any_of(report_.failures.begin(), report_.failures.end(), [](const auto& failure) {
      return failure.kind == IngestFailureKind::embedder;
    });
    if (!embedder_failed) return;
    auto statement = store_.database().prepare(
        "SELECT d.uri, count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.searchable = 1 AND "
        "NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id) GROUP BY d.id ORDER BY d.uri");
    std::size_t documents = 0;
    std::int64_t chunks = 0;
    std::string named;
    constexpr std::size_t kNamed = 10;
    while (statement.step()) {
      if (documents < kNamed) named += (documents ? ", " : "") + statement.column_string(0);
      ++documents;
      chunks += statement.column_int64(1);
    }
    if (documents == 0) return;
    if (documents > kNamed) named += " and " + std::to_string(documents - kNamed) + " more";
    fail("pending embeddings",
         std::to_string(chunks) + " chunks of " + std::to_string(documents) + " documents still need vectors (" +
             named + "); the next ingest embeds them",
         IngestFailureKind::pending_vectors);
  }

  // Chunks stored without vectors (an earlier embedding failure, a KB from before vectors) are
  // embedded before new documents, in transactions of their own.
  void complete_missing_vectors() {
    if (!embedder_) return;
    constexpr std::size_t kBackfillBatch = 256;
    index::Database reader = index::Database::open(store_.database().path(), false, /*read_only=*/true);
    CachedEmbedding embedding(*embedder_, reader, store_.embedder_id());
    for (;;) {
      const auto missing = store_.chunks_missing_vectors(kBackfillBatch);
      if (missing.empty()) break;
      std::vector<std::string> texts;
      std::vector<std::int64_t> ids;
      for (const auto& [id, text] : missing) {
        ids.push_back(id);
        texts.push_back(text);
      }
      const auto embed_started = Clock::now();
      CachedEmbedding::Result result;
      try {
        result = embedding.embed(texts);
      } catch (const Error& error) {
        if (is_store_error(error)) throw;
        fail("embedder " + embedding.embedder_id(),
             std::string(error.what()) + " (chunks without vectors stay so until a later ingest)",
             IngestFailureKind::embedder);
        embedder_ = nullptr;  // the same service would fail again for the new documents
        return;
      }
      report_.embed_seconds += std::chrono::duration<double>(Clock::now() - embed_started).count();
      index::WriteTransaction transaction(store_.database());
      store_.claim_embedder(embedding.embedder_id(), result.matrix.dimension);
      const std::int64_t generation = store_.generation() + 1;
      store_.put_vectors(ids, result.matrix.values, generation);
      write_cache_entries(result.computed);
      store_.bump_generation();
      transaction.commit();
      report_.chunks_embedded += texts.size() - result.from_cache;
      report_.embeddings_from_cache += result.from_cache;
      report_.chunks_truncated += result.truncated;
    }
  }

  // Inside the transaction that stores the vectors themselves.
  void write_cache_entries(const std::vector<CacheEntry>& entries) {
    for (const auto& entry : entries) {
      store_.put_cached_embeddings(entry.embedder_id, {entry.key}, entry.vector, entry.vector.size());
    }
  }

  void write(Batch& batch) {
    if (!batch.documents.empty()) {
      const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
      index::WriteTransaction transaction(store_.database());
      const std::int64_t generation = store_.generation() + 1;
      bool claimed = false;
      std::vector<std::int64_t> chunk_ids;
      std::vector<std::int64_t> searchable_ids;
      for (const auto& prepared : batch.documents) {
        store_.put_document(prepared.document, prepared.hash, prepared.chunks, now, &chunk_ids);
        if (prepared.vectors.empty()) continue;
        if (!claimed) {
          store_.claim_embedder(batch.embedder_id, batch.dimension);
          claimed = true;
        }
        searchable_ids.clear();
        for (std::size_t i = 0; i < prepared.chunks.size(); ++i) {
          if (prepared.chunks[i].searchable) searchable_ids.push_back(chunk_ids[i]);
        }
        store_.put_vectors(searchable_ids, prepared.vectors, generation);
      }
      if (claimed) write_cache_entries(batch.cache_entries);
      store_.bump_generation();
      transaction.commit();
      report_.chunks_embedded += batch.chunks_embedded;
      report_.embeddings_from_cache += batch.embeddings_from_cache;
      report_.chunks_truncated += batch.chunks_truncated;
      report_.embed_seconds += batch.embed_seconds;
      for (const auto& prepared : batch.documents) {
        ++(prepared.replaces_existing ? report_.documents_updated : report_.documents_added);
        for (const auto& [type, count] : prepared.redactions) report_.redactions[type] += count;
        report_.chunks_written += prepared.chunks.size();
      }
    }
    for (auto& failure : batch.failures) fail(std::move(failure.location), std::move(failure.reason), failure.kind);
    for (auto& skipped : batch.skipped) report_.skipped.push_back(std::move(skipped));
    if (options_.progress) options_.progress(batch.progress);
  }

  void prune(const std::vector<fs::path>& roots, const std::unordered_set<std::string>& seen_uris,
             const std::set<std::string>& failed_sources, const std::set<std::string>& sources_with_bad_records) {
    index::WriteTransaction transaction(store_.database());
    std::size_t pruned = 0;
    std::unordered_set<std::int64_t> done;
    // Records kept only because their file has lines that failed to parse (one of those lines may
    // be the record itself): said in the report, so a missing prune is never silent.
    std::map<std::string, std::size_t> kept_for_bad_records;
    for (const auto& root : roots) {
      for (const auto& [document_id, uri] : store_.documents_from(root)) {
        if (seen_uris.count(uri) || done.count(document_id)) continue;
        // A document from a file that failed this time is kept: its source is not gone.
        if (auto state = store_.find_document(uri); state && failed_sources.count(state->source_path)) {
          if (sources_with_bad_records.count(state->source_path) && done.insert(document_id).second) {
            ++kept_for_bad_records[state->source_path];
          }
          continue;
        }
        store_.delete_document(document_id);
        done.insert(document_id);
        ++pruned;
        if (log_) log_(LogLevel::info, "pruned " + uri);
      }
    }
    if (pruned > 0) store_.bump_generation();
    transaction.commit();
    report_.documents_pruned = pruned;
    for (const auto& [source, kept] : kept_for_bad_records) {
      report_.warnings.push_back(source + ": " + std::to_string(kept) +
                                 " record(s) no longer in the file were not pruned, because some of its lines failed "
                                 "to parse (one may be such a record); fix them and ingest again with --prune");
    }
  }

  index::Store& store_;
  const IngestOptions& options_;
  const LogCallback& log_;
  models::Embedder* embedder_;  // null: the KB has none, or it failed in this run
  std::optional<text::Redactor> redactor_;
  std::string redaction_json_;
  IngestReport report_;
};

}  // namespace

std::string content_hash(const Document& document, std::string_view redaction) {
  core::Sha256 hash;
  hash.update_field(document.mime_type).update_field(document.title).update_field(document.text);
  std::string pages;
  for (auto start : document.page_starts) pages += std::to_string(start) + ",";
  hash.update_field(pages).update_field(metadata_json(document.metadata).dump());
  // Absent, not empty, without redaction: hashes of KBs that never redacted stay as they were.
  if (!redaction.empty()) hash.update_field(redaction);
  return hash.hex_digest();
}

IngestReport run_ingest(index::Store& store, models::Embedder* embedder,
                        const std::vector<std::filesystem::path>& paths, const IngestOptions& options,
                        const LogCallback& log) {
  return Ingest(store, embedder, options, log).run(paths);
}

IngestReport run_upsert(index::Store& store, models::Embedder* embedder, const std::vector<DocumentInput>& documents,
                        const IngestOptions& options, const LogCallback& log) {
  return Ingest(store, embedder, options, log).run(documents);
}

IngestReport run_ingest(index::Store& store, const std::vector<std::filesystem::path>& paths,
                        const IngestOptions& options, const LogCallback& log) {
  std::unique_ptr<models::Embedder> embedder;
  if (store.embedder().name != "none") embedder = models::make_embedder(store.embedder(), store.analyzer());
  return run_ingest(store, embedder.get(), paths, options, log);
}

}  // namespace ragline::ingest
