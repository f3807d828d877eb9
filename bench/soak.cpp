// rag-bench-soak: N reader threads query a KB at full speed for a given time while one writer
// keeps adding, replacing and deleting documents (bench/README.md, "Soak"). Reports queries
// served, errors (must be 0), latency percentiles and the writes done, then checks the KB.
// Exit 0 when clean, 1 when any query failed, came back short, or check() found anything.

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ragline/ragline.hpp>
#include <thread>
#include <vector>

#include "bench/command_line.hpp"
#include "bench/latency.hpp"
#include "bench/synthetic_corpus.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ragline::bench::Random;
using ragline::bench::Vocabulary;

struct Settings {
  double seconds = 120;
  int readers = 4;
  int documents = 2000;
  int batch = 20;  // documents added and deleted per writer cycle
  std::size_t k = 10;
  std::string directory;
  std::uint64_t seed = 1;
};

std::string paragraph(const Vocabulary& vocabulary, Random& random, std::size_t words) {
  std::string text;
  for (std::size_t i = 0; i < words; ++i) {
    if (i > 0) text += ' ';
    text += vocabulary.word(vocabulary.sample(random));
  }
  return text + ".";
}

void write_document(const fs::path& path, const Vocabulary& vocabulary, Random& random) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << paragraph(vocabulary, random, 80) << "\n\n" << paragraph(vocabulary, random, 80) << "\n";
  if (!out) throw ragline::Error(ragline::ErrorKind::io, "cannot write " + path.string());
}

struct ReaderTotals {
  std::vector<double> latencies_ms[3];  // by mode: bm25, dense, hybrid
  std::size_t errors = 0;
  std::size_t short_results = 0;
  std::vector<std::string> first_errors;
};

void print_latency(const char* name, const std::vector<double>& samples) {
  if (samples.empty()) return;
  std::printf("  %-7s %9zu queries  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", name, samples.size(),
              ragline::bench::percentile_nearest_rank(samples, 50),
              ragline::bench::percentile_nearest_rank(samples, 99),
              ragline::bench::percentile_nearest_rank(samples, 100));
}

