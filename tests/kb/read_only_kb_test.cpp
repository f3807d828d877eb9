// A KB that cannot be written can still be read: with the directory and its files made immutable
// (chattr +i, which stops root too), open, search on every side, stats, documents and check work,
// both after a clean close (kb.sqlite alone) and while a writer still holds kb.sqlite-wal and -shm;
// writers fail saying the KB is read-only and what needed write access.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// Sets or clears the immutable attribute (FS_IMMUTABLE_FL, as chattr +i / -i does).
bool set_immutable(const fs::path& path, bool immutable) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool done = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (done) {
    flags = immutable ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    done = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return done;
}

// Makes a KB directory and every file in it immutable for its lifetime.
class ImmutableDirectory {
 public:
  explicit ImmutableDirectory(const fs::path& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) paths_.push_back(entry.path());
    paths_.push_back(dir);
    for (const auto& path : paths_) {
      if (!set_immutable(path, true)) return;
      ++applied_;
    }
  }
  ~ImmutableDirectory() {
    for (std::size_t i = 0; i < applied_; ++i) set_immutable(paths_[i], false);
  }
  bool ok() const { return applied_ == paths_.size(); }

 private:
  std::vector<fs::path> paths_;
  std::size_t applied_ = 0;
};

// Whether even root can create a file in `dir`.
bool write_file_possible(const fs::path& dir) {
  const auto probe = dir / "probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  ::close(fd);
  fs::remove(probe);
  return true;
}

void write_corpus(const fs::path& path, int count) {
  const char* topics[] = {"Swept wings stall at high angle of attack.", "Boundary layers trip with roughness.",
                          "Hypersonic flow heats leading edges.", "Oblique shocks slow the inlet air."};
  std::string lines;
  for (int i = 0; i < count; ++i) {
    nlohmann::json record = {{"_id", "d" + std::to_string(i)},
                             {"title", "Note " + std::to_string(i)},
                             {"text", std::string(topics[i % 4]) + " Record " + std::to_string(i) + "."}};
    lines += record.dump() + "\n";
  }
  write_file(path, lines);
}

// What a KB answers on every side, its documents and stats.
std::vector<std::string> answers(const KnowledgeBase& kb) {
  std::vector<std::string> lines;
  for (const auto& document : kb.documents()) lines.push_back(document.uri + " " + document.content_hash);
  for (auto mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
    Query query("stall of swept wings", 8);
    query.mode = mode;
    for (const auto& hit : kb.retrieve(query)) lines.push_back(std::to_string(hit.chunk_id));
  }
  const auto stats = kb.stats();
  lines.push_back("chunks " + std::to_string(stats.chunks) + " vectors " + std::to_string(stats.vectors));
  return lines;
}

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  return text;
}

void expect_writes_refused(KnowledgeBase& kb, const fs::path& kb_dir, const fs::path& corpus) {
  try {
    kb.ingest({corpus});
    ADD_FAILURE() << "ingest into a read-only KB succeeded";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::io);
    EXPECT_NE(std::string(error.what()).find("KB " + kb_dir.string() + " is read-only: ingest needs write access"),
              std::string::npos)
        << error.what();
  }
  const auto documents = kb.documents();
  ASSERT_FALSE(documents.empty());
  EXPECT_THROW(kb.remove_document(documents.front().uri), Error);
  EXPECT_THROW(kb.reindex(), Error);
}

TEST(ReadOnlyKb, AnImmutableKbAfterACleanCloseAnswersAndRefusesWrites) {
  // kb.sqlite alone (no -wal, no -shm can be created): read through SQLite's immutable mode.
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 12);
  write_corpus(dir / "more.jsonl", 14);
  const fs::path kb_dir = dir / "kb";
  std::vector<std::string> expected;
  {
    auto kb = KnowledgeBase::open(kb_dir);
    ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
    expected = answers(kb);
  }
  ASSERT_FALSE(fs::exists(kb_dir / "kb.sqlite-wal"));
  ImmutableDirectory immutable(kb_dir);
  if (!immutable.ok()) GTEST_SKIP() << "this file system cannot make files immutable (chattr +i)";
  ASSERT_FALSE(write_file_possible(kb_dir));

  auto kb = KnowledgeBase::open(kb_dir);
  EXPECT_EQ(answers(kb), expected);
  const auto report = kb.check();
  EXPECT_TRUE(report.ok()) << describe(report);
  expect_writes_refused(kb, kb_dir, dir / "more.jsonl");
  EXPECT_EQ(answers(kb), expected);
}

TEST(ReadOnlyKb, AnImmutableKbWhoseWriterIsStillOpenAnswersFromItsWal) {
  // A writer still holds the KB: its last batch is only in kb.sqlite-wal; -shm exists but cannot
  // be written, so SQLite reads through a private copy of the WAL index.
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 12);
  write_corpus(dir / "more.jsonl", 14);
  const fs::path kb_dir = dir / "kb";
  auto writer = KnowledgeBase::open(kb_dir);
  ASSERT_TRUE(writer.ingest({dir / "corpus.jsonl"}).ok());
  const auto expected = answers(writer);
  ASSERT_GT(fs::file_size(kb_dir / "kb.sqlite-wal"), 0u);
  ASSERT_TRUE(fs::exists(kb_dir / "kb.sqlite-shm"));
  ImmutableDirectory immutable(kb_dir);
  if (!immutable.ok()) GTEST_SKIP() << "this file system cannot make files immutable (chattr +i)";

  auto kb = KnowledgeBase::open(kb_dir);
  EXPECT_EQ(answers(kb), expected);
  const auto report = kb.check();
  EXPECT_TRUE(report.ok()) << describe(report);
  expect_writes_refused(kb, kb_dir, dir / "more.jsonl");
}

}  // namespace
}  // namespace ragline
