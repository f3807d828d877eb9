// KnowledgeBase::compact and the automatic compaction after a writer leaves kb.sqlite mostly
// free pages: a KB shrinks when its documents go, and stays whole.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
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

std::vector<DocumentInput> many_documents(int count) {
  std::vector<DocumentInput> documents;
  for (int number = 0; number < count; ++number) {
    std::string text;
    for (int sentence = 0; sentence < 20; ++sentence) {
      text += "Record " + std::to_string(number) + " sentence " + std::to_string(sentence) +
              " mentions the lighthouse keeper and the tide table. ";
    }
    documents.push_back(
        {"records/" + std::to_string(number), "Record " + std::to_string(number), text, {{"keep", number % 10 == 0}}});
  }
  return documents;
}

std::int64_t free_pages(const fs::path& database_path) {
  sqlite3* database = nullptr;
  EXPECT_EQ(sqlite3_open_v2(database_path.c_str(), &database, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(database, "PRAGMA freelist_count", -1, &statement, nullptr);
  sqlite3_step(statement);
  const auto count = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(database);
  return count;
}

TEST(Compact, RemovingMostDocumentsShrinksTheKbByItself) {
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.upsert(many_documents(400)).ok());
  const auto full = fs::file_size(dir / "kb" / "kb.sqlite");

  // 90% removed: more than half of kb.sqlite would be free pages, so the writer compacts.
  EXPECT_EQ(kb.remove_where(R"({"equals": {"key": "keep", "value": false}})"), 360u);
  const auto after = fs::file_size(dir / "kb" / "kb.sqlite");
  EXPECT_LT(after * 2, full) << "kb.sqlite kept its size: " << full << " -> " << after;
  EXPECT_EQ(free_pages(dir / "kb" / "kb.sqlite"), 0);
  EXPECT_EQ(kb.stats().documents, 40);
  EXPECT_EQ(kb.retrieve(keyword_query("lighthouse")).size(), 10u);
  EXPECT_TRUE(kb.check().ok());

  // A small removal leaves the free pages for SQLite to reuse.
  EXPECT_EQ(kb.remove({"records/0", "records/10"}), 2u);
  EXPECT_GT(free_pages(dir / "kb" / "kb.sqlite"), 0);
  // compact() takes them back whatever their share, and rebuilds vectors.faiss.
  const auto report = kb.compact();
  EXPECT_LE(report.bytes_after, report.bytes_before);
  EXPECT_EQ(report.actions.size(), 2u);
  EXPECT_EQ(free_pages(dir / "kb" / "kb.sqlite"), 0);
  EXPECT_TRUE(kb.check().ok());
  EXPECT_EQ(kb.retrieve(ragline::testing::dense_query("lighthouse keeper")).size(), 10u);
  expect_kb_consistent(dir / "kb");
}

TEST(Compact, ReadersInThreadsAndAProcessKeepWorkingThroughACompaction) {
  // VACUUM rewrites kb.sqlite under readers holding their own connections (threads here, a
  // rag-query process beside): each keeps answering from a whole snapshot.
  TempDir dir;
  { ASSERT_TRUE(KnowledgeBase::open(dir / "kb").upsert(many_documents(300)).ok()); }
  std::atomic<bool> writing{true};
  std::atomic<int> queries{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  auto reader = [&] {
    try {
      auto kb = KnowledgeBase::open(dir / "kb");
      while (writing.load()) {
        const auto hits = kb.retrieve(ragline::testing::dense_query("lighthouse keeper tide"));
        if (hits.empty()) throw std::runtime_error("no hits");
        ++queries;
      }
    } catch (const std::exception& error) {
      std::lock_guard lock(mutex);
      failures.push_back(error.what());
    }
  };
  std::vector<std::thread> readers;
  for (int index = 0; index < 2; ++index) readers.emplace_back(reader);
  const std::string kb = quoted(dir / "kb");
  const auto process = run_command(rag_query("query 'lighthouse keeper' --kb " + kb + " -k 3 --json") + " & " +
                                   rag_query("compact --kb " + kb) + "; wait");
  {
    auto writer = KnowledgeBase::open(dir / "kb");
    EXPECT_EQ(writer.remove_where(R"({"equals": {"key": "keep", "value": false}})"), 270u);
  }
  writing = false;
  for (auto& thread : readers) thread.join();
  EXPECT_EQ(process.exit_code, 0) << process.stderr_text;
  for (const auto& failure : failures) ADD_FAILURE() << failure;
  EXPECT_GT(queries.load(), 0);
  auto kb_after = KnowledgeBase::open(dir / "kb");
  EXPECT_EQ(kb_after.stats().documents, 30);
  EXPECT_TRUE(kb_after.check().ok());
  expect_kb_consistent(dir / "kb");
}

TEST(Compact, CliCompacts) {
  TempDir dir;
  ragline::testing::write_file(dir / "docs" / "a.txt", "The heron waits in the reeds.");
  const std::string kb = quoted(dir / "kb");
  ASSERT_EQ(run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb)).exit_code, 0);
  auto result = run_command(rag_query("compact --kb " + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto report = nlohmann::json::parse(result.stdout_text);
  EXPECT_GT(report.at("bytes_before").get<std::uint64_t>(), 0u);
  EXPECT_EQ(report.at("actions").size(), 2u);
  result = run_command(rag_query("compact --kb " + quoted(dir / "missing")));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(run_command(rag_query("check --kb " + kb)).exit_code, 0);
}

}  // namespace
}  // namespace ragline
