// vectors.faiss belongs to one KB and is never missing: reindex builds beside the old file and
// renames (a reader during a reindex loads the file instead of rebuilding), a file copied from
// another KB is refused by readers (rebuilt from kb.sqlite with a warning) and reported by check,
// also for KBs from before KB ids (a sample of vectors compared with kb.sqlite).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "index/sqlite.hpp"
#include "index/vector_index.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// `count` records on one of two unrelated subjects: two KBs of the same size, different vectors.
void write_corpus(const fs::path& path, int count, bool aviation) {
  const char* aviation_topics[] = {"Swept wings stall at high angle of attack.", "Boundary layers trip with roughness.",
                                   "Hypersonic flow heats leading edges.", "Oblique shocks slow the inlet air."};
  const char* kitchen_topics[] = {"Knead the dough until it springs back.", "Simmer the stock with bones and leeks.",
                                  "Whisk egg whites into stiff peaks.", "Caramelise onions slowly in butter."};
  std::string lines;
  for (int i = 0; i < count; ++i) {
    const char* topic = aviation ? aviation_topics[i % 4] : kitchen_topics[i % 4];
    nlohmann::json record = {{"_id", "d" + std::to_string(i)},
                             {"title", "Note " + std::to_string(i)},
                             {"text", std::string(topic) + " Record " + std::to_string(i) + "."}};
    lines += record.dump() + "\n";
  }
  write_file(path, lines);
}

std::vector<std::int64_t> dense_ids(KnowledgeBase& kb, const std::string& text) {
  Query query(text, 6);
  query.mode = SearchMode::dense;
  std::vector<std::int64_t> ids;
  for (const auto& hit : kb.retrieve(query)) ids.push_back(hit.chunk_id);
  return ids;
}

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  for (const auto& item : report.pending) text += "pending " + item.area + ": " + item.message + "\n";
  return text;
}

bool has_finding(const CheckReport& report, const std::string& area, const std::string& part) {
  for (const auto& finding : report.findings) {
    if (finding.area == area && finding.message.find(part) != std::string::npos) return true;
  }
  return false;
}

// Two KBs of 24 chunks each (same ids, same generation), on different subjects.
struct TwoKbs {
  TempDir dir;
  fs::path own = dir / "own";
  fs::path other = dir / "other";
  std::vector<std::int64_t> own_neighbours;

  TwoKbs() {
    write_corpus(dir / "aviation.jsonl", 24, true);
    write_corpus(dir / "kitchen.jsonl", 24, false);
    auto own_kb = KnowledgeBase::open(own);
    EXPECT_TRUE(own_kb.ingest({dir / "aviation.jsonl"}).ok());
    own_neighbours = dense_ids(own_kb, "stall of swept wings");
    auto other_kb = KnowledgeBase::open(other);
    EXPECT_TRUE(other_kb.ingest({dir / "kitchen.jsonl"}).ok());
    EXPECT_EQ(own_kb.stats().vectors, other_kb.stats().vectors);
    EXPECT_EQ(own_kb.stats().generation, other_kb.stats().generation);
  }
};

TEST(VectorFileIdentity, AFileCopiedFromAnotherKbIsReportedAndNotSearched) {
  // Another KB's vectors.faiss copied over: check names it, dense search answers from this KB.
  TwoKbs kbs;
  fs::copy_file(kbs.other / "vectors.faiss", kbs.own / "vectors.faiss", fs::copy_options::overwrite_existing);
  std::vector<std::string> warnings;
  OpenOptions options;
  options.log = [&](LogLevel level, const std::string& message) {
    if (level == LogLevel::warning) warnings.push_back(message);
  };
  auto kb = KnowledgeBase::open(kbs.own, options);
  const auto report = kb.check();
  EXPECT_TRUE(has_finding(report, "vector index", "another KB")) << describe(report);
  EXPECT_EQ(dense_ids(kb, "stall of swept wings"), kbs.own_neighbours);
  bool warned = false;
  for (const auto& warning : warnings) warned = warned || warning.find("another KB") != std::string::npos;
  EXPECT_TRUE(warned) << "expected a warning that vectors.faiss belongs to another KB";
  // repair() rebuilds the file; it then checks clean.
  kb.repair();
  EXPECT_TRUE(kb.check().ok()) << describe(kb.check());
}

