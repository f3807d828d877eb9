#pragma once
// KnowledgeBase: one directory on disk holding everything ragline knows (see DESIGN.md).
//
// Thread safety: a KnowledgeBase object is not shared between threads; open one per thread
// (they may point at the same directory). Any number of readers and one writer can use a KB
// directory at once, from threads or processes: SQLite's WAL lets queries run during an ingest,
// and a second concurrent writer waits up to the busy timeout (10 s), then gets ErrorKind::busy
// ("KB ... is busy"). Each search reads one snapshot: it sees every document whole or not at
// all, and vector hits only for chunks in that snapshot. Writers (ingest, remove_document,
// reindex, repair) commit in transactions; killing the process at any moment leaves a KB that
// opens, checks clean and resumes (index/README.md, "Durability and concurrency").
// Error, CheckReport and the other value types are plain data: safe to copy between threads.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ragline/check.hpp"
#include "ragline/error.hpp"
#include "ragline/export.hpp"
#include "ragline/prompt.hpp"
#include "ragline/types.hpp"
#include "ragline/uri.hpp"

namespace ragline {

class RAGLINE_API KnowledgeBase {
 public:
  // Opens the KB in `dir`, creating the directory and an empty KB if allowed. Throws Error.
  static KnowledgeBase open(const std::filesystem::path& dir, const OpenOptions& options = {});

  KnowledgeBase(KnowledgeBase&&) noexcept;
  KnowledgeBase& operator=(KnowledgeBase&&) noexcept;
  ~KnowledgeBase();

  // Ingests files and directories (recursively). Bad inputs are listed in the report's failures
  // and skipped; everything else is committed in batches of options.batch_documents documents.
  IngestReport ingest(const std::vector<std::filesystem::path>& paths, const IngestOptions& options = {});

  // Adds or replaces documents given in memory, by id (DocumentInput::id is the document's URI).
  // The same stages as ingest: normalised, redacted with the KB's recorded redaction (or
  // options.redaction), chunked, embedded through the KB's embedder and its cache, written in
  // batches of options.batch_documents, then vectors.faiss is brought up to date. Incremental by
  // content hash: an unchanged document is skipped (documents_unchanged), a changed one has its
  // chunks replaced in one transaction. An empty id, one that is not valid UTF-8 or longer than
  // kMaxDocumentIdBytes, and a repeated id within one call (the first is kept) are failures in the
  // report; the other documents still go in. options.prune, the globs and the JSON field names
  // do not apply, and an upsert never removes a document.
  IngestReport upsert(const std::vector<DocumentInput>& documents, const IngestOptions& options = {});

  // The stored document with this id (its URI: an upsert's id or a file's file:///... URI);
  // nullopt when there is none. A read.
  std::optional<StoredDocument> get(const std::string& id) const;

  // Removes the documents with these ids (URIs) and their chunks in one transaction, then brings
  // vectors.faiss up to date; ids with no document are skipped. Returns how many were removed.
  std::size_t remove(const std::vector<std::string>& ids);

  // Removes every document passing `filter` (a metadata filter as Query::filter takes it:
  // retrieve/README.md; {"startsWith": {"key": "_source_uri", "value": "file:///srv/old/"}}
  // selects by URI prefix) and its chunks, in one transaction, then brings vectors.faiss up to
  // date. Returns how many were removed. An empty filter is refused (Error(invalid_argument)):
  // removing everything is never what a missing argument meant.
  std::size_t remove_where(const std::string& filter);

  // Ranked chunks for a free-text query: BM25 (chunk text, title and heading path), dense
  // (cosine similarity of chunk vectors) or both fused, by query.mode, after query.filter.
  // A read: it writes nothing to the KB directory (query vectors are cached in memory; a stale
  // vectors.faiss is caught up in memory and saved by the next writer).
  SearchResult search(const Query& query) const;
  // Checks a query without running it (no KB needed): k, the fusion settings and the filter's
  // syntax; throws Error(invalid_argument) naming the field, as search() would. For tools that
  // tell bad usage from a failed search.
  static void validate(const Query& query);
  // search(query).hits.
  std::vector<Hit> retrieve(const Query& query) const;

  // A grounded prompt for `question` from ranked `hits` (best first, e.g. from retrieve()):
  // passages merged and packed within options' token budget, cited as [n], with the
  // conversation `history` (oldest first) trimmed to fit. Throws Error(invalid_argument) for a
  // bad template or options. The KB supplies neighbouring text for options.expand.
  Prompt build_prompt(const std::string& question, const std::vector<Hit>& hits, const PromptOptions& options = {},
                      const std::vector<ChatMessage>& history = {}) const;

  // The vector a dense search uses for `text` (the KB's embedder; for the lexical embedder with
  // query terms weighted by this KB's statistics), for checks and tools. Throws Error(unsupported)
  // for a KB without an embedder.
  std::vector<float> query_vector(const std::string& text) const;

  // Rebuilds vectors.faiss from the vectors in kb.sqlite (e.g. after changing the index type).
  void reindex();

  // Verifies the KB directory (include/ragline/check.hpp): SQLite's integrity and foreign-key
  // checks, the FTS5 keyword index against the chunks, every searchable chunk's vector, and
  // vectors.faiss against kb.sqlite. Never writes; safe during another process's ingest (the FTS5
  // check waits for the writer's lock like any writer, up to the busy timeout).
  CheckReport check() const;
  // Rebuilds what is derived from what is durable: the keyword index from the chunks and
  // vectors.faiss from the stored vectors; deletes rows whose owner is gone; embeds chunks that
  // wait for vectors when the embedder answers. A writer: takes the KB's write lock.
  RepairReport repair();

  // Gives the space of removed documents back to the file system: rewrites kb.sqlite without its
  // free pages (SQLite's VACUUM, which needs about the KB's size free on disk while it runs) and
  // rebuilds vectors.faiss. A writer: takes the KB's write lock; readers go on meanwhile. Writers
  // (ingest, upsert, remove, remove_where, remove_document) run the kb.sqlite part themselves when
  // a commit leaves more than half of its pages free.
  CompactReport compact();

  // Removes one document and its chunks; false when no document has that URI.
  bool remove_document(const std::string& uri);

  // The KB's documents in URI order, with their metadata.
  std::vector<DocumentInfo> documents() const;
  // The documents passing `filter` (as Query::filter; empty: all), in URI order: `offset` of
  // them passed over, then at most `limit` (0: no limit), so a large KB can be paged through.
  // Throws Error(invalid_argument) for a bad filter, naming the position, as search() does.
  std::vector<DocumentInfo> documents(const std::string& filter, std::size_t limit = 0, std::size_t offset = 0) const;
  Stats stats() const;
  const std::filesystem::path& directory() const;

 private:
  struct Impl;
  explicit KnowledgeBase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragline
