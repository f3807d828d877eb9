// rag-query --json of every command prints the library's JSON ("ragline_json": 1), and
// --version prints the library's version.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ragline/version.hpp"
#include "support/test_support.hpp"

namespace {

using nlohmann::json;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// Runs a rag-query command that must exit `exit_code` and print one JSON document.
json run_json(const std::string& arguments, int exit_code = 0) {
  const auto result = run_command(rag_query(arguments));
  EXPECT_EQ(result.exit_code, exit_code) << arguments << "\n" << result.stderr_text;
  json parsed;
  EXPECT_NO_THROW(parsed = json::parse(result.stdout_text)) << arguments << "\n" << result.stdout_text;
  EXPECT_EQ(parsed.value("ragline_json", 0), 1) << arguments << "\n" << result.stdout_text;
  return parsed;
}

TEST(RagQueryJson, InvalidUtf8InQueriesAndFileNamesStillGivesValidJson) {
  // Issue 12 D8: a query with invalid UTF-8 and Latin-1 file names (one ingested, one failing)
  // give valid JSON, invalid bytes as U+FFFD, and the ingest report keeps the failure.
  TempDir dir;
  write_file(dir / "docs" / "caf\xE9.txt", "caf\xE9 au lait is served at the counter\n");
  write_file(dir / "docs" / "bad\xE9.jsonl", "{not json}\n");
  const std::string kb = " --kb " + quoted(dir / "kb");

  const json ingest = run_json("ingest " + quoted(dir / "docs") + kb + " --json -q", 3);
  EXPECT_EQ(ingest.at("added"), 1);
  ASSERT_EQ(ingest.at("failures").size(), 1u);
  EXPECT_NE(ingest.at("failures").at(0).at("location").get<std::string>().find("bad\xEF\xBF\xBD.jsonl"),
            std::string::npos);

  const json query = run_json("query \"$(printf 'caf\\377\\376 counter')\"" + kb + " --json");
  EXPECT_EQ(query.at("query"), "caf\xEF\xBF\xBD\xEF\xBF\xBD counter");
  ASSERT_FALSE(query.at("hits").empty());
  EXPECT_NE(query.at("hits").at(0).at("document_uri").get<std::string>().find("caf%E9.txt"), std::string::npos);
}

TEST(RagQueryJson, EveryCommandPrintsVersionedLibraryJson) {
  // ingest, search, query, prompt, stats, docs, check, repair and embed with --json.
  TempDir dir;
  write_file(dir / "docs" / "a.md", "# Gliders\n\n## Launch\n\nWinch launches lift gliders to 400 metres.\n");
  write_file(dir / "docs" / "bad.jsonl", "{not json}\n");
  const std::string kb = " --kb " + quoted(dir / "kb");

  const json ingest = run_json("ingest " + quoted(dir / "docs") + kb + " --json -q", 3);
  EXPECT_EQ(ingest.at("added"), 1);
  EXPECT_EQ(ingest.at("ok"), false);

  const json search = run_json("search 'winch launch'" + kb + " --json");
  EXPECT_EQ(search.at("query"), "winch launch");
  EXPECT_EQ(search.at("hits").at(0).at("rank"), 1);
  EXPECT_EQ(search.at("explanation").at("mode"), "bm25");

  const json query = run_json("query 'winch launch'" + kb + " --mode dense -k 1 --json");
  EXPECT_EQ(query.at("explanation").at("mode"), "dense");
  EXPECT_EQ(query.at("hits").size(), 1u);

  const json prompt = run_json("prompt 'How are gliders launched?'" + kb + " --json");
  EXPECT_EQ(prompt.at("sources").at(0).at("number"), 1);

  const json stats = run_json("stats" + kb + " --json");
  EXPECT_EQ(stats.at("documents"), 1);
  EXPECT_EQ(stats.at("vector_index_config").at("type"), "flat");

  const json docs = run_json("docs" + kb + " --json");
  EXPECT_EQ(docs.at("documents").size(), 1u);

  const json check = run_json("check" + kb + " --json");
  EXPECT_EQ(check.at("ok"), true);

  const json repair = run_json("repair" + kb + " --json");
  EXPECT_EQ(repair.at("after").at("ok"), true);
  EXPECT_FALSE(repair.at("actions").empty());

  const json embed = run_json("embed winch cable --json");
  EXPECT_EQ(embed.at("vectors").size(), 2u);
}

TEST(RagQueryJson, VersionFlag) {
  // --version prints "rag-query <library version>" and exits 0, with or without a subcommand.
  const auto result = run_command(rag_query("--version"));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, std::string("rag-query ") + ragline::version() + "\n");
  EXPECT_EQ(std::string(ragline::version()), RAGLINE_VERSION_STRING);
}

}  // namespace
