#pragma once
// Helpers shared by the test suites: scratch directories and file I/O.

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ragline/error.hpp"
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

// The message of the ragline::Error that `action` throws, after checking its kind; a test failure
// (and an empty message) when it throws none.
std::string error_message_of(const std::function<void()>& action, ErrorKind expected_kind);

// A BM25-only query: for tests of keyword semantics (exact matches, no dense neighbours).
inline Query keyword_query(std::string text, std::size_t k = 10) {
  Query query(std::move(text), k);
  query.mode = SearchMode::bm25;
  return query;
}

// A dense-only query: for tests of the vectors alone.
inline Query dense_query(std::string text, std::size_t k = 10) {
  Query query(std::move(text), k);
  query.mode = SearchMode::dense;
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

// The command line running this build's rag-query with `arguments` (for run_command).
std::string rag_query(const std::string& arguments);
// A path single-quoted for /bin/sh (the paths tests make hold no quote).
std::string quoted(const std::filesystem::path& path);

// Sets (or, with nullptr, unsets) an environment variable for one scope, restoring it afterwards.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name_.c_str());
    } else {
      ::setenv(name_.c_str(), value, 1);
    }
  }
  ScopedEnvironment(std::string name, const std::string& value) : ScopedEnvironment(std::move(name), value.c_str()) {}
  ~ScopedEnvironment() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// GoogleTest expectations that a KB directory is consistent: SQLite's integrity check passes, no
// chunk lacks its document, and every document has its chunks (they are committed together).
void expect_kb_consistent(const std::filesystem::path& kb_dir);

}  // namespace ragline::testing
