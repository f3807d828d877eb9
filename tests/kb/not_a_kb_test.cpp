// A KB directory whose kb.sqlite is garbage, or an SQLite database of another application: the
// error names the KB and says what to do, instead of SQLite's "file is not a database (SQLite
// code 26)".
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::error_message_of;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

TEST(NotAKb, GarbageKbSqliteIsNamedWithTheRemedy) {
  TempDir dir;
  write_file(dir / "kb" / "kb.sqlite", std::string(8192, 'x'));
  const std::string message = error_message_of([&] { KnowledgeBase::open(dir / "kb"); }, ErrorKind::corrupt);
  EXPECT_NE(message.find((dir / "kb").string()), std::string::npos) << message;
  EXPECT_NE(message.find("not a ragline KB"), std::string::npos) << message;
  EXPECT_EQ(message.find("SQLite code"), std::string::npos) << message;

  const auto result = run_command(rag_query("stats --kb " + quoted(dir / "kb")));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("not a ragline KB"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("file is not a database"), std::string::npos) << result.stderr_text;
}

TEST(NotAKb, AnotherApplicationsSqliteDatabaseIsNotAKb) {
  TempDir dir;
  std::filesystem::create_directories(dir / "kb");
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "kb" / "kb.sqlite").c_str(), &database), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(database, "CREATE TABLE bookmarks(url TEXT); INSERT INTO bookmarks VALUES('x')", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(database);
  const std::string message = error_message_of([&] { KnowledgeBase::open(dir / "kb"); }, ErrorKind::corrupt);
  EXPECT_NE(message.find((dir / "kb").string()), std::string::npos) << message;
  EXPECT_NE(message.find("not a ragline KB"), std::string::npos) << message;
}

TEST(NotAKb, DamagedDatabaseNamesRepair) {
  // A real KB whose pages after the first are overwritten: SQLite finds it malformed, and the
  // message says which KB and what to run.
  TempDir dir;
  write_file(dir / "docs" / "a.txt", "The okapi lives in the forest.");
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
  }
  const auto path = dir / "kb" / "kb.sqlite";
  std::string bytes = ragline::testing::read_file(path);
  ASSERT_GT(bytes.size(), 8192u);
  for (std::size_t offset = 4096; offset < bytes.size(); ++offset) bytes[offset] = static_cast<char>(0xA5);
  write_file(path, bytes);
  std::filesystem::remove(dir / "kb" / "kb.sqlite-wal");
  std::string message;
  try {
    auto kb = KnowledgeBase::open(dir / "kb");
    kb.search(ragline::testing::keyword_query("okapi"));
    FAIL() << "a malformed database was read without an error";
  } catch (const Error& error) {
    message = error.what();
  }
  EXPECT_NE(message.find((dir / "kb").string()), std::string::npos) << message;
  EXPECT_NE(message.find("rag-query repair"), std::string::npos) << message;
}

}  // namespace
}  // namespace ragline
