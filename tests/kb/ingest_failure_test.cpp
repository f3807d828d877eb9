#include <gtest/gtest.h>

#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::TempDir;
using ragline::testing::write_file;

// Makes the store fail while writing any document whose URI contains "poison".
void inject_write_failure(const std::filesystem::path& kb_dir) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false);
  database.exec(
      "CREATE TRIGGER inject_failure BEFORE INSERT ON documents WHEN NEW.uri LIKE '%poison%' "
      "BEGIN SELECT RAISE(ABORT, 'injected write failure'); END");
}

void remove_write_failure(const std::filesystem::path& kb_dir) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false);
  database.exec("DROP TRIGGER inject_failure");
}

std::int64_t count(const std::filesystem::path& kb_dir, const char* sql) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false);
  return database.query_int64(sql).value_or(-1);
}

TEST(IngestFailure, AStoreFailureEndsTheIngestAndKeepsCommittedBatches) {
  // A write that fails mid-ingest is an error (not a bad file); earlier batches stay, the failed
  // batch leaves nothing, and a later ingest completes.
  TempDir dir;
  write_file(dir / "docs" / "a.txt", "alpha text");
  write_file(dir / "docs" / "b-poison.txt", "bravo text");
  write_file(dir / "docs" / "c.txt", "charlie text");
  { KnowledgeBase::open(dir / "kb"); }
  inject_write_failure(dir / "kb");
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    IngestOptions options;
    options.batch_documents = 1;
    try {
      kb.ingest({dir / "docs"}, options);
      FAIL() << "expected the injected failure";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("injected write failure"), std::string::npos) << error.what();
    }
    EXPECT_EQ(kb.documents().size(), 1u);  // a.txt, committed before the failure
  }
  EXPECT_EQ(count(dir / "kb", "SELECT count(*) FROM chunks"), 1);
  remove_write_failure(dir / "kb");
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto report = kb.ingest({dir / "docs"});
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.documents_added, 2u);
  EXPECT_EQ(report.documents_unchanged, 1u);
}

TEST(IngestFailure, AStoreFailureInsideAStreamedJsonlFileIsNotReportedAsABadFile) {
  // Records stream from a JSONL file into batches; a batch that fails to write ends the ingest.
  TempDir dir;
  std::string lines;
  for (int i = 0; i < 50; ++i)
    lines += "{\"id\": \"r" + std::to_string(i) + "\", \"text\": \"record number " + std::to_string(i) + "\"}\n";
  lines += "{\"id\": \"poison\", \"text\": \"this one cannot be written\"}\n";
  write_file(dir / "records.jsonl", lines);
  { KnowledgeBase::open(dir / "kb"); }
  inject_write_failure(dir / "kb");
  auto kb = KnowledgeBase::open(dir / "kb");
  IngestOptions options;
  options.batch_documents = 10;
  EXPECT_THROW(kb.ingest({dir / "records.jsonl"}, options), Error);
  EXPECT_EQ(kb.documents().size(), 50u);  // five full batches went in before the poisoned one
}

TEST(IngestProgress, MovesWithinALargeJsonlFile) {
  // Progress is reported per committed batch inside one big file, not only when the file ends.
  TempDir dir;
  std::string lines;
  for (int i = 0; i < 2000; ++i)
    lines += "{\"id\": \"" + std::to_string(i) + "\", \"text\": \"line of text " + std::to_string(i) + "\"}\n";
  write_file(dir / "big.jsonl", lines);
  auto kb = KnowledgeBase::open(dir / "kb");
  IngestOptions options;
  options.batch_documents = 100;
  std::vector<IngestProgress> seen;
  options.progress = [&](const IngestProgress& progress) { seen.push_back(progress); };
  kb.ingest({dir / "big.jsonl"}, options);
  ASSERT_GE(seen.size(), 10u);
  std::size_t before_end = 0;
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].bytes_done, seen[i - 1].bytes_done);
    if (seen[i].files_done == 0 && seen[i].bytes_done > 0) ++before_end;
  }
  EXPECT_GE(before_end, 10u);
  EXPECT_EQ(seen.back().bytes_done, seen.back().bytes_total);
  EXPECT_EQ(seen.back().files_done, 1u);
}

}  // namespace
}  // namespace ragline
