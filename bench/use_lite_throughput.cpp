// rag-bench-use-lite: throughput of the local use-lite embedder (chunks/s, pieces/s) on 1 and 2
// threads, beside the TF.js reference timed in the same run on the same texts, and the share of
// OpenBLAS's sgemm peak the forward pass reaches (bench/README.md).

#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/command_line.hpp"
#include "models/embedder.hpp"
#include "models/local/runtime.hpp"
#include "models/local/use_lite.hpp"
#include "ragline/error.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace local = ragline::models::local;

struct Options {
  std::string dataset;
  std::string models_dir;
  std::size_t texts = 256;
  std::size_t words_per_text = 64;
  std::vector<int> threads = {1, 2};
  int runs = 3;
  std::string reference_script = "tools/use-lite-reference/reference.js";
  bool reference = true;
  std::string expected = "tests/data/use-lite/expected.json";
  bool json = false;
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Chunk-sized texts: consecutive windows of `words` words over the corpus documents, in order.
std::vector<std::string> load_texts(const Options& options) {
  const std::filesystem::path corpus = std::filesystem::path(options.dataset) / "corpus.jsonl";
  std::ifstream file(corpus);
  if (!file) throw ragline::Error(ragline::ErrorKind::not_found, "cannot open " + corpus.string());
  std::vector<std::string> texts;
  std::string line;
  while (texts.size() < options.texts && std::getline(file, line)) {
    const auto record = nlohmann::json::parse(line);
    std::istringstream words(record.value("text", std::string()));
    std::string word, text;
    std::size_t count = 0;
    while (words >> word && texts.size() < options.texts) {
      text += (count ? " " : "") + word;
      if (++count == options.words_per_text) {
        texts.push_back(std::move(text));
        text.clear();
        count = 0;
      }
    }
    if (count > 0 && texts.size() < options.texts) texts.push_back(std::move(text));
  }
  return texts;
}

// GFLOP/s of one large square sgemm (median of 5): the ceiling the model's products can reach.
double sgemm_peak_gflops(int threads) {
  local::set_thread_count(threads);
  constexpr int kSize = 1024;
  std::vector<float> a(kSize * kSize, 0.5f), b(kSize * kSize, 0.25f), c(kSize * kSize);
  std::vector<double> rates;
  for (int attempt = 0; attempt < 6; ++attempt) {
    const auto start = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kSize, kSize, kSize, 1.0f, a.data(), kSize, b.data(), kSize,
                0.0f, c.data(), kSize);
    const double seconds = seconds_since(start);
    if (attempt > 0) rates.push_back(2.0 * kSize * kSize * kSize / seconds / 1e9);
  }
  if (c[0] != 0.5f * 0.25f * kSize) throw std::runtime_error("sgemm peak: wrong product");
  return median(rates);
}

// The TF.js reference timed on the same texts (node; batch 32, median of 3 after a warm-up).
nlohmann::json time_reference(const Options& options, const std::filesystem::path& model_dir,
                              const std::vector<std::string>& texts) {
  const std::filesystem::path texts_file = std::filesystem::temp_directory_path() / "rag-bench-use-lite-texts.json";
  std::ofstream(texts_file) << nlohmann::json(texts).dump();
  const std::string command = "node '" + options.reference_script + "' time '" + model_dir.string() + "' '" +
                              texts_file.string() + "' 32 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  std::filesystem::remove(texts_file);
  const auto line_start = output.rfind('{');
  if (status != 0 || line_start == std::string::npos) {
    throw std::runtime_error("the TF.js reference failed (" + command + "); run npm install in its folder");
  }
  return nlohmann::json::parse(output.substr(line_start));
}

// Self-check: the committed reference vectors are reproduced (cosine >= 0.9999).
bool check_reference_vectors(const Options& options, const local::UseLiteModel& model) {
  std::ifstream file(options.expected);
  if (!file) {
    std::cerr << "rag-bench-use-lite: no " << options.expected << "; output not checked\n";
    return true;
  }
  const auto expected = nlohmann::json::parse(file);
  std::vector<std::string> texts;
  for (const auto& entry : expected.at("cases")) texts.push_back(entry.at("text").get<std::string>());
  const local::Matrix vectors = model.embed(texts);
  double worst = 1.0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto reference = expected.at("cases")[i].at("vector").get<std::vector<float>>();
    double dot = 0;
    for (std::size_t c = 0; c < reference.size(); ++c) dot += static_cast<double>(vectors.at(i, c)) * reference[c];
    worst = std::min(worst, dot);
  }
  std::printf("self-check: %zu reference sentences, lowest cosine %.6f\n", texts.size(), worst);
  return worst >= 0.9999;
}

