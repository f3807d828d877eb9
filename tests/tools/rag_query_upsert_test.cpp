// rag-query upsert: JSON Lines of documents from a file or stdin through KnowledgeBase::upsert;
// a bad line is reported with its line number and the other lines still go in.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.hpp"

namespace {

using nlohmann::json;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

TEST(RagQueryUpsert, JsonLinesFromAFileAndFromStdin) {
  TempDir dir;
  const std::string kb = " --kb " + quoted(dir / "kb");
  const auto tickets = dir / "tickets.jsonl";
  write_file(tickets,
             "{\"id\": \"tickets/1\", \"title\": \"Refund\", \"text\": \"The customer asks for a refund of the "
             "marmot subscription.\", \"metadata\": {\"queue\": \"billing\"}}\n"
             "\n"                                                                        // blank: passed over
             "{\"id\": \"tickets/2\", \"text\": \"The printer on floor two jams.\"\r\n"  // not JSON
             "{\"id\": \"tickets/3\", \"title\": \"No text\"}\n"                         // text missing
             "{\"id\": \"\", \"text\": \"An empty id.\"}\n"                              // unusable id
             "{\"id\": \"tickets/4\", \"text\": \"The dashboard of the ibex team is down.\", "
             "\"metadata\": {\"queue\": \"support\", \"priority\": 3}}\r\n");
  const std::string file_name = tickets.string();

  auto result = run_command(rag_query("upsert " + quoted(tickets) + kb));
  EXPECT_EQ(result.exit_code, 3) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("upserted 3 documents: 2 added, 0 updated, 0 unchanged, 3 failed"),
            std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stderr_text.find(file_name + ":3: document: not JSON"), std::string::npos) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(file_name + ":4: document.text"), std::string::npos) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(file_name + ":5: document id is empty"), std::string::npos) << result.stderr_text;

  result = run_command(rag_query("search marmot" + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto hits = json::parse(result.stdout_text).at("hits");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].at("document_uri"), "tickets/1");
  EXPECT_EQ(hits[0].at("metadata").at("queue"), "billing");
  result = run_command(rag_query("docs" + kb + " --filter '{\"equals\": {\"key\": \"priority\", \"value\": 3}}'"));
  EXPECT_NE(result.stdout_text.find("tickets/4"), std::string::npos) << result.stdout_text << result.stderr_text;

  // From stdin (the default input, and "-"), with --json: one unchanged, one changed, one new.
  const auto changes = dir / "changes.jsonl";
  write_file(changes,
             "{\"id\": \"tickets/1\", \"title\": \"Refund\", \"text\": \"The customer asks for a refund of the "
             "marmot subscription.\", \"metadata\": {\"queue\": \"billing\"}}\n"
             "{\"id\": \"tickets/4\", \"text\": \"The ibex dashboard is back.\", \"metadata\": {\"queue\": "
             "\"support\"}}\n"
             "{\"id\": \"tickets/5\", \"text\": \"A new ticket about the yak.\"}\n");
  result = run_command("cat " + quoted(changes) + " | " + rag_query("upsert -" + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  const auto report = json::parse(result.stdout_text);
  EXPECT_EQ(report.at("ragline_json"), 1);
  EXPECT_EQ(report.at("added"), 1);
  EXPECT_EQ(report.at("updated"), 1);
  EXPECT_EQ(report.at("unchanged"), 1);
  EXPECT_EQ(report.at("failures").size(), 0u);

  result = run_command(rag_query("upsert" + kb + " --json") + " < " + quoted(tickets));
  EXPECT_EQ(result.exit_code, 3);
  const auto again = json::parse(result.stdout_text);
  ASSERT_EQ(again.at("failures").size(), 3u);
  EXPECT_EQ(again.at("failures")[0].at("location"), "stdin:3");
  EXPECT_EQ(again.at("failures")[2].at("location"), "stdin:5");
  EXPECT_EQ(again.at("updated"), 1);  // tickets/4 back to its first text
  EXPECT_EQ(again.at("unchanged"), 1);

  result = run_command(rag_query("docs" + kb));
  for (const char* id : {"tickets/1", "tickets/4", "tickets/5"}) {
    EXPECT_NE(result.stdout_text.find(id), std::string::npos) << id << "\n" << result.stdout_text;
  }
  EXPECT_EQ(result.stdout_text.find("tickets/3"), std::string::npos);

  result = run_command(rag_query("upsert " + quoted(dir / "missing.jsonl") + kb));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("missing.jsonl"), std::string::npos) << result.stderr_text;
}

}  // namespace
