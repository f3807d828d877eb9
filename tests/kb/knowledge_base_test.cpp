#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::keyword_query;
using ragline::testing::TempDir;
using ragline::testing::write_file;
namespace fs = std::filesystem;

std::set<std::string> uris_of(const std::vector<DocumentInfo>& documents) {
  std::set<std::string> uris;
  for (const auto& document : documents) uris.insert(document.uri);
  return uris;
}

bool has_failure_for(const IngestReport& report, const std::string& needle) {
  return std::any_of(report.failures.begin(), report.failures.end(),
                     [&](const IngestFailure& failure) { return failure.location.find(needle) != std::string::npos; });
}

TEST(KnowledgeBase, BadChunkerCreatesNothing) {
  // An unknown chunker or bad chunker parameters are refused before the KB directory exists.
  TempDir dir;
  OpenOptions unknown;
  unknown.chunker = ChunkerConfig{.name = "bogus"};
  EXPECT_THROW(KnowledgeBase::open(dir / "a", unknown), Error);
  OpenOptions zero_tokens;
  zero_tokens.chunker = ChunkerConfig{.name = "fixed", .max_tokens = 0};
  EXPECT_THROW(KnowledgeBase::open(dir / "b", zero_tokens), Error);
  EXPECT_FALSE(fs::exists(dir / "a"));
  EXPECT_FALSE(fs::exists(dir / "b"));
}

TEST(KnowledgeBase, PruneRemovesWhatTheGlobsNoLongerSelect) {
  // Issue 12 D9, as documented for --prune: a file an --exclude glob now skips is pruned like a
  // vanished one; without prune it stays.
  TempDir dir;
  write_file(dir / "docs" / "keep.txt", "Gliders are launched by winch.");
  write_file(dir / "docs" / "drafts.txt", "Draft notes about tow planes.");
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_EQ(kb.ingest({dir / "docs"}).documents_added, 2u);
  IngestOptions exclude;
  exclude.exclude_globs = {"drafts.txt"};
  EXPECT_EQ(kb.ingest({dir / "docs"}, exclude).documents_pruned, 0u);
  EXPECT_EQ(kb.documents().size(), 2u);
  exclude.prune = true;
  const auto report = kb.ingest({dir / "docs"}, exclude);
  EXPECT_EQ(report.documents_pruned, 1u);
  ASSERT_EQ(kb.documents().size(), 1u);
  EXPECT_NE(kb.documents().front().uri.find("keep.txt"), std::string::npos);
}

TEST(KnowledgeBase, BadJsonLineKeepsVanishedRecordsWithAWarning) {
  // Issue 12 D10: a file with a line that fails to parse keeps its vanished records (the bad
  // line may be one of them) and the report says so, instead of skipping the prune silently.
  TempDir dir;
  write_file(dir / "docs" / "records.jsonl",
             "{\"_id\": \"a\", \"text\": \"alpha gliders\"}\n{\"_id\": \"b\", \"text\": \"beta winches\"}\n");
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_EQ(kb.ingest({dir / "docs"}).documents_added, 2u);
  write_file(dir / "docs" / "records.jsonl", "{\"_id\": \"a\", \"text\": \"alpha gliders\"}\n{broken\n");
  IngestOptions prune;
  prune.prune = true;
  const auto report = kb.ingest({dir / "docs"}, prune);
  EXPECT_EQ(report.documents_pruned, 0u);
  EXPECT_EQ(kb.documents().size(), 2u);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("records.jsonl: 1 record(s) no longer in the file were not pruned"),
            std::string::npos)
      << report.warnings[0];
  // Fixed, the next pruning ingest removes the vanished record and warns no more.
  write_file(dir / "docs" / "records.jsonl", "{\"_id\": \"a\", \"text\": \"alpha gliders\"}\n");
  const auto fixed = kb.ingest({dir / "docs"}, prune);
  EXPECT_EQ(fixed.documents_pruned, 1u);
  EXPECT_TRUE(fixed.warnings.empty());
}

