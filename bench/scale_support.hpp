#pragma once
// What the scale benchmarks share besides their corpus: the files of one run, sizes and times,
// and the text and JSON forms of their figures.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/latency.hpp"

namespace ragline::bench {

// The files of one run: a fresh temporary directory, or fixed names in --work. Removed when the
// run ends unless --keep; declared before the KB and the baseline so they are closed first.
class WorkFiles {
 public:
  // `tool` names the temporary directory and the message that keeps it.
  WorkFiles(const std::filesystem::path& work, bool keep, std::string tool);
  ~WorkFiles();
  WorkFiles(const WorkFiles&) = delete;
  WorkFiles& operator=(const WorkFiles&) = delete;

  std::filesystem::path corpus() const { return directory_ / "corpus.jsonl"; }
  std::filesystem::path kb() const { return directory_ / "kb"; }
  std::filesystem::path baseline() const { return directory_ / "fts5.sqlite"; }

 private:
  std::filesystem::path directory_;
  bool owns_directory_ = false;
  bool keep_ = false;
  std::string tool_;
};

// Bytes of a file, or of every file below a directory.
std::uint64_t path_bytes(const std::filesystem::path& path);
double seconds_since(std::chrono::steady_clock::time_point start);
// Milliseconds with 3 significant digits or so (0.123, 1.23, 12.3, 123).
std::string format_ms(double ms);
std::string format_fixed(double value, int decimals);
// `text` padded with spaces to `width`, on the left (right-aligned) unless `left`.
std::string pad(std::string text, std::size_t width, bool left = false);
nlohmann::ordered_json latency_json(const LatencySummary& summary);

}  // namespace ragline::bench
