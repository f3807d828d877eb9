// rag-bench-vectors: the dense side at scale. Filtered recall of ragline's dense search against an
// exact answer computed here, and the speed of hybrid, dense and BM25 queries beside raw FAISS and
// raw FTS5 timed in the same run, on a synthetic corpus with random metadata. See bench/README.md
// ("rag-bench-vectors") for every figure it prints.
//
// Queries go through the public API only. Two things do not, on purpose: the exact answers and
// the raw FAISS baseline need the stored vectors, read from kb.sqlite with SQLite directly (as the
// FTS5 baseline talks to SQLite directly). Query vectors come from KnowledgeBase::query_vector,
// the very vectors dense search uses.

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ragline/ragline.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <vector>

#include "bench/command_line.hpp"
#include "bench/fts5_baseline.hpp"
#include "bench/latency.hpp"
#include "bench/scale_support.hpp"
#include "bench/synthetic_corpus.hpp"
#include "index/vector_index_types.hpp"

namespace {

namespace fs = std::filesystem;
using ragline::bench::format_fixed;
using ragline::bench::format_ms;
using ragline::bench::Fts5Baseline;
using ragline::bench::latency_json;
using ragline::bench::LatencyRecorder;
using ragline::bench::LatencySummary;
using ragline::bench::pad;
using ragline::bench::path_bytes;
using ragline::bench::percentile_nearest_rank;
using ragline::bench::Random;
using ragline::bench::random_stream;
using ragline::bench::seconds_since;
using ragline::bench::Stream;
using ragline::bench::Vocabulary;
using ragline::bench::WorkFiles;

using ragline::bench::kExitSetupError;

constexpr std::size_t kTopK = 10;
// The floors: exact where a filter passes at most 1% of the chunks, 0.95 above.
constexpr double kRecallFloorSelective = 1.0;
constexpr double kRecallFloorBroad = 0.95;
constexpr double kSelectiveShare = 0.01;
// Scores computed by two implementations of the inner product differ in the last bits; a hit
// scoring within this of the exact k-th score is as good as the exact one (ties).
constexpr float kScoreTolerance = 1e-5f;
// ragline's query cache (retrieve/retriever.cpp) holds 256 query vectors; more queries than that
// would make the untimed warm-up useless and put embedding into the timed figures.
constexpr std::size_t kMaxQueries = 256;

constexpr std::size_t kContentWords = 50000;
// Query words: content ranks 100-3000, each in roughly 0.1-2% of the documents.
constexpr std::size_t kQueryRankFirst = 100;
constexpr std::size_t kQueryRankLast = 3000;
constexpr std::size_t kQueryWords = 3;
constexpr std::size_t kBuckets = 1000;
constexpr std::size_t kCategories = 10;

struct Options {
  std::size_t chunks = 200000;
  int dimension = 0;
  std::vector<std::string> indexes = {"flat", "hnsw"};
  std::vector<std::string> sections = {"recall", "speed"};
  std::uint64_t seed = 1;
  std::size_t queries = 200;
  std::size_t warmup = 20;
  int hnsw_m = 32;
  int ef_construction = 80;
  int ef_search = 128;
  std::size_t exact_threshold = 0;  // Query::exact_search_threshold for the recall section (0: the engine's)
  int nlist = 0;
  int nprobe = 16;
  fs::path work;
  bool keep = false;
  bool json = false;
  bool verbose = false;
};

// Each document's metadata, by paragraph (0-based).
struct CorpusMetadata {
  std::vector<std::uint16_t> bucket;   // uniform in 0..999
  std::vector<std::uint8_t> category;  // uniform in 0..9, stored as "c0".."c9"
};

std::string category_name(std::size_t category) { return "c" + std::to_string(category); }

// Writes one short document per line: {"id":"p<n>","title":2-4 words,"text":20-60 words in
// sentences of 5-15,"metadata":{"bucket":0-999,"category":"c0".."c9"}}. Returns the file size.
std::uint64_t write_corpus(const fs::path& path, const Vocabulary& vocabulary, std::size_t documents,
                           std::uint64_t seed, CorpusMetadata& metadata) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw ragline::Error(ragline::ErrorKind::io, path.string() + ": cannot open for writing");
  Random random = random_stream(seed, Stream::corpus);
  Random metadata_random = random_stream(seed, Stream::metadata);
  metadata.bucket.resize(documents);
  metadata.category.resize(documents);
  std::string line;
  for (std::size_t document = 0; document < documents; ++document) {
    metadata.bucket[document] = static_cast<std::uint16_t>(metadata_random.between(0, kBuckets - 1));
    metadata.category[document] = static_cast<std::uint8_t>(metadata_random.between(0, kCategories - 1));
    line = "{\"id\":\"p" + std::to_string(document + 1) + "\",\"title\":\"";
    const std::size_t title_words = random.between(2, 4);
    for (std::size_t index = 0; index < title_words; ++index) {
      if (index > 0) line += ' ';
      line += vocabulary.word(vocabulary.sample_content(random));
    }
    line += "\",\"text\":\"";
    std::size_t words_left = random.between(20, 60);
    while (words_left > 0) {
      const std::size_t sentence = std::min(words_left, random.between(5, 15));
      for (std::size_t index = 0; index < sentence; ++index) {
        if (index > 0) line += ' ';
        line += vocabulary.word(vocabulary.sample(random));
      }
      line += ". ";
      words_left -= sentence;
    }
    line.pop_back();
    line += "\",\"metadata\":{\"bucket\":" + std::to_string(metadata.bucket[document]) + ",\"category\":\"" +
            category_name(metadata.category[document]) + "\"}}\n";
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out.close();
  if (!out) throw ragline::Error(ragline::ErrorKind::io, path.string() + ": write failed");
  return fs::file_size(path);
}

std::vector<std::string> make_queries(const Vocabulary& vocabulary, std::size_t count, std::uint64_t seed) {
  Random random = random_stream(seed, Stream::queries);
  std::vector<std::string> queries;
  for (std::size_t query = 0; query < count; ++query) {
    std::vector<std::size_t> ranks;
    while (ranks.size() < kQueryWords) {
      const std::size_t rank = random.between(kQueryRankFirst, kQueryRankLast);
      if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end()) ranks.push_back(rank);
    }
    std::string text;
    for (const std::size_t rank : ranks) text += (text.empty() ? "" : " ") + vocabulary.content_word(rank);
    queries.push_back(std::move(text));
  }
  return queries;
}

struct FilterCase {
  std::string name;
  std::string json;
  double nominal_share;
  std::function<bool(std::size_t bucket, std::size_t category)> passes;
};

