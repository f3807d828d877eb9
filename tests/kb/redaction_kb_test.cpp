#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "index/keyword_index.hpp"
#include "index/sqlite.hpp"
#include "index/store.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::keyword_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;
namespace fs = std::filesystem;

const std::vector<std::string> kPii = {
    "john.doe@example.com", "jane@corp.example.org",       "415-555-2671", "4111 1111 1111 1111",
    "123-45-6789",          "DE89 3704 0044 0532 0130 00", "192.168.7.21", "EMP-48213"};

void write_corpus(const fs::path& dir) {
  write_file(dir / "hr.md",
             "# Contact john.doe@example.com\n\nThe payroll desk answers at 415-555-2671. Employee EMP-48213 "
             "pays with card 4111 1111 1111 1111.\n\n## Tax\n\nHis SSN is 123-45-6789 and salary goes to IBAN "
             "DE89 3704 0044 0532 0130 00.\n");
  write_file(dir / "ops.txt", "The build server 192.168.7.21 mails john.doe@example.com on failures.\n");
  write_file(dir / "people.jsonl",
             "{\"id\": \"p1\", \"title\": \"Jane\", \"text\": \"Gliders and winches.\", "
             "\"metadata\": {\"owner\": \"jane@corp.example.org\"}}\n");
}

RedactionConfig config_with_pattern() {
  RedactionConfig config;
  config.patterns = {{"EMPID", "EMP-\\d{5}"}};
  return config;
}

// Equal up to the order of types (the KB records them sorted).
bool same_config(std::optional<RedactionConfig> a, RedactionConfig b) {
  if (!a) return false;
  std::sort(a->types.begin(), a->types.end());
  std::sort(b.types.begin(), b.types.end());
  return *a == b;
}

// Every string column of the tables that hold document content, as one text.
std::string all_stored_text(const fs::path& kb_dir) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false, /*read_only=*/true);
  std::string text;
  for (const char* sql : {"SELECT text || ' ' || heading_path FROM chunks", "SELECT title FROM documents",
                          "SELECT CAST(value AS TEXT) FROM metadata"}) {
    auto statement = database.prepare(sql);
    while (statement.step()) text += statement.column_string(0) + "\n";
  }
  return text;
}

