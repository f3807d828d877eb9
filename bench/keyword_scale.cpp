// rag-bench-scale: BM25 query speed at scale, ragline against raw FTS5 in the same run, on a
// synthetic corpus big enough that "FTS5 scores every matching row before LIMIT" shows. Uses the
// public API only. See bench/README.md ("rag-bench-scale") for every figure it prints.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
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

namespace {

namespace fs = std::filesystem;
using ragline::bench::format_fixed;
using ragline::bench::format_ms;
using ragline::bench::Fts5Baseline;
using ragline::bench::kFunctionWords;
using ragline::bench::kZipfExponent;
using ragline::bench::latency_json;
using ragline::bench::LatencyRecorder;
using ragline::bench::LatencySummary;
using ragline::bench::pad;
using ragline::bench::path_bytes;
using ragline::bench::Random;
using ragline::bench::random_stream;
using ragline::bench::seconds_since;
using ragline::bench::Stream;
using ragline::bench::Vocabulary;
using ragline::bench::WorkFiles;

using ragline::bench::interleave;
using ragline::bench::kExitSetupError;

// The shape of a RAG request: ten full hits.
constexpr std::size_t kTopK = 10;

// Query classes, by content-word rank (0 = the most frequent content word).
constexpr std::size_t kCommonFirst = 100;
constexpr std::size_t kCommonLast = 300;
constexpr std::size_t kMidFirst = 1000;
constexpr std::size_t kMidLast = 5000;
constexpr std::size_t kQuestionFirst = 300;
constexpr std::size_t kQuestionLast = 3000;

struct Options {
  std::size_t paragraphs = 200000;
  std::uint64_t seed = 1;
  std::size_t content_words = 50000;
  std::size_t queries = 200;
  std::size_t warmup = 20;
  fs::path work;
  bool keep = false;
  bool json = false;
  bool verbose = false;
};

void append_capitalised(std::string& out, const std::string& word) {
  out += static_cast<char>(std::toupper(static_cast<unsigned char>(word.front())));
  out.append(word, 1);
}

// Writes `paragraphs` records {"id","title","text"} to `path`: a title of 3-6 content words and
// 40-120 words of text in sentences of 6-16 words. Returns the file size in bytes. Words are ASCII
// letters, so the JSON strings need no escaping.
std::uint64_t write_corpus(const fs::path& path, const Vocabulary& vocabulary, std::size_t paragraphs,
                           std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw ragline::Error(ragline::ErrorKind::io, path.string() + ": cannot open for writing");
  Random random = random_stream(seed, Stream::corpus);
  std::string line;
  for (std::size_t paragraph = 1; paragraph <= paragraphs; ++paragraph) {
    line = "{\"id\":\"p" + std::to_string(paragraph) + "\",\"title\":\"";
    const std::size_t title_words = random.between(3, 6);
    for (std::size_t index = 0; index < title_words; ++index) {
      if (index > 0) line += ' ';
      append_capitalised(line, vocabulary.word(vocabulary.sample_content(random)));
    }
    line += "\",\"text\":\"";
    std::size_t words_left = random.between(40, 120);
    bool first_sentence = true;
    while (words_left > 0) {
      const std::size_t sentence = std::min(words_left, random.between(6, 16));
      if (!first_sentence) line += ' ';
      first_sentence = false;
      for (std::size_t index = 0; index < sentence; ++index) {
        const std::string& word = vocabulary.word(vocabulary.sample(random));
        if (index == 0) {
          append_capitalised(line, word);
        } else {
          line += ' ';
          line += word;
        }
      }
      line += '.';
      words_left -= sentence;
    }
    line += "\"}\n";
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out.close();
  if (!out) throw ragline::Error(ragline::ErrorKind::io, path.string() + ": write failed");
  return fs::file_size(path);
}

struct QueryClass {
  std::string name;
  std::string description;
  // Self-check: both systems return kTopK results. Only for classes with terms of ranks 100-300
  // (each in 2-4% of paragraphs); other classes' words may be in fewer than kTopK paragraphs.
  bool expect_full = false;
  std::vector<std::string> texts;       // as sent to both systems
  std::vector<std::string> content;     // content words only: what a stoplist leaves to match
  std::vector<std::string> rare_terms;  // rare1: the one term each hit must contain
};

// `count` distinct content ranks from [first, last].
std::vector<std::size_t> distinct_ranks(Random& random, std::size_t count, std::size_t first, std::size_t last) {
  std::vector<std::size_t> ranks;
  while (ranks.size() < count) {
    const std::size_t rank = random.between(first, last);
    if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end()) ranks.push_back(rank);
  }
  return ranks;
}

std::string join_words(const Vocabulary& vocabulary, const std::vector<std::size_t>& content_ranks) {
  std::string text;
  for (const std::size_t rank : content_ranks) {
    if (!text.empty()) text += ' ';
    text += vocabulary.content_word(rank);
  }
  return text;
}

std::vector<QueryClass> make_query_classes(const Vocabulary& vocabulary, std::size_t queries, std::uint64_t seed) {
  Random random = random_stream(seed, Stream::queries);
  const std::size_t tail_first = vocabulary.content_size() / 2;
  const std::size_t tail_last = vocabulary.content_size() - 1;
  const std::size_t mid_last = std::min(kMidLast, tail_last);
  std::vector<QueryClass> classes(4);

  QueryClass& common = classes[0];
  common.name = "common3";
  common.description = "3 content words of ranks 100-300";
  common.expect_full = true;
  for (std::size_t index = 0; index < queries; ++index) {
    common.texts.push_back(join_words(vocabulary, distinct_ranks(random, 3, kCommonFirst, kCommonLast)));
    common.content.push_back(common.texts.back());
  }

  QueryClass& rare = classes[1];
  rare.name = "rare1";
  rare.description =
      "1 content word of the tail (ranks " + std::to_string(tail_first) + "-" + std::to_string(tail_last) + ")";
  for (std::size_t index = 0; index < queries; ++index) {
    rare.rare_terms.push_back(vocabulary.content_word(random.between(tail_first, tail_last)));
    rare.texts.push_back(rare.rare_terms.back());
    rare.content.push_back(rare.texts.back());
  }

  QueryClass& mixed = classes[2];
  mixed.name = "mixed5";
  mixed.description = "2 of ranks 100-300 + 3 of ranks 1000-5000";
  mixed.expect_full = true;
  for (std::size_t index = 0; index < queries; ++index) {
    std::vector<std::size_t> ranks = distinct_ranks(random, 2, kCommonFirst, kCommonLast);
    for (const std::size_t rank : distinct_ranks(random, 3, kMidFirst, mid_last)) ranks.push_back(rank);
    mixed.texts.push_back(join_words(vocabulary, ranks));
    mixed.content.push_back(mixed.texts.back());
  }

  // Each template has four function words; "{}" are two content words.
  static constexpr std::array<std::array<std::string_view, 3>, 8> kTemplates = {{
      {"What is the ", " of ", "?"},
      {"Why does the ", " have ", "?"},
      {"Where are the ", " and ", "?"},
      {"When was the ", " in ", "?"},
      {"Is there a ", " for ", "?"},
      {"Who has the ", " of ", "?"},
      {"What are the ", " for ", "?"},
      {"Does the ", " have any ", "?"},
  }};
  QueryClass& question = classes[3];
  question.name = "stopword-heavy";
  question.description = "question: 4 function words + 2 content words of ranks 300-3000";
  for (std::size_t index = 0; index < queries; ++index) {
    const auto& parts = kTemplates[random.between(0, kTemplates.size() - 1)];
    const std::vector<std::size_t> ranks = distinct_ranks(random, 2, kQuestionFirst, kQuestionLast);
    const std::string& first = vocabulary.content_word(ranks[0]);
    const std::string& second = vocabulary.content_word(ranks[1]);
    question.texts.push_back(std::string(parts[0]) + first + std::string(parts[1]) + second + std::string(parts[2]));
    question.content.push_back(first + ' ' + second);
  }
  return classes;
}

// Whether `word` (lowercase) occurs as a whole word in `text`, ignoring case. Words of the
// corpus are runs of ASCII letters, so any other byte separates them.
bool contains_word(std::string_view text, std::string_view word) {
  std::size_t index = 0;
  while (index < text.size()) {
    while (index < text.size() && !std::isalpha(static_cast<unsigned char>(text[index]))) ++index;
    const std::size_t start = index;
    while (index < text.size() && std::isalpha(static_cast<unsigned char>(text[index]))) ++index;
    if (index - start != word.size()) continue;
    bool equal = true;
    for (std::size_t offset = 0; offset < word.size() && equal; ++offset) {
      equal = std::tolower(static_cast<unsigned char>(text[start + offset])) == word[offset];
    }
    if (equal) return true;
  }
  return false;
}

struct ClassResult {
  const QueryClass* query_class = nullptr;
  LatencySummary ragline;
  LatencySummary baseline;
  double average_matches = 0;          // FTS5 COUNT(*) of the query as sent
  double average_content_matches = 0;  // FTS5 COUNT(*) of its content words only
  std::size_t ragline_short = 0;       // queries with fewer than kTopK hits
  std::size_t baseline_short = 0;
  std::string example_short;
  std::size_t rare_foreign_hits = 0;  // rare1: hits without the term
  std::string example_foreign;
  std::size_t count_mismatches = 0;  // ragline hits != min(kTopK, FTS5 rows matching the content words)
  std::string example_mismatch;
  double ratio_p50() const { return baseline.p50_ms > 0 ? ragline.p50_ms / baseline.p50_ms : 0.0; }
};

// BM25 only: this benchmark compares keyword search with raw FTS5.
ragline::Query keyword_query(const std::string& text) {
  ragline::Query query{text, kTopK};
  query.mode = ragline::SearchMode::bm25;
  return query;
}

ClassResult run_class(const QueryClass& query_class, const ragline::KnowledgeBase& kb, Fts5Baseline& baseline,
                      std::size_t warmup) {
  ClassResult result;
  result.query_class = &query_class;
  const std::vector<std::string>& texts = query_class.texts;

  // Untimed: first reads of this class's doclists and pages, which a long-running service pays once.
  for (std::size_t index = 0; index < std::min(warmup, texts.size()); ++index) {
    (void)kb.retrieve(keyword_query(texts[index]));
    (void)baseline.search(texts[index], kTopK);
  }

  LatencyRecorder ragline_latency;
  LatencyRecorder baseline_latency;
  std::vector<std::vector<ragline::Hit>> ragline_hits(texts.size());
  std::vector<std::size_t> baseline_results(texts.size());
  interleave(
      texts.size(),
      [&](std::size_t index) {
        const auto start = std::chrono::steady_clock::now();
        ragline_hits[index] = kb.retrieve(keyword_query(texts[index]));
        ragline_latency.add(std::chrono::steady_clock::now() - start);
      },
      [&](std::size_t index) {
        const auto start = std::chrono::steady_clock::now();
        baseline_results[index] = baseline.search(texts[index], kTopK).size();
        baseline_latency.add(std::chrono::steady_clock::now() - start);
      });
  result.ragline = ragline_latency.summary();
  result.baseline = baseline_latency.summary();

  // Untimed: how many rows bm25() had to score, to explain the latencies.
  double matches = 0;
  double content_matches = 0;
  for (std::size_t index = 0; index < texts.size(); ++index) {
    const std::size_t count = baseline.count_matches(texts[index]);
    matches += static_cast<double>(count);
    const std::size_t content_count =
        query_class.content[index] == texts[index] ? count : baseline.count_matches(query_class.content[index]);
    content_matches += static_cast<double>(content_count);

    // ragline drops exactly the function words and holds one chunk per paragraph, so it must find
    // as many rows as FTS5 counts for the content words alone, up to kTopK: none is lost.
    if (ragline_hits[index].size() != std::min(content_count, kTopK) && result.count_mismatches++ == 0) {
      result.example_mismatch = "\"" + texts[index] + "\": ragline " + std::to_string(ragline_hits[index].size()) +
                                " hits, FTS5 " + std::to_string(content_count) + " rows";
    }

    if (query_class.expect_full && (ragline_hits[index].size() < kTopK || baseline_results[index] < kTopK)) {
      if (ragline_hits[index].size() < kTopK) ++result.ragline_short;
      if (baseline_results[index] < kTopK) ++result.baseline_short;
      if (result.example_short.empty()) result.example_short = texts[index];
    }
    if (!query_class.rare_terms.empty()) {
      const std::string& term = query_class.rare_terms[index];
      for (const ragline::Hit& hit : ragline_hits[index]) {
        if (contains_word(hit.text, term) || contains_word(hit.title, term)) continue;
        if (result.rare_foreign_hits++ == 0) result.example_foreign = term + " -> " + hit.document_uri;
      }
    }
  }
  if (!texts.empty()) {
    result.average_matches = matches / static_cast<double>(texts.size());
    result.average_content_matches = content_matches / static_cast<double>(texts.size());
  }
  return result;
}

// Two significant digits below 0.1, so a 70-fold difference does not print as "0.01x".
std::string format_ratio(double ratio) { return format_fixed(ratio, ratio < 0.1 ? 3 : 2) + "x"; }

int run(const Options& options) {
  if (options.paragraphs == 0 || options.queries == 0 || options.content_words < 2 * kMidLast) {
    std::cerr << "rag-bench-scale: need --paragraphs >= 1, --queries >= 1 and --content-words >= " << 2 * kMidLast
              << '\n';
    return kExitSetupError;
  }
  WorkFiles files(options.work, options.keep, "rag-bench-scale");

  const Vocabulary vocabulary(options.content_words, options.seed);
  std::cerr << "rag-bench-scale: writing " << options.paragraphs << " paragraphs to " << files.corpus().string()
            << " ...\n";
  const std::uint64_t corpus_bytes = write_corpus(files.corpus(), vocabulary, options.paragraphs, options.seed);
  const std::vector<QueryClass> classes = make_query_classes(vocabulary, options.queries, options.seed);

  ragline::OpenOptions open_options;
  open_options.log = ragline::bench::stderr_log(options.verbose);
  // optional so both are closed before the sizes on disk are taken: closing checkpoints and
  // removes the WAL files, which would otherwise count the indexed data twice. Fts5Baseline owns
  // a SQLite handle and does not move, hence emplace.
  // A keyword benchmark: no vectors, so ingest and queries measure what raw FTS5 does too.
  open_options.embedder = ragline::EmbedderConfig{};
  open_options.embedder->name = "none";
  std::optional<ragline::KnowledgeBase> kb = ragline::KnowledgeBase::open(files.kb(), open_options);
  std::cerr << "rag-bench-scale: ingesting into ragline ...\n";
  auto start = std::chrono::steady_clock::now();
  const ragline::IngestReport ingest = kb->ingest({files.corpus()});
  const double ragline_ingest_seconds = seconds_since(start);
  const ragline::Stats stats = kb->stats();

  // The corpus is in the OS file cache for both, as ragline's ingest just read it.
  std::cerr << "rag-bench-scale: building the FTS5 baseline ...\n";
  start = std::chrono::steady_clock::now();
  std::optional<Fts5Baseline> baseline;
  baseline.emplace(files.baseline()).ingest(files.corpus(), "id");
  const double baseline_ingest_seconds = seconds_since(start);

  std::vector<ClassResult> results;
  for (const QueryClass& query_class : classes) {
    std::cerr << "rag-bench-scale: " << query_class.name << " (" << query_class.texts.size() << " queries) ...\n";
    results.push_back(run_class(query_class, *kb, *baseline, options.warmup));
  }
  const std::size_t baseline_rows = baseline->documents();
  kb.reset();
  baseline.reset();

  std::vector<std::string> failures;
  if (!ingest.failures.empty()) {
    failures.push_back(std::to_string(ingest.failures.size()) + " records failed to ingest into ragline (first: " +
                       ingest.failures.front().location + ": " + ingest.failures.front().reason + ")");
  }
  if (static_cast<std::size_t>(stats.documents) != options.paragraphs) {
    failures.push_back("ragline holds " + std::to_string(stats.documents) + " documents, not " +
                       std::to_string(options.paragraphs));
  }
  if (static_cast<std::size_t>(stats.chunks) != options.paragraphs) {
    failures.push_back("ragline holds " + std::to_string(stats.chunks) +
                       " chunks, not one per paragraph, which the hit-count checks assume");
  }
  if (baseline_rows != options.paragraphs) {
    failures.push_back("the baseline holds " + std::to_string(baseline_rows) + " rows, not " +
                       std::to_string(options.paragraphs));
  }
  for (const ClassResult& result : results) {
    const std::string& name = result.query_class->name;
    const std::string of = " of " + std::to_string(result.query_class->texts.size()) + " queries";
    if (result.ragline_short > 0 || result.baseline_short > 0) {
      failures.push_back(name + ": fewer than 10 results from ragline for " + std::to_string(result.ragline_short) +
                         " and from FTS5 for " + std::to_string(result.baseline_short) + of + " (e.g. \"" +
                         result.example_short + "\")");
    }
    if (result.rare_foreign_hits > 0) {
      failures.push_back(name + ": " + std::to_string(result.rare_foreign_hits) +
                         " ragline hits do not contain the query term (e.g. " + result.example_foreign + ")");
    }
    if (result.count_mismatches > 0) {
      failures.push_back(name +
                         ": ragline's hit count differs from min(10, FTS5 rows matching the content words) for " +
                         std::to_string(result.count_mismatches) + of + " (e.g. " + result.example_mismatch + ")");
    }
  }

  const double ragline_mb_s = static_cast<double>(corpus_bytes) / 1e6 / ragline_ingest_seconds;
  const double baseline_mb_s = static_cast<double>(corpus_bytes) / 1e6 / baseline_ingest_seconds;
  const std::uint64_t kb_bytes = path_bytes(files.kb());
  const std::uint64_t baseline_bytes = path_bytes(files.baseline());

  std::cout << "rag-bench-scale: " << options.paragraphs << " paragraphs (seed " << options.seed << "), "
            << vocabulary.size() << "-word vocabulary (" << kFunctionWords.size() << " function words, "
            << format_fixed(100 * vocabulary.function_word_share(), 0) << "% of tokens), corpus "
            << format_fixed(static_cast<double>(corpus_bytes) / 1e6, 1) << " MB, " << stats.chunks
            << " ragline chunks\n";
  std::cout << "ingest: ragline " << format_fixed(ragline_ingest_seconds, 1) << " s (" << format_fixed(ragline_mb_s, 1)
            << " MB/s, KB " << format_fixed(static_cast<double>(kb_bytes) / 1e6, 0) << " MB); raw FTS5 "
            << format_fixed(baseline_ingest_seconds, 1) << " s (" << format_fixed(baseline_mb_s, 1) << " MB/s, file "
            << format_fixed(static_cast<double>(baseline_bytes) / 1e6, 0) << " MB)\n";
  std::cout << "queries: k=10, one thread, " << options.queries << " per class after " << options.warmup
            << " untimed; ms; rows = average rows matching in FTS5 (all words / content words only)\n\n";
  std::cout << pad("class", 15, true) << pad("rows", 18) << " |" << pad("ragline p50", 12) << pad("p95", 8)
            << pad("p99", 8) << pad("qps", 8) << " |" << pad("FTS5 p50", 10) << pad("p95", 8) << pad("p99", 8)
            << pad("qps", 8) << " |" << pad("ratio", 7) << '\n';
  for (const ClassResult& result : results) {
    const std::string rows =
        format_fixed(result.average_matches, 0) + " / " + format_fixed(result.average_content_matches, 0);
    std::cout << pad(result.query_class->name, 15, true) << pad(rows, 18) << " |"
              << pad(format_ms(result.ragline.p50_ms), 12) << pad(format_ms(result.ragline.p95_ms), 8)
              << pad(format_ms(result.ragline.p99_ms), 8) << pad(format_fixed(result.ragline.queries_per_second, 0), 8)
              << " |" << pad(format_ms(result.baseline.p50_ms), 10) << pad(format_ms(result.baseline.p95_ms), 8)
              << pad(format_ms(result.baseline.p99_ms), 8)
              << pad(format_fixed(result.baseline.queries_per_second, 0), 8) << " |"
              << pad(format_ratio(result.ratio_p50()), 7) << '\n';
  }
  std::cout << "\nratio = ragline p50 / FTS5 p50 (below 1: ragline is faster)\n";
  for (const ClassResult& result : results) {
    std::cout << "  " << pad(result.query_class->name, 15, true) << result.query_class->description << ", e.g. \""
              << result.query_class->texts.front() << "\"\n";
  }

  if (options.json) {
    nlohmann::ordered_json report;
    report["benchmark"] = "rag-bench-scale";
    report["paragraphs"] = options.paragraphs;
    report["seed"] = options.seed;
    report["vocabulary"] = {{"function_words", kFunctionWords.size()},
                            {"content_words", vocabulary.content_size()},
                            {"zipf_exponent", kZipfExponent}};
    report["corpus_bytes"] = corpus_bytes;
    report["ragline_chunks"] = stats.chunks;
    report["ingest"] = {{"ragline", {{"seconds", ragline_ingest_seconds}, {"mb_s", ragline_mb_s}, {"bytes", kb_bytes}}},
                        {"baseline",
                         {{"name", Fts5Baseline::kName},
                          {"seconds", baseline_ingest_seconds},
                          {"mb_s", baseline_mb_s},
                          {"bytes", baseline_bytes}}}};
    report["k"] = kTopK;
    report["queries_per_class"] = options.queries;
    report["warmup"] = options.warmup;
    nlohmann::ordered_json class_reports = nlohmann::ordered_json::object();
    for (const ClassResult& result : results) {
      class_reports[result.query_class->name] = {{"queries", result.query_class->texts.size()},
                                                 {"avg_matching_rows", result.average_matches},
                                                 {"avg_matching_rows_content_words", result.average_content_matches},
                                                 {"ragline", latency_json(result.ragline)},
                                                 {"baseline", latency_json(result.baseline)},
                                                 {"ratio_p50", result.ratio_p50()}};
    }
    report["classes"] = class_reports;
    report["self_check_failures"] = failures;
    std::cout << report.dump() << '\n';
  }
  std::cout.flush();
  return ragline::bench::self_check_status("rag-bench-scale", failures);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "BM25 query speed at scale on a synthetic Zipf corpus: ragline against raw FTS5 in the same run, "
      "per query class (common, rare, mixed, stopword-heavy).",
      "rag-bench-scale"};
  Options options;
  app.add_option("--paragraphs", options.paragraphs, "synthetic paragraphs to generate")->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the corpus and the queries")->capture_default_str();
  app.add_option("--content-words", options.content_words, "content words in the vocabulary (after 100 function words)")
      ->capture_default_str();
  app.add_option("--queries", options.queries, "timed queries per class")->capture_default_str();
  app.add_option("--warmup", options.warmup, "queries of each class run once, untimed, first")->capture_default_str();
  ragline::bench::add_work_options(app, options.work, options.keep);
  ragline::bench::add_output_flags(app, options.json, options.verbose);
  return ragline::bench::parse_and_run(app, argc, argv, "rag-bench-scale", [&] { return run(options); });
}