std::vector<FilterCase> make_filter_cases() {
  const auto bucket_below = [](std::size_t limit) {
    return "{\"lessThan\":{\"key\":\"bucket\",\"value\":" + std::to_string(limit) + "}}";
  };
  return {
      {"bucket<1", bucket_below(1), 0.001, [](std::size_t bucket, std::size_t) { return bucket < 1; }},
      {"bucket<10", bucket_below(10), 0.01, [](std::size_t bucket, std::size_t) { return bucket < 10; }},
      {"bucket<100", bucket_below(100), 0.10, [](std::size_t bucket, std::size_t) { return bucket < 100; }},
      {"bucket<500", bucket_below(500), 0.50, [](std::size_t bucket, std::size_t) { return bucket < 500; }},
      {"category=c3", "{\"equals\":{\"key\":\"category\",\"value\":\"c3\"}}", 0.10,
       [](std::size_t, std::size_t category) { return category == 3; }},
      {"bucket<50&c1|c2",
       "{\"andAll\":[{\"lessThan\":{\"key\":\"bucket\",\"value\":50}},"
       "{\"in\":{\"key\":\"category\",\"value\":[\"c1\",\"c2\"]}}]}",
       0.01, [](std::size_t bucket, std::size_t category) { return bucket < 50 && (category == 1 || category == 2); }},
  };
}

// --- kb.sqlite, read directly -------------------------------------------------------------------

struct DatabaseCloser {
  void operator()(sqlite3* database) const { sqlite3_close_v2(database); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

// Every chunk vector of the KB in chunk-id order (the order vectors.faiss is built in), with the
// paragraph its document came from.
struct StoredVectors {
  std::size_t dimension = 0;
  std::vector<std::int64_t> chunk_ids;
  std::vector<std::uint32_t> paragraphs;  // 0-based
  std::vector<float> values;              // row-major
  std::size_t size() const { return chunk_ids.size(); }
  const float* row(std::size_t position) const { return values.data() + position * dimension; }
};

StoredVectors read_stored_vectors(const fs::path& database_file, std::size_t dimension) {
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(database_file.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DatabaseCloser> database(raw);
  if (opened != SQLITE_OK) {
    throw ragline::Error(ragline::ErrorKind::database,
                         database_file.string() + ": cannot open: " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  const char* sql =
      "SELECT v.chunk_id, d.uri, v.vector FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id "
      "JOIN documents d ON d.id = c.document_id ORDER BY v.chunk_id";
  sqlite3_stmt* raw_statement = nullptr;
  if (sqlite3_prepare_v2(database.get(), sql, -1, &raw_statement, nullptr) != SQLITE_OK) {
    throw ragline::Error(ragline::ErrorKind::database,
                         database_file.string() + ": cannot read chunk_vectors: " + sqlite3_errmsg(database.get()));
  }
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement(raw_statement);
  StoredVectors stored;
  stored.dimension = dimension;
  int step;
  while ((step = sqlite3_step(statement.get())) == SQLITE_ROW) {
    const auto uri = std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), 1)));
    const std::size_t hash = uri.rfind("#p");
    const std::size_t bytes = static_cast<std::size_t>(sqlite3_column_bytes(statement.get(), 2));
    if (hash == std::string_view::npos || bytes != dimension * sizeof(float)) {
      throw ragline::Error(ragline::ErrorKind::format, database_file.string() + ": chunk " +
                                                           std::to_string(sqlite3_column_int64(statement.get(), 0)) +
                                                           " has no paragraph id or a vector of " +
                                                           std::to_string(bytes) + " bytes");
    }
    stored.chunk_ids.push_back(sqlite3_column_int64(statement.get(), 0));
    stored.paragraphs.push_back(static_cast<std::uint32_t>(std::stoul(std::string(uri.substr(hash + 2))) - 1));
    const auto* vector = static_cast<const float*>(sqlite3_column_blob(statement.get(), 2));
    stored.values.insert(stored.values.end(), vector, vector + dimension);
  }
  if (step != SQLITE_DONE) {
    throw ragline::Error(ragline::ErrorKind::database,
                         database_file.string() + ": reading chunk_vectors failed: " + sqlite3_errmsg(database.get()));
  }
  return stored;
}

// --- exact answers --------------------------------------------------------------------------------

struct ExactAnswer {
  std::vector<std::int64_t> chunk_ids;  // best first
  float kth_score = 0;
};

ExactAnswer exact_top_k(const StoredVectors& stored, const float* query, const std::vector<std::size_t>& positions,
                        std::size_t k) {
  std::vector<std::pair<float, std::int64_t>> scored;
  scored.reserve(positions.size());
  for (const std::size_t position : positions) {
    scored.emplace_back(faiss::fvec_inner_product(query, stored.row(position), stored.dimension),
                        stored.chunk_ids[position]);
  }
  const std::size_t take = std::min(k, scored.size());
  std::partial_sort(
      scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(take), scored.end(),
      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  ExactAnswer answer;
  for (std::size_t i = 0; i < take; ++i) answer.chunk_ids.push_back(scored[i].second);
  if (take > 0) answer.kth_score = scored[take - 1].first;
  return answer;
}

// --- raw FAISS baseline ----------------------------------------------------------------------------

// The FAISS index inside vectors.faiss, loaded with FAISS's own reader and searched with FAISS
// directly: the very structure ragline searches (same graph or lists, same parameters), so the
// difference in time is ragline's overhead and nothing else. vectors.faiss ends with
// "faiss::write_index blob | blob size (u64) | checksum (u64)", the blob preceded by one chunk id
// (i64) per FAISS position when nothing is tombstoned (index/vector_index.cpp); those ids are
// checked against the stored vectors, so a change of layout stops the run instead of misleading it.
class RawFaiss {
 public:
  RawFaiss(const fs::path& vector_file, const StoredVectors& stored, const Options& options) : options_(options) {
    std::ifstream in(vector_file, std::ios::binary);
    const auto fail = [&](const std::string& reason) {
      return ragline::Error(ragline::ErrorKind::format, vector_file.string() + ": " + reason);
    };
    if (!in) throw fail("cannot open");
    in.seekg(0, std::ios::end);
    const auto file_bytes = static_cast<std::uint64_t>(in.tellg());
    std::uint64_t blob_bytes = 0;
    if (file_bytes < 16) throw fail("too short");
    in.seekg(static_cast<std::streamoff>(file_bytes - 16));
    in.read(reinterpret_cast<char*>(&blob_bytes), sizeof blob_bytes);
    const std::uint64_t labels_bytes = stored.size() * sizeof(std::int64_t);
    if (!in || blob_bytes + labels_bytes + 16 > file_bytes) throw fail("blob size out of range");
    const std::uint64_t blob_start = file_bytes - 16 - blob_bytes;
    std::vector<std::int64_t> labels(stored.size());
    in.seekg(static_cast<std::streamoff>(blob_start - labels_bytes));
    in.read(reinterpret_cast<char*>(labels.data()), static_cast<std::streamsize>(labels_bytes));
    faiss::VectorIOReader reader;
    reader.data.resize(blob_bytes);
    in.read(reinterpret_cast<char*>(reader.data.data()), static_cast<std::streamsize>(blob_bytes));
    if (!in) throw fail("truncated");
    if (labels != stored.chunk_ids) throw fail("the chunk ids before the FAISS blob are not the stored vectors' ids");
    index_.reset(faiss::read_index(&reader));
    if (static_cast<std::size_t>(index_->ntotal) != stored.size()) throw fail("the FAISS index holds another count");
    reader.data.clear();
    reader.data.shrink_to_fit();
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get())) {
      // FAISS 1.7.3 sizes HNSW's candidate queue from this member whatever the search parameters say.
      hnsw->hnsw.efSearch = options.ef_search;
      description_ = "HNSW" + std::to_string(hnsw->hnsw.nb_neighbors(1)) + ",Flat";
    } else if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) {
      description_ = "IVF" + std::to_string(ivf->nlist) + (dynamic_cast<faiss::IndexIVFFlat*>(ivf) ? ",Flat" : ",PQ");
    } else {
      description_ = "Flat";
    }
    blob_bytes_ = blob_bytes;
  }

  // Positions (rows of StoredVectors) of the top k, on the calling thread's OpenMP setting.
  std::vector<faiss::Index::idx_t> search(const float* query, std::size_t k) const {
    std::vector<float> scores(k);
    std::vector<faiss::Index::idx_t> found(k, -1);
    const auto k_faiss = static_cast<faiss::Index::idx_t>(k);
    if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get())) {
      faiss::SearchParametersHNSW params;
      params.efSearch = std::max(options_.ef_search, static_cast<int>(k));
      hnsw->search(1, query, k_faiss, scores.data(), found.data(), &params);
    } else if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get())) {
      faiss::SearchParametersIVF params;
      params.nprobe = std::min<std::size_t>(static_cast<std::size_t>(options_.nprobe), ivf->nlist);
      ivf->search(1, query, k_faiss, scores.data(), found.data(), &params);
    } else {
      index_->search(1, query, k_faiss, scores.data(), found.data());
    }
    return found;
  }

  // HNSW only: the top k among the positions `allowed` lets through, with a beam of `ef_search`
  // set both in the search parameters and in the index, which FAISS 1.7.3 needs (see above).
  std::vector<faiss::Index::idx_t> search_hnsw_filtered(const float* query, std::size_t k, int ef_search,
                                                        const faiss::IDSelector& allowed) const {
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get());
    if (hnsw == nullptr) throw ragline::Error(ragline::ErrorKind::internal, "not an HNSW index");
    std::vector<float> scores(k);
    std::vector<faiss::Index::idx_t> found(k, -1);
    faiss::SearchParametersHNSW params;
    params.efSearch = ef_search;
    params.sel = const_cast<faiss::IDSelector*>(&allowed);
    hnsw->hnsw.efSearch = ef_search;
    hnsw->search(1, query, static_cast<faiss::Index::idx_t>(k), scores.data(), found.data(), &params);
    hnsw->hnsw.efSearch = options_.ef_search;
    return found;
  }

  const std::string& description() const { return description_; }
  std::uint64_t blob_bytes() const { return blob_bytes_; }

 private:
  const Options& options_;
  std::unique_ptr<faiss::Index> index_;
  std::string description_;
  std::uint64_t blob_bytes_ = 0;
};

