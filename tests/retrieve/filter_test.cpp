#include "retrieve/filter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "index/keyword_index.hpp"
#include "index/store.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline::retrieve {
namespace {

using ragline::testing::TempDir;
using ragline::testing::write_file;
using Names = std::set<std::string>;

// Records r1..r7 (JSONL, application/json) and one Markdown file with front matter.
constexpr const char* kRecords = R"(
{"_id": "r1", "title": "Annual Leave", "text": "Annual leave policy for staff.", "metadata": {"dept": "hr", "year": 2021, "tags": ["policy", "leave"], "remote": true, "code": "Ünïcode-é"}}
{"_id": "r2", "title": "Parental Leave", "text": "Parental leave policy.", "metadata": {"dept": "hr", "year": 2023, "tags": ["policy"], "remote": false}}
{"_id": "r3", "title": "Laptops", "text": "Laptop security policy.", "metadata": {"dept": "it", "year": 2023.5, "tags": ["security", "laptop"]}}
{"_id": "r4", "title": "Builds", "text": "Build pipeline rules.", "metadata": {"dept": "engineering", "year": "2024", "tags": []}}
{"_id": "r5", "title": "Odd", "text": "A record with a hostile department name.", "metadata": {"dept": "x' OR 1=1 --"}}
{"_id": "r6", "title": "Bare", "text": "A record without metadata."}
{"_id": "r7", "title": "Archive", "text": "Archived policy.", "metadata": {"dept": "Hr", "year": 2022, "tags": ["Policy-archive"], "remote": 1}}
)";
constexpr const char* kGuide = "---\ndept: handbook\n---\n# Guide to Leave\n\nHow to request leave.\n";

const Names kAll{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "guide"};

Names all_but(const Names& excluded) {
  Names names;
  for (const auto& name : kAll) {
    if (!excluded.count(name)) names.insert(name);
  }
  return names;
}

class FilterTest : public ::testing::Test {
 protected:
  explicit FilterTest(ChunkerConfig chunker = {}) {
    write_file(dir_ / "docs" / "records.jsonl", kRecords);
    write_file(dir_ / "docs" / "guide.md", kGuide);
    OpenOptions options;
    options.chunker = chunker;
    auto kb = KnowledgeBase::open(dir_ / "kb", options);
    const auto report = kb.ingest({dir_ / "docs"});
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.documents_added, 8u);
    store_.emplace(index::Store::open(dir_ / "kb", false, std::nullopt, std::nullopt));
    auto rows = store_->database().prepare(
        "SELECT c.id, d.uri FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.searchable = 1");
    while (rows.step()) {
      const std::string uri = rows.column_string(1);
      const auto hash = uri.rfind('#');
      const std::string name = hash != std::string::npos ? uri.substr(hash + 1) : "guide";
      name_of_chunk_[rows.column_int64(0)] = name;
      chunks_of_name_[name].insert(rows.column_int64(0));
    }
  }

  // The documents (by record id) whose chunks pass `json`; checks that every searchable chunk
  // of a passing document is there, and nothing else.
  Names matches(std::string_view json) {
    const auto ids = matching_chunks(store_->database(), Filter::parse(json)).ids();
    Names names;
    for (const auto id : ids) {
      const auto found = name_of_chunk_.find(id);
      if (found == name_of_chunk_.end()) {
        ADD_FAILURE() << "chunk " << id << " is not a searchable chunk";
        continue;
      }
      names.insert(found->second);
    }
    std::set<std::int64_t> expected_ids;
    for (const auto& name : names) expected_ids.insert(chunks_of_name_[name].begin(), chunks_of_name_[name].end());
    EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()), expected_ids) << json;
    return names;
  }

  std::string source_uri(const std::string& file) const { return file_uri(dir_ / "docs" / file); }

  TempDir dir_;
  std::optional<index::Store> store_;
  std::map<std::int64_t, std::string> name_of_chunk_;
  std::map<std::string, std::set<std::int64_t>> chunks_of_name_;
};

