#pragma once
// Helpers shared by the test suites: scratch directories and file I/O.

#include <filesystem>
#include <string>
#include <string_view>

#include "ragline/types.hpp"

namespace ragline::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A BM25-only query: for tests of keyword semantics (exact matches, no dense neighbours).
inline Query keyword_query(std::string text, std::size_t k = 10) {
  Query query(std::move(text), k);
  query.mode = SearchMode::bm25;
  return query;
}

// Writes bytes to a file, creating parent directories.
void write_file(const std::filesystem::path& path, std::string_view bytes);
std::string read_file(const std::filesystem::path& path);
// Path of a fixture under tests/data/.
std::filesystem::path test_data(std::string_view relative);

// Runs a shell command through /bin/sh; captures its exit status, stdout and stderr.
struct CommandResult {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};
CommandResult run_command(const std::string& command);

// GoogleTest expectations that a KB directory is consistent: SQLite's integrity check passes, no
// chunk lacks its document, and every document has its chunks (they are committed together).
void expect_kb_consistent(const std::filesystem::path& kb_dir);

}  // namespace ragline::testing