class PositionSelector final : public faiss::IDSelector {
 public:
  explicit PositionSelector(const std::vector<bool>& allowed) : allowed_(allowed) {}
  bool is_member(idx_t position) const override {
    return position >= 0 && static_cast<std::size_t>(position) < allowed_.size() &&
           allowed_[static_cast<std::size_t>(position)];
  }

 private:
  const std::vector<bool>& allowed_;
};

// The beam ragline means to use under a filter (index/vector_index.cpp, scaled_beam): efSearch
// divided by the share of vectors the filter lets through, at most 4096.
int widened_beam(int ef_search, double share) {
  const int base = std::max(ef_search, static_cast<int>(kTopK));
  if (share >= 1.0) return base;
  return static_cast<int>(std::min(std::ceil(static_cast<double>(base) / std::max(share, 1e-9)), 4096.0));
}

// --- helpers ----------------------------------------------------------------------------------------

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) { return values.empty() ? 0.0 : percentile_nearest_rank(values, 50); }

// VmHWM (peak resident set) of this process in bytes, 0 when /proc is unavailable.
std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

ragline::VectorIndexConfig index_config(const Options& options, const std::string& type) {
  ragline::VectorIndexConfig config;
  config.type = type;
  config.hnsw_m = options.hnsw_m;
  config.ef_construction = options.ef_construction;
  config.ef_search = options.ef_search;
  config.nlist = options.nlist;
  config.nprobe = options.nprobe;
  return config;
}

std::string expected_path(const std::string& type) { return type == "ivf" ? "index:ivf-flat" : "index:" + type; }

// --- the filtered-recall section -------------------------------------------------------------------

struct FilterResult {
  const FilterCase* filter = nullptr;
  std::size_t matches = 0;  // chunks passing, counted here
  double mean_recall = 0;
  double min_recall = 1;
  double floor = 0;
  std::map<std::string, std::size_t> paths;  // explanation.dense_path -> queries
  LatencySummary latency;
  double filter_ms_p50 = 0;
  double dense_ms_p50 = 0;
  // HNSW, filters ragline answered through the index: raw FAISS on the same graph with the beam
  // ragline means to use (0 when not measured).
  int widened_ef = 0;
  double widened_recall = 0;
  double widened_p50_ms = 0;
};

struct RecallRun {
  std::string index_type;
  double build_seconds = 0;
  std::vector<FilterResult> filters;
};

