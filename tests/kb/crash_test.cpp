// Crash safety: rag-query processes that ingest, update and prune, delete and reindex are killed
// with SIGKILL at random moments. After each kill the KB checks clean, answers a search, and
// finishing the interrupted work leaves it equal to a KB that was never interrupted: the same
// documents, chunk texts and BM25, dense and hybrid results.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::TempDir;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kFiles = 40;

std::string document_text(int file, int version) {
  std::mt19937 random(static_cast<unsigned>(file * 131 + version));
  const char* words[] = {"wing",  "flap", "rudder", "engine", "thrust",  "lift", "drag",    "stall",
                         "pitch", "yaw",  "spar",   "rib",    "nacelle", "slat", "aileron", "trim"};
  std::string text = "Document " + std::to_string(file) + " version " + std::to_string(version) + ".";
  for (int sentence = 0; sentence < 30; ++sentence) {
    text += " The";
    for (int w = 0; w < 10; ++w) text += std::string(" ") + words[random() % 16];
    text += " number" + std::to_string(file % 7) + ".";
  }
  return text;
}

// Version A: files 0..39. Version B: 0..9 rewritten, 30..39 gone, 40..44 new.
void write_version(const fs::path& root, char version) {
  fs::remove_all(root);
  for (int file = 0; file < kFiles + 5; ++file) {
    const bool present = version == 'A' ? file < kFiles : file < 30 || file >= kFiles;
    if (!present) continue;
    const int text_version = version == 'B' && file < 10 ? 1 : 0;
    ragline::testing::write_file(root / ("doc" + std::to_string(file) + ".txt"), document_text(file, text_version));
  }
}

Query make_query(const std::string& text, SearchMode mode) {
  Query query(text, 8);
  query.mode = mode;
  return query;
}

// Everything a reader can observe, with URIs relative to the corpus so that KBs built at
// different times compare equal.
std::vector<std::string> snapshot_of(const fs::path& kb_dir, const fs::path& corpus) {
  const std::string prefix = file_uri(corpus);
  std::vector<std::string> lines;
  {
    auto database = index::Database::open(kb_dir / "kb.sqlite", false, true);
    auto statement = database.prepare(
        "SELECT d.uri, d.content_hash, c.ordinal, c.text, (SELECT count(*) FROM chunk_vectors v WHERE v.chunk_id = "
        "c.id) FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY d.uri, c.ordinal");
    while (statement.step()) {
      lines.push_back(statement.column_string(0).substr(prefix.size()) + " " + statement.column_string(1) + " " +
                      std::to_string(statement.column_int64(2)) +
                      " vectors=" + std::to_string(statement.column_int64(4)) + " " + statement.column_string(3));
    }
  }
  auto kb = KnowledgeBase::open(kb_dir);
  for (auto mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
    for (const char* text : {"stall rudder number3", "nacelle slat trim", "document 12 aileron"}) {
      std::string line = text;
      for (const auto& hit : kb.retrieve(make_query(text, mode))) {
        line += " " + hit.document_uri.substr(prefix.size()) + "@" + std::to_string(hit.byte_start);
      }
      lines.push_back(line);
    }
  }
  return lines;
}

// A process group running `argv`, output discarded; killed as a group.
pid_t spawn(const std::vector<std::string>& argv) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(child, child);
  return child;
}

// Waits for `child`; true when it was killed (by us) rather than exiting.
bool reap(pid_t child, bool expect_success) {
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return true;
  if (expect_success) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  return false;
}

void copy_kb(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  for (const auto& item : report.pending) text += "pending " + item.area + ": " + item.message + "\n";
  return text;
}

enum Operation { fresh_ingest, update_and_prune, delete_documents, reindex, kOperations };
const char* const kOperationNames[] = {"fresh ingest", "update+prune", "delete", "reindex"};

