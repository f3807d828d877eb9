#include "support/test_support.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "index/fts5_extension.hpp"
#include "index/sqlite.hpp"

namespace ragline::testing {

std::string error_message_of(const std::function<void()>& action, ErrorKind expected_kind) {
  try {
    action();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), expected_kind) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no ragline::Error thrown";
  return {};
}

TempDir::TempDir() {
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("ragline-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
    if (std::filesystem::create_directories(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("could not create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::filesystem::path& path, std::string_view bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::filesystem::path test_data(std::string_view relative) {
  return std::filesystem::path(RAGLINE_TEST_DATA_DIR) / relative;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  char stderr_template[] = "/tmp/ragline-stderr-XXXXXX";
  int stderr_fd = ::mkstemp(stderr_template);
  if (stderr_fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(stderr_fd);
  std::string full = command + " 2>" + stderr_template;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::array<char, 4096> buffer{};
  std::size_t read = 0;
  while ((read = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.stdout_text.append(buffer.data(), read);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.stderr_text = read_file(stderr_template);
  std::filesystem::remove(stderr_template);
  return result;
}

void expect_kb_consistent(const std::filesystem::path& kb_dir) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false);
  index::register_fts5_extensions(database.get());
  auto check = database.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_string(0), "ok");
  EXPECT_EQ(database.query_int64("SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id "
                                 "WHERE d.id IS NULL"),
            0);
  EXPECT_EQ(database.query_int64("SELECT count(*) FROM documents d WHERE NOT EXISTS "
                                 "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"),
            0);
  EXPECT_NO_THROW(database.exec("INSERT INTO chunk_keywords(chunk_keywords) VALUES('integrity-check')"));
}

std::string rag_query(const std::string& arguments) { return std::string(RAGLINE_RAG_QUERY) + " " + arguments; }

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

}  // namespace ragline::testing