// Recall of one KB configuration over every filter, queries timed one after another.
RecallRun run_recall(const ragline::KnowledgeBase& kb, const std::string& index_type, const StoredVectors& stored,
                     const std::vector<std::string>& queries, const std::vector<float>& query_vectors,
                     const std::vector<FilterCase>& filters, const std::vector<std::vector<std::size_t>>& subsets,
                     const std::vector<std::vector<ExactAnswer>>& exact, const RawFaiss* raw, const Options& options,
                     std::vector<std::string>& failures) {
  RecallRun run;
  run.index_type = index_type;
  std::unordered_map<std::int64_t, std::size_t> position_of;
  position_of.reserve(stored.size());
  for (std::size_t position = 0; position < stored.size(); ++position)
    position_of[stored.chunk_ids[position]] = position;

  for (std::size_t filter_index = 0; filter_index < filters.size(); ++filter_index) {
    const FilterCase& filter = filters[filter_index];
    FilterResult result;
    result.filter = &filter;
    result.matches = subsets[filter_index].size();
    result.floor = filter.nominal_share <= kSelectiveShare ? kRecallFloorSelective : kRecallFloorBroad;
    const auto make_query = [&](std::size_t query) {
      ragline::Query request{queries[query], kTopK};
      request.mode = ragline::SearchMode::dense;
      request.filter = filter.json;
      request.exact_search_threshold = options.exact_threshold;
      return request;
    };
    for (std::size_t query = 0; query < std::min(options.warmup, queries.size()); ++query) {
      (void)kb.search(make_query(query));
    }
    std::vector<bool> allowed(stored.size(), false);
    for (const std::size_t position : subsets[filter_index]) allowed[position] = true;

    LatencyRecorder latency;
    std::vector<double> filter_ms, dense_ms;
    double recall_sum = 0;
    std::size_t short_results = 0, foreign_hits = 0, count_mismatches = 0, inexact_exact = 0;
    for (std::size_t query = 0; query < queries.size(); ++query) {
      const auto started = std::chrono::steady_clock::now();
      const ragline::SearchResult answer = kb.search(make_query(query));
      latency.add_ms(ms_since(started));
      const ragline::SearchExplanation& explanation = answer.explanation;
      filter_ms.push_back(explanation.filter_ms);
      dense_ms.push_back(explanation.dense_ms);
      ++result.paths[explanation.dense_path];
      if (explanation.filter_matches != result.matches) ++count_mismatches;
      if (answer.hits.size() != std::min(kTopK, result.matches)) ++short_results;

      const ExactAnswer& truth = exact[filter_index][query];
      const float* query_vector = query_vectors.data() + query * stored.dimension;
      std::size_t correct = 0;
      for (const ragline::Hit& hit : answer.hits) {
        const auto found = position_of.find(hit.chunk_id);
        if (found == position_of.end() || !allowed[found->second]) {
          ++foreign_hits;
          continue;
        }
        const bool in_truth =
            std::find(truth.chunk_ids.begin(), truth.chunk_ids.end(), hit.chunk_id) != truth.chunk_ids.end();
        const float score = faiss::fvec_inner_product(query_vector, stored.row(found->second), stored.dimension);
        if (in_truth || score >= truth.kth_score - kScoreTolerance) ++correct;
      }
      const double recall =
          truth.chunk_ids.empty() ? 1.0 : static_cast<double>(correct) / static_cast<double>(truth.chunk_ids.size());
      recall_sum += recall;
      result.min_recall = std::min(result.min_recall, recall);
      if (explanation.dense_path == "exact" && recall < 1.0) ++inexact_exact;
    }
    result.mean_recall = recall_sum / static_cast<double>(queries.size());
    result.latency = latency.summary();

    if (raw != nullptr && result.paths.count("index:hnsw") > 0) {
      const PositionSelector selector(allowed);
      result.widened_ef =
          widened_beam(options.ef_search, static_cast<double>(result.matches) / static_cast<double>(stored.size()));
      LatencyRecorder widened_latency;
      double widened_sum = 0;
      const int previous_threads = omp_get_max_threads();
      omp_set_num_threads(1);
      for (std::size_t query = 0; query < queries.size(); ++query) {
        const float* query_vector = query_vectors.data() + query * stored.dimension;
        const auto started = std::chrono::steady_clock::now();
        const auto found = raw->search_hnsw_filtered(query_vector, kTopK, result.widened_ef, selector);
        widened_latency.add_ms(ms_since(started));
        const ExactAnswer& truth = exact[filter_index][query];
        std::size_t correct = 0;
        for (const auto position : found) {
          if (position < 0 || !allowed[static_cast<std::size_t>(position)]) continue;
          const auto row = static_cast<std::size_t>(position);
          const bool in_truth =
              std::find(truth.chunk_ids.begin(), truth.chunk_ids.end(), stored.chunk_ids[row]) != truth.chunk_ids.end();
          if (in_truth || faiss::fvec_inner_product(query_vector, stored.row(row), stored.dimension) >=
                              truth.kth_score - kScoreTolerance) {
            ++correct;
          }
        }
        widened_sum +=
            truth.chunk_ids.empty() ? 1.0 : static_cast<double>(correct) / static_cast<double>(truth.chunk_ids.size());
      }
      omp_set_num_threads(previous_threads);
      result.widened_recall = widened_sum / static_cast<double>(queries.size());
      result.widened_p50_ms = widened_latency.summary().p50_ms;
    }
    result.filter_ms_p50 = median(filter_ms);
    result.dense_ms_p50 = median(dense_ms);

    const std::string where = index_type + ", " + filter.name + ": ";
    const std::string of = " of " + std::to_string(queries.size()) + " queries";
    if (result.mean_recall < result.floor) {
      failures.push_back(where + "recall@10 " + format_fixed(result.mean_recall, 4) + " is below the floor " +
                         format_fixed(result.floor, 2));
    }
    if (short_results > 0) {
      failures.push_back(where + "not exactly min(k, matching chunks) hits for " + std::to_string(short_results) + of);
    }
    if (foreign_hits > 0) failures.push_back(where + std::to_string(foreign_hits) + " hits do not pass the filter");
    if (count_mismatches > 0) {
      failures.push_back(where + "explanation.filter_matches differs from the " + std::to_string(result.matches) +
                         " chunks counted here for " + std::to_string(count_mismatches) + of);
    }
    if (inexact_exact > 0) {
      failures.push_back(where + "the exact path missed part of the exact answer for " + std::to_string(inexact_exact) +
                         of);
    }
    std::cerr << "rag-bench-vectors: " << index_type << " " << filter.name << ": recall@10 "
              << format_fixed(result.mean_recall, 4) << ", p50 " << format_ms(result.latency.p50_ms) << " ms\n";
    run.filters.push_back(std::move(result));
  }
  return run;
}

// --- the speed section --------------------------------------------------------------------------------

// The timed operations, run once per query each, in an order rotated per query.
enum Operation : std::size_t { kHybrid, kDense, kBm25, kFaiss10, kFaiss100, kFts10, kFts100, kOperations };
constexpr std::array<std::string_view, kOperations> kOperationNames = {
    "ragline hybrid",  "ragline dense", "ragline bm25",  "raw FAISS k=10",
    "raw FAISS k=100", "raw FTS5 k=10", "raw FTS5 k=100"};

struct SpeedRun {
  std::string index_type;
  std::string raw_description;
  double ragline_build_seconds = 0;
  std::uint64_t vector_file_bytes = 0;
  std::uint64_t raw_index_bytes = 0;  // the FAISS blob alone
  std::array<std::vector<double>, kOperations> samples_ms;
  std::vector<double> raw_sum_ms;  // per query: raw FAISS k=100 + raw FTS5 k=100
  std::array<LatencySummary, kOperations> latency;
  LatencySummary raw_sum;
  double hybrid_embed_ms_p50 = 0, hybrid_bm25_ms_p50 = 0, hybrid_dense_ms_p50 = 0, hybrid_fusion_ms_p50 = 0,
         hybrid_hydrate_ms_p50 = 0;
  double dense_dense_ms_p50 = 0, dense_hydrate_ms_p50 = 0;  // dense-only queries' explanation
  double recall_ragline = 0;                                // dense k=10 against exact, mean over queries
  double recall_raw = 0;                                    // raw FAISS k=10 against exact
  double agreement = 0;  // share of ragline's dense top 10 that raw FAISS also returned
  double overhead(Operation ragline, double baseline_p50) const {
    return baseline_p50 > 0 ? latency[ragline].p50_ms / baseline_p50 - 1.0 : 0.0;
  }
};

