#include "bench/scale_support.hpp"

#include <stdlib.h>

#include <cstdio>
#include <iostream>
#include <ragline/error.hpp>
#include <system_error>

namespace ragline::bench {

namespace fs = std::filesystem;

WorkFiles::WorkFiles(const fs::path& work, bool keep, std::string tool) : keep_(keep), tool_(std::move(tool)) {
  if (work.empty()) {
    std::string pattern = (fs::temp_directory_path() / (tool_ + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw ragline::Error(ragline::ErrorKind::io, "cannot create a temporary directory from " + pattern);
    }
    directory_ = pattern;
    owns_directory_ = true;
  } else {
    directory_ = work;
    std::error_code error;
    fs::create_directories(directory_, error);
    if (error) {
      throw ragline::Error(ragline::ErrorKind::io, directory_.string() + ": cannot create: " + error.message());
    }
    // Never overwrite or delete what a previous run (or the user) left there.
    for (const fs::path& path : {corpus(), kb(), baseline()}) {
      if (fs::exists(path, error)) {
        throw ragline::Error(ragline::ErrorKind::invalid_argument,
                             path.string() + " already exists: give --work a directory without it");
      }
    }
  }
}

WorkFiles::~WorkFiles() {
  if (keep_) {
    std::cerr << tool_ << ": kept " << directory_.string() << '\n';
    return;
  }
  std::error_code error;
  if (owns_directory_) {
    fs::remove_all(directory_, error);
  } else {
    for (const fs::path& path :
         {corpus(), kb(), baseline(), fs::path(baseline().string() + "-wal"), fs::path(baseline().string() + "-shm")}) {
      fs::remove_all(path, error);
    }
  }
}

std::uint64_t path_bytes(const fs::path& path) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) return fs::file_size(path, error);
  std::uint64_t total = 0;
  for (fs::recursive_directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
    std::error_code size_error;
    if (it->is_regular_file(size_error)) {
      const std::uintmax_t size = it->file_size(size_error);
      if (!size_error) total += size;
    }
  }
  return total;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string format_ms(double ms) {
  char buffer[32];
  const char* format = ms < 1 ? "%.3f" : ms < 10 ? "%.2f" : ms < 100 ? "%.1f" : "%.0f";
  std::snprintf(buffer, sizeof buffer, format, ms);
  return buffer;
}

std::string format_fixed(double value, int decimals) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string pad(std::string text, std::size_t width, bool left) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return left ? text + fill : fill + text;
}

nlohmann::ordered_json latency_json(const LatencySummary& summary) {
  return {
      {"p50", summary.p50_ms}, {"p95", summary.p95_ms}, {"p99", summary.p99_ms}, {"qps", summary.queries_per_second}};
}

}  // namespace ragline::bench