TEST(KnowledgeBase, IngestsADirectoryAndRetrieves) {
  // Files of several formats in nested folders are ingested and found by keyword search.
  TempDir dir;
  write_file(dir / "docs" / "travel.md", "# Travel\n\n## Taxis\n\nTaxi fares on business trips are reimbursed.\n");
  write_file(dir / "docs" / "sub" / "security.txt", "Badges must be worn visibly at all times in the office.\n");
  write_file(dir / "docs" / "page.html",
             "<html><head><title>Leave</title><script>var hidden='vacation';</script></head>"
             "<body><h1>Leave policy</h1><p>Annual leave is 25 days.</p></body></html>");
  write_file(dir / "docs" / "records.jsonl",
             "{\"_id\": \"r1\", \"title\": \"On-call\", \"text\": \"On-call engineers rotate weekly.\", "
             "\"metadata\": {\"team\": \"sre\"}}\n");
  auto kb = KnowledgeBase::open(dir / "kb");  // default chunker: markdown, so heading paths are kept
  const auto report = kb.ingest({dir / "docs"});
  EXPECT_TRUE(report.ok()) << (report.failures.empty()
                                   ? ""
                                   : report.failures[0].location + ": " + report.failures[0].reason);
  EXPECT_EQ(report.files_seen, 4u);
  EXPECT_EQ(report.documents_added, 4u);
  EXPECT_GT(report.chunks_written, 3u);

  auto hits = kb.retrieve(keyword_query("reimbursed taxi", 5));
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].document_uri, file_uri(dir / "docs" / "travel.md"));
  EXPECT_EQ(hits[0].heading_path, "Travel > Taxis");

  hits = kb.retrieve(keyword_query("rotate", 5));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].document_uri, file_uri(dir / "docs" / "records.jsonl") + "#r1");
  EXPECT_EQ(std::get<std::string>(hits[0].metadata.at("team")), "sre");

  EXPECT_TRUE(kb.retrieve(keyword_query("vacation", 5)).empty());  // script text is not indexed
  EXPECT_EQ(kb.retrieve(keyword_query("annual leave", 5)).at(0).title, "Leave");

  const auto stats = kb.stats();
  EXPECT_EQ(stats.documents, 4);
  EXPECT_GT(stats.bytes_on_disk, 0u);
}

TEST(KnowledgeBase, ReingestSkipsUnchangedReplacesChangedAndPrunes) {
  // Incremental ingest: unchanged documents skipped, changed ones replaced, gone ones pruned.
  TempDir dir;
  write_file(dir / "docs" / "a.txt", "Alpha document about rivets.");
  write_file(dir / "docs" / "b.txt", "Bravo document about welding.");
  write_file(dir / "docs" / "c.txt", "Charlie document about paint.");
  auto kb = KnowledgeBase::open(dir / "kb");
  auto report = kb.ingest({dir / "docs"});
  EXPECT_EQ(report.documents_added, 3u);

  report = kb.ingest({dir / "docs"});
  EXPECT_EQ(report.documents_added, 0u);
  EXPECT_EQ(report.documents_unchanged, 3u);
  EXPECT_EQ(report.chunks_written, 0u);

  write_file(dir / "docs" / "b.txt", "Bravo document now about soldering.");
  fs::remove(dir / "docs" / "c.txt");
  report = kb.ingest({dir / "docs"});
  EXPECT_EQ(report.documents_updated, 1u);
  EXPECT_EQ(report.documents_unchanged, 1u);
  EXPECT_EQ(report.documents_pruned, 0u);  // no --prune: c.txt stays
  EXPECT_TRUE(kb.retrieve(keyword_query("welding", 5)).empty());
  EXPECT_EQ(kb.retrieve(keyword_query("soldering", 5)).size(), 1u);
  EXPECT_EQ(kb.documents().size(), 3u);

  IngestOptions prune;
  prune.prune = true;
  report = kb.ingest({dir / "docs"}, prune);
  EXPECT_EQ(report.documents_pruned, 1u);
  EXPECT_EQ(uris_of(kb.documents()),
            (std::set<std::string>{file_uri(dir / "docs" / "a.txt"), file_uri(dir / "docs" / "b.txt")}));
  EXPECT_TRUE(kb.retrieve(keyword_query("paint", 5)).empty());
  ragline::testing::expect_kb_consistent(dir / "kb");
}

