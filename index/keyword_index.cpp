#include "index/keyword_index.hpp"

#include <unordered_set>

#include "index/fts5_extension.hpp"

namespace ragline::index {

KeywordIndex::KeywordIndex(Database& database, const AnalyzerConfig& analyzer, Bm25Parameters parameters)
    : database_(database),
      analyzer_(analyzer),
      parameters_(parameters),
      search_statement_(database.prepare(
          "SELECT rowid, ragline_bm25(chunk_keywords, ?2, ?3, ?4, ?5, ?6) AS score FROM chunk_keywords "
          "WHERE chunk_keywords MATCH ?1 ORDER BY score DESC, rowid LIMIT ?7")) {}

std::string KeywordIndex::match_expression(std::string_view text) {
  std::string expression;
  std::unordered_set<std::string> seen;
  analyzer_.analyze(text, [&](const AnalyzedToken& token) {
    if (!parameters_.query_term_frequency && !seen.emplace(token.term).second) return true;
    if (!expression.empty()) expression += " OR ";
    expression += '"';
    expression += kPreAnalysedMarker;
    for (char c : token.term) {
      expression += c;
      if (c == '"') expression += '"';  // FTS5 escapes a quote inside a string by doubling it
    }
    expression += '"';
    return true;
  });
  return expression;
}

std::vector<KeywordHit> KeywordIndex::search(std::string_view text, std::size_t k) {
  std::vector<KeywordHit> hits;
  const std::string expression = match_expression(text);
  if (expression.empty() || k == 0) return hits;
  search_statement_.bind(1, expression)
      .bind(2, parameters_.k1)
      .bind(3, parameters_.b)
      .bind(4, parameters_.weight_text)
      .bind(5, parameters_.weight_title)
      .bind(6, parameters_.weight_heading)
      .bind(7, static_cast<std::int64_t>(k));
  try {
    while (search_statement_.step()) {
      hits.push_back({search_statement_.column_int64(0), search_statement_.column_double(1)});
    }
  } catch (...) {
    search_statement_.reset();
    throw;
  }
  search_statement_.reset();
  return hits;
}

}  // namespace ragline::index
