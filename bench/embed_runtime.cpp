// rag-bench-embed: throughput of the local transformer runtime (models/local) through the bert
// embedder, fp32 and int8, on 1 and 2 threads: on a real model folder (--model) or on a BERT the
// size of all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, intermediate 1536) with random
// weights, written as a real model folder. Texts: --texts-file (a JSON array of strings, the
// same file bench/peers/embed_side_by_side.py gives ONNX Runtime and torch) or synthetic ones.
// Reports tokens/s and texts/s (medians of the repeats), the share of OpenBLAS's sgemm peak
// FLOP/s (a large square product measured in the same run on the same thread count) and the
// latency of a 12-word query on one thread.
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
#include "models/local/int8_gemm.hpp"
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

std::vector<std::string> read_texts(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ragline::Error(ragline::ErrorKind::not_found, "missing texts file " + path.string());
  nlohmann::json texts;
  try {
    texts = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ragline::Error(ragline::ErrorKind::format, path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!texts.is_array() || texts.empty())
    throw ragline::Error(ragline::ErrorKind::format, path.string() + ": not a non-empty JSON array of strings");
  std::vector<std::string> result;
  for (const auto& text : texts) {
    if (!text.is_string())
      throw ragline::Error(ragline::ErrorKind::format,
                           path.string() + ": element " + std::to_string(result.size()) + " is not a string");
    result.push_back(text.get<std::string>());
  }
  return result;
}

double min_cosine(const EmbeddingMatrix& a, const EmbeddingMatrix& b) {
  double worst = 1;
  for (std::size_t i = 0; i < a.rows; ++i) {
    double dot = 0;
    for (std::size_t d = 0; d < a.dimension; ++d) dot += static_cast<double>(a.row(i)[d]) * b.row(i)[d];
    worst = std::min(worst, dot);  // both unit vectors
  }
  return worst;
}

double max_abs_diff(const EmbeddingMatrix& a, const EmbeddingMatrix& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.values.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(a.values[i] - b.values[i])));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Throughput of the local BERT runtime (fp32 and int8) on a real or a MiniLM-L6-sized random model"};
  std::size_t texts_count = 32, words_per_text = 100, batch = 32;
  int repeats = 3, query_repeats = 30;
  std::string work_dir = (fs::temp_directory_path() / "ragline-bench-embed").string();
  std::string model_dir, texts_file, vectors_out;
  std::vector<int> thread_counts = {1, 2};
  std::vector<std::string> precisions = {"fp32", "int8"};
  bool json_output = false;
  app.add_option("--model", model_dir, "A BERT model folder (default: a random MiniLM-L6-sized model)");
  app.add_option("--texts-file", texts_file, "JSON array of the texts to embed (default: synthetic texts)");
  app.add_option("--texts", texts_count, "Synthetic texts per embed() call");
  app.add_option("--words", words_per_text, "Words per synthetic text (about 1.3 WordPiece tokens each)");
  app.add_option("--batch", batch, "Sequences per forward pass");
  app.add_option("--repeats", repeats, "Timed embed() calls per thread count and precision (median reported)");
  app.add_option("--query-repeats", query_repeats, "Timed single 12-word queries per precision, on one thread");
  app.add_option("--threads", thread_counts, "Thread counts to run, in order (the first is the reference)")
      ->check(CLI::PositiveNumber);
  app.add_option("--precision", precisions, "Precisions to run")->check(CLI::IsMember({"fp32", "int8"}));
  app.add_option("--vectors-out", vectors_out,
                 "Write the vectors of each precision (first thread count) to PREFIX.<precision>.f32: rows of "
                 "float32, little-endian, in text order");
  app.add_option("--work-dir", work_dir, "Where the random model folder is written (removed afterwards)");
  app.add_flag("--json", json_output, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);

  try {
    const Shape shape;
    fs::path folder = model_dir;
    const bool random_model = model_dir.empty();
    std::vector<std::string> words;
    if (random_model) {
      folder = fs::path(work_dir) / "minilm-l6-random";
      words = write_random_bert(folder, shape);
    } else {
      // Synthetic texts from a real model: whole words of its vocabulary.
      std::ifstream vocab(folder / "vocab.txt");
      for (std::string line; std::getline(vocab, line);) {
        if (line.size() >= 3 && std::all_of(line.begin(), line.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
          words.push_back(line);
      }
      if (words.empty()) throw ragline::Error(ragline::ErrorKind::format, "no plain words in the model's vocab.txt");
    }
    std::vector<std::string> texts;
    if (!texts_file.empty()) {
      texts = read_texts(texts_file);
    } else {
      std::mt19937 rng(7);
      std::uniform_int_distribution<std::size_t> pick(0, words.size() - 1);
      texts.resize(texts_count);
      for (auto& text : texts) {
        for (std::size_t w = 0; w < words_per_text; ++w) {
          // Every fourth word is split by WordPiece (a vocabulary word plus letters).
          text += words[pick(rng)] + (w % 4 == 3 ? "qz" : "") + (w % 12 == 11 ? ". " : " ");
        }
      }
    }
    const std::string query = "how does the retrieval engine rank short passages for a twelve word query";
    ragline::models::local::BertOptions options;
    options.batch_size = batch;

    nlohmann::json report = {
        {"model", random_model ? "random BERT 6x384, 12 heads, intermediate 1536 "
                                 "(all-MiniLM-L6-v2 size)"
                               : fs::path(model_dir).filename().string()},
        {"texts", texts.size()},
        {"batch", batch},
        {"repeats", repeats},
        {"openblas_core", ragline::models::local::blas_core_name()},
        {"int8_kernel",
         std::string(ragline::models::local::int8_kernel_name(ragline::models::local::best_int8_kernel()))},
        {"vector_isa",
         std::string(ragline::models::local::vector_isa_name(ragline::models::local::best_vector_isa()))}};
    bool ok = true;
    std::map<int, Rate> peaks;
    for (const std::string& precision_name : precisions) {
      options.precision = ragline::models::local::parse_bert_precision(precision_name);
      auto embedder = ragline::models::local::BertEmbedder::load(folder, options);
      const auto& config = embedder->config();
      std::size_t tokens = 0;
      double squared_lengths = 0;
      for (const auto& text : texts) {
        const double length = static_cast<double>(embedder->token_ids(text, EmbedPurpose::document).size());
        tokens += static_cast<std::size_t>(length);
        squared_lengths += length * length;
      }
      // Multiply-adds per token: Q, K, V and output projections, the two feed-forward products,
      // and attention's two products over the sequence (length² per text).
      const double h = static_cast<double>(config.hidden_size), inter = static_cast<double>(config.intermediate_size);
      const double flops =
          static_cast<double>(config.num_layers) *
          (2.0 * static_cast<double>(tokens) * (4 * h * h + 2 * h * inter) + 2.0 * 2 * squared_lengths * h);
      report["tokens"] = tokens;
      report["mean_tokens_per_text"] = static_cast<double>(tokens) / static_cast<double>(texts.size());
      report["gflop_per_call"] = flops / 1e9;
      nlohmann::json& section = report[precision_name];
      EmbeddingMatrix reference;
      for (std::size_t t = 0; t < thread_counts.size(); ++t) {
        const int threads = thread_counts[t];
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
        if (!peaks.count(threads)) peaks[threads] = sgemm_peak(1024, 5);
        const Rate peak = peaks[threads];
        section["threads_" + std::to_string(threads)] = {{"median_seconds", median_seconds},
                                                         {"tokens_per_second", tokens / median_seconds},
                                                         {"texts_per_second", texts.size() / median_seconds},
                                                         {"gflops", flops / median_seconds / 1e9},
                                                         {"sgemm_peak_gflops", peak.wall / 1e9},
                                                         {"share_of_sgemm_peak", flops / median_seconds / peak.wall},
                                                         {"median_cpu_seconds", median_cpu},
                                                         {"tokens_per_cpu_second", tokens / median_cpu},
                                                         {"texts_per_cpu_second", texts.size() / median_cpu},
                                                         {"share_of_sgemm_peak_cpu", flops / median_cpu / peak.cpu}};
        for (std::size_t i = 0; i < vectors.rows; ++i) {
          double norm = 0;
          for (float v : vectors.row(i)) norm += static_cast<double>(v) * v;
          if (std::abs(norm - 1.0) > 1e-4) {
            std::fprintf(stderr, "self-check failed: %s text %zu has norm² %f\n", precision_name.c_str(), i, norm);
            ok = false;
          }
        }
        if (t == 0) {
          reference = vectors;
        } else if (options.precision == ragline::models::local::BertPrecision::fp32 &&
                   max_abs_diff(vectors, reference) > 1e-4) {
          std::fprintf(stderr, "self-check failed: %s: %d and %d threads differ by %g\n", precision_name.c_str(),
                       thread_counts[0], threads, max_abs_diff(vectors, reference));
          ok = false;
        } else if (options.precision == ragline::models::local::BertPrecision::int8 &&
                   min_cosine(vectors, reference) < 0.99) {
          // Thread counts change OpenBLAS's float sums in attention by rounding; int8 rounds
          // activations to 1/127 of a row's range, which turns some of those into whole steps.
          std::fprintf(stderr, "self-check failed: %s: %d and %d threads: cosine %g\n", precision_name.c_str(),
                       thread_counts[0], threads, min_cosine(vectors, reference));
          ok = false;
        }
      }
      ragline::models::local::set_thread_count(thread_counts[0]);
      const std::size_t middle = texts.size() / 2;
      const std::vector<std::string> alone = {texts[middle]};
      const auto single = embedder->embed(alone, EmbedPurpose::document);
      double worst = 0;
      for (std::size_t d = 0; d < single.dimension; ++d) {
        worst = std::max(worst, static_cast<double>(std::abs(single.row(0)[d] - reference.row(middle)[d])));
      }
      if (worst > 1e-4) {
        std::fprintf(stderr, "self-check failed: %s: a text alone differs from its batched row by %g\n",
                     precision_name.c_str(), worst);
        ok = false;
      }
      if (!vectors_out.empty()) {
        std::ofstream out(vectors_out + "." + precision_name + ".f32", std::ios::binary);
        out.write(reinterpret_cast<const char*>(reference.values.data()),
                  static_cast<std::streamsize>(reference.values.size() * sizeof(float)));
      }
      // A 12-word query on one thread, as a search embeds it.
      ragline::models::local::set_thread_count(1);
      const std::vector<std::string> queries = {query};
      embedder->embed(queries, EmbedPurpose::document);
      std::vector<double> query_ms, query_cpu_ms;
      for (int r = 0; r < query_repeats; ++r) {
        const auto start = Clock::now();
        const double cpu_start = process_cpu_seconds();
        embedder->embed(queries, EmbedPurpose::document);
        query_ms.push_back(1e3 * std::chrono::duration<double>(Clock::now() - start).count());
        query_cpu_ms.push_back(1e3 * (process_cpu_seconds() - cpu_start));
      }
      section["query_12_words_ms_1_thread"] = query_repeats > 0 ? median(query_ms) : 0.0;
      section["query_12_words_cpu_ms_1_thread"] = query_repeats > 0 ? median(query_cpu_ms) : 0.0;
    }
    report["self_checks"] = ok ? "passed" : "failed";
    if (random_model) fs::remove_all(folder);
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