SpeedRun run_speed(const ragline::KnowledgeBase& kb, const std::string& index_type, const StoredVectors& stored,
                   const std::vector<std::string>& queries, const std::vector<float>& query_vectors, Fts5Baseline& fts5,
                   const RawFaiss& raw, const Options& options, std::vector<std::string>& failures) {
  SpeedRun run;
  run.index_type = index_type;
  const auto request = [&](std::size_t query, ragline::SearchMode mode) {
    ragline::Query made{queries[query], kTopK};
    made.mode = mode;
    return made;
  };
  // Untimed: every query once in every system, so ragline's query cache holds every query vector
  // and both sides have read the pages they need.
  for (std::size_t query = 0; query < queries.size(); ++query) {
    (void)kb.search(request(query, ragline::SearchMode::hybrid));
    if (query < options.warmup) {
      (void)kb.search(request(query, ragline::SearchMode::dense));
      (void)kb.search(request(query, ragline::SearchMode::bm25));
      (void)raw.search(query_vectors.data() + query * stored.dimension, 100);
      (void)fts5.search(queries[query], 100);
    }
  }

  std::vector<ragline::SearchResult> hybrid(queries.size()), dense(queries.size());
  std::vector<std::vector<faiss::Index::idx_t>> raw_top(queries.size());
  std::size_t wrong_path = 0, short_hybrid = 0;
  std::vector<double> embed_ms, bm25_ms, dense_ms, fusion_ms, hydrate_ms, dense_only_ms, dense_only_hydrate_ms;
  // Raw FAISS on this thread alone, as ragline searches (index/vector_index.cpp, OneOpenMpThread).
  const int previous_threads = omp_get_max_threads();
  omp_set_num_threads(1);
  for (std::size_t query = 0; query < queries.size(); ++query) {
    const float* vector = query_vectors.data() + query * stored.dimension;
    for (std::size_t step = 0; step < kOperations; ++step) {
      const auto operation = static_cast<Operation>((query + step) % kOperations);
      const auto started = std::chrono::steady_clock::now();
      switch (operation) {
        case kHybrid:
          hybrid[query] = kb.search(request(query, ragline::SearchMode::hybrid));
          break;
        case kDense:
          dense[query] = kb.search(request(query, ragline::SearchMode::dense));
          break;
        case kBm25:
          (void)kb.search(request(query, ragline::SearchMode::bm25));
          break;
        case kFaiss10:
          raw_top[query] = raw.search(vector, kTopK);
          break;
        case kFaiss100:
          (void)raw.search(vector, 100);
          break;
        case kFts10:
          (void)fts5.search(queries[query], kTopK);
          break;
        case kFts100:
          (void)fts5.search(queries[query], 100);
          break;
        case kOperations:
          break;
      }
      run.samples_ms[operation].push_back(ms_since(started));
    }
    run.raw_sum_ms.push_back(run.samples_ms[kFaiss100].back() + run.samples_ms[kFts100].back());
    const ragline::SearchExplanation& explanation = hybrid[query].explanation;
    embed_ms.push_back(explanation.embed_ms);
    bm25_ms.push_back(explanation.bm25_ms);
    dense_ms.push_back(explanation.dense_ms);
    fusion_ms.push_back(explanation.fusion_ms);
    hydrate_ms.push_back(explanation.hydrate_ms);
    dense_only_ms.push_back(dense[query].explanation.dense_ms);
    dense_only_hydrate_ms.push_back(dense[query].explanation.hydrate_ms);
    if (explanation.dense_path != expected_path(index_type) ||
        dense[query].explanation.dense_path != expected_path(index_type)) {
      ++wrong_path;
    }
    if (hybrid[query].hits.size() != kTopK || dense[query].hits.size() != kTopK) ++short_hybrid;
  }
  omp_set_num_threads(previous_threads);
  for (std::size_t operation = 0; operation < kOperations; ++operation) {
    LatencyRecorder recorder;
    for (const double ms : run.samples_ms[operation]) recorder.add_ms(ms);
    run.latency[operation] = recorder.summary();
  }
  LatencyRecorder sum_recorder;
  for (const double ms : run.raw_sum_ms) sum_recorder.add_ms(ms);
  run.raw_sum = sum_recorder.summary();
  run.hybrid_embed_ms_p50 = median(embed_ms);
  run.hybrid_bm25_ms_p50 = median(bm25_ms);
  run.hybrid_dense_ms_p50 = median(dense_ms);
  run.hybrid_fusion_ms_p50 = median(fusion_ms);
  run.hybrid_hydrate_ms_p50 = median(hydrate_ms);
  run.dense_dense_ms_p50 = median(dense_only_ms);
  run.dense_hydrate_ms_p50 = median(dense_only_hydrate_ms);

  // Untimed: both dense answers against the exact top 10, so the speeds compare equal quality.
  std::vector<std::size_t> everything(stored.size());
  for (std::size_t position = 0; position < stored.size(); ++position) everything[position] = position;
  double recall_ragline = 0, recall_raw = 0, agreement = 0;
  for (std::size_t query = 0; query < queries.size(); ++query) {
    const float* vector = query_vectors.data() + query * stored.dimension;
    const ExactAnswer truth = exact_top_k(stored, vector, everything, kTopK);
    const auto correct = [&](std::int64_t chunk_id, std::size_t position) {
      if (std::find(truth.chunk_ids.begin(), truth.chunk_ids.end(), chunk_id) != truth.chunk_ids.end()) return true;
      return faiss::fvec_inner_product(vector, stored.row(position), stored.dimension) >=
             truth.kth_score - kScoreTolerance;
    };
    std::unordered_set<std::int64_t> raw_ids;
    std::size_t raw_correct = 0;
    for (const auto position : raw_top[query]) {
      if (position < 0) continue;
      const auto row = static_cast<std::size_t>(position);
      raw_ids.insert(stored.chunk_ids[row]);
      if (correct(stored.chunk_ids[row], row)) ++raw_correct;
    }
    std::size_t ragline_correct = 0, shared = 0;
    for (const ragline::Hit& hit : dense[query].hits) {
      const auto found = std::lower_bound(stored.chunk_ids.begin(), stored.chunk_ids.end(), hit.chunk_id);
      if (found == stored.chunk_ids.end() || *found != hit.chunk_id) continue;
      if (correct(hit.chunk_id, static_cast<std::size_t>(found - stored.chunk_ids.begin()))) ++ragline_correct;
      if (raw_ids.count(hit.chunk_id)) ++shared;
    }
    recall_ragline += static_cast<double>(ragline_correct) / kTopK;
    recall_raw += static_cast<double>(raw_correct) / kTopK;
    agreement += static_cast<double>(shared) / kTopK;
  }
  const auto count = static_cast<double>(queries.size());
  run.recall_ragline = recall_ragline / count;
  run.recall_raw = recall_raw / count;
  run.agreement = agreement / count;

  const std::string of = " of " + std::to_string(queries.size()) + " queries";
  if (wrong_path > 0) {
    failures.push_back(index_type + " speed: the dense side did not run through " + expected_path(index_type) +
                       " for " + std::to_string(wrong_path) + of);
  }
  if (short_hybrid > 0) {
    failures.push_back(index_type + " speed: fewer than 10 hybrid or dense hits for " + std::to_string(short_hybrid) +
                       of);
  }
  return run;
}

