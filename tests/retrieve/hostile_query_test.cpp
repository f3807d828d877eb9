// Hostile queries: filters with unknown operators, wrong types, deep nesting, huge in-lists and
// SQL-looking strings; query text full of FTS5 syntax, control characters or a megabyte long;
// k of 0, huge or negative. Each gets a clear ragline::Error naming the field, or a correct
// answer: never a crash, and never SQLite's own error text.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::keyword_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

class HostileQuery : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(
        dir_ / "records.jsonl",
        R"({"id":"hr","text":"holiday policy for staff","metadata":{"dept":"hr","year":2021}})"
        "\n"
        R"({"id":"it","text":"laptop policy and drop tables","metadata":{"dept":"it","year":2024}})"
        "\n"
        R"({"id":"quote","text":"the '; DROP TABLE chunks; -- string as text","metadata":{"dept":"'; DROP TABLE chunks; --"}})"
        "\n");
    kb_.emplace(KnowledgeBase::open(dir_ / "kb"));
    ASSERT_TRUE(kb_->ingest({dir_ / "records.jsonl"}).ok());
  }

  std::vector<Hit> search(const std::string& text, const std::string& filter = "", std::size_t k = 10) {
    Query query = keyword_query(text, k);
    query.filter = filter;
    return kb_->retrieve(query);
  }

  // The message of the Error that `filter` raises, checked to be invalid_argument and free of
  // SQLite's wording.
  std::string filter_error(const std::string& filter) {
    try {
      search("policy", filter);
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::invalid_argument) << error.what();
      expect_no_sqlite_text(error.what());
      return error.what();
    }
    ADD_FAILURE() << "no error for filter " << filter.substr(0, 200);
    return "";
  }

  static void expect_no_sqlite_text(const std::string& message) {
    for (const char* sqlite_words :
         {"SQL logic error", "near \"", "fts5:", "no such column", "malformed MATCH", "unrecognized token"}) {
      EXPECT_EQ(message.find(sqlite_words), std::string::npos) << message;
    }
  }

  TempDir dir_;
  std::optional<KnowledgeBase> kb_;
};

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << text.substr(0, 500);
}

TEST_F(HostileQuery, FilterErrorsNameTheField) {
  // Unknown operators and operands of the wrong type are invalid_argument errors naming where.
  expect_contains(filter_error(R"({"like":{"key":"dept","value":"h%"}})"), "unknown operator");
  expect_contains(filter_error(R"({"equals":{"key":5,"value":"hr"}})"), "equals");
  expect_contains(filter_error(R"({"equals":{"key":"dept"}})"), "value");
  expect_contains(filter_error(R"({"greaterThan":{"key":"year","value":true}})"), "greaterThan");
  expect_contains(filter_error(R"({"in":{"key":"dept","value":"hr"}})"), "in");
  expect_contains(filter_error(R"({"andAll":{}})"), "andAll");
  expect_contains(filter_error(R"({"andAll":[]})"), "andAll");
  expect_contains(filter_error(R"({"equals":{"key":"dept","value":{"nested":1}}})"), "value");
  expect_contains(filter_error(R"({"equals":{"key":"dept","value":"hr"},"in":{"key":"x","value":[]}})"), "one");
  expect_contains(filter_error(R"([1,2,3])"), "object");
  expect_contains(filter_error(R"({"equals":)"), "JSON");
  expect_contains(filter_error(std::string("{\"equals\":{\"key\":\"dept\",\"value\":\"h\0r\"}}", 36) + "\xff"), "");
}

TEST_F(HostileQuery, DeepNestingAndHugeListsAreRefusedWithoutCrashing) {
  // 10k nested andAll, 10^5 nested JSON arrays, and an in-list of 10^6 values.
  std::string deep;
  for (int level = 0; level < 10000; ++level) deep += R"({"andAll":[)";
  deep += R"({"equals":{"key":"dept","value":"hr"}})";
  for (int level = 0; level < 10000; ++level) deep += "]}";
  expect_contains(filter_error(deep), "deeper");

  const std::string arrays = std::string(100000, '[') + std::string(100000, ']');
  filter_error(arrays);

  std::string huge_in = R"({"in":{"key":"dept","value":[)";
  for (int value = 0; value < 1000000; ++value) huge_in += (value ? ",\"v" : "\"v") + std::to_string(value) + "\"";
  huge_in += "]}}";
  expect_contains(filter_error(huge_in), "10000");
}

