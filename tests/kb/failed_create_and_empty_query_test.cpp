// KnowledgeBase::open refuses bad embedder settings before creating anything (no KB directory
// is left that no later open could use), and queries without searchable terms (empty, blank,
// stopwords only) return no hits in every mode, with a warning saying why.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using ragline::testing::TempDir;
using ragline::testing::write_file;

TEST(FailedCreate, BadEmbedderSettingsCreateNothing) {
  TempDir dir;
  OpenOptions openai_without_model;
  openai_without_model.embedder = EmbedderConfig{};
  openai_without_model.embedder->name = "openai";
  EXPECT_THROW(KnowledgeBase::open(dir / "kb", openai_without_model), Error);
  EXPECT_FALSE(fs::exists(dir / "kb"));

  OpenOptions bert_without_folder;
  bert_without_folder.embedder = EmbedderConfig{};
  bert_without_folder.embedder->name = "bert";
  bert_without_folder.embedder->model = (dir / "no-such-model").string();
  EXPECT_THROW(KnowledgeBase::open(dir / "kb", bert_without_folder), Error);
  EXPECT_FALSE(fs::exists(dir / "kb"));

  // The directory takes a good create afterwards, and ingest refuses batch_documents 0 before
  // writing anything.
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  auto kb = KnowledgeBase::open(dir / "kb");
  IngestOptions zero_batch;
  zero_batch.batch_documents = 0;
  EXPECT_THROW(kb.ingest({dir / "docs"}, zero_batch), Error);
  EXPECT_EQ(kb.stats().documents, 0);
  EXPECT_EQ(kb.ingest({dir / "docs"}).documents_added, 1u);
}

TEST(QueriesWithoutTerms, ReturnNoHitsInEveryMode) {
  TempDir dir;
  write_file(dir / "docs" / "winch.txt", "A winch launch lifts a glider to 400 metres.");
  write_file(dir / "docs" / "aerotow.txt", "An aerotow launch uses a tug aircraft.");
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_EQ(kb.ingest({dir / "docs"}).documents_added, 2u);
  for (const std::string text : {"", "   \n\t", "the and of", "?!"}) {
    for (const SearchMode mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
      Query query(text);
      query.mode = mode;
      const auto result = kb.search(query);
      EXPECT_TRUE(result.hits.empty()) << "\"" << text << "\" " << to_string(mode);
      ASSERT_EQ(result.explanation.warnings.size(), 1u) << "\"" << text << "\" " << to_string(mode);
      EXPECT_NE(result.explanation.warnings[0].find("no searchable terms"), std::string::npos);
    }
  }
  // A real query still answers, without warnings.
  const auto result = kb.search(Query("winch"));
  ASSERT_FALSE(result.hits.empty());
  EXPECT_TRUE(result.explanation.warnings.empty());
}

}  // namespace
}  // namespace ragline
