// Fuzzes the metadata filter language: any bytes go through Filter::parse, and every filter that
// compiles runs against a small KB, so the SQL the compiler writes must be valid for SQLite and
// a filter must never make SQLite fail.

#include "retrieve/filter.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "index/sqlite.hpp"
#include "ragline/knowledge_base.hpp"

namespace {

ragline::index::Database& fuzz_kb() {
  static ragline::index::Database* database = [] {
    const auto directory = ragline::fuzz::scratch_directory();
    const auto records = directory / "records.jsonl";
    std::ofstream(records)
        << R"({"id":"a","text":"alpha","metadata":{"dept":"hr","year":2021,"tags":["x","y"],"draft":true}})"
           "\n"
        << R"({"id":"b","text":"beta","metadata":{"dept":"it","year":2024.5,"tags":["y"],"draft":false}})"
           "\n"
        << R"({"id":"c","text":"gamma","metadata":{"dept":"","year":"2024-01-01"}})"
           "\n";
    {
      auto kb = ragline::KnowledgeBase::open(directory / "kb");
      kb.ingest({records});
    }
    return new ragline::index::Database(
        ragline::index::Database::open(directory / "kb" / "kb.sqlite", false, /*read_only=*/true));
  }();
  return *database;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& database = fuzz_kb();
  try {
    const auto filter = ragline::retrieve::Filter::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    (void)filter.describe();
    (void)ragline::retrieve::matching_chunks(database, filter);
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
