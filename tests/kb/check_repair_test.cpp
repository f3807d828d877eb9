// KnowledgeBase::check() and repair(): each way of damaging a KB is found with a message naming
// what is wrong, repair() rebuilds what is derived, and the KB then checks clean and answers
// exactly as before the damage.

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "index/fts5_extension.hpp"
#include "index/sqlite.hpp"
#include "index/vector_index.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::TempDir;
using ragline::testing::write_file;
namespace fs = std::filesystem;

void write_corpus(const fs::path& path, int count) {
  const char* topics[] = {"Swept wings stall at high angle of attack.", "Boundary layers trip with roughness.",
                          "Hypersonic flow heats leading edges.", "Oblique shocks slow the inlet air."};
  std::string lines;
  for (int i = 0; i < count; ++i) {
    nlohmann::json record = {{"_id", "d" + std::to_string(i)},
                             {"title", "Note " + std::to_string(i)},
                             {"text", std::string(topics[i % 4]) + " Record " + std::to_string(i) + "."},
                             {"metadata", {{"year", 2000 + i}}}};
    lines += record.dump() + "\n";
  }
  write_file(path, lines);
}

Query make_query(std::string text, SearchMode mode) {
  Query query(std::move(text), 8);
  query.mode = mode;
  return query;
}

// What a KB answers: its documents and the hits of a few queries on every side.
std::vector<std::string> answers(KnowledgeBase& kb) {
  std::vector<std::string> lines;
  for (const auto& document : kb.documents()) {
    lines.push_back(document.uri + " " + document.content_hash + " " + std::to_string(document.chunk_count));
  }
  for (auto mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
    for (const char* text : {"stall of swept wings", "hypersonic leading edge record 7"}) {
      for (const auto& hit : kb.retrieve(make_query(text, mode))) lines.push_back(std::to_string(hit.chunk_id));
    }
  }
  return lines;
}

std::string describe(const CheckReport& report) {
  std::string text;
  for (const auto& finding : report.findings) text += finding.area + ": " + finding.message + "\n";
  for (const auto& item : report.pending) text += "pending " + item.area + ": " + item.message + "\n";
  return text;
}

// A raw connection as a damaging process would have it: foreign keys off, FTS5 tokenizer known.
index::Database raw_connection(const fs::path& kb_dir) {
  auto database = index::Database::open(kb_dir / "kb.sqlite", false);
  index::register_fts5_extensions(database.get());
  database.exec("PRAGMA foreign_keys = OFF");
  return database;
}

struct Damage {
  const char* name;
  std::function<void(const fs::path& kb_dir)> apply;
  const char* area;
  const char* message_part;
};

class CheckRepair : public ::testing::TestWithParam<Damage> {};

TEST_P(CheckRepair, FindsTheDamageAndRepairRestoresTheKb) {
  // One kind of damage per case: check() names it, repair() fixes it, answers are unchanged.
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 24);
  const fs::path kb_dir = dir / "kb";
  std::vector<std::string> before;
  {
    auto kb = KnowledgeBase::open(kb_dir);
    ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
    const auto clean = kb.check();
    ASSERT_TRUE(clean.ok()) << describe(clean);
    EXPECT_TRUE(clean.pending.empty()) << describe(clean);
    before = answers(kb);
  }
  GetParam().apply(kb_dir);

  auto kb = KnowledgeBase::open(kb_dir);
  const auto damaged = kb.check();
  EXPECT_FALSE(damaged.ok()) << GetParam().name;
  bool named = false;
  for (const auto& finding : damaged.findings) {
    named = named ||
            (finding.area == GetParam().area && finding.message.find(GetParam().message_part) != std::string::npos);
  }
  EXPECT_TRUE(named) << "expected a finding in " << GetParam().area << " mentioning \"" << GetParam().message_part
                     << "\"; got:\n"
                     << describe(damaged);

  const auto repaired = kb.repair();
  EXPECT_FALSE(repaired.actions.empty());
  EXPECT_TRUE(repaired.after.ok()) << describe(repaired.after);
  EXPECT_TRUE(repaired.after.pending.empty()) << describe(repaired.after);
  auto reopened = KnowledgeBase::open(kb_dir);
  EXPECT_TRUE(reopened.check().ok());
  EXPECT_EQ(answers(reopened), before);
  ragline::testing::expect_kb_consistent(kb_dir);
}

