#include "index/store.hpp"

#include <gtest/gtest.h>

#include "index/sqlite.hpp"
#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace ragline::index {
namespace {

using ragline::testing::TempDir;

Document make_document(const std::string& uri, const std::string& title, const std::string& text) {
  Document document;
  document.uri = uri;
  document.source_path = "/data/" + uri;
  document.title = title;
  document.mime_type = "text/plain";
  document.text = text;
  document.metadata = {
      {"dept", std::string("hr")}, {"year", 2023.0}, {"public", true}, {"tags", std::vector<std::string>{"a", "b"}}};
  return document;
}

std::vector<Chunk> whole_text_chunk(const Document& document) {
  Chunk chunk;
  chunk.text = document.text;
  chunk.byte_end = document.text.size();
  chunk.token_count = 3;
  return {chunk};
}

void expect_keyword_index_consistent(Store& store) {
  // FTS5 compares its index with the external content when asked for an integrity check.
  EXPECT_NO_THROW(store.database().exec("INSERT INTO chunk_keywords(chunk_keywords) VALUES('integrity-check')"));
  auto check = store.database().prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_string(0), "ok");
}

std::int64_t count_matches(Store& store, const std::string& term) {
  auto statement = store.database().prepare("SELECT count(*) FROM chunk_keywords WHERE chunk_keywords MATCH ?1");
  statement.bind(1, term);
  statement.step();
  return statement.column_int64(0);
}

TEST(Store, CreatesVersionedSchemaInWalMode) {
  // A new KB gets schema version 1, WAL journaling and the default settings.
  TempDir dir;
  auto store = Store::open(dir.path(), true, std::nullopt, std::nullopt);
  EXPECT_EQ(store.schema_version(), kSchemaVersion);
  EXPECT_EQ(store.database().query_int64("PRAGMA user_version"), kSchemaVersion);
  auto mode = store.database().prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_string(0), "wal");
  EXPECT_EQ(store.chunker(), ChunkerConfig{});
  EXPECT_EQ(store.analyzer(), AnalyzerConfig{});
}

TEST(Store, KeepsSettingsAndRefusesDifferentOnes) {
  // Settings chosen at creation persist; reopening with other chunker/analyzer settings names both.
  TempDir dir;
  ChunkerConfig chunker{"fixed", 64, 8, 1024, 128};
  AnalyzerConfig analyzer{"german", true, false};
  { Store::open(dir.path(), true, chunker, analyzer); }
  auto reopened = Store::open(dir.path(), false, std::nullopt, std::nullopt);
  EXPECT_EQ(reopened.chunker(), chunker);
  EXPECT_EQ(reopened.analyzer(), analyzer);
  try {
    Store::open(dir.path(), false, ChunkerConfig{"sentence", 64, 8, 1024, 128}, std::nullopt);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("\"fixed\""), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("\"sentence\""), std::string::npos) << error.what();
  }
  EXPECT_THROW(Store::open(dir.path(), false, std::nullopt, AnalyzerConfig{"french", true, true}), Error);
}

TEST(Store, BadSettingsCreateNothing) {
  // An unknown language is refused before the KB directory or file is created (chunkers are
  // validated by KnowledgeBase::open, which knows their registry: tests/kb).
  TempDir dir;
  EXPECT_THROW(Store::open(dir / "b", true, std::nullopt, AnalyzerConfig{"klingon"}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "b"));
}

TEST(Store, RefusesMissingNewerOrForeignDatabases) {
  // Opening without create fails clearly; a newer schema or a non-ragline SQLite file is refused.
  TempDir dir;
  try {
    Store::open(dir / "missing", false, std::nullopt, std::nullopt);
    FAIL() << "expected not_found";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::not_found);
  }
  { Store::open(dir / "newer", true, std::nullopt, std::nullopt); }
  {
    auto raw = Database::open(dir / "newer" / "kb.sqlite", false);
    raw.exec("PRAGMA user_version = 99");
  }
  try {
    Store::open(dir / "newer", false, std::nullopt, std::nullopt);
    FAIL() << "expected unsupported";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::unsupported);
    EXPECT_NE(std::string(error.what()).find("99"), std::string::npos);
  }
  std::filesystem::create_directories(dir / "foreign");
  {
    auto raw = Database::open(dir / "foreign" / "kb.sqlite", true);
    raw.exec("CREATE TABLE something(x)");
  }
  EXPECT_THROW(Store::open(dir / "foreign", false, std::nullopt, std::nullopt), Error);
  ragline::testing::write_file(dir / "garbage" / "kb.sqlite", std::string(4096, 'x'));
  EXPECT_THROW(Store::open(dir / "garbage", false, std::nullopt, std::nullopt), Error);
}

