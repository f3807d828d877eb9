// rag-bench-embed: throughput of the local transformer runtime (models/local) on a BERT the size
// of all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, intermediate 1536) with random weights,
// written as a real model folder and loaded through the bert embedder, on 1 and 2 threads.
// Reports tokens/s and texts/s (medians of the repeats) and the share of OpenBLAS's sgemm peak
// FLOP/s (a large square product measured in the same run on the same thread count).
// Self-checks: unit-norm outputs, the same vectors on 1 and 2 threads, and a text embedded alone
// equal to its row in the padded batch; a failed check exits 1.
#include <cblas.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "models/local/bert.hpp"
#include "models/local/runtime.hpp"
#include "ragline/error.hpp"

namespace {

namespace fs = std::filesystem;
using ragline::models::EmbeddingMatrix;
using ragline::models::EmbedPurpose;
using Clock = std::chrono::steady_clock;

struct Shape {
  std::size_t layers = 6, hidden = 384, heads = 12, intermediate = 1536, positions = 512, vocab = 30522;
};

// CPU seconds of the whole process: on a shared machine, wall time measures the neighbours too;
// on one thread, CPU time measures the code.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void write_le64(std::ofstream& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A model folder with random F32 weights (scaled like a trained BERT's, so activations stay in a
// realistic range) and a small vocabulary: letters, their ## forms and a few hundred words.
std::vector<std::string> write_random_bert(const fs::path& folder, const Shape& shape) {
  fs::create_directories(folder / "1_Pooling");
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::map<std::string, std::vector<std::size_t>> shapes;
  const auto add = [&](const std::string& name, std::vector<std::size_t> dims) { shapes[name] = std::move(dims); };
  add("embeddings.word_embeddings.weight", {shape.vocab, shape.hidden});
  add("embeddings.position_embeddings.weight", {shape.positions, shape.hidden});
  add("embeddings.token_type_embeddings.weight", {2, shape.hidden});
  add("embeddings.LayerNorm.weight", {shape.hidden});
  add("embeddings.LayerNorm.bias", {shape.hidden});
  for (std::size_t i = 0; i < shape.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* name :
         {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + name + ".weight", {shape.hidden, shape.hidden});
      add(p + name + ".bias", {shape.hidden});
    }
    add(p + "intermediate.dense.weight", {shape.intermediate, shape.hidden});
    add(p + "intermediate.dense.bias", {shape.intermediate});
    add(p + "output.dense.weight", {shape.hidden, shape.intermediate});
    add(p + "output.dense.bias", {shape.hidden});
    for (const char* norm : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      add(p + norm + ".weight", {shape.hidden});
      add(p + norm + ".bias", {shape.hidden});
    }
  }
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, dims] : shapes) {
    std::uint64_t count = 1;
    for (auto d : dims) count *= d;
    header[name] = {{"dtype", "F32"}, {"shape", dims}, {"data_offsets", {offset, offset + 4 * count}}};
    offset += 4 * count;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::ofstream out(folder / "model.safetensors", std::ios::binary);
  write_le64(out, header_text.size());
  out << header_text;
  for (const auto& [name, dims] : shapes) {
    std::uint64_t count = 1;
    for (auto d : dims) count *= d;
    const bool norm_weight = name.ends_with("LayerNorm.weight");
    std::vector<float> values(count);
    for (float& v : values) v = norm_weight ? 1.0f + normal(rng) : normal(rng);
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(4 * count));
  }
  out.close();

  std::vector<std::string> words;
  std::ofstream vocab(folder / "vocab.txt");
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) vocab << special << "\n";
  for (char c = 'a'; c <= 'z'; ++c) vocab << c << "\n##" << c << "\n";
  std::uniform_int_distribution<int> letter('a', 'z'), length(2, 9);
  for (int i = 0; i < 800; ++i) {
    std::string word;
    for (int j = length(rng); j > 0; --j) word.push_back(static_cast<char>(letter(rng)));
    words.push_back(word);
    vocab << word << "\n";
  }
  nlohmann::json config = {{"hidden_size", shape.hidden},
                           {"num_hidden_layers", shape.layers},
                           {"num_attention_heads", shape.heads},
                           {"intermediate_size", shape.intermediate},
                           {"max_position_embeddings", shape.positions},
                           {"type_vocab_size", 2},
                           {"vocab_size", shape.vocab},
                           {"layer_norm_eps", 1e-12},
                           {"hidden_act", "gelu"}};
  std::ofstream(folder / "config.json") << config.dump(2);
  std::ofstream(folder / "1_Pooling" / "config.json") << R"({"pooling_mode_mean_tokens": true})";
  return words;
}

// Sustained sgemm rate (FLOP/s) on n × n × n, median of repeats, per wall and per CPU second.
struct Rate {
  double wall = 0, cpu = 0;
};
Rate sgemm_peak(std::size_t n, int repeats) {
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  std::vector<double> wall, cpu;
  const int size = static_cast<int>(n);
  const double flops = 2.0 * static_cast<double>(n * n * n);
  for (int r = 0; r < repeats + 1; ++r) {
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, size, size, size, 1.0f, a.data(), size, b.data(), size, 0.0f,
                c.data(), size);
    if (r == 0) continue;  // the first run warms caches and threads
    wall.push_back(flops / std::chrono::duration<double>(Clock::now() - start).count());
    cpu.push_back(flops / (process_cpu_seconds() - cpu_start));
  }
  return {median(wall), median(cpu)};
}