std::int64_t first_chunk(index::Database& database) { return *database.query_int64("SELECT min(id) FROM chunks"); }

const Damage kDamages[] = {
    {"fts_docsize_row_deleted",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("DELETE FROM chunk_keywords_docsize WHERE id = " + std::to_string(first_chunk(database)));
     },
     "keyword index", "missing from the keyword index"},
    {"fts_row_deleted_through_fts5",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       // The FTS5 'delete' command removes one chunk's terms as if it had never been indexed.
       database.exec(
           "INSERT INTO chunk_keywords(chunk_keywords, rowid, text, title, heading_path) SELECT 'delete', c.id, "
           "c.text, d.title, c.heading_path FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = " +
           std::to_string(first_chunk(database)));
     },
     "keyword index", "missing from the keyword index"},
    {"fts_terms_garbled",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("UPDATE chunk_keywords_data SET block = zeroblob(length(block)) WHERE id > 10");
     },
     "keyword index", "integrity-check failed"},
    {"fts_row_without_chunk",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("INSERT INTO chunk_keywords(rowid, text, title, heading_path) VALUES(99999, 'ghost', '', '')");
     },
     "keyword index", "have no searchable chunk"},
    {"vector_row_dropped",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("DROP TRIGGER chunk_vectors_removed");  // lost, not deleted: nothing logs it
       database.exec("DELETE FROM chunk_vectors WHERE chunk_id = " + std::to_string(first_chunk(database)));
       database.exec(
           "CREATE TRIGGER chunk_vectors_removed AFTER DELETE ON chunk_vectors BEGIN INSERT INTO "
           "vector_removals(chunk_id, generation) SELECT old.chunk_id, CAST(value AS INTEGER) + 1 FROM settings "
           "WHERE key = 'generation'; END");
     },
     "vector index", "have no vector in kb.sqlite"},
    {"vector_of_the_wrong_size",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("UPDATE chunk_vectors SET vector = zeroblob(12) WHERE chunk_id = " +
                     std::to_string(first_chunk(database)));
     },
     "vectors", "do not have the KB's dimension"},
    {"orphan_chunk",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec(
           "INSERT INTO chunks(document_id, ordinal, searchable, text, byte_start, byte_end, heading_path, "
           "token_count) VALUES(4242, 0, 0, 'stray', 0, 5, '', 1)");
     },
     "orphans", "rows of chunks point at a missing documents row"},
    {"orphan_metadata",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("INSERT INTO metadata(document_id, key, type, value) VALUES(4242, 'year', 'number', 1999)");
     },
     "orphans", "rows of metadata point at a missing documents row"},
    {"orphan_vector",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec(
           "INSERT INTO chunk_vectors(chunk_id, generation, vector) SELECT 4242, generation, vector FROM "
           "chunk_vectors LIMIT 1");
     },
     "orphans", "rows of chunk_vectors point at a missing chunks row"},
    {"vector_file_truncated",
     [](const fs::path& kb_dir) {
       fs::resize_file(kb_dir / "vectors.faiss", fs::file_size(kb_dir / "vectors.faiss") / 2);
     },
     "vector index", "vectors.faiss"},
    {"vector_file_garbled",
     [](const fs::path& kb_dir) { write_file(kb_dir / "vectors.faiss", std::string(4096, '\x5a')); }, "vector index",
     "vectors.faiss"},
    {"vector_file_from_the_future",
     [](const fs::path& kb_dir) {
       auto loaded = index::VectorIndex::load(kb_dir / "vectors.faiss");
       auto& [vectors, header] = *loaded;
       vectors.save(kb_dir / "vectors.faiss", header.generation + 5, header.embedder_id, header.kb_id);
     },
     "vector index", "newer than kb.sqlite"},
    {"vector_file_with_a_stale_id",
     [](const fs::path& kb_dir) {
       // Same generation as kb.sqlite, but holding an id no chunk has: it could be returned as a hit.
       auto loaded = index::VectorIndex::load(kb_dir / "vectors.faiss");
       auto& [vectors, header] = *loaded;
       const std::vector<std::int64_t> ids = {77777};
       const std::vector<float> values(header.dimension, 1.0f / std::sqrt(static_cast<float>(header.dimension)));
       vectors.add(ids, values);
       vectors.save(kb_dir / "vectors.faiss", header.generation, header.embedder_id, header.kb_id);
     },
     "vector index", "have no vector in kb.sqlite"},
    {"generation_unreadable",
     [](const fs::path& kb_dir) {
       auto database = raw_connection(kb_dir);
       database.exec("UPDATE settings SET value = 'seven' WHERE key = 'generation'");
     },
     "settings", "not a non-negative integer"},
};

