#pragma once
// Retrieval quality metrics with the definitions trec_eval uses (and pytrec_eval, hence BEIR).
//
// A ranking is a list of document ids, best first, without duplicates (the caller collapses
// chunks to documents before scoring). Judgments map a document id to its graded relevance
// (the qrels score). With R = the number of judged documents whose grade is > 0:
//
//   nDCG@10    DCG@10 / IDCG@10, DCG@k = sum over ranks i = 1..k of gain(doc_i) / log2(i + 1),
//              gain = the judgment value (linear gain, not 2^g - 1; negative grades count 0,
//              unjudged documents 0). IDCG@10 is the DCG@10 of all judged documents of the
//              query sorted by gain, whether or not they were retrieved. 0 when IDCG is 0.
//   Recall@100 |relevant in the top 100| / R.
//   MRR@10     1 / rank of the first relevant document in the top 10; 0 when there is none.
//   MAP@100    (sum over relevant documents at ranks i <= 100 of precision@i) / R, so relevant
//              documents that were never retrieved pull it down.
//
// "Relevant" means grade > 0. A query that has no judgments at all is not scored (the caller
// skips it); a query whose judgments are all <= 0 scores 0 on every metric, as in trec_eval.

#include <cstddef>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace ragline::bench {

// Document id -> graded judgment (qrels score) for one query.
using Judgments = std::unordered_map<std::string, int>;

// Rank cut-offs of the reported metrics; fixed so figures stay comparable with BEIR papers.
inline constexpr std::size_t kNdcgCutoff = 10;
inline constexpr std::size_t kRecallCutoff = 100;
inline constexpr std::size_t kMrrCutoff = 10;
inline constexpr std::size_t kMapCutoff = 100;

struct QueryMetrics {
  double ndcg_at_10 = 0;
  double recall_at_100 = 0;
  double mrr_at_10 = 0;
  double map_at_100 = 0;
};

// Metrics of one ranked list against the judgments of its query. `judgments` must not be empty
// (an unjudged query is not scored). Duplicate ids in `ranking` are a caller bug: each
// occurrence would count again, so they are rejected with std::invalid_argument.
QueryMetrics evaluate_query(std::span<const std::string> ranking, const Judgments& judgments);

// Arithmetic mean over scored queries; all zeros for an empty span.
QueryMetrics mean_metrics(std::span<const QueryMetrics> per_query);

}  // namespace ragline::bench