TEST_F(HostileQuery, SqlLookingStringsAreValuesNotSql) {
  // Bound parameters: the string matches the one document that has it and the schema is intact.
  const std::string injection = "'; DROP TABLE chunks; --";
  auto hits = search("string", R"({"equals":{"key":"dept","value":"'; DROP TABLE chunks; --"}})");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].document_uri.ends_with("#quote"));
  EXPECT_TRUE(search("policy", R"({"equals":{"key":"'; DROP TABLE chunks; --","value":"x"}})").empty());
  EXPECT_TRUE(search("policy", R"({"startsWith":{"key":"dept","value":"%"}})").empty());  // LIKE wildcards escaped
  EXPECT_EQ(search("policy", R"({"stringContains":{"key":"dept","value":"_"}})").size(), 0u);
  EXPECT_EQ(search("'; DROP TABLE chunks; --").size(), 2u);  // "drop", "table", "chunks" are plain terms
  EXPECT_EQ(kb_->stats().chunks, 3);
  ragline::testing::expect_kb_consistent(dir_ / "kb");
}

TEST_F(HostileQuery, Fts5SyntaxInQueryTextIsPlainText) {
  // Quotes, NEAR(, *, ^, -, AND/OR/NOT and column filters are words or separators, never FTS5
  // operators: every query answers, and the words in it still match.
  for (const std::string text : {"\"",
                                 "\"policy",
                                 "policy\"",
                                 "NEAR(policy laptop",
                                 "NEAR(policy, 2)",
                                 "polic*",
                                 "*",
                                 "^policy",
                                 "-policy",
                                 "policy AND OR NOT",
                                 "AND",
                                 "OR",
                                 "NOT policy",
                                 "text:policy",
                                 "title:x text:",
                                 "{text title}: policy",
                                 "policy + laptop",
                                 "(policy",
                                 ")",
                                 "\"\"\"\"",
                                 ":",
                                 "-",
                                 "^",
                                 "NEAR",
                                 "chunk_keywords:policy",
                                 "rank:1",
                                 "policy'",
                                 "policy\\",
                                 "policy;--",
                                 "%_",
                                 "\\x00"}) {
    SCOPED_TRACE(text);
    std::vector<Hit> hits;
    try {
      hits = search(text);
    } catch (const Error& error) {
      ADD_FAILURE() << error.what();
      continue;
    }
    for (const auto& hit : hits) EXPECT_FALSE(hit.document_uri.empty());
  }
  EXPECT_EQ(search("NOT policy").size(), 2u);    // "not" is a stopword; "policy" matches both
  EXPECT_EQ(search("title:laptop").size(), 1u);  // no column filter: "title" is a word no chunk has
}

TEST_F(HostileQuery, ControlCharactersAndAMegabyteOfText) {
  std::string controls;
  for (int c = 0; c < 32; ++c) controls += static_cast<char>(c);
  controls += "policy\x7f\xff\xfe";
  EXPECT_EQ(search(controls).size(), 2u);

  std::string megabyte;
  while (megabyte.size() < (1u << 20)) megabyte += "laptop zyzzyva qwerty ";
  Query query(megabyte, 5);  // hybrid: the dense side embeds the megabyte too
  const auto hits = kb_->retrieve(query);
  ASSERT_FALSE(hits.empty());
  EXPECT_TRUE(hits[0].document_uri.ends_with("#it"));
}

TEST_F(HostileQuery, KOfZeroOrHuge) {
  EXPECT_TRUE(search("policy", "", 0).empty());
  try {
    search("policy", "", std::numeric_limits<std::size_t>::max());
    FAIL() << "no error for k = SIZE_MAX";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    expect_contains(error.what(), "k is 18446744073709551615");
  }
}

TEST_F(HostileQuery, NegativeOrHugeKThroughTheCli) {
  // The CLI refuses them before any search, naming -k.
  const std::string query = std::string(RAGLINE_RAG_QUERY) + " query --kb '" + (dir_ / "kb").string() + "' policy -k ";
  for (const std::string k : {"-1", "0", "18446744073709551616", "abc"}) {
    const auto result = run_command(query + k);
    EXPECT_NE(result.exit_code, 0) << k;
    expect_contains(result.stderr_text, "-k");
  }
  const auto ok = run_command(query + "1");
  EXPECT_EQ(ok.exit_code, 0) << ok.stderr_text;
}

}  // namespace
}  // namespace ragline
