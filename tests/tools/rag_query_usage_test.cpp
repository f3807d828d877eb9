// rag-query's exit codes for bad usage (2: bad --mode, --alpha, --filter, --fusion, a missing
// ingest path, --batch 0), and that a create that fails leaves no KB behind.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.hpp"

namespace {

using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

TEST(RagQueryUsage, BadQueryOptionsExitTwo) {
  TempDir dir;
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  const std::string kb = quoted(dir / "kb");
  ASSERT_EQ(run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb + " -q")).exit_code, 0);
  const std::pair<std::string, std::string> cases[] = {
      {"--mode sideways", "sideways"},
      {"--alpha 5", "fusion.alpha"},
      {"--fusion weighted --alpha 5", "fusion.alpha"},
      {"--fusion borda", "borda"},
      {"--filter '{\"near\":{\"key\":\"a\",\"value\":1}}'", "near"},
      {"--filter '{not json'", "filter"},
  };
  for (const auto& [options, named] : cases) {
    for (const std::string command : {"query", "prompt"}) {
      const auto result = run_command(rag_query(command + " winch --kb " + kb + " " + options));
      EXPECT_EQ(result.exit_code, 2) << command << " " << options << ": " << result.stderr_text;
      EXPECT_NE(result.stderr_text.find(named), std::string::npos) << options << ": " << result.stderr_text;
    }
  }
  // Bad usage is found before the KB is opened: a missing KB does not hide it.
  const auto result = run_command(rag_query("query winch --kb " + quoted(dir / "no-kb") + " --alpha 5"));
  EXPECT_EQ(result.exit_code, 2) << result.stderr_text;
}

// A path that does not exist is bad usage (2), checked before the KB is created.
TEST(RagQueryUsage, MissingIngestPathExitsTwoAndCreatesNothing) {
  TempDir dir;
  const auto result =
      run_command(rag_query("ingest " + quoted(dir / "nonexistent") + " --kb " + quoted(dir / "kb") + " -q"));
  EXPECT_EQ(result.exit_code, 2) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("nonexistent does not exist"), std::string::npos) << result.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir / "kb"));
}

// A create that fails (openai without a model, --batch 0) leaves no KB directory, and the same
// directory then takes a good create.
TEST(RagQueryUsage, FailedCreateLeavesNoKb) {
  TempDir dir;
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  const std::string docs = quoted(dir / "docs");
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(rag_query("ingest " + docs + " --kb " + kb + " --embedder openai -q"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("model is required"), std::string::npos) << result.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir / "kb"));

  result = run_command(rag_query("ingest " + docs + " --kb " + kb + " --batch 0 -q"));
  EXPECT_EQ(result.exit_code, 2) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("--batch"), std::string::npos) << result.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir / "kb"));

  result = run_command(rag_query("ingest " + docs + " --kb " + kb + " -q"));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  result = run_command(rag_query("query winch --kb " + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(result.stdout_text).at("hits").size(), 1u);
}

// Empty, blank and stopword-only queries print no results and say why.
TEST(RagQueryUsage, QueriesWithoutTermsHaveNoResults) {
  TempDir dir;
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  const std::string kb = quoted(dir / "kb");
  ASSERT_EQ(run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb + " -q")).exit_code, 0);
  for (const std::string text : {"''", "'   '", "'the and of'"}) {
    const auto result = run_command(rag_query("query " + text + " --kb " + kb));
    ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
    EXPECT_EQ(result.stdout_text, "no results\n") << text;
    EXPECT_NE(result.stderr_text.find("no searchable terms"), std::string::npos) << result.stderr_text;
  }
}

}  // namespace
