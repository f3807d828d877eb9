// Many readers, one writer: reader threads and a second reader process query a KB while one
// writer replaces, deletes and re-adds documents. Every snapshot a reader sees holds whole
// documents (each document's chunk count is that of one of its complete versions), searches
// always fill k (the vector index never returns ids whose chunks are not in the snapshot), and
// nothing fails. Two writers at once wait for each other or report the KB busy; never corrupt.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::TempDir;
using ragline::testing::write_file;
namespace fs = std::filesystem;

// Version B of a churned document is several times longer than version A: more chunks.
std::string document_text(const std::string& name, char version) {
  std::mt19937 random(static_cast<unsigned>(std::hash<std::string>()(name) + version));
  const char* words[] = {"wing", "flap", "rudder", "engine", "thrust", "lift", "drag", "stall", "pitch", "yaw"};
  std::string text = "Common report " + name + " version " + version + ".";
  const int sentences = version == 'A' ? 40 : 160;
  for (int sentence = 0; sentence < sentences; ++sentence) {
    text += " The";
    for (int w = 0; w < 10; ++w) text += std::string(" ") + words[random() % 10];
    text += ".";
  }
  return text;
}

void write_churn(const fs::path& root, char version) {
  for (int i = 0; i < 12; ++i) {
    const std::string name = "churn" + std::to_string(i);
    write_file(root / (name + ".txt"), document_text(name, version));
  }
}

Query make_query(const std::string& text, SearchMode mode, std::size_t k) {
  Query query(text, k);
  query.mode = mode;
  return query;
}

// (uri, content hash) -> chunk count of that complete version.
using VersionChunks = std::map<std::pair<std::string, std::string>, std::int64_t>;

void record_versions(KnowledgeBase& kb, VersionChunks& versions) {
  for (const auto& document : kb.documents()) versions[{document.uri, document.content_hash}] = document.chunk_count;
}