std::string error_of(std::string_view json) {
  try {
    Filter::parse(json);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    return error.what();
  }
  ADD_FAILURE() << "no error for " << json;
  return "";
}

TEST_F(FilterTest, EqualsMatchesTheExactValueOfTheSameTypeOnly) {
  // equals compares within one type: a string never equals a number, a number never a boolean.
  EXPECT_EQ(matches(R"({"equals": {"key": "dept", "value": "hr"}})"), (Names{"r1", "r2"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "dept", "value": "Hr"}})"), (Names{"r7"}));  // case-sensitive
  EXPECT_EQ(matches(R"({"equals": {"key": "year", "value": 2023}})"), (Names{"r2"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "year", "value": 2023.5}})"), (Names{"r3"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "year", "value": "2024"}})"), (Names{"r4"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "year", "value": 2024}})"), Names{});  // r4's year is a string
  EXPECT_EQ(matches(R"({"equals": {"key": "remote", "value": true}})"), (Names{"r1"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "remote", "value": false}})"), (Names{"r2"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "remote", "value": 1}})"), (Names{"r7"}));  // r7's remote is a number
  EXPECT_EQ(matches(R"({"equals": {"key": "dept", "value": "handbook"}})"), (Names{"guide"}));  // front matter
  EXPECT_EQ(matches(R"({"equals": {"key": "tags", "value": "policy"}})"), Names{});  // lists need listContains
  EXPECT_EQ(matches(R"({"equals": {"key": "missing", "value": "hr"}})"), Names{});
}

TEST_F(FilterTest, NotEqualsIsTheComplementOfEquals) {
  // notEquals matches every document equals does not: other values, other types, no such key.
  EXPECT_EQ(matches(R"({"notEquals": {"key": "dept", "value": "hr"}})"), all_but({"r1", "r2"}));
  EXPECT_EQ(matches(R"({"notEquals": {"key": "year", "value": 2024}})"), kAll);
  EXPECT_EQ(matches(R"({"notEquals": {"key": "remote", "value": true}})"), all_but({"r1"}));
  EXPECT_EQ(matches(R"({"notEquals": {"key": "missing", "value": 1}})"), kAll);
}

TEST_F(FilterTest, RangeOperatorsCompareNumbersNumericallyAndStringsByteWise) {
  // Numeric bounds never match string metadata; string bounds compare strings in byte order.
  EXPECT_EQ(matches(R"({"greaterThan": {"key": "year", "value": 2022}})"), (Names{"r2", "r3"}));
  EXPECT_EQ(matches(R"({"greaterThanOrEquals": {"key": "year", "value": 2022}})"), (Names{"r2", "r3", "r7"}));
  EXPECT_EQ(matches(R"({"lessThan": {"key": "year", "value": 2023}})"), (Names{"r1", "r7"}));
  EXPECT_EQ(matches(R"({"lessThanOrEquals": {"key": "year", "value": 2023}})"), (Names{"r1", "r2", "r7"}));
  EXPECT_EQ(matches(R"({"greaterThan": {"key": "year", "value": 2023.25}})"), (Names{"r3"}));
  EXPECT_EQ(matches(R"({"lessThan": {"key": "year", "value": "2025"}})"), (Names{"r4"}));
  // "Hr" < "engineering" < "handbook" < "hr" < "it" < "x' OR ..." in UTF-8 byte order.
  EXPECT_EQ(matches(R"({"greaterThan": {"key": "dept", "value": "hr"}})"), (Names{"r3", "r5"}));
  EXPECT_EQ(matches(R"({"lessThanOrEquals": {"key": "dept", "value": "handbook"}})"), (Names{"r4", "r7", "guide"}));
  EXPECT_EQ(matches(R"({"greaterThan": {"key": "remote", "value": 0}})"), (Names{"r7"}));  // booleans excluded
  EXPECT_EQ(matches(R"({"lessThan": {"key": "missing", "value": 1e9}})"), Names{});
}