TEST(KnowledgeBase, PruneKeepsDocumentsOfFilesThatFailedAndOutsideRoots) {
  // --prune never removes what merely failed to parse this time, nor documents from other roots.
  TempDir dir;
  write_file(dir / "one" / "keep.jsonl", "{\"id\": \"x\", \"text\": \"xylophone lessons\"}\n");
  write_file(dir / "two" / "other.txt", "oboe lessons");
  auto kb = KnowledgeBase::open(dir / "kb");
  kb.ingest({dir / "one", dir / "two"});
  write_file(dir / "one" / "keep.jsonl", "{\"id\": \"x\", \"text\": \"xylophone lessons\"\n");  // now malformed
  IngestOptions prune;
  prune.prune = true;
  const auto report = kb.ingest({dir / "one"}, prune);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.documents_pruned, 0u);
  EXPECT_EQ(kb.retrieve(keyword_query("xylophone", 5)).size(), 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("oboe", 5)).size(), 1u);
}

TEST(KnowledgeBase, BadInputsAreReportedAndTheRestIngested) {
  // Binary, invalid UTF-8, empty, huge-line, malformed JSONL and truncated PDF inputs in one batch.
  TempDir dir;
  const fs::path docs = dir / "docs";
  write_file(docs / "good.txt", "A perfectly fine document about gliders.");
  write_file(docs / "binary.txt", std::string("\x7f"
                                              "ELF\x02\x01\x01\x00\x00\x00\x00\x00",
                                              12) +
                                      std::string(64, '\0'));
  write_file(docs / "latin1.txt", "caf\xe9 au lait and croissants");
  write_file(docs / "empty.txt", "");
  write_file(docs / "huge.txt", std::string(3'000'000, 'a') + " needle");
  write_file(docs / "records.jsonl",
             "{\"id\": \"1\", \"text\": \"first record about kites\"}\n"
             "{\"id\": \"2\", \"text\": \n"
             "{\"id\": \"3\", \"text\": \"third record about balloons\"}\n");
  write_file(docs / "broken.pdf", "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type");
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto report = kb.ingest({docs});

  EXPECT_TRUE(has_failure_for(report, "binary.txt"));
  // An empty file is skipped with its reason, not failed (a real folder holds some).
  EXPECT_FALSE(has_failure_for(report, "empty.txt"));
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].location, (docs / "empty.txt").string());
  EXPECT_EQ(report.skipped[0].reason, "empty file");
  EXPECT_TRUE(has_failure_for(report, "records.jsonl:2"));
  EXPECT_TRUE(has_failure_for(report, "broken.pdf"));
  EXPECT_FALSE(has_failure_for(report, "good.txt"));
  EXPECT_FALSE(has_failure_for(report, "latin1.txt"));
  EXPECT_GE(report.invalid_utf8_replaced, 1u);
  for (const auto& failure : report.failures) EXPECT_FALSE(failure.reason.empty()) << failure.location;

  EXPECT_EQ(kb.retrieve(keyword_query("gliders", 5)).size(), 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("croissants", 5)).size(), 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("kites", 5)).size(), 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("balloons", 5)).size(), 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("needle", 5)).size(), 1u);
  ragline::testing::expect_kb_consistent(dir / "kb");
}

TEST(KnowledgeBase, GlobsAndSymlinksDecideWhatIsRead) {
  // Include/exclude globs filter files; symlinks leaving the given roots are not followed.
  TempDir dir;
  write_file(dir / "docs" / "keep.md", "kept markdown about lanterns");
  write_file(dir / "docs" / "drafts" / "skip.md", "draft about lanterns");
  write_file(dir / "docs" / "notes.txt", "plain notes about lanterns");
  write_file(dir / "outside" / "secret.txt", "secret lanterns outside the root");
  fs::create_directory_symlink(dir / "outside", dir / "docs" / "link-out");
  fs::create_symlink(dir / "docs" / "keep.md", dir / "docs" / "link-in.md");
  IngestOptions options;
  options.include_globs = {"*.md", "*.txt"};
  options.exclude_globs = {"drafts/*"};
  auto kb = KnowledgeBase::open(dir / "kb");
  kb.ingest({dir / "docs"}, options);
  EXPECT_EQ(uris_of(kb.documents()),
            (std::set<std::string>{file_uri(dir / "docs" / "keep.md"), file_uri(dir / "docs" / "notes.txt")}));
}