TEST(CrashSafety, SigkillAtRandomMomentsLeavesAConsistentKbThatResumesToTheSameResult) {
  // Rounds over four operations, each killed at a random moment, until 100 kills landed mid-run.
  TempDir dir;
  const fs::path corpus = dir / "corpus";
  const std::string rag_query = RAGLINE_RAG_QUERY;
  std::vector<std::string> deleted_uris;
  for (int file = 5; file < 15; ++file)
    deleted_uris.push_back((corpus / ("doc" + std::to_string(file) + ".txt")).string());

  // The uninterrupted references.
  write_version(corpus, 'A');
  const fs::path reference_a = dir / "reference-a";
  ASSERT_TRUE(KnowledgeBase::open(reference_a).ingest({corpus}).ok());
  const fs::path reference_b = dir / "reference-b", reference_deleted = dir / "reference-deleted";
  copy_kb(reference_a, reference_deleted);
  {
    auto kb = KnowledgeBase::open(reference_deleted);
    for (const auto& path : deleted_uris) ASSERT_TRUE(kb.remove_document(file_uri(path)));
  }
  copy_kb(reference_a, reference_b);
  write_version(corpus, 'B');
  {
    IngestOptions prune;
    prune.prune = true;
    ASSERT_TRUE(KnowledgeBase::open(reference_b).ingest({corpus}, prune).ok());
  }
  const auto snapshot_b = snapshot_of(reference_b, corpus);
  write_version(corpus, 'A');
  const auto snapshot_a = snapshot_of(reference_a, corpus);
  const auto snapshot_deleted = snapshot_of(reference_deleted, corpus);
  ASSERT_NE(snapshot_a, snapshot_b);
  ASSERT_NE(snapshot_a, snapshot_deleted);
  char corpus_version = 'A';

  const fs::path kb_dir = dir / "kb";
  auto start = [&](Operation operation) {
    const char want = operation == update_and_prune ? 'B' : 'A';
    if (corpus_version != want) write_version(corpus, corpus_version = want);
    if (operation == fresh_ingest) {
      fs::remove_all(kb_dir);
    } else {
      copy_kb(reference_a, kb_dir);
    }
    switch (operation) {
      case fresh_ingest:
        return spawn({rag_query, "ingest", "--kb", kb_dir.string(), "--batch", "2", "--quiet", corpus.string()});
      case update_and_prune:
        return spawn(
            {rag_query, "ingest", "--kb", kb_dir.string(), "--batch", "2", "--prune", "--quiet", corpus.string()});
      case delete_documents: {
        std::string script = "for f in";
        for (const auto& path : deleted_uris) script += " '" + path + "'";
        script += "; do '" + rag_query + "' delete --kb '" + kb_dir.string() + "' \"$f\" || exit 1; done";
        return spawn({"/bin/sh", "-c", script});
      }
      default:
        return spawn({rag_query, "reindex", "--kb", kb_dir.string()});
    }
  };
  // Finishes what the killed process was doing, the way a user would: run it again.
  auto finish = [&](Operation operation, KnowledgeBase& kb) {
    switch (operation) {
      case fresh_ingest:
        EXPECT_TRUE(kb.ingest({corpus}).ok());
        return snapshot_a;
      case update_and_prune: {
        IngestOptions prune;
        prune.prune = true;
        EXPECT_TRUE(kb.ingest({corpus}, prune).ok());
        return snapshot_b;
      }
      case delete_documents:
        for (const auto& path : deleted_uris) kb.remove_document(file_uri(path));
        return snapshot_deleted;
      default:
        kb.reindex();
        return snapshot_a;
    }
  };

  // One uninterrupted run of each operation spreads the kill moments over its whole duration.
  std::int64_t duration_us[kOperations];
  for (int operation = 0; operation < kOperations; ++operation) {
    const auto started = Clock::now();
    reap(start(static_cast<Operation>(operation)), true);
    duration_us[operation] = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    auto kb = KnowledgeBase::open(kb_dir);
    EXPECT_EQ(snapshot_of(kb_dir, corpus), finish(static_cast<Operation>(operation), kb)) << kOperationNames[operation];
  }

  std::mt19937 random(7);
  int rounds = 0, killed[kOperations] = {}, survived[kOperations] = {};
  const auto began = Clock::now();
  // Until 100 processes were killed mid-run (and at least 120 rounds), within 4 minutes.
  const auto killed_so_far = [&] { return killed[0] + killed[1] + killed[2] + killed[3]; };
  for (; (killed_so_far() < 100 || rounds < 120) && rounds < 300 && Clock::now() - began < std::chrono::minutes(4);
       ++rounds) {
    const auto operation = static_cast<Operation>(rounds % kOperations);
    const pid_t child = start(operation);
    ASSERT_GT(child, 0);
    // Up to 10% past the expected end, so a few runs complete and the end state is covered too.
    std::this_thread::sleep_for(std::chrono::microseconds(random() % (duration_us[operation] * 11 / 10 + 1)));
    ::kill(-child, SIGKILL);
    if (reap(child, false)) ++killed[operation];

    auto kb = KnowledgeBase::open(kb_dir);
    const auto after_kill = kb.check();
    EXPECT_TRUE(after_kill.ok() && after_kill.pending.empty())
        << kOperationNames[operation] << " round " << rounds << ":\n"
        << describe(after_kill);
    EXPECT_NO_THROW(kb.retrieve(make_query("engine thrust", SearchMode::hybrid)));
    const auto expected = finish(operation, kb);
    const auto finished = kb.check();
    EXPECT_TRUE(finished.ok() && finished.pending.empty()) << describe(finished);
    const bool equal = snapshot_of(kb_dir, corpus) == expected;
    EXPECT_TRUE(equal) << kOperationNames[operation] << " round " << rounds;
    if (after_kill.ok() && finished.ok() && equal) ++survived[operation];
    if (::testing::Test::HasFailure()) break;
  }
  int total_killed = 0, total_survived = 0;
  std::cout << "[ crash ] " << rounds << " rounds in "
            << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - began).count() << " s:";
  for (int operation = 0; operation < kOperations; ++operation) {
    std::cout << " " << kOperationNames[operation] << " " << survived[operation] << " survived (" << killed[operation]
              << " killed mid-run);";
    total_killed += killed[operation];
    total_survived += survived[operation];
  }
  std::cout << " total " << total_survived << " survived, " << total_killed << " killed mid-run\n";
  EXPECT_GE(total_killed, 100) << "the time bound stopped the loop early";
  for (int operation = 0; operation < kOperations; ++operation) {
    EXPECT_GE(killed[operation], 5) << kOperationNames[operation] << " was rarely killed before it finished";
  }
}

}  // namespace
}  // namespace ragline