void print_recall(const RecallRun& run, std::size_t chunks) {
  std::cout << "\nfiltered dense search, index " << run.index_type << " (built in "
            << format_fixed(run.build_seconds, 1) << " s), k=10, "
            << "recall@10 against exact search over the "
            << "filtered subset; ms per query (filter, embedding cached)\n";
  std::cout << pad("filter", 17, true) << pad("passing", 16) << pad("recall", 8) << pad("min", 6) << pad("floor", 7)
            << "  " << pad("path", 24, true) << pad("p50", 8) << pad("p99", 8) << pad("filter", 8) << pad("dense", 8)
            << '\n';
  for (const FilterResult& result : run.filters) {
    std::string paths;
    for (const auto& [path, queries] : result.paths) {
      paths += (paths.empty() ? "" : " ") + path + (result.paths.size() > 1 ? "x" + std::to_string(queries) : "");
    }
    const std::string passing =
        std::to_string(result.matches) + " (" +
        format_fixed(100.0 * static_cast<double>(result.matches) / static_cast<double>(chunks), 1) + "%)";
    std::cout << pad(result.filter->name, 17, true) << pad(passing, 16) << pad(format_fixed(result.mean_recall, 4), 8)
              << pad(format_fixed(result.min_recall, 1), 6) << pad(format_fixed(result.floor, 2), 7) << "  "
              << pad(paths, 24, true) << pad(format_ms(result.latency.p50_ms), 8)
              << pad(format_ms(result.latency.p99_ms), 8) << pad(format_ms(result.filter_ms_p50), 8)
              << pad(format_ms(result.dense_ms_p50), 8);
    if (result.widened_ef > 0) {
      std::cout << "   raw FAISS ef " << result.widened_ef << ": recall " << format_fixed(result.widened_recall, 4)
                << ", p50 " << format_ms(result.widened_p50_ms);
    }
    std::cout << '\n';
  }
}

void print_speed(const SpeedRun& run, std::size_t chunks, std::size_t dimension) {
  std::cout << "\nquery speed, index " << run.index_type << " (" << chunks << " x " << dimension
            << "), one thread, interleaved per query, query embedding cached (hybrid embed p50 "
            << format_ms(run.hybrid_embed_ms_p50) << " ms)\n";
  std::cout << pad("", 18, true) << pad("p50", 9) << pad("p95", 9) << pad("p99", 9) << pad("qps", 9) << '\n';
  const auto row = [&](std::string_view name, const LatencySummary& summary) {
    std::cout << pad(std::string(name), 18, true) << pad(format_ms(summary.p50_ms), 9)
              << pad(format_ms(summary.p95_ms), 9) << pad(format_ms(summary.p99_ms), 9)
              << pad(format_fixed(summary.queries_per_second, 0), 9) << '\n';
  };
  for (std::size_t operation = 0; operation < kOperations; ++operation)
    row(kOperationNames[operation], run.latency[operation]);
  row("raw FAISS+FTS5@100", run.raw_sum);
  std::cout << "hybrid p50 parts (ms): bm25 " << format_ms(run.hybrid_bm25_ms_p50) << ", dense "
            << format_ms(run.hybrid_dense_ms_p50) << ", fusion " << format_ms(run.hybrid_fusion_ms_p50) << ", hydrate "
            << format_ms(run.hybrid_hydrate_ms_p50) << "; dense-only p50 parts (ms): dense "
            << format_ms(run.dense_dense_ms_p50) << ", hydrate " << format_ms(run.dense_hydrate_ms_p50) << '\n';
  const auto percent = [](double overhead) {
    return (overhead >= 0 ? "+" : "") + format_fixed(100 * overhead, 0) + "%";
  };
  std::cout << "overhead (p50): hybrid vs raw FAISS@100 + raw FTS5@100 (per-query sums) "
            << percent(run.overhead(kHybrid, run.raw_sum.p50_ms)) << "; dense vs raw FAISS@10 "
            << percent(run.overhead(kDense, run.latency[kFaiss10].p50_ms)) << "; bm25 vs raw FTS5@10 "
            << percent(run.overhead(kBm25, run.latency[kFts10].p50_ms)) << '\n';
  std::cout << "dense recall@10 vs exact: ragline " << format_fixed(run.recall_ragline, 4) << ", raw "
            << run.raw_description << " " << format_fixed(run.recall_raw, 4) << "; top-10 agreement "
            << format_fixed(run.agreement, 3) << '\n';
  std::cout << "build: ragline " << format_fixed(run.ragline_build_seconds, 1) << " s ("
            << format_fixed(static_cast<double>(chunks) / run.ragline_build_seconds, 0)
            << " vectors/s, reading kb.sqlite and writing vectors.faiss included); bytes per vector: vectors.faiss "
            << format_fixed(static_cast<double>(run.vector_file_bytes) / static_cast<double>(chunks), 0)
            << ", its FAISS " << run.raw_description << " blob "
            << format_fixed(static_cast<double>(run.raw_index_bytes) / static_cast<double>(chunks), 0) << '\n';
}

