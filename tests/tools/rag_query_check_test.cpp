// rag-query check and repair: exit codes (0 clean, 1 findings, 2 cannot check), text and JSON
// output, and a repair that makes a damaged KB check clean again.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "index/sqlite.hpp"
#include "support/test_support.hpp"

namespace {

using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

TEST(RagQueryCheck, FindsDamageAndRepairFixesIt) {
  TempDir dir;
  for (int i = 0; i < 4; ++i) {
    write_file(dir / "docs" / ("n" + std::to_string(i) + ".txt"), "Glider winch launch number " + std::to_string(i));
  }
  const std::string kb = "'" + (dir / "kb").string() + "'";
  ASSERT_EQ(run_command(rag_query("ingest --quiet --kb " + kb + " '" + (dir / "docs").string() + "'")).exit_code, 0);

  auto result = run_command(rag_query("check --kb " + kb));
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_EQ(result.stdout_text, "ok\n");

  {
    auto database = ragline::index::Database::open(dir / "kb" / "kb.sqlite", false);
    database.exec("DELETE FROM chunk_keywords_docsize WHERE id = (SELECT min(id) FROM chunks)");
  }
  result = run_command(rag_query("check --json --kb " + kb));
  EXPECT_EQ(result.exit_code, 1) << result.stdout_text << result.stderr_text;
  const auto report = nlohmann::json::parse(result.stdout_text);
  EXPECT_FALSE(report.at("ok").get<bool>());
  ASSERT_FALSE(report.at("findings").empty());
  EXPECT_EQ(report["findings"][0].at("area"), "keyword index");

  result = run_command(rag_query("repair --kb " + kb));
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("rebuilt the keyword index from 4 searchable chunks"), std::string::npos)
      << result.stdout_text;
  EXPECT_EQ(run_command(rag_query("check --kb " + kb)).exit_code, 0);
  result = run_command(rag_query("search 'winch number 0' -k 1 --json --kb " + kb));
  EXPECT_NE(result.stdout_text.find("n0.txt"), std::string::npos) << result.stdout_text;

  result = run_command(rag_query("check --kb '" + (dir / "missing").string() + "'"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("no knowledge base"), std::string::npos) << result.stderr_text;
}

}  // namespace