int run(const Options& options) {
  ragline::EmbedderConfig config;
  config.name = "use-lite";
  config.models_dir = options.models_dir;
  const std::filesystem::path model_dir = ragline::models::local_models_dir(config) / "use-lite";
  const auto model = local::UseLiteModel::load(model_dir);
  if (!check_reference_vectors(options, *model)) {
    std::cerr << "rag-bench-use-lite: vectors differ from the reference; not timing a wrong model\n";
    return 1;
  }

  const std::vector<std::string> texts = load_texts(options);
  std::vector<std::vector<int>> ids;
  std::vector<std::size_t> lengths;
  std::size_t pieces = 0, truncated = 0;
  for (const auto& text : texts) {
    ids.push_back(model->tokenize(text));
    lengths.push_back(std::min(ids.back().size(), model->max_pieces()));
    pieces += lengths.back();
    truncated += ids.back().size() > model->max_pieces() ? 1 : 0;
  }
  const double flops = model->flops(lengths);
  std::printf("%zu texts of up to %zu words from %s: %zu pieces (mean %.1f), %zu cut to %zu; %.2f GFLOP per pass\n",
              texts.size(), options.words_per_text, options.dataset.c_str(), pieces,
              static_cast<double>(pieces) / static_cast<double>(texts.size()), truncated, model->max_pieces(),
              flops / 1e9);

  nlohmann::json results = nlohmann::json::array();
  std::printf("%-8s %10s %12s %10s %12s %10s %8s\n", "threads", "chunks/s", "pieces/s", "GFLOP/s", "sgemm peak",
              "share", "ms/text");
  for (int threads : options.threads) {
    const double peak = sgemm_peak_gflops(threads);
    local::set_thread_count(threads);
    model->embed(texts);  // warm-up
    std::vector<double> samples;
    for (int attempt = 0; attempt < options.runs; ++attempt) {
      const auto start = Clock::now();
      const local::Matrix vectors = model->embed(texts);
      samples.push_back(seconds_since(start));
      if (vectors.rows != texts.size()) throw std::runtime_error("wrong number of vectors");
    }
    const double seconds = median(samples);
    const double chunks_per_second = static_cast<double>(texts.size()) / seconds;
    const double gflops = flops / seconds / 1e9;
    std::printf("%-8d %10.1f %12.0f %10.2f %12.2f %9.0f%% %8.2f\n", threads, chunks_per_second,
                static_cast<double>(pieces) / seconds, gflops, peak, 100.0 * gflops / peak,
                1000.0 * seconds / static_cast<double>(texts.size()));
    results.push_back({{"threads", threads},
                       {"seconds", seconds},
                       {"chunks_per_second", chunks_per_second},
                       {"pieces_per_second", static_cast<double>(pieces) / seconds},
                       {"gflops", gflops},
                       {"sgemm_peak_gflops", peak},
                       {"share_of_peak", gflops / peak}});
  }

  nlohmann::json reference;
  if (options.reference) {
    reference = time_reference(options, model_dir, texts);
    const double reference_rate = reference.at("texts_per_second").get<double>();
    std::printf("tfjs reference (%s, batch 32): %.1f chunks/s, %.0f pieces/s, %.1f ms/text\n",
                reference.at("backend").get<std::string>().c_str(), reference_rate,
                reference.at("pieces_per_second").get<double>(), 1000.0 / reference_rate);
    if (reference.at("pieces").get<std::size_t>() != pieces) {
      std::cerr << "rag-bench-use-lite: the reference counted " << reference.at("pieces") << " pieces, we " << pieces
                << "\n";
      return 1;
    }
    for (const auto& result : results) {
      std::printf("speed-up on %d thread(s): %.1fx\n", result.at("threads").get<int>(),
                  result.at("chunks_per_second").get<double>() / reference_rate);
    }
  }
  if (options.json) {
    std::cout << nlohmann::json{{"texts", texts.size()},
                                {"pieces", pieces},
                                {"gflop_per_pass", flops / 1e9},
                                {"use_lite", results},
                                {"reference", reference}}
                     .dump()
              << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Throughput of the use-lite embedder beside the TF.js reference and sgemm's peak", "rag-bench-use-lite"};
  Options options;
  app.add_option("--dataset", options.dataset, "BEIR dataset directory whose corpus.jsonl supplies the texts")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--models-dir", options.models_dir, "models folder (default $RAGLINE_MODELS_DIR, then ./models)");
  app.add_option("--texts", options.texts, "texts to embed")->capture_default_str();
  app.add_option("--words", options.words_per_text, "words per text (chunk size)")->capture_default_str();
  app.add_option("--threads", options.threads, "OpenBLAS thread counts to measure")->capture_default_str();
  app.add_option("--runs", options.runs, "timed runs per thread count (median)")->capture_default_str();
  app.add_option("--reference-script", options.reference_script, "tools/use-lite-reference/reference.js")
      ->capture_default_str();
  app.add_flag("!--no-reference", options.reference, "skip timing the TF.js reference");
  app.add_option("--expected", options.expected, "reference vectors to self-check against")->capture_default_str();
  app.add_flag("--json", options.json, "end with one JSON object on its own line");
  return ragline::bench::parse_and_run(app, argc, argv, "rag-bench-use-lite", [&] { return run(options); });
}