TEST(Store, PutReplaceDeleteKeepsKeywordIndexInStep) {
  // Replacing a document swaps its indexed terms; deleting removes them; FTS5 stays consistent.
  TempDir dir;
  auto store = Store::open(dir.path(), true, std::nullopt, std::nullopt);
  auto first = make_document("a.txt", "Apples", "apples grow on trees");
  std::int64_t id = 0;
  {
    WriteTransaction transaction(store.database());
    id = store.put_document(first, "hash1", whole_text_chunk(first), 1);
    transaction.commit();
  }
  EXPECT_EQ(count_matches(store, "trees"), 1);
  auto second = make_document("a.txt", "Pears", "pears ripen slowly");
  {
    WriteTransaction transaction(store.database());
    EXPECT_EQ(store.put_document(second, "hash2", whole_text_chunk(second), 2), id);
    transaction.commit();
  }
  EXPECT_EQ(count_matches(store, "trees"), 0);
  EXPECT_EQ(count_matches(store, "apples"), 0);
  EXPECT_EQ(count_matches(store, "ripen"), 1);
  EXPECT_EQ(store.find_document("a.txt")->content_hash, "hash2");
  expect_keyword_index_consistent(store);

  const Metadata metadata = store.document_metadata(id);
  EXPECT_EQ(std::get<std::string>(metadata.at("dept")), "hr");
  EXPECT_EQ(std::get<double>(metadata.at("year")), 2023.0);
  EXPECT_EQ(std::get<bool>(metadata.at("public")), true);
  EXPECT_EQ(std::get<std::vector<std::string>>(metadata.at("tags")), (std::vector<std::string>{"a", "b"}));

  {
    WriteTransaction transaction(store.database());
    EXPECT_TRUE(store.delete_document(id));
    transaction.commit();
  }
  EXPECT_EQ(count_matches(store, "ripen"), 0);
  EXPECT_EQ(store.database().query_int64("SELECT count(*) FROM chunks"), 0);
  EXPECT_EQ(store.database().query_int64("SELECT count(*) FROM metadata"), 0);
  expect_keyword_index_consistent(store);
}

TEST(Store, UncommittedBatchLeavesNothing) {
  // A batch whose transaction is not committed (an exception mid-batch) leaves no trace.
  TempDir dir;
  auto store = Store::open(dir.path(), true, std::nullopt, std::nullopt);
  auto document = make_document("b.txt", "B", "bananas are yellow");
  {
    WriteTransaction transaction(store.database());
    store.put_document(document, "h", whole_text_chunk(document), 1);
  }
  EXPECT_FALSE(store.find_document("b.txt").has_value());
  EXPECT_EQ(count_matches(store, "bananas"), 0);
  expect_keyword_index_consistent(store);
}

TEST(Store, DocumentsFromMatchesPathsBelowARootOnly) {
  // documents_from(root) finds files at and below the root but not siblings sharing a prefix.
  TempDir dir;
  auto store = Store::open(dir.path(), true, std::nullopt, std::nullopt);
  WriteTransaction transaction(store.database());
  for (const std::string path : {"/data/docs/a.txt", "/data/docs/sub/b.txt", "/data/docs2/c.txt", "/data/docs"}) {
    auto document = make_document(path, "t", "some text");
    document.source_path = path;
    store.put_document(document, "h", whole_text_chunk(document), 1);
  }
  transaction.commit();
  EXPECT_EQ(store.documents_from("/data/docs").size(), 3u);
  EXPECT_EQ(store.documents_from("/data/docs/").size(), 3u);
  EXPECT_EQ(store.documents_from("/data/docs/sub").size(), 1u);
  EXPECT_EQ(store.documents_from("/data").size(), 4u);
}

TEST(Store, GenerationCountsCommittedBatches) {
  // The KB generation rises by one per bump and persists across reopen.
  TempDir dir;
  {
    auto store = Store::open(dir.path(), true, std::nullopt, std::nullopt);
    EXPECT_EQ(store.generation(), 0);
    WriteTransaction transaction(store.database());
    store.bump_generation();
    store.bump_generation();
    transaction.commit();
  }
  auto store = Store::open(dir.path(), false, std::nullopt, std::nullopt);
  EXPECT_EQ(store.generation(), 2);
}

}  // namespace
}  // namespace ragline::index
