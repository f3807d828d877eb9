// KnowledgeBase::documents(filter, limit, offset) with metadata, remove_where(filter), and the
// CLI's docs --filter/--limit/--offset and delete --prefix/--filter.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using ragline::testing::expect_kb_consistent;
using ragline::testing::keyword_query;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

std::vector<std::string> uris_of(const std::vector<DocumentInfo>& documents) {
  std::vector<std::string> uris;
  for (const auto& document : documents) uris.push_back(document.uri);
  return uris;
}

std::vector<DocumentInput> tickets() {
  std::vector<DocumentInput> documents;
  for (int number = 1; number <= 6; ++number) {
    documents.push_back({"tickets/" + std::to_string(number),
                         "Ticket " + std::to_string(number),
                         "Ticket number " + std::to_string(number) + " about the flux capacitor.",
                         {{"team", number % 2 == 0 ? "sales" : "support"}, {"year", 2020.0 + number}}});
  }
  return documents;
}

TEST(DocumentsFilter, FilterLimitOffsetAndMetadata) {
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.upsert(tickets()).ok());

  const auto all = kb.documents();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(std::get<std::string>(all[0].metadata.at("team")), "support");
  EXPECT_EQ(std::get<double>(all[0].metadata.at("year")), 2021.0);

  const std::string sales = R"({"equals": {"key": "team", "value": "sales"}})";
  EXPECT_EQ(uris_of(kb.documents(sales)), (std::vector<std::string>{"tickets/2", "tickets/4", "tickets/6"}));
  EXPECT_EQ(uris_of(kb.documents(sales, 2)), (std::vector<std::string>{"tickets/2", "tickets/4"}));
  EXPECT_EQ(uris_of(kb.documents(sales, 2, 2)), (std::vector<std::string>{"tickets/6"}));
  EXPECT_EQ(uris_of(kb.documents("", 2, 3)), (std::vector<std::string>{"tickets/4", "tickets/5"}));
  EXPECT_TRUE(kb.documents(sales, 0, 10).empty());
  const std::string recent = R"({"andAll": [{"equals": {"key": "team", "value": "sales"}},
                                            {"greaterThan": {"key": "year", "value": 2023}}]})";
  EXPECT_EQ(uris_of(kb.documents(recent)), (std::vector<std::string>{"tickets/4", "tickets/6"}));

  const auto message = ragline::testing::error_message_of(
      [&] { kb.documents(R"({"equalz": {"key": "team", "value": "x"}})"); }, ErrorKind::invalid_argument);
  EXPECT_NE(message.find("equalz"), std::string::npos) << message;

  const auto json = nlohmann::json::parse(to_json(kb.documents(sales, 1)));
  EXPECT_EQ(json.at("documents")[0].at("metadata").at("team"), "sales");
}

TEST(DocumentsFilter, RemoveWhereRemovesMatchesAndTheirVectors) {
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.upsert(tickets()).ok());
  EXPECT_EQ(kb.remove_where(R"({"equals": {"key": "team", "value": "sales"}})"), 3u);
  EXPECT_EQ(uris_of(kb.documents()), (std::vector<std::string>{"tickets/1", "tickets/3", "tickets/5"}));
  EXPECT_EQ(kb.remove_where(R"({"equals": {"key": "team", "value": "sales"}})"), 0u);
  EXPECT_EQ(kb.remove_where(R"({"startsWith": {"key": "_source_uri", "value": "tickets/5"}})"), 1u);
  EXPECT_EQ(kb.stats().documents, 2);
  // Dense search finds only what is left: vectors.faiss was brought up to date.
  const auto hits = kb.retrieve(ragline::testing::dense_query("flux capacitor ticket"));
  for (const auto& hit : hits) EXPECT_TRUE(hit.document_uri == "tickets/1" || hit.document_uri == "tickets/3");
  EXPECT_TRUE(kb.check().ok());
  ragline::testing::error_message_of([&] { kb.remove_where(""); }, ErrorKind::invalid_argument);
  EXPECT_EQ(kb.stats().documents, 2);
}

TEST(DocumentsFilter, CliDocsAndDeleteByPrefixAndFilter) {
  TempDir dir;
  write_file(dir / "docs" / "old" / "a.md", "# Alpha\n\nThe aardvark file.\n");
  write_file(dir / "docs" / "old" / "b.md", "# Beta\n\nThe badger file.\n");
  write_file(dir / "docs" / "older" / "c.md", "# Gamma\n\nThe caracal file.\n");
  write_file(dir / "docs" / "new" / "d.md", "---\nteam: hr\n---\n# Delta\n\nThe dingo file.\n");
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb));
  ASSERT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;

  result =
      run_command(rag_query("docs --kb " + kb + " --json --filter '{\"equals\":{\"key\":\"team\",\"value\":\"hr\"}}'"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto listed = nlohmann::json::parse(result.stdout_text).at("documents");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("metadata").at("team"), "hr");
  result = run_command(rag_query("docs --kb " + kb + " --limit 1 --offset 1"));
  EXPECT_EQ(std::count(result.stdout_text.begin(), result.stdout_text.end(), '\n'), 1) << result.stdout_text;
  result = run_command(rag_query("docs --kb " + kb + " --filter '{\"bad\":1}'"));
  EXPECT_EQ(result.exit_code, 2) << result.stderr_text;

  // A folder prefix takes the folder's documents, not those of a sibling whose name extends it.
  result = run_command(rag_query("delete --prefix " + quoted(dir / "docs" / "old") + " --kb " + kb));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("deleted 2 documents"), std::string::npos) << result.stdout_text;
  result = run_command(rag_query("delete --filter '{\"equals\":{\"key\":\"team\",\"value\":\"hr\"}}' --kb " + kb));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("deleted 1 document\n"), std::string::npos) << result.stdout_text;
  result = run_command(rag_query("docs --kb " + kb));
  EXPECT_NE(result.stdout_text.find("older/c.md"), std::string::npos) << result.stdout_text;
  EXPECT_EQ(std::count(result.stdout_text.begin(), result.stdout_text.end(), '\n'), 1) << result.stdout_text;

  // Bad usage: nothing named, two selections at once, a malformed filter.
  EXPECT_EQ(run_command(rag_query("delete --kb " + kb)).exit_code, 2);
  EXPECT_EQ(run_command(rag_query("delete x --prefix y --kb " + kb)).exit_code, 2);
  EXPECT_EQ(run_command(rag_query("delete --filter '{' --kb " + kb)).exit_code, 2);
  expect_kb_consistent(dir / "kb");
}

}  // namespace
}  // namespace ragline
