#include "bench/fts5_baseline.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace {

using ragline::bench::fts5_match_expression;
using ragline::bench::Fts5Baseline;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// Words are OR-ed, each a quoted FTS5 string.
TEST(Fts5MatchExpression, WordsAreQuotedAndOred) {
  EXPECT_EQ(fts5_match_expression("shock waves"), "\"shock\" OR \"waves\"");
  EXPECT_EQ(fts5_match_expression("  boundary\tlayer\n"), "\"boundary\" OR \"layer\"");
  EXPECT_EQ(fts5_match_expression("mach 2"), "\"mach\" OR \"2\"");
}

// Quotes in the query are separators, so a user's "phrase" never becomes FTS5 phrase syntax and
// can never close the quoted string early.
TEST(Fts5MatchExpression, QuotesInTheQueryCannotBreakOut) {
  EXPECT_EQ(fts5_match_expression("\"boundary layer\""), "\"boundary\" OR \"layer\"");
  EXPECT_EQ(fts5_match_expression("a\"\" OR b"), "\"a\" OR \"OR\" OR \"b\"");
  EXPECT_EQ(fts5_match_expression("it's"), "\"it\" OR \"s\"");
}

// ASCII punctuation splits words; FTS5 operators and special characters end up inside strings.
TEST(Fts5MatchExpression, PunctuationSplitsAndOperatorsAreQuoted) {
  EXPECT_EQ(fts5_match_expression("what is the heat-transfer (rate)?"),
            "\"what\" OR \"is\" OR \"the\" OR \"heat\" OR \"transfer\" OR \"rate\"");
  EXPECT_EQ(fts5_match_expression("title:flow NOT NEAR(x y) a* ^b"),
            "\"title\" OR \"flow\" OR \"NOT\" OR \"NEAR\" OR \"x\" OR \"y\" OR \"a\" OR \"b\"");
}

// Non-ASCII bytes stay inside the word; unicode61 splits and folds them inside the string.
TEST(Fts5MatchExpression, NonAsciiStaysInsideWords) {
  EXPECT_EQ(fts5_match_expression("caf\xC3\xA9 na\xC3\xAFve"), "\"caf\xC3\xA9\" OR \"na\xC3\xAFve\"");
  EXPECT_EQ(fts5_match_expression("x\xE2\x80\x94y"), "\"x\xE2\x80\x94y\"");  // em dash
}

// No words, no expression: FTS5 would reject an empty MATCH.
TEST(Fts5MatchExpression, EmptyOrPunctuationOnlyQueryHasNoExpression) {
  EXPECT_EQ(fts5_match_expression(""), "");
  EXPECT_EQ(fts5_match_expression("   \t\n"), "");
  EXPECT_EQ(fts5_match_expression("?!\"'-- ()"), "");
}

class Fts5BaselineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "corpus.jsonl",
               "{\"_id\": \"d1\", \"title\": \"Shock waves\", \"text\": \"shock waves in supersonic flow\"}\n"
               "\n"
               "{\"_id\": 2, \"title\": \"Boundary layers\", \"text\": \"the boundary layer on a flat plate\"}\n"
               "{\"_id\": \"d3\", \"text\": \"heat transfer in a caf\xC3\xA9\", \"metadata\": {}}\n"
               "{\"_id\": \"d4\", \"title\": null, \"text\": \"or and not near\"}\n");
    baseline_.ingest(dir_ / "corpus.jsonl");
  }

  std::vector<std::string> search_ids(const std::string& query, std::size_t limit = 100) {
    std::vector<std::string> ids;
    for (const std::int64_t rowid : baseline_.search(query, limit)) ids.push_back(baseline_.document_id(rowid));
    return ids;
  }

  TempDir dir_;
  Fts5Baseline baseline_;
};

// Rowids map back to the BEIR ids (integers as their decimal text); bm25() orders the rows.
TEST_F(Fts5BaselineTest, RanksRowsAndMapsRowidsToIds) {
  EXPECT_EQ(baseline_.documents(), 4u);
  EXPECT_EQ(search_ids("shock"), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(search_ids("boundary layers?"), (std::vector<std::string>{"2"}));
  // Porter stemming: "layering" and "layer" share a stem; remove_diacritics folds "cafe".
  EXPECT_EQ(search_ids("layering"), (std::vector<std::string>{"2"}));
  EXPECT_EQ(search_ids("cafe"), (std::vector<std::string>{"d3"}));
  // d1 matches both words, d2 one of them: OR ranks by bm25(), best first.
  const std::vector<std::string> ranked = search_ids("supersonic flow plate");
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked.front(), "d1");
  EXPECT_EQ(search_ids("in", 1).size(), 1u);
  EXPECT_THROW((void)baseline_.document_id(5), ragline::Error);
}

// Queries made of quotes, punctuation or FTS5 keywords run without an error; an empty one
// matches nothing.
TEST_F(Fts5BaselineTest, AwkwardQueriesMatchWithoutErrors) {
  EXPECT_TRUE(search_ids("").empty());
  EXPECT_TRUE(search_ids("?!\"").empty());
  EXPECT_EQ(search_ids("\"shock\" \"waves"), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(search_ids("OR"), (std::vector<std::string>{"d4"}));
  EXPECT_EQ(search_ids("NEAR(not"), (std::vector<std::string>{"d4"}));
  EXPECT_TRUE(search_ids("x\xE2\x80\x94").empty());
  EXPECT_TRUE(search_ids("\xE2\x80\x94").empty());
  // The statement stays usable after all of these.
  EXPECT_EQ(search_ids("shock"), (std::vector<std::string>{"d1"}));
}

// A broken record is an error naming the file and line.
TEST(Fts5Baseline, BadCorpusLineNamesFileAndLine) {
  TempDir dir;
  write_file(dir / "corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"x\"}\n{\"_id\": \"d2\", \"text\": 5}\n");
  Fts5Baseline baseline;
  try {
    baseline.ingest(dir / "corpus.jsonl");
    ADD_FAILURE() << "expected ragline::Error";
  } catch (const ragline::Error& error) {
    EXPECT_EQ(error.kind(), ragline::ErrorKind::format);
    EXPECT_NE(std::string(error.what()).find("corpus.jsonl:2: \"text\" must be a string"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(baseline.documents(), 0u);
}

}  // namespace
