#pragma once
// ragline's FTS5 extensions, registered on every connection that touches the keyword index:
//
//  - tokenizer `ragline`: args `<language> <stem 0|1> <stopwords 0|1>`, backed by text::TextAnalyzer.
//    In query mode, a string that starts with kPreAnalysedMarker is one term already analysed
//    (the keyword index builds MATCH expressions from analysed terms, so a stem is never stemmed
//    twice and user text never reaches the FTS5 query parser).
//  - auxiliary function `ragline_bm25(fts_table, k1, b, weight_col0, weight_col1, ...)`: BM25F
//    (Robertson, Zaragoza & Taylor 2004) with per-column weights and length normalisation, and
//    the idf of Lucene, log(1 + (N - n + 0.5) / (n + 0.5)), which stays positive for terms in
//    more than half of the rows (FTS5's built-in bm25 clamps those to almost nothing).
//  - SQL function `ragline_chunk_allowed(rowid, set)`: 1 when `set`, a ChunkIdSet bound with
//    sqlite3_bind_pointer(..., kChunkIdSetPointerType, nullptr), holds rowid; else 0. The
//    keyword index puts it in the WHERE clause of a filtered FTS5 query.

#include <sqlite3.h>

namespace ragline::index {

inline constexpr char kPreAnalysedMarker = '\x01';
inline constexpr const char* kChunkIdSetPointerType = "ragline_chunk_id_set";

void register_fts5_extensions(sqlite3* database);

}  // namespace ragline::index
