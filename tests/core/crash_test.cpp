#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::keyword_query;
using ragline::testing::TempDir;
namespace fs = std::filesystem;

void write_corpus(const fs::path& root, int files) {
  std::mt19937 random(42);
  const char* words[] = {"wing", "flap", "rudder", "engine", "thrust", "lift", "drag", "stall", "pitch", "yaw"};
  for (int i = 0; i < files; ++i) {
    std::string text = "Document " + std::to_string(i) + ".";
    for (int sentence = 0; sentence < 40; ++sentence) {
      text += " The";
      for (int w = 0; w < 12; ++w) text += std::string(" ") + words[random() % 10];
      text += " number" + std::to_string(i % 17) + ".";
    }
    ragline::testing::write_file(root / ("doc" + std::to_string(i) + ".txt"), text);
  }
}

struct Snapshot {
  std::vector<std::pair<std::string, std::string>> documents;  // uri, hash
  std::int64_t chunks = 0;
  std::vector<std::string> top_hits;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot_of(const fs::path& kb_dir, const fs::path& corpus_root) {
  auto kb = KnowledgeBase::open(kb_dir);
  Snapshot snapshot;
  const std::string prefix = file_uri(corpus_root);
  for (const auto& document : kb.documents()) {
    snapshot.documents.emplace_back(document.uri.substr(prefix.size()), document.content_hash);
  }
  snapshot.chunks = kb.stats().chunks;
  for (const auto& hit : kb.retrieve(keyword_query("stall rudder number3", 10))) {
    snapshot.top_hits.push_back(hit.document_uri.substr(prefix.size()) + "@" + std::to_string(hit.byte_start));
  }
  return snapshot;
}

TEST(CrashSafety, SigkillDuringIngestLeavesAConsistentResumableKb) {
  // A child ingesting is killed with SIGKILL at random moments; each time the KB opens, passes its
  // checks, answers a search, and a resumed ingest ends equal to an uninterrupted build.
  TempDir dir;
  const fs::path corpus = dir / "corpus";
  write_corpus(corpus, 300);

  const fs::path reference_kb = dir / "reference";
  {
    auto kb = KnowledgeBase::open(reference_kb);
    ASSERT_TRUE(kb.ingest({corpus}).ok());
  }
  const Snapshot reference = snapshot_of(reference_kb, corpus);
  ASSERT_EQ(reference.documents.size(), 300u);

  // One child runs to the end first: its duration spreads the kill moments over the whole ingest
  // (opening, schema creation, every batch, the last commit).
  auto start_child = [&](const fs::path& kb_dir) {
    const pid_t child = ::fork();
    if (child == 0) {
      try {
        auto kb = KnowledgeBase::open(kb_dir);
        IngestOptions options;
        options.batch_documents = 4;
        kb.ingest({corpus}, options);
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    return child;
  };
  const auto timing_started = std::chrono::steady_clock::now();
  const pid_t timing_child = start_child(dir / "timing");
  ASSERT_GT(timing_child, 0);
  int timing_status = 0;
  ::waitpid(timing_child, &timing_status, 0);
  ASSERT_TRUE(WIFEXITED(timing_status) && WEXITSTATUS(timing_status) == 0);
  const auto child_microseconds =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - timing_started).count();

  std::mt19937 random(7);
  int killed_mid_ingest = 0;
  const int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    const fs::path kb_dir = dir / ("kb" + std::to_string(round));
    const pid_t child = start_child(kb_dir);
    ASSERT_GT(child, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(random() % std::max<std::int64_t>(child_microseconds, 1)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) ++killed_mid_ingest;

    if (fs::exists(kb_dir / "kb.sqlite")) {
      // Opening first: a child killed before its schema committed leaves an empty database,
      // which open() initialises.
      auto kb = KnowledgeBase::open(kb_dir);
      ragline::testing::expect_kb_consistent(kb_dir);
      EXPECT_NO_THROW(kb.retrieve(keyword_query("engine thrust", 5)));
      const auto resumed = kb.ingest({corpus});
      EXPECT_TRUE(resumed.ok());
    } else {
      auto kb = KnowledgeBase::open(kb_dir);
      kb.ingest({corpus});
    }
    ragline::testing::expect_kb_consistent(kb_dir);
    EXPECT_EQ(snapshot_of(kb_dir, corpus), reference) << "round " << round;
  }
  EXPECT_GE(killed_mid_ingest, 1) << "no round killed the child before it finished; the test proved nothing";
  std::cout << "[ crash ] " << killed_mid_ingest << " of " << rounds << " children killed mid-ingest\n";
}

}  // namespace
}  // namespace ragline
