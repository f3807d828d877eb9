// rag-bench-redact: redaction throughput (MB/s, median of several runs) on generated text, with
// the built-in detectors alone and with a user pattern, on plain prose and on text dense with
// PII. Checks its own output: the counts per type must equal what was planted.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ragline/error.hpp"
#include "text/redact.hpp"

namespace {

using ragline::RedactionConfig;
using ragline::text::Redactor;

struct Corpus {
  std::string text;
  std::map<std::string, std::size_t> planted;
};

// Prose from a small vocabulary (with numbers, dates and versions that must stay) and, every
// `pii_every` words, one item of PII from a fixed list, in turn.
Corpus generate(std::size_t bytes, std::size_t pii_every, unsigned seed) {
  static const std::vector<std::string> kWords = {
      "the",     "retrieval", "engine",  "stores",     "chunks", "of",      "documents",  "and",   "answers",
      "queries", "with",      "ranked",  "passages",   "from",   "SQLite",  "FTS5",       "index", "vectors",
      "in",      "batches",   "release", "2024-01-15", "v1.2.3", "version", "10.0.19045", "id",    "123456789012",
      "about",   "42",        "percent", "Zürich",     "naïve",  "données", "faster",     "than",  "before"};
  static const std::vector<std::pair<std::string, std::string>> kPii = {{"email", "jane.doe@example.com"},
                                                                        {"phone", "+44 20 7946 0958"},
                                                                        {"card", "4111 1111 1111 1111"},
                                                                        {"ssn", "123-45-6789"},
                                                                        {"iban", "DE89370400440532013000"},
                                                                        {"ip", "192.168.10.20"},
                                                                        {"ip", "2001:db8::1"},
                                                                        {"phone", "(415) 555-2671"},
                                                                        {"EMPID", "EMP-48213"}};
  Corpus corpus;
  corpus.text.reserve(bytes + 64);
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> pick(0, kWords.size() - 1);
  std::size_t words = 0, next_pii = 0;
  while (corpus.text.size() < bytes) {
    if (pii_every > 0 && ++words % pii_every == 0) {
      const auto& [type, value] = kPii[next_pii++ % kPii.size()];
      corpus.text += value;
      ++corpus.planted[type];
    } else {
      corpus.text += kWords[pick(random)];
    }
    corpus.text += words % 17 == 0 ? ".\n" : " ";
  }
  return corpus;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Rate {
  double wall = 0;  // MB per elapsed second
  double cpu = 0;   // MB per second of this process's CPU time (the machine may be shared)
};

// Median MB/s over `runs`; fails when the counts differ from `expected`.
Rate measure(const Redactor& redactor, const Corpus& corpus, const std::map<std::string, std::size_t>& expected,
             int runs) {
  std::vector<double> rates, cpu_rates;
  for (int run = 0; run < runs; ++run) {
    const auto started = std::chrono::steady_clock::now();
    const std::clock_t cpu_started = std::clock();
    const auto result = redactor.redact(corpus.text);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_started) / CLOCKS_PER_SEC;
    cpu_rates.push_back(static_cast<double>(corpus.text.size()) / 1e6 / cpu_seconds);
    if (result.counts != expected) {
      std::fprintf(stderr, "counts differ from what was planted\n");
      std::exit(1);
    }
    rates.push_back(static_cast<double>(corpus.text.size()) / 1e6 / seconds);
  }
  return {median(rates), median(cpu_rates)};
}

void print(const char* label, Rate rate) { std::printf("%-32s %10.1f %10.1f\n", label, rate.wall, rate.cpu); }

std::map<std::string, std::size_t> without(std::map<std::string, std::size_t> counts, const std::string& type) {
  counts.erase(type);
  return counts;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rag-bench-redact: PII redaction throughput"};
  std::size_t megabytes = 32;
  int runs = 5;
  app.add_option("--mb", megabytes, "Size of each generated text in MB");
  app.add_option("--runs", runs, "Runs per measurement (the median is reported)");
  CLI11_PARSE(app, argc, argv);
  try {
    const Corpus prose = generate(megabytes * 1000000, 0, 1);
    const Corpus dense = generate(megabytes * 1000000, 20, 2);
    RedactionConfig builtins;
    RedactionConfig with_pattern;
    with_pattern.patterns = {{"EMPID", "EMP-\\d{5}"}};
    const Redactor builtin_redactor(builtins), pattern_redactor(with_pattern);
    std::printf("text: %zu MB generated, median of %d runs\n", megabytes, runs);
    std::printf("%-32s %10s %10s\n", "case", "MB/s", "MB/s CPU");
    print("prose, built-ins", measure(builtin_redactor, prose, {}, runs));
    print("PII every 20 words, built-ins", measure(builtin_redactor, dense, without(dense.planted, "EMPID"), runs));
    print("prose, built-ins + 1 regex", measure(pattern_redactor, prose, {}, runs));
    print("PII every 20 words, + 1 regex", measure(pattern_redactor, dense, dense.planted, runs));
  } catch (const ragline::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
  return 0;
}