TEST(KnowledgeBase, RemoveDocumentAndReopen) {
  // A removed document disappears from search and listings, and the KB reopens as it was left.
  TempDir dir;
  write_file(dir / "a.txt", "zeppelin hangar");
  write_file(dir / "b.txt", "zeppelin mooring mast");
  {
    auto kb = KnowledgeBase::open(dir / "kb");
    kb.ingest({dir / "a.txt", dir / "b.txt"});
    EXPECT_TRUE(kb.remove_document(file_uri(dir / "a.txt")));
    EXPECT_FALSE(kb.remove_document(file_uri(dir / "a.txt")));
  }
  OpenOptions existing;
  existing.create_if_missing = false;
  auto kb = KnowledgeBase::open(dir / "kb", existing);
  const auto hits = kb.retrieve(keyword_query("zeppelin", 5));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].document_uri, file_uri(dir / "b.txt"));
  ragline::testing::expect_kb_consistent(dir / "kb");
}

TEST(KnowledgeBase, HierarchicalReturnsParentsOnce) {
  // In a hierarchical KB children are searched and each matching parent is returned once.
  TempDir dir;
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += "Sentence number " + std::to_string(i) + " mentions anemometers twice, anemometers. ";
  write_file(dir / "long.txt", text);
  OpenOptions options;
  options.chunker = ChunkerConfig{"hierarchical", 256, 0, 200, 40};
  auto kb = KnowledgeBase::open(dir / "kb", options);
  kb.ingest({dir / "long.txt"});
  const auto hits = kb.retrieve(keyword_query("anemometers", 50));
  ASSERT_FALSE(hits.empty());
  std::set<std::int64_t> ids;
  for (const auto& hit : hits) {
    EXPECT_TRUE(ids.insert(hit.chunk_id).second) << "parent returned twice";
    EXPECT_GT(hit.byte_end - hit.byte_start, 400u) << "expected a parent-sized chunk";
  }
  EXPECT_LT(hits.size(), 50u);
}

TEST(KnowledgeBase, FileUriPercentEncodes) {
  // file_uri is absolute and percent-encodes bytes outside the unreserved set.
  EXPECT_EQ(file_uri("/tmp/a b/ü#1.txt"), "file:///tmp/a%20b/%C3%BC%231.txt");
}

}  // namespace
}  // namespace ragline

namespace ragline {
namespace {

TEST(KnowledgeBaseConcurrency, ReadersOpenAndSearchWhileAWriterHoldsTheLock) {
  // A KB opens and answers queries while another connection holds the write lock (an ingest).
  ragline::testing::TempDir dir;
  ragline::testing::write_file(dir / "a.txt", "gyroscope drift compensation");
  { KnowledgeBase::open(dir / "kb").ingest({dir / "a.txt"}); }
  auto writer = index::Database::open(dir / "kb" / "kb.sqlite", false);
  writer.exec("BEGIN IMMEDIATE");
  writer.exec("DELETE FROM settings WHERE key = 'nothing'");
  const auto started = std::chrono::steady_clock::now();
  auto reader = KnowledgeBase::open(dir / "kb");
  EXPECT_EQ(reader.retrieve(keyword_query("gyroscope", 5)).size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << "the reader waited for the writer";
  writer.exec("COMMIT");
}

}  // namespace
}  // namespace ragline

namespace ragline {
namespace {

TEST(KnowledgeBaseHierarchical, FindsKParentsEvenWhenOneParentsChildrenCrowdTheTop) {
  // Many strongly matching children of one parent do not starve the other parents out of k.
  ragline::testing::TempDir dir;
  std::string crowded;
  for (int i = 0; i < 80; ++i) crowded += "Barometers barometers barometers sentence " + std::to_string(i) + ". ";
  ragline::testing::write_file(dir / "crowded.txt", crowded);
  for (int i = 0; i < 3; ++i) {
    ragline::testing::write_file(dir / ("single" + std::to_string(i) + ".txt"),
                                 "A lone mention of barometers in file " + std::to_string(i) + ".");
  }
  OpenOptions options;
  options.chunker = ChunkerConfig{"hierarchical", 256, 0, 2000, 8};
  auto kb = KnowledgeBase::open(dir / "kb", options);
  kb.ingest({dir.path()});
  const auto hits = kb.retrieve(keyword_query("barometers", 4));
  ASSERT_EQ(hits.size(), 4u);
  std::set<std::string> documents;
  for (const auto& hit : hits) documents.insert(hit.document_uri);
  EXPECT_EQ(documents.size(), 4u);
}

}  // namespace
}  // namespace ragline
