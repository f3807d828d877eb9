#include <gtest/gtest.h>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::keyword_query;

TEST(SchemaCompatibility, OpensAVersion1KbWrittenByAnEarlierRagline) {
  // The committed schema-1 KB opens, keeps its settings and documents, and answers searches.
  ragline::testing::TempDir dir;
  std::filesystem::copy(ragline::testing::test_data("kb-v1"), dir / "kb");
  OpenOptions options;
  options.create_if_missing = false;
  auto kb = KnowledgeBase::open(dir / "kb", options);
  const Stats stats = kb.stats();
  EXPECT_GE(stats.schema_version, 1);
  EXPECT_EQ(stats.documents, 3);
  EXPECT_EQ(stats.chunker.name, "markdown");
  EXPECT_EQ(stats.analyzer.language, "english");

  auto hits = kb.retrieve(keyword_query("pitot calibration", 5));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].document_uri, "file:///tmp/ragline-fixture-v1/docs/tunnel.md");
  EXPECT_EQ(hits[0].heading_path, "Wind tunnels > Calibration");

  hits = kb.retrieve(keyword_query("balsa", 5));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(std::get<double>(hits[0].metadata.at("year")), 2021.0);
  EXPECT_EQ(std::get<bool>(hits[0].metadata.at("reviewed")), true);
  EXPECT_EQ(std::get<std::vector<std::string>>(hits[0].metadata.at("tags")),
            (std::vector<std::string>{"models", "wood"}));

  // It stays writable: a new document goes in beside the old ones.
  ragline::testing::write_file(dir / "new.txt", "Smoke visualisation shows the vortices.");
  EXPECT_EQ(kb.ingest({dir / "new.txt"}).documents_added, 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("vortices", 5)).size(), 1u);

  // Schema 1 had no vectors: the migration gives the KB the default embedder, and the ingest
  // above first embedded the old chunks, so dense search covers all of them.
  const Stats migrated = kb.stats();
  EXPECT_EQ(migrated.schema_version, 2);
  EXPECT_EQ(migrated.embedder.name, "lexical");
  EXPECT_EQ(migrated.vectors, migrated.searchable_chunks);
  Query dense("pitot tube calibration", 3);
  dense.mode = SearchMode::dense;
  hits = kb.retrieve(dense);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].document_uri, "file:///tmp/ragline-fixture-v1/docs/tunnel.md");
}

}  // namespace
}  // namespace ragline