TEST(RedactionKb, IngestRedactsBeforeIndexingAndRecordsTheConfig) {
  // End to end: no PII in chunks, titles, metadata or the FTS5 index; counts; the recorded config
  // survives reopening; queries are redacted; a later ingest without the option still redacts.
  TempDir dir;
  write_corpus(dir / "docs");
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    IngestOptions options;
    options.redaction = config_with_pattern();
    const auto report = kb.ingest({dir / "docs"}, options);
    ASSERT_TRUE(report.ok()) << report.failures[0].location << ": " << report.failures[0].reason;
    EXPECT_EQ(report.documents_added, 3u);
    // hr.md: e-mail in the title and heading, phone, card, SSN, IBAN, EMPID; ops.txt: IP, e-mail;
    // people.jsonl: the owner metadata.
    const std::map<std::string, std::size_t> expected = {{"email", 4}, {"phone", 1}, {"card", 1}, {"ssn", 1},
                                                         {"iban", 1},  {"ip", 1},    {"EMPID", 1}};
    EXPECT_EQ(report.redactions, expected);
    EXPECT_TRUE(report.warnings.empty());
  }
  const std::string stored = all_stored_text(dir / "kb");
  for (const auto& pii : kPii) EXPECT_EQ(stored.find(pii), std::string::npos) << pii;
  for (const char* placeholder : {"[EMAIL]", "[PHONE]", "[CARD]", "[SSN]", "[IBAN]", "[IP]", "[EMPID]"}) {
    EXPECT_NE(stored.find(placeholder), std::string::npos) << placeholder;
  }
  {
    // The FTS5 index itself, searched without the KB's query redaction, knows none of it.
    auto store = index::Store::open(dir / "kb", false, index::StoreSettings{});
    index::KeywordIndex keywords(store.database(), store.analyzer());
    for (const char* raw :
         {"john.doe@example.com", "john", "doe", "example", "corp", "2671", "6789", "48213", "192.168.7.21", "DE89"}) {
      EXPECT_TRUE(keywords.search(raw, 10).empty()) << raw;
    }
    EXPECT_EQ(keywords.search("[EMAIL]", 10).size(), 3u);  // hr.md has two chunks with it (title), ops.txt one
  }

  auto kb = KnowledgeBase::open(dir / "kb");  // reopened: the config comes from kb.sqlite
  const auto stats = kb.stats();
  ASSERT_TRUE(stats.redaction.has_value());
  EXPECT_EQ(stats.redaction->patterns, config_with_pattern().patterns);
  EXPECT_EQ(stats.redaction->types.size(), 6u);

  // Searching for the placeholder finds redacted chunks; a raw address in a query is redacted
  // first, so it finds the same chunks (any address), not nothing and not a leak.
  const auto by_placeholder = kb.retrieve(keyword_query("[EMAIL] failures", 5));
  ASSERT_FALSE(by_placeholder.empty());
  EXPECT_NE(by_placeholder[0].text.find("[EMAIL] on failures"), std::string::npos);
  const auto by_address = kb.retrieve(keyword_query("someone.else@elsewhere.net failures", 5));
  ASSERT_EQ(by_address.size(), by_placeholder.size());
  for (std::size_t i = 0; i < by_address.size(); ++i) EXPECT_EQ(by_address[i].chunk_id, by_placeholder[i].chunk_id);
  EXPECT_EQ(kb.query_vector("mail 10.1.2.3"), kb.query_vector("mail [IP]"));
  EXPECT_TRUE(kb.retrieve(keyword_query("48213", 5)).empty());
  EXPECT_FALSE(kb.retrieve(keyword_query("EMP-99999", 5)).empty());  // the user pattern applies to queries too

  // A second ingest without the option keeps redacting; unchanged documents are skipped.
  write_file(dir / "docs" / "new.txt", "Escalations go to ops-lead@example.com or +44 20 7946 0958.\n");
  const auto second = kb.ingest({dir / "docs"});
  EXPECT_TRUE(second.ok());
  EXPECT_EQ(second.documents_added, 1u);
  EXPECT_EQ(second.documents_unchanged, 3u);
  const std::map<std::string, std::size_t> expected_second = {{"email", 1}, {"phone", 1}};
  EXPECT_EQ(second.redactions, expected_second);
  const std::string after_second = all_stored_text(dir / "kb");
  EXPECT_EQ(after_second.find("ops-lead@example.com"), std::string::npos);
  EXPECT_EQ(after_second.find("7946"), std::string::npos);
  testing::expect_kb_consistent(dir / "kb");
}

TEST(RedactionKb, ChangedConfigReplacesTheRecordedOneAndReingests) {
  // An explicitly different config replaces the recorded one with a warning, and since the
  // content hash covers the config, every document is re-ingested under it.
  TempDir dir;
  write_corpus(dir / "docs");
  auto kb = KnowledgeBase::open(dir / "kb");
  IngestOptions options;
  options.redaction = RedactionConfig{};
  options.redaction->types = {"email"};
  auto report = kb.ingest({dir / "docs"}, options);
  ASSERT_TRUE(report.ok());
  EXPECT_NE(all_stored_text(dir / "kb").find("415-555-2671"), std::string::npos);  // phones were not asked for

  report = kb.ingest({dir / "docs"}, options);  // same config: nothing to do
  EXPECT_EQ(report.documents_unchanged, 3u);
  EXPECT_TRUE(report.warnings.empty());

  options.redaction = config_with_pattern();
  report = kb.ingest({dir / "docs"}, options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.documents_updated, 3u);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("replaced"), std::string::npos) << report.warnings[0];
  const std::string stored = all_stored_text(dir / "kb");
  for (const auto& pii : kPii) EXPECT_EQ(stored.find(pii), std::string::npos) << pii;
  EXPECT_TRUE(same_config(kb.stats().redaction, config_with_pattern()));

  // A bad pattern fails before anything is written, naming the pattern.
  {
    IngestOptions bad = options;
    bad.redaction->patterns = {{"BAD", "(["}};
    try {
      kb.ingest({dir / "docs"}, bad);
      FAIL() << "a bad pattern was accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("BAD"), std::string::npos) << error.what();
    }
    EXPECT_TRUE(same_config(kb.stats().redaction, config_with_pattern()));
  }

  // An explicit empty config turns redaction off: a warning, no recorded config, raw text again.
  options.redaction = RedactionConfig{{}, {}};
  report = kb.ingest({dir / "docs"}, options);
  EXPECT_EQ(report.documents_updated, 3u);
  EXPECT_EQ(report.warnings.size(), 1u);
  EXPECT_FALSE(kb.stats().redaction.has_value());
  EXPECT_NE(all_stored_text(dir / "kb").find("john.doe@example.com"), std::string::npos);
  EXPECT_FALSE(kb.retrieve(keyword_query("john.doe@example.com", 5)).empty());
  report = kb.ingest({dir / "docs"});
  EXPECT_EQ(report.documents_unchanged, 3u);
  EXPECT_TRUE(report.redactions.empty());
}

