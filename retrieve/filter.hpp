#pragma once
// Filter: a metadata filter in the JSON language of Amazon Bedrock Knowledge Bases, compiled to
// one parameterised SQL statement over kb.sqlite (retrieve/README.md has the full reference).
//
//   {"andAll": [{"equals": {"key": "dept", "value": "hr"}},
//               {"greaterThan": {"key": "year", "value": 2022}}]}
//
// Operators: equals, notEquals, greaterThan, greaterThanOrEquals, lessThan, lessThanOrEquals,
// in, notIn, startsWith, stringContains, listContains, andAll, orAll. Metadata belongs to
// documents, so the filter is evaluated on document ids (through the metadata (key, value)
// index) and only the final step maps documents to their searchable chunks.
//
// Semantics in brief (README for the rest):
//  - A comparison matches only metadata of the value's own type: a number never equals or
//    compares with a string, a boolean only with a boolean. greaterThan & co. take numbers
//    (numeric order) or strings (byte-wise UTF-8 order, e.g. ISO dates).
//  - A document without the key matches no positive operator; notEquals and notIn are the exact
//    complements of equals and in, so they match documents without the key (or with another type).
//  - andAll / orAll take one or more filters (Bedrock requires two or more).
//  - System keys, strings taken from the document itself: "x-amz-bedrock-kb-source-uri" and
//    "_source_uri" (URI), "_mime_type", "_title". They shadow metadata keys of the same name.
//
// A Filter is an immutable value: parse once, run on any connection to any KB. Thread safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "index/chunk_id_set.hpp"
#include "index/sqlite.hpp"

namespace ragline::retrieve {

class Filter {
 public:
  static constexpr int kMaxDepth = 32;                // filter objects on one path from the root
  static constexpr std::size_t kMaxInValues = 10000;  // values of one in / notIn list

  // Parses and compiles. Throws Error(invalid_argument) naming the position and the problem,
  // e.g. `filter.andAll[1].greaterThan: "value" must be a number or a string`: unknown
  // operators (the valid ones are listed), objects without exactly one operator, bad operands,
  // nesting deeper than kMaxDepth, in lists longer than kMaxInValues, non-object input, and JSON
  // syntax errors (with their byte offset).
  static Filter parse(std::string_view json_text);

  // A statement whose rows are the ids (column 0, in no particular order) of the searchable chunks
  // (chunks.searchable = 1) passing the filter. Every value is a bound parameter; bind() binds
  // them all (indices 1..n, nothing else is bound).
  const std::string& sql() const { return sql_; }
  // The same over documents: rows are the ids of the documents passing the filter, whether or
  // not they have searchable chunks (KnowledgeBase::documents, remove_where). Bound like sql().
  const std::string& document_sql() const { return document_sql_; }
  void bind(index::Statement& statement) const;

  // Compact human-readable form for --explain, e.g. `(dept = "hr" AND year > 2022)`.
  std::string describe() const { return description_; }

 private:
  using Parameter = std::variant<std::string, double, std::int64_t>;
  friend class FilterCompiler;
  Filter() = default;

  std::string sql_;
  std::string document_sql_;
  std::vector<Parameter> parameters_;
  std::string description_;
};

// Runs the filter on `database`: the ids of the passing searchable chunks. Reads in whatever
// transaction the caller holds (hold a ReadTransaction to share one snapshot with the search).
index::ChunkIdSet matching_chunks(index::Database& database, const Filter& filter);
// The ids of the documents passing the filter, ascending.
std::vector<std::int64_t> matching_documents(index::Database& database, const Filter& filter);

}  // namespace ragline::retrieve