TEST_F(FilterTest, InAndNotInMatchAnyListedValueOfTheSameType) {
  // in matches each listed value within its own type; notIn is its complement; [] is allowed.
  EXPECT_EQ(matches(R"({"in": {"key": "dept", "value": ["hr", "it"]}})"), (Names{"r1", "r2", "r3"}));
  EXPECT_EQ(matches(R"({"in": {"key": "year", "value": [2021, "2024", true, 2023.5]}})"), (Names{"r1", "r3", "r4"}));
  EXPECT_EQ(matches(R"({"in": {"key": "remote", "value": [true, 7]}})"), (Names{"r1"}));
  EXPECT_EQ(matches(R"({"in": {"key": "remote", "value": [false, 1]}})"), (Names{"r2", "r7"}));
  EXPECT_EQ(matches(R"({"notIn": {"key": "dept", "value": ["hr", "it"]}})"), all_but({"r1", "r2", "r3"}));
  EXPECT_EQ(matches(R"({"in": {"key": "dept", "value": []}})"), Names{});
  EXPECT_EQ(matches(R"({"notIn": {"key": "dept", "value": []}})"), kAll);
  EXPECT_EQ(matches(R"({"in": {"key": "tags", "value": ["policy"]}})"), Names{});  // lists need listContains
}

TEST_F(FilterTest, StartsWithAndStringContainsMatchSubstrings) {
  // startsWith: string values; stringContains: strings, and lists with a member containing it.
  EXPECT_EQ(matches(R"({"startsWith": {"key": "dept", "value": "h"}})"), (Names{"r1", "r2", "guide"}));
  EXPECT_EQ(matches(R"({"startsWith": {"key": "dept", "value": ""}})"), all_but({"r6"}));
  EXPECT_EQ(matches(R"({"startsWith": {"key": "code", "value": "Ünï"}})"), (Names{"r1"}));
  EXPECT_EQ(matches(R"({"startsWith": {"key": "code", "value": "Ü"}})"), (Names{"r1"}));
  EXPECT_EQ(matches(R"({"startsWith": {"key": "code", "value": "nï"}})"), Names{});
  EXPECT_EQ(matches(R"({"startsWith": {"key": "tags", "value": "pol"}})"), Names{});       // not on lists
  EXPECT_EQ(matches(R"({"startsWith": {"key": "year", "value": "20"}})"), (Names{"r4"}));  // string years only
  EXPECT_EQ(matches(R"({"stringContains": {"key": "dept", "value": "ine"}})"), (Names{"r4"}));
  EXPECT_EQ(matches(R"({"stringContains": {"key": "code", "value": "code-é"}})"), (Names{"r1"}));
  EXPECT_EQ(matches(R"({"stringContains": {"key": "tags", "value": "olic"}})"), (Names{"r1", "r2", "r7"}));
  EXPECT_EQ(matches(R"({"stringContains": {"key": "tags", "value": "\","}})"), Names{});  // not the JSON text
  EXPECT_EQ(matches(R"({"stringContains": {"key": "tags", "value": "y\",\"l"}})"), Names{});
  EXPECT_EQ(matches(R"({"stringContains": {"key": "dept", "value": "_"}})"), Names{});  // no LIKE wildcards
  EXPECT_EQ(matches(R"({"stringContains": {"key": "dept", "value": "%"}})"), Names{});
}

TEST_F(FilterTest, ListContainsMatchesAWholeListMember) {
  // listContains matches string lists holding exactly the value; plain strings never match.
  EXPECT_EQ(matches(R"({"listContains": {"key": "tags", "value": "policy"}})"), (Names{"r1", "r2"}));
  EXPECT_EQ(matches(R"({"listContains": {"key": "tags", "value": "laptop"}})"), (Names{"r3"}));
  EXPECT_EQ(matches(R"({"listContains": {"key": "tags", "value": "Policy"}})"), Names{});
  EXPECT_EQ(matches(R"({"listContains": {"key": "tags", "value": "polic"}})"), Names{});
  EXPECT_EQ(matches(R"({"listContains": {"key": "dept", "value": "hr"}})"), Names{});
}

