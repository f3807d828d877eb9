#include "index/fts5_extension.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "index/chunk_id_set.hpp"
#include "index/sqlite.hpp"
#include "text/text_analyzer.hpp"

namespace ragline::index {
namespace {

fts5_api* fts5_api_of(sqlite3* database) {
  fts5_api* api = nullptr;
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(database, "SELECT fts5(?1)", -1, &raw, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(database, rc, "looking up the FTS5 API (is FTS5 compiled in?)");
  StatementHandle statement(raw);
  sqlite3_bind_pointer(raw, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(raw);
  RAGLINE_CHECK(api != nullptr && api->iVersion >= 2, unsupported, "this SQLite has no usable FTS5 API");
  return api;
}

// ---- tokenizer ----------------------------------------------------------------------------

struct Tokenizer {
  explicit Tokenizer(const AnalyzerConfig& config) : analyzer(config) {}
  text::TextAnalyzer analyzer;
};

int tokenizer_create(void*, const char** arguments, int argument_count, Fts5Tokenizer** out) {
  try {
    AnalyzerConfig config;
    if (argument_count > 0) config.language = arguments[0];
    if (argument_count > 1) config.stemming = std::strcmp(arguments[1], "0") != 0;
    if (argument_count > 2) config.stopwords = std::strcmp(arguments[2], "0") != 0;
    *out = reinterpret_cast<Fts5Tokenizer*>(new Tokenizer(config));
    return SQLITE_OK;
  } catch (...) {
    return SQLITE_ERROR;
  }
}

void tokenizer_delete(Fts5Tokenizer* tokenizer) { delete reinterpret_cast<Tokenizer*>(tokenizer); }

int tokenizer_tokenize(Fts5Tokenizer* handle, void* context, int flags, const char* text, int length,
                       int (*emit_token)(void*, int, const char*, int, int, int)) {
  auto* tokenizer = reinterpret_cast<Tokenizer*>(handle);
  if ((flags & FTS5_TOKENIZE_QUERY) != 0 && length > 0 && text[0] == kPreAnalysedMarker) {
    if (length == 1) return SQLITE_OK;
    return emit_token(context, 0, text + 1, length - 1, 1, length);
  }
  int rc = SQLITE_OK;
  try {
    tokenizer->analyzer.analyze(std::string_view(text, static_cast<std::size_t>(length)),
                                [&](const text::AnalyzedToken& token) {
                                  rc = emit_token(context, 0, token.term.data(), static_cast<int>(token.term.size()),
                                                  static_cast<int>(token.byte_start), static_cast<int>(token.byte_end));
                                  return rc == SQLITE_OK;
                                });
  } catch (...) {
    return SQLITE_ERROR;
  }
  return rc;
}

// ---- BM25F ----------------------------------------------------------------------------------

// Per-query statistics, computed on the first row and cached as FTS5 auxdata.
struct QueryStatistics {
  std::vector<double> idf;             // per phrase
  std::vector<double> average_length;  // per column
  // Exact scores of the best rows so far (a min-heap of at most k), to skip rows that cannot
  // reach the top k without paying for their column sizes.
  std::vector<double> top_scores;
  // The function may be evaluated twice for one row; a row counts once in top_scores.
  sqlite3_int64 last_rowid = 0;
  bool has_last_row = false;
  double last_score = 0;
  std::vector<int> instance_counts;  // scratch: phrases x columns
  std::vector<int> matched_tokens;   // scratch: per column
};

int count_rows(const Fts5ExtensionApi*, Fts5Context*, void* user_data) {
  ++*static_cast<std::int64_t*>(user_data);
  return SQLITE_OK;
}

QueryStatistics* query_statistics(const Fts5ExtensionApi* api, Fts5Context* fts, int& rc) {
  if (auto* cached = static_cast<QueryStatistics*>(api->xGetAuxdata(fts, 0))) return cached;
  auto statistics = std::make_unique<QueryStatistics>();
  sqlite3_int64 row_count = 0;
  if ((rc = api->xRowCount(fts, &row_count)) != SQLITE_OK) return nullptr;
  const int columns = api->xColumnCount(fts);
  for (int column = 0; column < columns; ++column) {
    sqlite3_int64 total = 0;
    if ((rc = api->xColumnTotalSize(fts, column, &total)) != SQLITE_OK) return nullptr;
    statistics->average_length.push_back(row_count > 0 ? static_cast<double>(total) / row_count : 0.0);
  }
  const int phrases = api->xPhraseCount(fts);
  for (int phrase = 0; phrase < phrases; ++phrase) {
    std::int64_t rows_with_phrase = 0;
    if ((rc = api->xQueryPhrase(fts, phrase, &rows_with_phrase, count_rows)) != SQLITE_OK) return nullptr;
    const double n = static_cast<double>(rows_with_phrase);
    statistics->idf.push_back(std::log(1.0 + (static_cast<double>(row_count) - n + 0.5) / (n + 0.5)));
  }
  QueryStatistics* raw = statistics.release();
  if ((rc = api->xSetAuxdata(fts, raw, [](void* p) { delete static_cast<QueryStatistics*>(p); })) != SQLITE_OK) {
    return nullptr;  // FTS5 frees the auxdata through the destructor on failure
  }
  return raw;
}

double saturate(double tf, double k1) { return tf * (k1 + 1.0) / (k1 + tf); }

void bm25f(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* result, int argument_count,
           sqlite3_value** arguments) {
  int rc = SQLITE_OK;
  QueryStatistics* statistics = query_statistics(api, fts, rc);
  if (statistics == nullptr) {
    sqlite3_result_error_code(result, rc == SQLITE_OK ? SQLITE_ERROR : rc);
    return;
  }
  const sqlite3_int64 rowid = api->xRowid(fts);
  if (statistics->has_last_row && statistics->last_rowid == rowid) {
    sqlite3_result_double(result, statistics->last_score);
    return;
  }

  const double k1 = argument_count > 0 ? sqlite3_value_double(arguments[0]) : 1.2;
  const double b = argument_count > 1 ? sqlite3_value_double(arguments[1]) : 0.75;
  const int columns = static_cast<int>(statistics->average_length.size());
  const int phrases = static_cast<int>(statistics->idf.size());
  const auto column_weight = [&](int column) {
    return argument_count > 2 + column ? sqlite3_value_double(arguments[2 + column]) : 1.0;
  };
  // Optional per-phrase query weights (a BLOB of doubles) and the k of the query's LIMIT.
  const double* query_weights = nullptr;
  if (argument_count > 2 + columns && sqlite3_value_type(arguments[2 + columns]) == SQLITE_BLOB &&
      sqlite3_value_bytes(arguments[2 + columns]) == static_cast<int>(sizeof(double)) * phrases) {
    query_weights = static_cast<const double*>(sqlite3_value_blob(arguments[2 + columns]));
  }
  const auto query_weight = [&](int phrase) { return query_weights != nullptr ? query_weights[phrase] : 1.0; };
  const sqlite3_int64 k = argument_count > 3 + columns ? sqlite3_value_int64(arguments[3 + columns]) : 0;

  // Term counts per phrase and column, from the row's position lists.
  auto& counts = statistics->instance_counts;
  auto& matched = statistics->matched_tokens;
  counts.assign(static_cast<std::size_t>(phrases) * static_cast<std::size_t>(columns), 0);
  matched.assign(static_cast<std::size_t>(columns), 0);
  int instances = 0;
  if ((rc = api->xInstCount(fts, &instances)) != SQLITE_OK) {
    sqlite3_result_error_code(result, rc);
    return;
  }
  for (int instance = 0; instance < instances; ++instance) {
    int phrase = 0, column = 0, offset = 0;
    if ((rc = api->xInst(fts, instance, &phrase, &column, &offset)) != SQLITE_OK) {
      sqlite3_result_error_code(result, rc);
      return;
    }
    ++counts[static_cast<std::size_t>(phrase * columns + column)];
    ++matched[static_cast<std::size_t>(column)];
  }

  // BM25F of this row given a length normaliser per column.
  const auto score_with = [&](const auto& normaliser) {
    double score = 0;
    for (int phrase = 0; phrase < phrases; ++phrase) {
      double tf = 0;
      for (int column = 0; column < columns; ++column) {
        const int count = counts[static_cast<std::size_t>(phrase * columns + column)];
        if (count > 0) tf += column_weight(column) * count / normaliser(column);
      }
      if (tf > 0) score += query_weight(phrase) * statistics->idf[static_cast<std::size_t>(phrase)] * saturate(tf, k1);
    }
    return score;
  };
  const auto normaliser_for_length = [&](int column, double length) {
    const double average = statistics->average_length[static_cast<std::size_t>(column)];
    return average > 0 ? 1.0 - b + b * length / average : 1.0;
  };

  auto& top = statistics->top_scores;
  const bool can_bound = k > 0 && b >= 0 && b <= 1;
  if (can_bound && static_cast<sqlite3_int64>(top.size()) == k) {
    // A column holds at least the tokens that matched in it, so this normaliser is a lower
    // bound and the score an upper bound; below the k-th best exact score, the row cannot
    // enter the top k and its column sizes (one lookup each in FTS5's docsize table, most of
    // the cost of a common-term query) are never read.
    const double bound = score_with(
        [&](int column) { return normaliser_for_length(column, matched[static_cast<std::size_t>(column)]); });
    if (bound < top.front()) {
      statistics->last_rowid = rowid;
      statistics->has_last_row = true;
      statistics->last_score = bound;
      sqlite3_result_double(result, bound);
      return;
    }
  }

  double lengths[16];
  const int sized_columns = std::min(columns, 16);
  for (int column = 0; column < sized_columns; ++column) {
    int length = 0;
    if ((rc = api->xColumnSize(fts, column, &length)) != SQLITE_OK) {
      sqlite3_result_error_code(result, rc);
      return;
    }
    lengths[column] = length;
  }
  const double score = score_with(
      [&](int column) { return column < sized_columns ? normaliser_for_length(column, lengths[column]) : 1.0; });
  if (can_bound) {
    if (static_cast<sqlite3_int64>(top.size()) < k) {
      top.push_back(score);
      std::push_heap(top.begin(), top.end(), std::greater<>());
    } else if (score > top.front()) {
      std::pop_heap(top.begin(), top.end(), std::greater<>());
      top.back() = score;
      std::push_heap(top.begin(), top.end(), std::greater<>());
    }
  }
  statistics->last_rowid = rowid;
  statistics->has_last_row = true;
  statistics->last_score = score;
  sqlite3_result_double(result, score);
}

// ---- filter -------------------------------------------------------------------------------------

void chunk_allowed(sqlite3_context* result, int, sqlite3_value** arguments) {
  const auto* allowed = static_cast<const ChunkIdSet*>(sqlite3_value_pointer(arguments[1], kChunkIdSetPointerType));
  if (allowed == nullptr) {
    sqlite3_result_error(result, "ragline_chunk_allowed: the second argument is not a bound chunk id set", -1);
    return;
  }
  sqlite3_result_int(result, allowed->contains(sqlite3_value_int64(arguments[0])) ? 1 : 0);
}

}  // namespace

void register_fts5_extensions(sqlite3* database) {
  fts5_api* api = fts5_api_of(database);
  fts5_tokenizer tokenizer{tokenizer_create, tokenizer_delete, tokenizer_tokenize};
  int rc = api->xCreateTokenizer(api, "ragline", nullptr, &tokenizer, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(database, rc, "registering the ragline FTS5 tokenizer");
  rc = api->xCreateFunction(api, "ragline_bm25", nullptr, bm25f, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(database, rc, "registering ragline_bm25");
  // Direct-only: a pointer argument only ever comes from the keyword index's own statement.
  rc = sqlite3_create_function_v2(database, "ragline_chunk_allowed", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, nullptr,
                                  chunk_allowed, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(database, rc, "registering ragline_chunk_allowed");
}

}  // namespace ragline::index
