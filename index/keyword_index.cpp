#include "index/keyword_index.hpp"

#include <cmath>
#include <unordered_map>

#include "index/fts5_extension.hpp"

namespace ragline::index {

namespace {
// A term repeated in a query weighs more, but less than linearly: long natural-language
// questions repeat their key terms (counting each repeat fully helps CISI and hurts MED;
// sqrt(count) serves both, bench/README.md).
double query_term_weight(int count) { return std::sqrt(static_cast<double>(count)); }
}  // namespace

KeywordIndex::KeywordIndex(Database& database, const AnalyzerConfig& analyzer)
    : database_(database),
      analyzer_(analyzer),
      search_statement_(database.prepare(
          "SELECT rowid, ragline_bm25(chunk_keywords, ?2, ?3, ?4, ?5, ?6, ?7, ?8) AS score FROM chunk_keywords "
          "WHERE chunk_keywords MATCH ?1 ORDER BY score DESC, rowid LIMIT ?8")),
      // The WHERE clause runs before the score is computed, so ragline_bm25's running top-k
      // bound only ever sees allowed rows.
      filtered_search_statement_(database.prepare(
          "SELECT rowid, ragline_bm25(chunk_keywords, ?2, ?3, ?4, ?5, ?6, ?7, ?8) AS score FROM chunk_keywords "
          "WHERE chunk_keywords MATCH ?1 AND ragline_chunk_allowed(rowid, ?9) ORDER BY score DESC, rowid LIMIT ?8")) {}

KeywordIndex::QueryTerms KeywordIndex::analyse_query(std::string_view text) {
  QueryTerms query;
  std::vector<std::string> terms;
  std::vector<int> counts;
  std::unordered_map<std::string, std::size_t> position;
  analyzer_.analyze(text, [&](const text::AnalyzedToken& token) {
    auto [found, inserted] = position.emplace(token.term, terms.size());
    if (inserted) {
      terms.emplace_back(token.term);
      counts.push_back(1);
    } else {
      ++counts[found->second];
    }
    return true;
  });
  for (std::size_t i = 0; i < terms.size(); ++i) {
    if (!query.match_expression.empty()) query.match_expression += " OR ";
    query.match_expression += '"';
    query.match_expression += kPreAnalysedMarker;
    for (char c : terms[i]) {
      query.match_expression += c;
      if (c == '"') query.match_expression += '"';  // FTS5 escapes a quote inside a string by doubling it
    }
    query.match_expression += '"';
    query.weights.push_back(query_term_weight(counts[i]));
  }
  return query;
}

std::string KeywordIndex::match_expression(std::string_view text) { return analyse_query(text).match_expression; }

std::vector<KeywordHit> KeywordIndex::search(std::string_view text, std::size_t k, const Bm25Config& bm25,
                                             const ChunkIdSet* allowed) {
  std::vector<KeywordHit> hits;
  if (k == 0 || (allowed != nullptr && allowed->empty())) return hits;
  const QueryTerms query = analyse_query(text);
  if (query.match_expression.empty()) return hits;
  Statement& statement = allowed != nullptr ? filtered_search_statement_ : search_statement_;
  statement.bind(1, query.match_expression)
      .bind(2, bm25.k1)
      .bind(3, bm25.b)
      .bind(4, bm25.weight_text)
      .bind(5, bm25.weight_title)
      .bind(6, bm25.weight_heading)
      .bind_blob(7, query.weights.data(), query.weights.size() * sizeof(double))
      .bind(8, static_cast<std::int64_t>(k));
  try {
    if (allowed != nullptr) {
      const int rc =
          sqlite3_bind_pointer(statement.get(), 9, const_cast<ChunkIdSet*>(allowed), kChunkIdSetPointerType, nullptr);
      if (rc != SQLITE_OK) throw_sqlite_error(database_.get(), rc, "binding the allowed chunk ids");
    }
    while (statement.step()) {
      hits.push_back({statement.column_int64(0), statement.column_double(1)});
    }
  } catch (...) {
    statement.reset();
    throw;
  }
  statement.reset();
  return hits;
}

}  // namespace ragline::index