TEST_F(FilterTest, AndAllAndOrAllNest) {
  // andAll intersects, orAll unites, at any nesting depth up to 32; one child is allowed.
  EXPECT_EQ(matches(R"({"andAll": [{"equals": {"key": "dept", "value": "hr"}},
                                    {"greaterThan": {"key": "year", "value": 2022}}]})"),
            (Names{"r2"}));
  EXPECT_EQ(matches(R"({"orAll": [{"equals": {"key": "dept", "value": "it"}},
                                   {"listContains": {"key": "tags", "value": "leave"}}]})"),
            (Names{"r1", "r3"}));
  EXPECT_EQ(matches(R"({"orAll": [{"andAll": [{"equals": {"key": "dept", "value": "hr"}},
                                              {"equals": {"key": "remote", "value": true}}]},
                                   {"andAll": [{"notEquals": {"key": "dept", "value": "hr"}},
                                               {"notIn": {"key": "_mime_type", "value": ["application/json"]}}]},
                                   {"equals": {"key": "year", "value": "2024"}}]})"),
            (Names{"r1", "r4", "guide"}));
  EXPECT_EQ(matches(R"({"andAll": [{"equals": {"key": "dept", "value": "it"}}]})"), (Names{"r3"}));
  EXPECT_EQ(matches(R"({"andAll": [{"equals": {"key": "dept", "value": "it"}},
                                    {"equals": {"key": "dept", "value": "hr"}}]})"),
            Names{});

  // 32 levels: orAll(andAll(orAll(... equals dept hr))) is the same set as its innermost leaf.
  std::string nested = R"({"equals": {"key": "dept", "value": "hr"}})";
  for (int level = 1; level < Filter::kMaxDepth; ++level) {
    nested = std::string("{\"") + (level % 2 ? "orAll" : "andAll") + "\": [" + nested + "]}";
  }
  EXPECT_EQ(matches(nested), (Names{"r1", "r2"}));
  nested = R"({"notEquals": {"key": "dept", "value": "hr"}})";
  for (int level = 1; level < Filter::kMaxDepth; ++level) {
    nested = R"({"andAll": [)" + nested + R"(, {"notEquals": {"key": "dept", "value": "it"}}]})";
  }
  EXPECT_EQ(matches(nested), all_but({"r1", "r2", "r3"}));
  EXPECT_NE(error_of(R"({"andAll": [)" + nested + "]}").find("deeper than 32"), std::string::npos);
}

TEST_F(FilterTest, LongListsOfConditionsAndValues) {
  // orAll over hundreds of children (more than one SQLite compound SELECT holds) and in lists
  // of 10,000 values compile and match.
  std::string children = R"({"equals": {"key": "dept", "value": "hr"}})";
  for (int index = 0; index < 700; ++index) {
    children += R"(, {"equals": {"key": "dept", "value": "d)" + std::to_string(index) + R"("}})";
  }
  EXPECT_EQ(matches(R"({"orAll": [)" + children + "]}"), (Names{"r1", "r2"}));
  EXPECT_EQ(matches(R"({"andAll": [)" + children + "]}"), Names{});
  std::string values = "\"it\"";
  for (std::size_t index = 1; index < Filter::kMaxInValues; ++index) values += "," + std::to_string(index);
  EXPECT_EQ(matches(R"({"in": {"key": "dept", "value": [)" + values + "]}}"), (Names{"r3"}));
  EXPECT_EQ(matches(R"({"notIn": {"key": "year", "value": [)" + values + "]}}"), all_but({"r1", "r2", "r7"}));
  EXPECT_NE(error_of(R"({"in": {"key": "dept", "value": [)" + values + ",0]}}").find("10001 items; at most 10000"),
            std::string::npos);
}

