// Disk full and failed writes: an ingest that runs out of space (RLIMIT_FSIZE, so every write
// past the limit fails with EFBIG, as root or not) stops with an io error naming the KB; the KB
// checks clean, holds only whole documents, and a later ingest with space completes it. A
// vectors.faiss that cannot be written costs nothing: it is derived and caught up later.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <random>

#include "index/sqlite.hpp"
#include "index/vector_index.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::TempDir;
using ragline::testing::write_file;
namespace fs = std::filesystem;

void write_corpus(const fs::path& root, int files, int first = 0) {
  const char* words[] = {"wing", "flap", "rudder", "engine", "thrust", "lift", "drag", "stall", "pitch", "yaw"};
  for (int i = first; i < first + files; ++i) {
    std::mt19937 random(static_cast<unsigned>(i));
    std::string text = "Report " + std::to_string(i) + ".";
    for (int sentence = 0; sentence < 50; ++sentence) {
      text += " The";
      for (int w = 0; w < 10; ++w) text += std::string(" ") + words[random() % 10];
      text += ".";
    }
    write_file(root / ("doc" + std::to_string(i) + ".txt"), text);
  }
}

std::map<std::string, std::int64_t> chunk_counts(KnowledgeBase& kb) {
  std::map<std::string, std::int64_t> counts;
  for (const auto& document : kb.documents()) counts[document.uri + " " + document.content_hash] = document.chunk_count;
  return counts;
}

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  for (const auto& item : report.pending) text += "pending " + item.area + ": " + item.message + "\n";
  return text;
}

// Files of this process cannot grow past `bytes` while it lives; writes past it fail (EFBIG).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_signal_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limited = previous_;
    limited.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    ::signal(SIGXFSZ, previous_signal_);
  }

 private:
  rlimit previous_{};
  void (*previous_signal_)(int) = nullptr;
};

TEST(DiskFull, AnIngestThatRunsOutOfSpaceStopsCleanlyAndResumesLater) {
  TempDir dir;
  write_corpus(dir / "first", 4);
  write_corpus(dir / "corpus", 60, 100);
  std::map<std::string, std::int64_t> reference;
  {
    auto kb = KnowledgeBase::open(dir / "reference");
    ASSERT_TRUE(kb.ingest({dir / "first", dir / "corpus"}).ok());
    reference = chunk_counts(kb);
  }
  const fs::path kb_dir = dir / "kb";
  { ASSERT_TRUE(KnowledgeBase::open(kb_dir).ingest({dir / "first"}).ok()); }
  {
    // An empty WAL, so that the limit decides how much of the next ingest fits.
    auto database = index::Database::open(kb_dir / "kb.sqlite", false);
    database.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  std::size_t committed = 0;
  {
    auto kb = KnowledgeBase::open(kb_dir);
    {
      FileSizeLimit limit(160 << 10);
      IngestOptions options;
      options.batch_documents = 4;
      try {
        kb.ingest({dir / "corpus"}, options);
        ADD_FAILURE() << "the ingest fitted in the limit; the test proved nothing";
      } catch (const Error& error) {
        std::cout << "[ disk full ] " << error.what() << "\n";
        EXPECT_EQ(error.kind(), ErrorKind::io) << error.what();
        EXPECT_NE(std::string(error.what()).find("KB " + kb_dir.string()), std::string::npos) << error.what();
      }
    }
    committed = kb.documents().size() - 4;
  }
  EXPECT_GT(committed, 0u) << "no batch fitted before the disk filled";
  EXPECT_LT(committed, 60u);

  auto kb = KnowledgeBase::open(kb_dir);
  const auto after_failure = kb.check();
  EXPECT_TRUE(after_failure.ok() && after_failure.pending.empty()) << describe(after_failure);
  ragline::testing::expect_kb_consistent(kb_dir);
  // Nothing half-written: every document present is one of the reference's, with all its chunks.
  for (const auto& [key, count] : chunk_counts(kb)) {
    ASSERT_TRUE(reference.contains(key)) << key;
    EXPECT_EQ(count, reference.at(key)) << key;
  }
  Query query("rudder stall report 130", 5);
  EXPECT_EQ(kb.retrieve(query).size(), 5u);

  const auto resumed = kb.ingest({dir / "corpus"});
  EXPECT_TRUE(resumed.ok());
  EXPECT_EQ(resumed.documents_added, 60u - committed);
  EXPECT_EQ(chunk_counts(kb), reference);
  const auto finished = kb.check();
  EXPECT_TRUE(finished.ok() && finished.pending.empty()) << describe(finished);
}

TEST(DiskFull, AVectorFileThatCannotBeWrittenIsCaughtUpLater) {
  // vectors.faiss is written after kb.sqlite commits; when that write fails the ingest still
  // succeeds, the old file stays intact, and readers catch up from kb.sqlite.
  TempDir dir;
  write_corpus(dir / "first", 5);
  write_corpus(dir / "second", 5, 50);
  const fs::path kb_dir = dir / "kb";
  std::vector<std::string> warnings;
  OpenOptions options;
  options.log = [&](LogLevel level, const std::string& message) {
    if (level == LogLevel::warning) warnings.push_back(message);
  };
  auto kb = KnowledgeBase::open(kb_dir, options);
  ASSERT_TRUE(kb.ingest({dir / "first"}).ok());
  const auto old_generation = index::VectorIndex::read_header(kb_dir / "vectors.faiss")->generation;

  // The temporary file the index is written to cannot be created: a directory has its name.
  const fs::path blocker = kb_dir / ("vectors.faiss.tmp-" + std::to_string(::getpid()));
  fs::create_directories(blocker / "occupied");
  ASSERT_TRUE(kb.ingest({dir / "second"}).ok());
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("vectors.faiss not written"), std::string::npos) << warnings.back();
  EXPECT_EQ(index::VectorIndex::read_header(kb_dir / "vectors.faiss")->generation, old_generation);
  const auto stale = kb.check();
  EXPECT_TRUE(stale.ok() && stale.pending.empty()) << describe(stale);

  Query dense("report 52 rudder", 3);
  dense.mode = SearchMode::dense;
  {
    auto reader = KnowledgeBase::open(kb_dir);
    const auto hits = reader.retrieve(dense);
    ASSERT_FALSE(hits.empty());
    EXPECT_NE(hits[0].document_uri.find("doc52.txt"), std::string::npos) << hits[0].document_uri;
  }
  fs::remove_all(blocker);
  {
    // A reader catches up in memory and writes nothing (reads are side-effect free) ...
    auto reader = KnowledgeBase::open(kb_dir);
    reader.retrieve(dense);
    EXPECT_EQ(reader.stats().vector_index_generation, old_generation);
  }
  // ... the next writer saves the file, even when it has nothing new to commit.
  ASSERT_TRUE(kb.ingest({dir / "second"}).ok());
  EXPECT_EQ(kb.stats().vector_index_generation, kb.stats().generation);
  EXPECT_TRUE(kb.check().ok());
}

}  // namespace
}  // namespace ragline