TEST(VectorFileIdentity, KbsFromBeforeKbIdsAreCheckedBySampledVectors) {
  // Without KB ids (older KBs, files of format 1) check compares sampled vectors with kb.sqlite.
  TwoKbs kbs;
  for (const auto& kb_dir : {kbs.own, kbs.other}) {
    auto database = index::Database::open(kb_dir / "kb.sqlite", false);
    database.exec("DELETE FROM settings WHERE key = 'kb_id'");
    auto loaded = index::VectorIndex::load(kb_dir / "vectors.faiss");
    ASSERT_TRUE(loaded);
    loaded->first.save(kb_dir / "vectors.faiss", loaded->second.generation, loaded->second.embedder_id);
  }
  {
    auto kb = KnowledgeBase::open(kbs.own);
    EXPECT_TRUE(kb.check().ok()) << describe(kb.check());
  }
  fs::copy_file(kbs.other / "vectors.faiss", kbs.own / "vectors.faiss", fs::copy_options::overwrite_existing);
  auto kb = KnowledgeBase::open(kbs.own);
  const auto report = kb.check();
  EXPECT_TRUE(has_finding(report, "vector index", "differ from kb.sqlite")) << describe(report);
}

TEST(VectorFileIdentity, NewKbsCarryAnIdAndExistingOnesGetOneOnTheirFirstWrite) {
  // The KB id is made at creation, written into vectors.faiss; a KB without one gets one on a write.
  TempDir dir;
  write_corpus(dir / "aviation.jsonl", 8, true);
  write_corpus(dir / "more.jsonl", 2, false);
  const fs::path kb_dir = dir / "kb";
  std::string id;
  {
    auto kb = KnowledgeBase::open(kb_dir);
    ASSERT_TRUE(kb.ingest({dir / "aviation.jsonl"}).ok());
    auto header = index::VectorIndex::read_header(kb_dir / "vectors.faiss");
    ASSERT_TRUE(header);
    id = header->kb_id;
    EXPECT_EQ(id.size(), 32u);
  }
  {
    auto database = index::Database::open(kb_dir / "kb.sqlite", false);
    EXPECT_EQ(database.prepare("SELECT value FROM settings WHERE key = 'kb_id'").step(), true);
    database.exec("DELETE FROM settings WHERE key = 'kb_id'");
  }
  auto kb = KnowledgeBase::open(kb_dir);
  EXPECT_FALSE(dense_ids(kb, "stall of swept wings").empty());  // a reader accepts the file as before
  ASSERT_TRUE(kb.ingest({dir / "more.jsonl"}).ok());
  const auto header = index::VectorIndex::read_header(kb_dir / "vectors.faiss");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->kb_id.size(), 32u);
  EXPECT_NE(header->kb_id, id);
  EXPECT_TRUE(kb.check().ok()) << describe(kb.check());
}

TEST(ReindexKeepsTheFile, AReaderDuringAReindexLoadsTheFileInsteadOfRebuilding) {
  // Seam: reindex logs when it starts building; at that moment vectors.faiss must exist and load,
  // and a second KB handle searching then must not rebuild the index itself.
  TempDir dir;
  write_corpus(dir / "aviation.jsonl", 24, true);
  const fs::path kb_dir = dir / "kb";
  {
    auto kb = KnowledgeBase::open(kb_dir);
    ASSERT_TRUE(kb.ingest({dir / "aviation.jsonl"}).ok());
  }
  int builds_seen = 0;
  std::vector<std::string> reader_messages;
  OpenOptions options;
  options.log = [&](LogLevel, const std::string& message) {
    if (message.find("building the vector index") == std::string::npos) return;
    ++builds_seen;
    ASSERT_TRUE(fs::exists(kb_dir / "vectors.faiss")) << "vectors.faiss is missing during reindex";
    EXPECT_NO_THROW(EXPECT_TRUE(index::VectorIndex::load(kb_dir / "vectors.faiss")));
    OpenOptions reader_options;
    reader_options.log = [&](LogLevel, const std::string& reader_message) {
      reader_messages.push_back(reader_message);
    };
    auto reader = KnowledgeBase::open(kb_dir, reader_options);
    EXPECT_FALSE(dense_ids(reader, "stall of swept wings").empty());
  };
  auto kb = KnowledgeBase::open(kb_dir, options);
  kb.reindex();
  EXPECT_EQ(builds_seen, 1);
  for (const auto& message : reader_messages) {
    EXPECT_EQ(message.find("building the vector index"), std::string::npos) << message;
  }
  EXPECT_TRUE(index::VectorIndex::load(kb_dir / "vectors.faiss"));
  EXPECT_TRUE(kb.check().ok()) << describe(kb.check());
  for (const auto& entry : fs::directory_iterator(kb_dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace ragline