TEST_F(FilterTest, SystemKeysFilterOnTheDocumentItself) {
  // Source URI (both spellings), mime type and title work with the string operators; numbers,
  // booleans and listContains never match them.
  EXPECT_EQ(matches(R"({"equals": {"key": "_source_uri", "value": ")" + source_uri("records.jsonl") + "#r3\"}}"),
            (Names{"r3"}));
  EXPECT_EQ(
      matches(R"({"equals": {"key": "x-amz-bedrock-kb-source-uri", "value": ")" + source_uri("guide.md") + "\"}}"),
      (Names{"guide"}));
  EXPECT_EQ(matches(R"({"startsWith": {"key": "x-amz-bedrock-kb-source-uri", "value": ")" +
                    source_uri("records.jsonl") + "#\"}}"),
            all_but({"guide"}));
  EXPECT_EQ(matches(R"({"in": {"key": "_source_uri", "value": [")" + source_uri("records.jsonl") + "#r1\", \"" +
                    source_uri("records.jsonl") + "#r7\", 3]}}"),
            (Names{"r1", "r7"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "_mime_type", "value": "text/markdown"}})"), (Names{"guide"}));
  EXPECT_EQ(matches(R"({"notEquals": {"key": "_mime_type", "value": "text/markdown"}})"), all_but({"guide"}));
  EXPECT_EQ(matches(R"({"stringContains": {"key": "_title", "value": "Leave"}})"), (Names{"r1", "r2", "guide"}));
  EXPECT_EQ(matches(R"({"greaterThanOrEquals": {"key": "_title", "value": "P"}})"), (Names{"r2"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "_title", "value": 5}})"), Names{});
  EXPECT_EQ(matches(R"({"in": {"key": "_title", "value": [5, true]}})"), Names{});
  EXPECT_EQ(matches(R"({"listContains": {"key": "_title", "value": "Odd"}})"), Names{});
}