INSTANTIATE_TEST_SUITE_P(Damages, CheckRepair, ::testing::ValuesIn(kDamages),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(CheckRepairPending, ChunksWaitingForVectorsArePendingNotDamage) {
  // Vectors a failed embedding left out are reported as pending; the KB is still ok.
  TempDir dir;
  write_corpus(dir / "corpus.jsonl", 8);
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "corpus.jsonl"}).ok());
  {
    auto database = raw_connection(dir / "kb");
    database.exec("BEGIN IMMEDIATE");
    database.exec("DELETE FROM chunk_vectors");  // as an ingest whose embedder failed stores them
    database.exec("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'");
    database.exec("COMMIT");
  }
  const auto report = kb.check();
  EXPECT_TRUE(report.ok()) << describe(report);
  ASSERT_EQ(report.pending.size(), 1u) << describe(report);
  EXPECT_NE(report.pending[0].message.find("8 (e.g."), std::string::npos) << report.pending[0].message;
  EXPECT_NE(report.pending[0].message.find("of 8 documents wait for their vectors"), std::string::npos);
  kb.ingest({});
  const auto completed = kb.check();
  EXPECT_TRUE(completed.ok() && completed.pending.empty()) << describe(completed);
}

TEST(CheckRepairHierarchical, ParentsThatAreNeverIndexedAreNotFindingsAndRepairKeepsThemOut) {
  // Hierarchical parents are stored but not searchable: no FTS5 row, no vector. check() accepts
  // that, and repair() refills the keyword index from the searchable children only.
  TempDir dir;
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Sentence number " + std::to_string(i) + " mentions anemometers. ";
  write_file(dir / "long.txt", text);
  OpenOptions options;
  options.chunker = ChunkerConfig{"hierarchical", 256, 0, 200, 40};
  auto kb = KnowledgeBase::open(dir / "kb", options);
  ASSERT_TRUE(kb.ingest({dir / "long.txt"}).ok());
  const auto clean = kb.check();
  EXPECT_TRUE(clean.ok() && clean.pending.empty()) << describe(clean);
  const auto stats = kb.stats();
  ASSERT_LT(stats.searchable_chunks, stats.chunks);
  {
    auto database = raw_connection(dir / "kb");
    database.exec("DELETE FROM chunk_keywords_docsize WHERE id = (SELECT min(id) FROM chunks WHERE searchable = 1)");
  }
  EXPECT_FALSE(kb.check().ok());
  const auto repaired = kb.repair();
  EXPECT_TRUE(repaired.after.ok()) << describe(repaired.after);
  auto database = raw_connection(dir / "kb");
  EXPECT_EQ(database.query_int64("SELECT count(*) FROM chunk_keywords_docsize"), stats.searchable_chunks);
}

}  // namespace
}  // namespace ragline