int run(const Settings& settings) {
  const bool scratch = settings.directory.empty();
  const fs::path root = scratch ? fs::temp_directory_path() / ("ragline-soak-" + std::to_string(::getpid()))
                                : fs::path(settings.directory);
  fs::remove_all(root);
  const fs::path kb_dir = root / "kb", corpus = root / "corpus";
  const Vocabulary vocabulary(20000, settings.seed);
  Random random = ragline::bench::random_stream(settings.seed, ragline::bench::Stream::corpus);

  // Documents live in numbered files; the writer adds new numbers and deletes old ones.
  auto file_of = [&](int number) { return corpus / std::to_string(number / 1000) / (std::to_string(number) + ".txt"); };
  for (int number = 0; number < settings.documents; ++number) write_document(file_of(number), vocabulary, random);
  const auto ingest_started = Clock::now();
  {
    auto kb = ragline::KnowledgeBase::open(kb_dir);
    const auto report = kb.ingest({corpus});
    if (!report.ok()) throw ragline::Error(ragline::ErrorKind::internal, "the initial ingest reported failures");
  }
  std::printf(
      "soak: %d documents ingested in %.1f s; %d readers for %.0f s while one writer adds, replaces and "
      "deletes %d documents per cycle\n",
      settings.documents, std::chrono::duration<double>(Clock::now() - ingest_started).count(), settings.readers,
      settings.seconds, settings.batch);
  std::fflush(stdout);

  std::atomic<bool> running{true};
  std::vector<ReaderTotals> totals(static_cast<std::size_t>(settings.readers));
  std::vector<std::thread> readers;
  for (int reader = 0; reader < settings.readers; ++reader) {
    readers.emplace_back([&, reader] {
      auto& mine = totals[static_cast<std::size_t>(reader)];
      Random queries = ragline::bench::random_stream(settings.seed + 100 + static_cast<std::uint64_t>(reader),
                                                     ragline::bench::Stream::queries);
      const ragline::SearchMode modes[] = {ragline::SearchMode::bm25, ragline::SearchMode::dense,
                                           ragline::SearchMode::hybrid};
      try {
        auto kb = ragline::KnowledgeBase::open(kb_dir);
        for (std::size_t round = static_cast<std::size_t>(reader); running.load(); ++round) {
          // Two frequent content words and one drawn from the whole distribution.
          ragline::Query query(vocabulary.word(vocabulary.sample_content(queries)) + " " +
                                   vocabulary.word(vocabulary.sample_content(queries)) + " " +
                                   vocabulary.word(vocabulary.sample(queries)),
                               settings.k);
          query.mode = modes[round % 3];
          const auto started = Clock::now();
          try {
            const auto hits = kb.retrieve(query);
            mine.latencies_ms[round % 3].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - started).count());
            // Dense always has k neighbours among thousands of vectors: fewer would mean the vector
            // index named chunks that the query's snapshot does not have.
            if (query.mode == ragline::SearchMode::dense && hits.size() != settings.k) ++mine.short_results;
          } catch (const std::exception& error) {
            ++mine.errors;
            if (mine.first_errors.size() < 3) mine.first_errors.push_back(error.what());
          }
        }
      } catch (const std::exception& error) {
        ++mine.errors;
        mine.first_errors.push_back(std::string("open: ") + error.what());
      }
    });
  }

  // The writer: each cycle adds `batch` new documents, replaces `batch / 4` and deletes the
  // `batch` oldest, so the KB keeps its size.
  std::size_t cycles = 0, added = 0, replaced = 0, deleted = 0, writer_errors = 0;
  std::string writer_error;
  const auto soak_started = Clock::now();
  const auto deadline = soak_started + std::chrono::duration<double>(settings.seconds);
  try {
    auto kb = ragline::KnowledgeBase::open(kb_dir);
    int oldest = 0, next = settings.documents;
    while (Clock::now() < deadline) {
      const fs::path incoming = root / "incoming" / std::to_string(cycles);
      for (int i = 0; i < settings.batch; ++i)
        write_document(incoming / (std::to_string(next++) + ".txt"), vocabulary, random);
      for (int i = 0; i < settings.batch / 4; ++i) {
        write_document(file_of(oldest + settings.batch + i), vocabulary, random);
      }
      auto report = kb.ingest({incoming});
      added += report.documents_added;
      report = kb.ingest({corpus / std::to_string((oldest + settings.batch) / 1000)});
      replaced += report.documents_updated;
      for (int i = 0; i < settings.batch; ++i) {
        if (kb.remove_document(ragline::file_uri(file_of(oldest)))) ++deleted;
        fs::remove(file_of(oldest++));
      }
      ++cycles;
    }
  } catch (const std::exception& error) {
    ++writer_errors;
    writer_error = error.what();
  }
  running = false;
  for (auto& thread : readers) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - soak_started).count();

  std::vector<double> all, by_mode[3];
  std::size_t errors = writer_errors, short_results = 0;
  for (const auto& mine : totals) {
    for (int mode = 0; mode < 3; ++mode) {
      by_mode[mode].insert(by_mode[mode].end(), mine.latencies_ms[mode].begin(), mine.latencies_ms[mode].end());
      all.insert(all.end(), mine.latencies_ms[mode].begin(), mine.latencies_ms[mode].end());
    }
    errors += mine.errors;
    short_results += mine.short_results;
    for (const auto& message : mine.first_errors) std::fprintf(stderr, "reader error: %s\n", message.c_str());
  }
  if (!writer_error.empty()) std::fprintf(stderr, "writer error: %s\n", writer_error.c_str());
  auto kb = ragline::KnowledgeBase::open(kb_dir);
  const auto check = kb.check();
  for (const auto& finding : check.findings)
    std::fprintf(stderr, "check: %s: %s\n", finding.area.c_str(), finding.message.c_str());

  std::printf("soak: %.1f s, %zu queries served (%.0f/s), %zu errors, %zu short dense results\n", elapsed, all.size(),
              static_cast<double>(all.size()) / elapsed, errors, short_results);
  print_latency("all", all);
  print_latency("bm25", by_mode[0]);
  print_latency("dense", by_mode[1]);
  print_latency("hybrid", by_mode[2]);
  std::printf("writer: %zu cycles, %zu documents added, %zu replaced, %zu deleted; KB now %lld documents\n", cycles,
              added, replaced, deleted, static_cast<long long>(kb.stats().documents));
  std::printf("check: %s\n", check.ok() ? "ok" : "FINDINGS");
  if (scratch) fs::remove_all(root);
  return errors == 0 && short_results == 0 && check.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app("Soak: reader threads at full speed during continuous ingest and deletes");
  app.add_option("--seconds", settings.seconds, "How long the readers and the writer run")->check(CLI::PositiveNumber);
  app.add_option("--readers", settings.readers, "Reader threads")->check(CLI::Range(1, 256));
  app.add_option("--documents", settings.documents, "Documents in the KB")->check(CLI::Range(100, 10000000));
  app.add_option("--batch", settings.batch, "Documents added and deleted per writer cycle")
      ->check(CLI::Range(4, 100000));
  app.add_option("-k", settings.k, "Results per query")->check(CLI::Range(1, 1000));
  app.add_option("--dir", settings.directory, "Work directory (default: a temporary one, removed at the end)");
  app.add_option("--seed", settings.seed, "Corpus and query seed");
  return ragline::bench::parse_and_run(app, argc, argv, "rag-bench-soak", [&] { return run(settings); });
}