TEST_F(FilterTest, SqlLookingValuesAreTreatedAsPlainValues) {
  // Keys and values are bound parameters: quotes, comments and wildcards mean nothing.
  EXPECT_EQ(matches(R"({"equals": {"key": "dept", "value": "x' OR 1=1 --"}})"), (Names{"r5"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "dept", "value": "' OR '1'='1"}})"), Names{});
  EXPECT_EQ(matches(R"({"equals": {"key": "dept' OR '1'='1", "value": "hr"}})"), Names{});
  EXPECT_EQ(matches(R"({"stringContains": {"key": "dept", "value": "'"}})"), (Names{"r5"}));
  EXPECT_EQ(matches(R"({"equals": {"key": "_title\"); DROP TABLE chunks; --", "value": "x"}})"), Names{});
  const Filter filter = Filter::parse(R"({"equals": {"key": "dept", "value": "x' OR 1=1 --"}})");
  EXPECT_EQ(filter.sql().find("OR 1=1"), std::string::npos);
  EXPECT_EQ(filter.sql().find("dept"), std::string::npos);
  EXPECT_EQ(store_->database().query_int64("SELECT count(*) FROM chunks"),
            static_cast<std::int64_t>(name_of_chunk_.size()));
}

TEST_F(FilterTest, EqualsAndRangesUseTheMetadataIndex) {
  // The compiled SQL searches metadata through its (key, type, value) index instead of scanning
  // it, and finds the passing documents' searchable chunks through the partial chunk index.
  for (const char* json :
       {R"({"equals": {"key": "dept", "value": "hr"}})", R"({"greaterThan": {"key": "year", "value": 2022}})",
        R"({"lessThanOrEquals": {"key": "dept", "value": "m"}})", R"({"in": {"key": "dept", "value": ["hr", "it"]}})",
        R"({"startsWith": {"key": "dept", "value": "h"}})"}) {
    const Filter filter = Filter::parse(json);
    auto plan = store_->database().prepare("EXPLAIN QUERY PLAN " + filter.sql());
    filter.bind(plan);
    std::string details;
    while (plan.step()) details += plan.column_string(3) + "\n";
    EXPECT_NE(details.find("USING COVERING INDEX metadata_by_key_type_value (key=? AND type=? AND value"),
              std::string::npos)
        << json << "\n"
        << details;
    EXPECT_NE(details.find("chunks_searchable_by_document"), std::string::npos) << json << "\n" << details;
    EXPECT_EQ(details.find("SCAN metadata"), std::string::npos) << json << "\n" << details;
  }
}

TEST_F(FilterTest, FilteredKeywordSearchRanksOnlyAllowedChunks) {
  // BM25 with a filter returns the best allowed chunks, k of them even when the unfiltered top k
  // are all excluded, with the same scores as unfiltered.
  index::KeywordIndex keywords(store_->database(), store_->analyzer());
  const auto unfiltered = keywords.search("policy leave", 3);
  ASSERT_EQ(unfiltered.size(), 3u);
  Names unfiltered_names;
  for (const auto& hit : unfiltered) unfiltered_names.insert(name_of_chunk_[hit.chunk_id]);
  EXPECT_EQ(unfiltered_names, (Names{"r1", "r2", "guide"}));

  const auto allowed =
      matching_chunks(store_->database(), Filter::parse(R"({"notEquals": {"key": "dept", "value": "hr"}})"));
  const auto filtered = keywords.search("policy leave", 2, {}, &allowed);
  ASSERT_EQ(filtered.size(), 2u);
  const auto all_hits = keywords.search("policy leave", 100);
  for (const auto& hit : filtered) {
    EXPECT_TRUE(allowed.contains(hit.chunk_id));
    const auto same = std::find_if(all_hits.begin(), all_hits.end(),
                                   [&](const index::KeywordHit& other) { return other.chunk_id == hit.chunk_id; });
    ASSERT_NE(same, all_hits.end());
    EXPECT_DOUBLE_EQ(same->score, hit.score);
  }
  EXPECT_EQ(name_of_chunk_[filtered[0].chunk_id], "guide");  // the best chunk outside hr
}

class HierarchicalFilterTest : public FilterTest {
 protected:
  HierarchicalFilterTest() : FilterTest(hierarchical()) {}
  static ChunkerConfig hierarchical() {
    ChunkerConfig chunker;
    chunker.name = "hierarchical";
    chunker.parent_tokens = 16;
    chunker.child_tokens = 4;
    return chunker;
  }
};

TEST_F(HierarchicalFilterTest, OnlySearchableChunks) {
  // Parent chunks (searchable = 0) never pass.
  const Filter filter = Filter::parse(R"({"equals": {"key": "dept", "value": "hr"}})");
  auto statement = store_->database().prepare(filter.sql());
  filter.bind(statement);
  std::vector<std::int64_t> ids;
  while (statement.step()) ids.push_back(statement.column_int64(0));
  std::sort(ids.begin(), ids.end());
  std::vector<std::int64_t> expected;
  auto searchable = store_->database().prepare(
      "SELECT c.id FROM chunks c JOIN metadata m ON m.document_id = c.document_id "
      "WHERE m.key = 'dept' AND m.value = 'hr' AND c.searchable = 1 ORDER BY c.id");
  while (searchable.step()) expected.push_back(searchable.column_int64(0));
  EXPECT_EQ(ids, expected);
  EXPECT_GT(expected.size(), 2u);  // r1 and r2 were cut into several children
  EXPECT_GT(store_->database().query_int64("SELECT count(*) FROM chunks WHERE searchable = 0").value(), 0);
}

TEST(FilterParse, ErrorsNameThePathAndTheOperator) {
  // Every malformed filter is refused with the position of the problem.
  EXPECT_NE(
      error_of(R"({"andAll": [{"equals": {"key": "a", "value": 1}}, {"greaterThan": {"key": "y", "value": true}}]})")
          .find("filter.andAll[1].greaterThan: \"value\" must be a number or a string"),
      std::string::npos);
  const std::string unknown = error_of(R"({"orAll": [{"equal": {"key": "a", "value": 1}}]})");
  EXPECT_NE(unknown.find("filter.orAll[0]: unknown operator \"equal\"; expected one of equals, notEquals"),
            std::string::npos)
      << unknown;
  EXPECT_NE(unknown.find("listContains, andAll, orAll"), std::string::npos) << unknown;
  EXPECT_NE(error_of("[1, 2]").find("filter: must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of("\"equals\"").find("got a string"), std::string::npos);
  EXPECT_NE(error_of("{}").find("filter: must hold exactly one operator, got 0"), std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"key": "a", "value": 1}, "in": {"key": "a", "value": []}})")
                .find("filter: must hold exactly one operator, got 2 (\"equals\", \"in\")"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"key": "a", "value": 1)").find("filter: invalid JSON at byte 35"),
            std::string::npos)
      << error_of(R"({"equals": {"key": "a", "value": 1)");
  EXPECT_NE(error_of("").find("filter: invalid JSON at byte"), std::string::npos);
  EXPECT_NE(error_of(R"({"equals": ["a", 1]})").find("filter.equals: must be an object"), std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"value": 1}})").find("filter.equals: \"key\" must be a non-empty string"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"key": "", "value": 1}})").find("\"key\" must be a non-empty string"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"key": "a"}})").find("filter.equals: \"value\" is missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"key": "a", "value": 1, "type": "x"}})").find("unknown field \"type\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"notEquals": {"key": "a", "value": null}})")
                .find("filter.notEquals: \"value\" must be a string, a number or a boolean, got null"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"equals": {"key": "a", "value": ["x"]}})").find("got an array"), std::string::npos);
  EXPECT_NE(error_of(R"({"in": {"key": "a", "value": "x"}})").find("filter.in: \"value\" must be an array"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"notIn": {"key": "a", "value": ["x", {"y": 1}]}})")
                .find("filter.notIn: \"value\"[1] must be a string, a number or a boolean, got an object"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"startsWith": {"key": "a", "value": 1}})")
                .find("filter.startsWith: \"value\" must be a string, got a number"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"listContains": {"key": "a", "value": true}})").find("filter.listContains: \"value\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"stringContains": {"key": "a", "value": ["b"]}})").find("filter.stringContains:"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"andAll": []})").find("filter.andAll: must be an array of at least one filter, got an empty"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"orAll": {"equals": {"key": "a", "value": 1}}})").find("filter.orAll: must be an array"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"andAll": [{"orAll": [{"in": {"key": "a", "value": [[1]]}}]}]})")
                .find("filter.andAll[0].orAll[0].in: \"value\"[0]"),
            std::string::npos);
}

TEST(FilterParse, DescribeIsCompactAndComplete) {
  // describe() shows every condition, with long in lists shortened.
  EXPECT_EQ(Filter::parse(R"({"andAll": [{"equals": {"key": "dept", "value": "hr"}},
                                         {"orAll": [{"greaterThan": {"key": "year", "value": 2022}},
                                                    {"notIn": {"key": "tags list", "value": ["a", 1, true]}}]},
                                         {"listContains": {"key": "tags", "value": "x"}}]})")
                .describe(),
            R"((dept = "hr" AND (year > 2022 OR "tags list" not in ["a", 1, true]) AND tags listContains "x"))");
  EXPECT_EQ(Filter::parse(R"({"in": {"key": "n", "value": [1, 2, 3, 4, 5, 6, 7]}})").describe(),
            "n in [1, 2, 3, 4, 5, ... 2 more]");
  EXPECT_EQ(Filter::parse(R"({"startsWith": {"key": "_source_uri", "value": "file:///a"}})").describe(),
            R"(_source_uri startsWith "file:///a")");
}

}  // namespace
}  // namespace ragline::retrieve