int run(const Options& options) {
  if (options.chunks < 1000 || options.queries == 0 || options.queries > kMaxQueries) {
    std::cerr << "rag-bench-vectors: need --chunks >= 1000 and --queries in 1.." << kMaxQueries << '\n';
    return kExitSetupError;
  }
  // Before the corpus is written: an unknown type is Error(invalid_argument) naming the known ones.
  for (const std::string& type : options.indexes) (void)ragline::index::vector_index_type(type);
  bool recall_section = false, speed_section = false;
  for (const std::string& section : options.sections) {
    if (section == "recall") {
      recall_section = true;
    } else if (section == "speed") {
      speed_section = true;
    } else {
      std::cerr << "rag-bench-vectors: --sections takes recall and speed, not \"" << section << "\"\n";
      return kExitSetupError;
    }
  }
  WorkFiles files(options.work, options.keep, "rag-bench-vectors");
  const Vocabulary vocabulary(kContentWords, options.seed);
  std::cerr << "rag-bench-vectors: writing " << options.chunks << " documents to " << files.corpus().string()
            << " ...\n";
  CorpusMetadata metadata;
  const std::uint64_t corpus_bytes = write_corpus(files.corpus(), vocabulary, options.chunks, options.seed, metadata);
  const std::vector<std::string> queries = make_queries(vocabulary, options.queries, options.seed);

  ragline::EmbedderConfig embedder_config;
  embedder_config.dimension = options.dimension;
  ragline::OpenOptions open_options;
  open_options.embedder = embedder_config;
  open_options.vector_index = index_config(options, options.indexes.front());
  open_options.log = ragline::bench::stderr_log(options.verbose);
  std::optional<ragline::KnowledgeBase> kb = ragline::KnowledgeBase::open(files.kb(), open_options);
  std::cerr << "rag-bench-vectors: ingesting with vector index " << options.indexes.front() << " ...\n";
  auto start = std::chrono::steady_clock::now();
  const ragline::IngestReport ingest = kb->ingest({files.corpus()});
  const double ingest_seconds = seconds_since(start);
  // report.seconds covers the pipeline (parse, chunk, embed, write kb.sqlite); the rest of
  // ingest() is building vectors.faiss from kb.sqlite and writing it.
  const double first_build_seconds = ingest_seconds - ingest.seconds;
  const ragline::Stats stats = kb->stats();

  std::vector<std::string> failures;
  if (!ingest.failures.empty()) {
    failures.push_back(std::to_string(ingest.failures.size()) + " records failed to ingest (first: " +
                       ingest.failures.front().location + ": " + ingest.failures.front().reason + ")");
  }
  if (static_cast<std::size_t>(stats.chunks) != options.chunks ||
      static_cast<std::size_t>(stats.vectors) != options.chunks) {
    failures.push_back("the KB holds " + std::to_string(stats.chunks) + " chunks and " + std::to_string(stats.vectors) +
                       " vectors, not one per document (" + std::to_string(options.chunks) + ")");
  }

  // The query vectors dense search uses (for the lexical embedder, weighted by this KB's idf).
  const std::size_t dimension = stats.vector_dimension;
  std::vector<float> query_vectors;
  for (const auto& text : queries) {
    const std::vector<float> vector = kb->query_vector(text);
    if (vector.size() != dimension) {
      throw ragline::Error(ragline::ErrorKind::internal, "query vector of dimension " + std::to_string(vector.size()) +
                                                             ", the KB's is " + std::to_string(dimension));
    }
    query_vectors.insert(query_vectors.end(), vector.begin(), vector.end());
  }

  std::cerr << "rag-bench-vectors: reading the stored vectors ...\n";
  start = std::chrono::steady_clock::now();
  const StoredVectors stored = read_stored_vectors(files.kb() / "kb.sqlite", dimension);
  const double read_seconds = seconds_since(start);
  if (stored.size() != options.chunks) {
    failures.push_back("kb.sqlite holds " + std::to_string(stored.size()) + " vectors, not " +
                       std::to_string(options.chunks));
  }

  const std::vector<FilterCase> filters = make_filter_cases();
  std::vector<std::vector<std::size_t>> subsets(filters.size());
  std::vector<std::vector<ExactAnswer>> exact(filters.size());
  if (recall_section) {
    std::cerr << "rag-bench-vectors: exact answers for " << filters.size() << " filters ...\n";
    for (std::size_t filter = 0; filter < filters.size(); ++filter) {
      for (std::size_t position = 0; position < stored.size(); ++position) {
        const std::uint32_t paragraph = stored.paragraphs[position];
        if (filters[filter].passes(metadata.bucket[paragraph], metadata.category[paragraph])) {
          subsets[filter].push_back(position);
        }
      }
      for (std::size_t query = 0; query < queries.size(); ++query) {
        exact[filter].push_back(exact_top_k(stored, query_vectors.data() + query * dimension, subsets[filter], kTopK));
      }
    }
  }

  std::optional<Fts5Baseline> fts5;
  double fts5_seconds = 0;
  if (speed_section) {
    std::cerr << "rag-bench-vectors: building the FTS5 baseline ...\n";
    start = std::chrono::steady_clock::now();
    fts5.emplace(files.baseline()).ingest(files.corpus(), "id");
    fts5_seconds = seconds_since(start);
  }

  // Queries embedded once per KB opened, untimed, so the figures below exclude query embedding.
  const auto embed_queries = [&] {
    for (const std::string& query : queries) {
      ragline::Query warm{query, kTopK};
      warm.mode = ragline::SearchMode::dense;
      (void)kb->search(warm);
    }
  };
  embed_queries();

  std::vector<RecallRun> recall_runs;
  std::vector<SpeedRun> speed_runs;
  for (std::size_t index = 0; index < options.indexes.size(); ++index) {
    const std::string& type = options.indexes[index];
    double build_seconds = first_build_seconds;
    if (index > 0) {
      kb.reset();
      open_options.vector_index = index_config(options, type);
      kb = ragline::KnowledgeBase::open(files.kb(), open_options);
      std::cerr << "rag-bench-vectors: rebuilding vectors.faiss as " << type << " ...\n";
      start = std::chrono::steady_clock::now();
      kb->reindex();
      build_seconds = seconds_since(start);
      embed_queries();
    }
    std::optional<RawFaiss> raw;
    if (speed_section || type == "hnsw") {
      std::cerr << "rag-bench-vectors: loading the raw FAISS index from vectors.faiss ...\n";
      raw.emplace(files.kb() / "vectors.faiss", stored, options);
    }
    if (recall_section) {
      recall_runs.push_back(run_recall(*kb, type, stored, queries, query_vectors, filters, subsets, exact,
                                       type == "hnsw" ? &*raw : nullptr, options, failures));
      recall_runs.back().build_seconds = build_seconds;
    }
    if (speed_section) {
      std::cerr << "rag-bench-vectors: timing " << type << " ...\n";
      SpeedRun speed = run_speed(*kb, type, stored, queries, query_vectors, *fts5, *raw, options, failures);
      speed.ragline_build_seconds = build_seconds;
      speed.raw_description = raw->description();
      speed.vector_file_bytes = path_bytes(files.kb() / "vectors.faiss");
      speed.raw_index_bytes = raw->blob_bytes();
      speed_runs.push_back(std::move(speed));
    }
  }
  const std::uint64_t peak_rss = peak_rss_bytes();
  kb.reset();
  fts5.reset();
  const std::uint64_t kb_bytes = path_bytes(files.kb());
  const std::uint64_t fts5_bytes = speed_section ? path_bytes(files.baseline()) : 0;

  std::cout << "rag-bench-vectors: " << options.chunks << " one-chunk documents (seed " << options.seed << "), corpus "
            << format_fixed(static_cast<double>(corpus_bytes) / 1e6, 1) << " MB, embedder " << stats.embedder_id << ", "
            << queries.size() << " queries of " << kQueryWords << " content words\n";
  std::cout << "ingest: " << format_fixed(ingest_seconds, 1) << " s in all; pipeline "
            << format_fixed(ingest.seconds, 1) << " s ("
            << format_fixed(static_cast<double>(options.chunks) / ingest.seconds, 0) << " chunks/s, embedding "
            << format_fixed(ingest.embed_seconds, 1) << " s), vectors.faiss (" << options.indexes.front() << ") "
            << format_fixed(first_build_seconds, 1) << " s; KB " << format_fixed(static_cast<double>(kb_bytes) / 1e6, 0)
            << " MB (" << format_fixed(static_cast<double>(kb_bytes) / static_cast<double>(options.chunks), 0)
            << " bytes/chunk); stored vectors read in " << format_fixed(read_seconds, 1) << " s";
  if (speed_section) {
    std::cout << "; FTS5 baseline built in " << format_fixed(fts5_seconds, 1) << " s, "
              << format_fixed(static_cast<double>(fts5_bytes) / 1e6, 0) << " MB";
  }
  std::cout << "; peak RSS " << format_fixed(static_cast<double>(peak_rss) / 1e6, 0) << " MB\n";
  for (const RecallRun& run : recall_runs) print_recall(run, options.chunks);
  for (const SpeedRun& run : speed_runs) print_speed(run, options.chunks, dimension);

  if (options.json) {
    nlohmann::ordered_json report;
    report["benchmark"] = "rag-bench-vectors";
    report["chunks"] = options.chunks;
    report["seed"] = options.seed;
    report["embedder_id"] = stats.embedder_id;
    report["dimension"] = dimension;
    report["queries"] = queries.size();
    report["k"] = kTopK;
    report["index_parameters"] = {{"hnsw_m", options.hnsw_m},
                                  {"ef_construction", options.ef_construction},
                                  {"ef_search", options.ef_search},
                                  {"nlist", options.nlist},
                                  {"nprobe", options.nprobe}};
    report["ingest"] = {{"seconds", ingest_seconds},
                        {"pipeline_seconds", ingest.seconds},
                        {"embed_seconds", ingest.embed_seconds},
                        {"vector_index_seconds", first_build_seconds},
                        {"corpus_bytes", corpus_bytes},
                        {"kb_bytes", kb_bytes}};
    report["peak_rss_bytes"] = peak_rss;
    nlohmann::ordered_json recall_json = nlohmann::ordered_json::array();
    for (const RecallRun& run : recall_runs) {
      nlohmann::ordered_json filter_json = nlohmann::ordered_json::object();
      for (const FilterResult& result : run.filters) {
        filter_json[result.filter->name] = {{"filter", result.filter->json},
                                            {"matches", result.matches},
                                            {"recall_at_10", result.mean_recall},
                                            {"min_recall_at_10", result.min_recall},
                                            {"floor", result.floor},
                                            {"paths", result.paths},
                                            {"latency", latency_json(result.latency)},
                                            {"filter_ms_p50", result.filter_ms_p50},
                                            {"dense_ms_p50", result.dense_ms_p50},
                                            {"raw_faiss_widened_beam",
                                             {{"ef_search", result.widened_ef},
                                              {"recall_at_10", result.widened_recall},
                                              {"p50", result.widened_p50_ms}}}};
      }
      recall_json.push_back(
          {{"index", run.index_type}, {"build_seconds", run.build_seconds}, {"filters", filter_json}});
    }
    report["recall"] = recall_json;
    nlohmann::ordered_json speed_json = nlohmann::ordered_json::array();
    for (const SpeedRun& run : speed_runs) {
      nlohmann::ordered_json latency = nlohmann::ordered_json::object();
      for (std::size_t operation = 0; operation < kOperations; ++operation) {
        latency[std::string(kOperationNames[operation])] = latency_json(run.latency[operation]);
      }
      latency["raw FAISS+FTS5 k=100"] = latency_json(run.raw_sum);
      speed_json.push_back(
          {{"index", run.index_type},
           {"raw_index", run.raw_description},
           {"latency", latency},
           {"hybrid_parts_p50_ms",
            {{"embed", run.hybrid_embed_ms_p50},
             {"bm25", run.hybrid_bm25_ms_p50},
             {"dense", run.hybrid_dense_ms_p50},
             {"fusion", run.hybrid_fusion_ms_p50},
             {"hydrate", run.hybrid_hydrate_ms_p50}}},
           {"dense_parts_p50_ms", {{"dense", run.dense_dense_ms_p50}, {"hydrate", run.dense_hydrate_ms_p50}}},
           {"overhead_p50",
            {{"hybrid_vs_raw_sum", run.overhead(kHybrid, run.raw_sum.p50_ms)},
             {"dense_vs_raw_faiss", run.overhead(kDense, run.latency[kFaiss10].p50_ms)},
             {"bm25_vs_raw_fts5", run.overhead(kBm25, run.latency[kFts10].p50_ms)}}},
           {"dense_recall_at_10", {{"ragline", run.recall_ragline}, {"raw", run.recall_raw}}},
           {"top10_agreement", run.agreement},
           {"build",
            {{"ragline_seconds", run.ragline_build_seconds},
             {"vectors_per_second", static_cast<double>(options.chunks) / run.ragline_build_seconds}}},
           {"bytes", {{"vectors_faiss", run.vector_file_bytes}, {"faiss_blob", run.raw_index_bytes}}}});
    }
    report["speed"] = speed_json;
    report["self_check_failures"] = failures;
    std::cout << report.dump() << '\n';
  }
  std::cout.flush();
  return ragline::bench::self_check_status("rag-bench-vectors", failures);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The dense side at scale on a synthetic corpus with random metadata: filtered recall@10 against exact search, "
      "and hybrid / dense / BM25 query speed beside raw FAISS and raw FTS5 in the same run.",
      "rag-bench-vectors"};
  Options options;
  app.add_option("--chunks", options.chunks, "documents to generate (one chunk each)")->capture_default_str();
  app.add_option("--dimension", options.dimension, "embedding dimension (0: the lexical embedder's default, 768)")
      ->capture_default_str();
  app.add_option("--indexes", options.indexes,
                 "vector index types to measure, in order: " + ragline::index::vector_index_type_names())
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--sections", options.sections, "what to measure: recall, speed")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the corpus, metadata and queries")->capture_default_str();
  app.add_option("--queries", options.queries, "queries (at most 256, the engine's query cache)")
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "queries run once, untimed, per filter and before timing")
      ->capture_default_str();
  app.add_option("--hnsw-m", options.hnsw_m, "hnsw: graph degree")->capture_default_str();
  app.add_option("--ef-construction", options.ef_construction, "hnsw: build beam")->capture_default_str();
  app.add_option("--ef-search", options.ef_search, "hnsw: query beam")->capture_default_str();
  app.add_option("--exact-threshold", options.exact_threshold,
                 "recall: filters passing at most this many chunks are scored exactly (0: the engine's default; "
                 "1 forces the index path)")
      ->capture_default_str();
  app.add_option("--nlist", options.nlist, "ivf: lists (0: the engine's default)")->capture_default_str();
  app.add_option("--nprobe", options.nprobe, "ivf: lists searched")->capture_default_str();
  ragline::bench::add_work_options(app, options.work, options.keep);
  ragline::bench::add_output_flags(app, options.json, options.verbose);
  return ragline::bench::parse_and_run(app, argc, argv, "rag-bench-vectors", [&] { return run(options); });
}