pid_t spawn_shell(const std::string& script, const fs::path& output) {
  const pid_t child = ::fork();
  if (child == 0) {
    const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  return text;
}

TEST(Concurrency, ReadersSeeWholeDocumentsWhileOneWriterReplacesAndDeletes) {
  TempDir dir;
  const fs::path stable = dir / "stable", churn = dir / "churn", kb_dir = dir / "kb";
  for (int i = 0; i < 8; ++i)
    write_file(stable / ("stable" + std::to_string(i) + ".txt"), document_text("s" + std::to_string(i), 'A'));

  // Every complete version of every document, from an uninterrupted KB.
  VersionChunks versions;
  {
    auto reference = KnowledgeBase::open(dir / "reference");
    write_churn(churn, 'B');
    ASSERT_TRUE(reference.ingest({stable, churn}).ok());
    record_versions(reference, versions);
    write_churn(churn, 'A');
    ASSERT_TRUE(reference.ingest({churn}).ok());
    record_versions(reference, versions);
  }
  ASSERT_EQ(versions.size(), 8u + 24u);
  bool chunk_counts_differ = false;
  for (const auto& [key, count] : versions) chunk_counts_differ = chunk_counts_differ || count > 1;
  ASSERT_TRUE(chunk_counts_differ) << "documents must span several chunks for the check to mean anything";
  {
    auto kb = KnowledgeBase::open(kb_dir);
    ASSERT_TRUE(kb.ingest({stable, churn}).ok());
  }

  std::atomic<bool> writing{true};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  auto fail = [&](std::string message) {
    std::lock_guard lock(failures_mutex);
    if (failures.size() < 20) failures.push_back(std::move(message));
  };
  std::atomic<std::int64_t> queries{0}, snapshots{0};

  auto reader = [&](int seed) {
    try {
      auto kb = KnowledgeBase::open(kb_dir);
      const SearchMode modes[] = {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid};
      for (int round = seed; writing.load(); ++round) {
        const auto hits = kb.retrieve(make_query("common report stall rudder", modes[round % 3], 6));
        ++queries;
        // The stable documents alone have more than k matching chunks: fewer hits would mean the
        // vector index returned ids that the snapshot has no chunk for.
        if (hits.size() != 6) fail("mode " + std::to_string(round % 3) + " returned " + std::to_string(hits.size()));
        for (const auto& hit : hits) {
          if (hit.text.empty()) fail("empty hit text for " + hit.document_uri);
        }
        if (round % 4 == 0) {
          // documents() reads each document with its chunk count in one statement: one snapshot.
          for (const auto& document : kb.documents()) {
            const auto found = versions.find({document.uri, document.content_hash});
            if (found == versions.end()) {
              fail("unknown version of " + document.uri);
            } else if (found->second != document.chunk_count) {
              fail(document.uri + " visible with " + std::to_string(document.chunk_count) + " of " +
                   std::to_string(found->second) + " chunks");
            }
          }
          ++snapshots;
        }
      }
    } catch (const std::exception& error) {
      fail(std::string("reader ") + std::to_string(seed) + ": " + error.what());
    }
  };

  // The second process: rag-query in a loop until the stop file appears; any failure ends it.
  const fs::path stop = dir / "stop", process_output = dir / "process.out";
  const std::string rag_query = RAGLINE_RAG_QUERY;
  const std::string script = "n=0; while [ ! -e '" + stop.string() + "' ]; do '" + rag_query + "' query --kb '" +
                             kb_dir.string() +
                             "' -k 6 --json 'common report stall rudder' > /dev/null || { echo FAILED; exit 1; }; "
                             "n=$((n+1)); done; echo served $n";
  const pid_t process = spawn_shell(script, process_output);
  ASSERT_GT(process, 0);

  std::vector<std::thread> readers;
  for (int seed = 0; seed < 3; ++seed) readers.emplace_back(reader, seed);

  std::int64_t writes = 0;
  try {
    auto writer = KnowledgeBase::open(kb_dir);
    IngestOptions small_batches;
    small_batches.batch_documents = 3;
    for (int cycle = 0; cycle < 4; ++cycle) {
      write_churn(churn, 'B');
      ASSERT_TRUE(writer.ingest({churn}, small_batches).ok());
      for (int i = cycle; i < 12; i += 3) {
        ASSERT_TRUE(writer.remove_document(file_uri(churn / ("churn" + std::to_string(i) + ".txt"))));
        ++writes;
      }
      write_churn(churn, 'A');
      ASSERT_TRUE(writer.ingest({churn}, small_batches).ok());
      writes += 24;
    }
  } catch (const std::exception& error) {
    fail(std::string("writer: ") + error.what());
  }
  writing = false;
  for (auto& thread : readers) thread.join();
  write_file(stop, "");
  int status = 0;
  ::waitpid(process, &status, 0);
  const std::string process_log = ragline::testing::read_file(process_output);

  for (const auto& failure : failures) ADD_FAILURE() << failure;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << process_log;
  EXPECT_NE(process_log.find("served"), std::string::npos) << process_log;
  EXPECT_GT(queries.load(), 0);
  EXPECT_GT(snapshots.load(), 0);
  std::cout << "[ concurrency ] " << queries.load() << " queries and " << snapshots.load()
            << " document snapshots in 3 threads, " << process_log.substr(0, process_log.find('\n'))
            << " queries by a second process, during " << writes << " document writes and deletes\n";
  const auto report = KnowledgeBase::open(kb_dir).check();
  EXPECT_TRUE(report.ok()) << describe(report);
}

TEST(Concurrency, TwoWritersAtOnceWaitForEachOtherAndLeaveAConsistentKb) {
  // Two threads and two processes ingest different directories into one KB at the same time.
  TempDir dir;
  for (const char* part : {"a", "b", "c", "d"}) {
    for (int i = 0; i < 10; ++i) {
      const std::string name = std::string(part) + std::to_string(i);
      write_file(dir / part / (name + ".txt"), document_text(name, 'A'));
    }
  }
  const fs::path kb_dir = dir / "kb";
  { KnowledgeBase::open(kb_dir); }
  std::vector<std::string> outcomes(2);
  auto writer = [&](int index, const fs::path& part) {
    try {
      IngestOptions options;
      options.batch_documents = 2;
      outcomes[index] = KnowledgeBase::open(kb_dir).ingest({part}, options).ok() ? "ok" : "failures";
    } catch (const Error& error) {
      outcomes[index] = error.kind() == ErrorKind::busy ? "busy" : std::string("error: ") + error.what();
    }
  };
  const std::string rag_query = RAGLINE_RAG_QUERY;
  const pid_t process_c = spawn_shell(
      "'" + rag_query + "' ingest --quiet --batch 2 --kb '" + kb_dir.string() + "' '" + (dir / "c").string() + "'",
      dir / "c.out");
  const pid_t process_d = spawn_shell(
      "'" + rag_query + "' ingest --quiet --batch 2 --kb '" + kb_dir.string() + "' '" + (dir / "d").string() + "'",
      dir / "d.out");
  std::thread first(writer, 0, dir / "a"), second(writer, 1, dir / "b");
  first.join();
  second.join();
  int status_c = 0, status_d = 0;
  ::waitpid(process_c, &status_c, 0);
  ::waitpid(process_d, &status_d, 0);

  // Batches are short transactions: each writer waits for the other's and all four complete.
  // Were one to wait past the busy timeout, it must say so, not fail otherwise.
  std::size_t expected = 0;
  for (const auto& outcome : outcomes) {
    EXPECT_TRUE(outcome == "ok" || outcome == "busy") << outcome;
    if (outcome == "ok") expected += 10;
  }
  for (const auto& [status, output] : {std::pair{status_c, dir / "c.out"}, std::pair{status_d, dir / "d.out"}}) {
    const std::string log = ragline::testing::read_file(output);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    EXPECT_TRUE(ok || log.find("is busy") != std::string::npos) << log;
    if (ok) expected += 10;
  }
  auto kb = KnowledgeBase::open(kb_dir);
  EXPECT_EQ(kb.documents().size(), expected);
  const auto report = kb.check();
  EXPECT_TRUE(report.ok() && report.pending.empty()) << describe(report);
  ragline::testing::expect_kb_consistent(kb_dir);
}

TEST(Concurrency, ASecondWriterGetsABusyErrorNamingTheKbAfterTheTimeout) {
  // A writer that holds the lock past the busy timeout (10 s) makes another writer fail clearly.
  TempDir dir;
  write_file(dir / "a.txt", "gyroscope drift compensation");
  { ASSERT_TRUE(KnowledgeBase::open(dir / "kb").ingest({dir / "a.txt"}).ok()); }
  write_file(dir / "b.txt", "accelerometer bias");
  auto kb = KnowledgeBase::open(dir / "kb");
  {
    auto holder = index::Database::open(dir / "kb" / "kb.sqlite", false);
    holder.exec("BEGIN IMMEDIATE");
    try {
      kb.ingest({dir / "b.txt"});
      ADD_FAILURE() << "the ingest did not wait for the lock";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::busy) << error.what();
      EXPECT_NE(std::string(error.what()).find("KB " + (dir / "kb").string() + " is busy"), std::string::npos)
          << error.what();
    }
    holder.exec("ROLLBACK");
  }
  const auto report = kb.check();
  EXPECT_TRUE(report.ok()) << describe(report);
  EXPECT_TRUE(kb.ingest({dir / "b.txt"}).ok());
  EXPECT_EQ(kb.documents().size(), 2u);
}

}  // namespace
}  // namespace ragline