double max_abs_diff(const EmbeddingMatrix& a, const EmbeddingMatrix& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.values.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(a.values[i] - b.values[i])));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Throughput of the local BERT runtime on a MiniLM-L6-sized random model"};
  std::size_t texts_count = 32, words_per_text = 100, batch = 32;
  int repeats = 3;
  std::string work_dir = (fs::temp_directory_path() / "ragline-bench-embed").string();
  bool json_output = false;
  app.add_option("--texts", texts_count, "Texts per embed() call");
  app.add_option("--words", words_per_text, "Words per text (about 1.3 WordPiece tokens each)");
  app.add_option("--batch", batch, "Sequences per forward pass");
  app.add_option("--repeats", repeats, "Timed embed() calls per thread count (median reported)");
  app.add_option("--work-dir", work_dir, "Where the random model folder is written (removed afterwards)");
  app.add_flag("--json", json_output, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);

  try {
    const Shape shape;
    const fs::path folder = fs::path(work_dir) / "minilm-l6-random";
    const auto words = write_random_bert(folder, shape);
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::size_t> pick(0, words.size() - 1);
    std::vector<std::string> texts(texts_count);
    for (auto& text : texts) {
      for (std::size_t w = 0; w < words_per_text; ++w) {
        // Every fourth word is split by WordPiece (a vocabulary word plus letters).
        text += words[pick(rng)] + (w % 4 == 3 ? "qz" : "") + (w % 12 == 11 ? ". " : " ");
      }
    }
    ragline::models::local::BertOptions options;
    options.batch_size = batch;
    auto embedder = ragline::models::local::BertEmbedder::load(folder, options);
    std::size_t tokens = 0;
    for (const auto& text : texts) tokens += embedder->token_ids(text, EmbedPurpose::document).size();
    const double mean_length = static_cast<double>(tokens) / texts.size();
    // Multiply-adds per token: Q, K, V and output projections, the two feed-forward products,
    // and attention's two products over the sequence.
    const double h = shape.hidden, inter = shape.intermediate;
    const double flops = shape.layers * tokens * (2.0 * (4 * h * h + 2 * h * inter) + 2.0 * 2 * mean_length * h);

    nlohmann::json report = {{"model", "random BERT 6x384, 12 heads, intermediate 1536 (all-MiniLM-L6-v2 size)"},
                             {"texts", texts_count},
                             {"tokens", tokens},
                             {"mean_tokens_per_text", mean_length},
                             {"batch", batch},
                             {"repeats", repeats}};
    bool ok = true;
    EmbeddingMatrix reference;
    for (int threads : {1, 2}) {
      ragline::models::local::set_thread_count(threads);
      EmbeddingMatrix vectors = embedder->embed(texts, EmbedPurpose::document);  // warm-up
      std::vector<double> seconds, cpu_seconds;
      for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        const double cpu_start = process_cpu_seconds();
        vectors = embedder->embed(texts, EmbedPurpose::document);
        seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
        cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
      }
      const double median_seconds = median(seconds);
      const double median_cpu = median(cpu_seconds);
      const Rate peak = sgemm_peak(1024, 5);
      report["threads_" + std::to_string(threads)] = {{"median_seconds", median_seconds},
                                                      {"tokens_per_second", tokens / median_seconds},
                                                      {"texts_per_second", texts_count / median_seconds},
                                                      {"gflops", flops / median_seconds / 1e9},
                                                      {"sgemm_peak_gflops", peak.wall / 1e9},
                                                      {"share_of_sgemm_peak", flops / median_seconds / peak.wall},
                                                      {"median_cpu_seconds", median_cpu},
                                                      {"tokens_per_cpu_second", tokens / median_cpu},
                                                      {"share_of_sgemm_peak_cpu", flops / median_cpu / peak.cpu}};
      for (std::size_t i = 0; i < vectors.rows; ++i) {
        double norm = 0;
        for (float v : vectors.row(i)) norm += static_cast<double>(v) * v;
        if (std::abs(norm - 1.0) > 1e-4) {
          std::fprintf(stderr, "self-check failed: text %zu has norm² %f\n", i, norm);
          ok = false;
        }
      }
      if (threads == 1) {
        reference = vectors;
      } else if (max_abs_diff(vectors, reference) > 1e-4) {
        std::fprintf(stderr, "self-check failed: 1 and 2 threads differ by %g\n", max_abs_diff(vectors, reference));
        ok = false;
      }
    }
    const std::vector<std::string> alone = {texts[texts_count / 2]};
    const auto single = embedder->embed(alone, EmbedPurpose::document);
    double worst = 0;
    for (std::size_t d = 0; d < single.dimension; ++d) {
      worst = std::max(worst, static_cast<double>(std::abs(single.row(0)[d] - reference.row(texts_count / 2)[d])));
    }
    if (worst > 1e-4) {
      std::fprintf(stderr, "self-check failed: a text alone differs from its batched row by %g\n", worst);
      ok = false;
    }
    report["self_checks"] = ok ? "passed" : "failed";
    fs::remove_all(folder);
    if (json_output) {
      std::printf("%s\n", report.dump().c_str());
    } else {
      std::printf("%s\n", report.dump(2).c_str());
    }
    return ok ? 0 : 1;
  } catch (const ragline::Error& e) {
    std::fprintf(stderr, "rag-bench-embed: %s\n", e.what());
    return 2;
  }
}