TEST(RedactionKb, BadPatternWritesNothing) {
  // On a new KB, a bad pattern fails before any document or config is written.
  TempDir dir;
  write_corpus(dir / "docs");
  auto kb = KnowledgeBase::open(dir / "kb");
  IngestOptions options;
  options.redaction = config_with_pattern();
  options.redaction->patterns = {{"BAD", "(["}};
  try {
    kb.ingest({dir / "docs"}, options);
    FAIL() << "a bad pattern was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("BAD"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(kb.stats().redaction.has_value());
  EXPECT_TRUE(kb.documents().empty());
}

TEST(RedactionKb, WithoutRedactionNothingChanges) {
  // A KB that never redacted stores text as is and reports no redactions or config.
  TempDir dir;
  write_corpus(dir / "docs");
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto report = kb.ingest({dir / "docs"});
  EXPECT_TRUE(report.redactions.empty());
  EXPECT_FALSE(kb.stats().redaction.has_value());
  EXPECT_NE(all_stored_text(dir / "kb").find("john.doe@example.com"), std::string::npos);
  EXPECT_FALSE(kb.retrieve(keyword_query("john.doe@example.com", 5)).empty());
}

TEST(RedactionKb, CommandLine) {
  // rag-query ingest --redact --redact-pattern: counts in the JSON report, config in stats, and
  // a bad pattern is a clear error.
  TempDir dir;
  write_corpus(dir / "docs");
  const std::string rag_query = std::string(RAGLINE_RAG_QUERY) + " ";
  const std::string kb = "'" + (dir / "kb").string() + "'";
  auto result = run_command(rag_query + "ingest '" + (dir / "docs").string() + "' --kb " + kb +
                            " --redact --redact-pattern 'EMPID=EMP-\\d{5}' --json -q");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto report = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(report.at("redactions").at("email"), 4);
  EXPECT_EQ(report.at("redactions").at("EMPID"), 1);

  result = run_command(rag_query + "stats --kb " + kb + " --json");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto stats = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(stats.at("redaction").at("patterns")[0].at("name"), "EMPID");
  EXPECT_EQ(stats.at("redaction").at("types").size(), 6u);

  result = run_command(rag_query + "search 'john.doe@example.com' --kb " + kb + " --json");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto hits = nlohmann::json::parse(result.stdout_text).at("hits");
  ASSERT_FALSE(hits.empty());  // found through [EMAIL]
  EXPECT_EQ(hits.dump().find("john.doe"), std::string::npos);

  result = run_command(rag_query + "ingest '" + (dir / "docs").string() + "' --kb " + kb +
                       " --redact-types email,phone --redact-pattern 'X=a(' -q");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("redaction pattern X"), std::string::npos) << result.stderr_text;
}

}  // namespace
}  // namespace ragline
