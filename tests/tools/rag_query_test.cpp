#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace {

using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

TEST(RagQuery, IngestSearchStatsDocsDelete) {
  // The CLI end to end: ingest a folder, search (text and JSON), stats, docs, delete.
  TempDir dir;
  write_file(dir / "docs" / "a.md", "# Gliders\n\n## Launch\n\nWinch launches lift gliders to 400 metres.\n");
  write_file(dir / "docs" / "b.txt", "Aerotow launches use a tug aircraft.");
  const std::string kb = quoted(dir / "kb");

  auto result = run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb + " --chunker markdown"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("2 added"), std::string::npos) << result.stdout_text;

  result = run_command(rag_query("search 'winch launch' --kb " + kb + " --json -k 5"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto json = nlohmann::json::parse(result.stdout_text);
  ASSERT_GE(json.at("hits").size(), 1u);
  const auto& top = json["hits"][0];
  EXPECT_EQ(top.at("title"), "Gliders");
  EXPECT_EQ(top.at("heading_path"), "Gliders > Launch");
  EXPECT_GT(top.at("score").get<double>(), 0.0);
  EXPECT_TRUE(top.contains("byte_start") && top.contains("byte_end") && top.contains("metadata"));
  EXPECT_NE(top.at("document_uri").get<std::string>().find("a.md"), std::string::npos);

  result = run_command(rag_query("search 'aerotow' --kb " + kb));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.stdout_text.find("tug aircraft"), std::string::npos) << result.stdout_text;

  result = run_command(rag_query("stats --kb " + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0);
  const auto stats = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(stats.at("documents"), 2);
  EXPECT_EQ(stats.at("chunker").at("name"), "markdown");

  result = run_command(rag_query("docs --kb " + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(result.stdout_text).at("documents").size(), 2u);

  result = run_command(rag_query("delete " + quoted(dir / "docs" / "b.txt") + " --kb " + kb));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  result = run_command(rag_query("search aerotow --kb " + kb + " --json"));
  EXPECT_TRUE(nlohmann::json::parse(result.stdout_text).at("hits").empty());
  result = run_command(rag_query("delete file:///nowhere.txt --kb " + kb));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("no document"), std::string::npos);
}

TEST(RagQuery, ExitCodesAndErrors) {
  // Failures in a batch give exit 3 with the file named; a missing KB exit 1; bad usage exit 2.
  TempDir dir;
  write_file(dir / "docs" / "good.txt", "fine text");
  write_file(dir / "docs" / "bad.jsonl", "{not json}\n");
  auto result = run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + quoted(dir / "kb") + " --json"));
  EXPECT_EQ(result.exit_code, 3);
  const auto report = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(report.at("added"), 1);
  EXPECT_EQ(report.at("failed"), 1);
  EXPECT_NE(report.at("failures")[0].at("location").get<std::string>().find("bad.jsonl:1"), std::string::npos);
  EXPECT_NE(result.stderr_text.find("bad.jsonl"), std::string::npos);

  result = run_command(rag_query("search x --kb " + quoted(dir / "no-such-kb")));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("no knowledge base"), std::string::npos) << result.stderr_text;

  result = run_command(rag_query("frobnicate"));
  EXPECT_EQ(result.exit_code, 2);

  result =
      run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + quoted(dir / "kb") + " --chunker sentence"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("created with chunker"), std::string::npos) << result.stderr_text;

  result =
      run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + quoted(dir / "kb2") + " --chunker bogus"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("bogus"), std::string::npos) << result.stderr_text;
}

}  // namespace
