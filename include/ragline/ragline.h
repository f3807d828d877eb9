#ifndef RAGLINE_RAGLINE_H
#define RAGLINE_RAGLINE_H
/* The C API of ragline (C99): a knowledge base behind an opaque handle, with JSON in and out.
 * Link libragline.so (CMake: ragline::ragline_shared). The JSON shapes are the library's own
 * (ragline/json.hpp, "ragline_json": 1), the same the CLI prints with --json.
 *
 * Ownership
 *   - Every char* a function returns is a NUL-terminated UTF-8 JSON document allocated by the
 *     library; the caller owns it and releases it with ragline_free() (never free(): the library
 *     may use another allocator than the application).
 *   - NULL means the call failed; nothing was allocated, and ragline_last_error() says why.
 *   - const char* results (ragline_version, ragline_last_error) belong to the library: do not free.
 *   - Arguments are only read during the call; the library keeps no pointer to them.
 *   - A ragline_kb* from ragline_kb_open() is released with ragline_kb_close() (NULL is allowed).
 *
 * Errors
 *   No C++ exception crosses this interface. ragline_last_error() returns, for the calling
 *   thread, a JSON object describing the last call that failed on that thread:
 *     {"kind": "invalid_argument", "message": "..."}
 *   kind is one of ragline::ErrorKind's names (invalid_argument, not_found, io, database,
 *   corrupt, format, busy, unsupported, internal, network) or "out_of_memory". A malformed
 *   request (not JSON, a field of the wrong type, an unknown field) is "format" and names the
 *   field; a NULL argument that must not be NULL is "invalid_argument". Successful calls leave
 *   it unchanged; before any failure it is "". The string stays valid until the next failing
 *   call on the same thread.
 *
 * Threading
 *   A ragline_kb may be used by one thread at a time (open one handle per thread; handles in
 *   several threads or processes may share a KB directory: one writer, many readers, as
 *   ragline/knowledge_base.hpp describes). Functions without a handle are thread-safe.
 */

#include "ragline/export.hpp"

#ifdef __cplusplus
extern "C" {
#endif

/* An open knowledge base (one directory on disk). */
typedef struct ragline_kb ragline_kb;

/* "MAJOR.MINOR.PATCH" of the library, e.g. "0.1.0". */
RAGLINE_API const char* ragline_version(void);

/* Opens the KB in `dir`, creating it when allowed. options_json: ragline::OpenOptions as JSON,
 * e.g. {"create_if_missing": false, "embedder": {"name": "lexical"}}; NULL or "" for the
 * defaults. NULL on failure (a KB that does not exist with create_if_missing false: not_found). */
RAGLINE_API ragline_kb* ragline_kb_open(const char* dir, const char* options_json);

/* Closes the KB and frees the handle; NULL does nothing. */
RAGLINE_API void ragline_kb_close(ragline_kb* kb);

/* Ingests files and directories. request_json: {"paths": ["a.md", "docs/"], "options": {...}}
 * with "paths" required (non-empty) and "options" ragline::IngestOptions as JSON (optional).
 * Returns the IngestReport as JSON: bad files are listed in its "failures", not an error. */
RAGLINE_API char* ragline_kb_ingest_json(ragline_kb* kb, const char* request_json);

/* Adds or replaces in-memory documents by id (KnowledgeBase::upsert). documents_json:
 * [{"id": "...", "title": "...", "text": "...", "metadata": {...}}, ...] or {"documents": [...]};
 * "id" (the document's URI) and "text" are required. Returns the IngestReport as JSON: unchanged
 * documents are counted in "unchanged", changed ones in "updated"; an empty, too long or repeated
 * id is one of its "failures" and the other documents still go in. */
RAGLINE_API char* ragline_kb_upsert_json(ragline_kb* kb, const char* documents_json);

/* Searches. query_json: ragline::Query as JSON, e.g.
 * {"text": "refund policy", "k": 5, "filter": {"equals": {"key": "team", "value": "sales"}}}.
 * Returns the SearchResult as JSON ({"hits": [...], "explanation": {...}}). */
RAGLINE_API char* ragline_kb_search_json(ragline_kb* kb, const char* query_json);

/* Builds a grounded prompt. request_json: {"question": "...", then either "query": {...} (a
 * Query as JSON to retrieve with; its "text" defaults to the question) or "hits": [...] (hits as
 * a search returned them, best first; only their chunk_id, document_uri, title, heading_path,
 * text, byte_start, byte_end, page, metadata and score are read), and optionally "options":
 * ragline::PromptOptions as JSON}. Neither "query" nor "hits": retrieve with the question and
 * the default query. Returns the Prompt as JSON. */
RAGLINE_API char* ragline_kb_prompt_json(ragline_kb* kb, const char* request_json);

/* The KB's Stats as JSON (documents, chunks, settings, generations). */
RAGLINE_API char* ragline_kb_stats_json(ragline_kb* kb);

/* The KB's documents in URI order, with their metadata (KnowledgeBase::documents), as
 * {"ragline_json": 1, "documents": [...]}. request_json: {"filter": {...}, "limit": 100,
 * "offset": 200}, every field optional (filter as in a query; limit 0 or absent: no limit);
 * NULL or "" for all documents. A bad filter is invalid_argument, naming the position. */
RAGLINE_API char* ragline_kb_documents_json(ragline_kb* kb, const char* request_json);

/* Removes documents and their chunks in one transaction (KnowledgeBase::remove / remove_where).
 * request_json: {"ids": ["id1", ...]} (ids with no document are passed over) or
 * {"filter": {...}} (every document passing it; an empty filter is refused), not both.
 * Returns {"ragline_json": 1, "removed": N}. */
RAGLINE_API char* ragline_kb_remove_json(ragline_kb* kb, const char* request_json);

/* Gives the space of removed documents back to the file system (KnowledgeBase::compact):
 * rewrites kb.sqlite and rebuilds vectors.faiss. Returns the CompactReport as JSON
 * ({"bytes_before", "bytes_after", "actions"}). A writer: takes the KB's write lock. */
RAGLINE_API char* ragline_kb_compact_json(ragline_kb* kb);

/* The calling thread's last error as JSON (see "Errors" above); never NULL. */
RAGLINE_API const char* ragline_last_error(void);

/* Frees a string returned by this library; NULL does nothing. */
RAGLINE_API void ragline_free(void* pointer);

#ifdef __cplusplus
}
#endif

#endif /* RAGLINE_RAGLINE_H */
