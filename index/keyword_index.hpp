#pragma once
// KeywordIndex: BM25 search over the FTS5 index the Store maintains (chunk text, document title
// and heading path as three weighted columns).
//
// Queries are free text. They go through the same text::TextAnalyzer as the documents; the analysed
// terms are OR-ed (not FTS5's implicit AND) and each is passed to FTS5 pre-analysed, so no
// character of user text can be read as FTS5 query syntax.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index/chunk_id_set.hpp"
#include "index/sqlite.hpp"
#include "ragline/types.hpp"
#include "text/text_analyzer.hpp"

namespace ragline::index {

struct KeywordHit {
  std::int64_t chunk_id = 0;
  double score = 0;  // BM25F; higher is better
};

class KeywordIndex {
 public:
  // `database` must outlive the index and have the ragline FTS5 extensions registered.
  KeywordIndex(Database& database, const AnalyzerConfig& analyzer);

  // The top `k` chunks for `text`, best first. Empty when the text has no searchable terms.
  // With `allowed`, only chunks in that set are ranked (the set is tested inside the FTS5 query,
  // not after it), so k hits come back whenever k allowed chunks match; the idf and average
  // lengths stay those of the whole index. `allowed` is only read during the call.
  std::vector<KeywordHit> search(std::string_view text, std::size_t k, const Bm25Config& bm25 = {},
                                 const ChunkIdSet* allowed = nullptr);

  // The FTS5 MATCH expression for `text`; empty when it has no searchable terms.
  std::string match_expression(std::string_view text);

 private:
  struct QueryTerms {
    std::string match_expression;  // each distinct term once, OR-ed
    std::vector<double> weights;   // per term, from its count in the query
  };
  QueryTerms analyse_query(std::string_view text);

  Database& database_;
  text::TextAnalyzer analyzer_;
  Statement search_statement_;
  Statement filtered_search_statement_;  // separate, so the unfiltered plan stays as it was
};

}  // namespace ragline::index
