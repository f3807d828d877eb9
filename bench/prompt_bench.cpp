// rag-bench-prompt: prompt assembly time per query and the share of the token budget it fills,
// on a BEIR dataset's queries with ranked hits from the KB (bench/README.md). Retrieval runs once
// per query, untimed; only KnowledgeBase::build_prompt is timed.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <ragline/ragline.hpp>
#include <string>
#include <vector>

#include "bench/beir_dataset.hpp"
#include "bench/command_line.hpp"
#include "bench/latency.hpp"

namespace {

struct Options {
  std::string dataset, kb;
  std::size_t k = 10;
  std::vector<std::size_t> budgets = {4096, 8192};
  std::vector<std::string> expands = {"none", "sentences"};
  std::size_t warmup = 5;
};

struct Setting {
  std::size_t budget = 0;
  std::string expand;
  ragline::bench::LatencyRecorder latency;
  ragline::bench::LatencyRecorder cpu;  // thread CPU time: without the waits of a loaded machine
  double share_sum = 0;                 // tokens / budget, summed over queries
  double sources_sum = 0;               // passages cited
  double hits_used_sum = 0;             // hits that made it into a passage / hits retrieved
  std::size_t violations = 0;           // prompts over budget or with a broken sources list: must stay 0
};

double thread_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// Every passage in the context has its line in the sources list, numbered 1..n.
bool sources_listed(const ragline::Prompt& prompt) {
  for (const auto& source : prompt.sources) {
    const std::string number = "[" + std::to_string(source.number) + "] ";
    const auto in_context = prompt.user.find("\n" + number + source.title);
    const auto in_list = prompt.user.find("\n" + number + source.title + " (" + source.document_uri + ")");
    if (in_context == std::string::npos || in_list == std::string::npos || in_list <= in_context) return false;
  }
  return true;
}

int run(const Options& options) {
  const auto dataset = ragline::bench::load_beir_dataset(options.dataset);
  auto kb = ragline::KnowledgeBase::open(options.kb);
  if (kb.stats().documents == 0) {
    std::cerr << "rag-bench-prompt: ingesting " << dataset.corpus_path.string() << " ...\n";
    const auto report = kb.ingest({dataset.corpus_path});
    if (!report.ok()) std::cerr << "rag-bench-prompt: " << report.failures.size() << " ingest failures\n";
  }
  std::vector<Setting> settings;
  for (const auto budget : options.budgets) {
    for (const auto& expand : options.expands) settings.push_back({budget, expand, {}, {}, 0, 0, 0, 0});
  }
  std::size_t queries = 0;
  for (std::size_t index = 0; index < dataset.queries.size(); ++index) {
    const auto& query = dataset.queries[index];
    const auto hits = kb.retrieve(ragline::Query(query.text, options.k));
    const bool timed = index >= options.warmup;
    queries += timed ? 1 : 0;
    for (auto& setting : settings) {
      ragline::PromptOptions prompt_options;
      prompt_options.context_window = setting.budget;
      prompt_options.answer_reserve = 0;  // the budget is the whole window here
      prompt_options.expand = setting.expand;
      const double cpu_start = thread_cpu_ms();
      const auto start = std::chrono::steady_clock::now();
      const auto prompt = kb.build_prompt(query.text, hits, prompt_options);
      const auto elapsed = std::chrono::steady_clock::now() - start;
      const double cpu_ms = thread_cpu_ms() - cpu_start;
      if (prompt.tokens > prompt.budget || !sources_listed(prompt) || (prompt.sources.empty() && !hits.empty())) {
        ++setting.violations;
      }
      if (!timed) continue;
      setting.latency.add(elapsed);
      setting.cpu.add_ms(cpu_ms);
      setting.share_sum += static_cast<double>(prompt.tokens) / static_cast<double>(prompt.budget);
      setting.sources_sum += static_cast<double>(prompt.sources.size());
      std::size_t used = 0;
      for (const auto& source : prompt.sources) used += source.chunk_ids.size();
      setting.hits_used_sum += hits.empty() ? 1.0 : static_cast<double>(used) / static_cast<double>(hits.size());
    }
  }
  std::printf("dataset %s: %zu timed queries (%zu warm-up), k=%zu hybrid hits, built-in token estimate\n",
              options.dataset.c_str(), queries, options.warmup, options.k);
  std::printf("%-7s %-10s %10s %10s %12s %12s %12s %9s %10s\n", "budget", "expand", "p50 ms", "p99 ms", "p50 cpu ms",
              "p99 cpu ms", "budget used", "sources", "hits used");
  int status = 0;
  for (const auto& setting : settings) {
    const auto summary = setting.latency.summary();
    const auto cpu = setting.cpu.summary();
    const double n = static_cast<double>(std::max<std::size_t>(queries, 1));
    std::printf("%-7zu %-10s %10.3f %10.3f %12.3f %12.3f %11.1f%% %9.2f %9.1f%%\n", setting.budget,
                setting.expand.c_str(), summary.p50_ms, summary.p99_ms, cpu.p50_ms, cpu.p99_ms,
                100 * setting.share_sum / n, setting.sources_sum / n, 100 * setting.hits_used_sum / n);
    if (setting.violations > 0) {
      std::printf("SELF-CHECK FAILED: %zu prompts over budget or with an incomplete sources list\n",
                  setting.violations);
      status = 1;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Prompt assembly time per query and the share of the token budget used, on a BEIR dataset.",
               "rag-bench-prompt"};
  Options options;
  app.add_option("--dataset", options.dataset, "BEIR dataset directory (corpus.jsonl, queries.jsonl)")->required();
  app.add_option("--kb", options.kb, "KB directory; corpus.jsonl is ingested when it is empty")->required();
  app.add_option("-k", options.k, "hits per query (hybrid search)")->capture_default_str();
  app.add_option("--budgets", options.budgets, "token budgets (context window, no answer reserve)")
      ->capture_default_str();
  app.add_option("--expand", options.expands, "expand settings to measure: none | sentences | parent")
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "first queries run untimed")->capture_default_str();
  return ragline::bench::parse_and_run(app, argc, argv, "rag-bench-prompt", [&] { return run(options); });
}
