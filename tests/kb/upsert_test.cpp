// KnowledgeBase::upsert, get and remove: documents from memory through ingest's stages (incremental
// by hash, bad and repeated ids reported, metadata filters, vectors, redaction), beside file
// documents that a pruning ingest removes without touching them, and their JSON.
#include <gtest/gtest.h>

#include <algorithm>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using ragline::testing::keyword_query;
using ragline::testing::TempDir;
using ragline::testing::write_file;

std::string failures_of(const IngestReport& report) {
  std::string text;
  for (const auto& failure : report.failures) text += failure.location + ": " + failure.reason + "\n";
  return text;
}

bool found(const SearchResult& result, const std::string& uri) {
  return std::any_of(result.hits.begin(), result.hits.end(), [&](const Hit& hit) { return hit.document_uri == uri; });
}

std::vector<DocumentInput> two_documents() {
  return {{"tickets/1", "Refund request", "The customer asks for a refund of the annual plan.", {{"team", "sales"}}},
          {"tickets/2",
           "Printer jam",
           "The printer on the third floor jams on every duplex job.",
           {{"team", "facilities"}, {"priority", 2.0}}}};
}

TEST(Upsert, AddsSkipsUnchangedAndReplacesChanged) {
  // A first upsert adds, the same again is unchanged, a changed text replaces that document's chunks.
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto added = kb.upsert(two_documents());
  EXPECT_TRUE(added.ok()) << failures_of(added);
  EXPECT_EQ(added.documents_added, 2u);
  EXPECT_GE(added.chunks_written, 2u);
  EXPECT_EQ(added.files_seen, 0u);

  const auto again = kb.upsert(two_documents());
  EXPECT_TRUE(again.ok()) << failures_of(again);
  EXPECT_EQ(again.documents_unchanged, 2u);
  EXPECT_EQ(again.documents_added + again.documents_updated, 0u);
  EXPECT_EQ(again.chunks_written, 0u);

  auto changed = two_documents();
  changed[1].text = "The printer on the third floor was replaced by a new laser model.";
  const auto updated = kb.upsert(changed);
  EXPECT_TRUE(updated.ok()) << failures_of(updated);
  EXPECT_EQ(updated.documents_updated, 1u);
  EXPECT_EQ(updated.documents_unchanged, 1u);
  EXPECT_EQ(kb.stats().documents, 2);
  EXPECT_FALSE(found(kb.search(keyword_query("duplex")), "tickets/2")) << "the old chunks are gone";
  EXPECT_TRUE(found(kb.search(keyword_query("laser")), "tickets/2"));
  EXPECT_TRUE(kb.check().ok());
}

TEST(Upsert, ReportsBadAndRepeatedIdsAndKeepsTheRest) {
  // Empty, invalid UTF-8, too long and repeated ids, blank text and bad metadata each fail alone; the rest goes in.
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  const std::string longest(kMaxDocumentIdBytes, 'x');
  const std::vector<DocumentInput> documents = {
      {"", "Empty", "An empty id.", {}},
      {"bad\xff"
       "id",
       "Invalid",
       "An id that is not UTF-8.",
       {}},
      {std::string(kMaxDocumentIdBytes + 1, 'y'), "Long", "An id one byte too long.", {}},
      {"good", "Good", "A good document about vacation days.", {}},
      {"good", "Again", "The same id a second time.", {}},
      {longest, "Longest", "The longest id allowed is fine.", {}},
      {"blank", "Blank", " \n\t ", {}},
      {"bad-metadata", "Metadata", "Metadata that is not UTF-8.", {{"team", std::string("s\xff")}}},
  };
  const auto report = kb.upsert(documents);
  EXPECT_EQ(report.documents_added, 2u) << failures_of(report);
  ASSERT_EQ(report.failures.size(), 6u) << failures_of(report);
  EXPECT_EQ(report.failures[0].location, "documents[0]");
  EXPECT_NE(report.failures[0].reason.find("empty"), std::string::npos);
  EXPECT_EQ(report.failures[1].location, "documents[1]");
  EXPECT_NE(report.failures[1].reason.find("not valid UTF-8"), std::string::npos);
  EXPECT_NE(report.failures[1].reason.find("bad\xEF\xBF\xBDid"), std::string::npos) << "names the id, repaired";
  EXPECT_EQ(report.failures[2].location, "documents[2]");
  EXPECT_NE(report.failures[2].reason.find("2049 bytes"), std::string::npos);
  EXPECT_EQ(report.failures[3].location, "good");
  EXPECT_NE(report.failures[3].reason.find("duplicate document id"), std::string::npos);
  EXPECT_EQ(report.failures[4].location, "blank");
  EXPECT_NE(report.failures[4].reason.find("no text"), std::string::npos);
  EXPECT_EQ(report.failures[5].location, "bad-metadata");
  EXPECT_NE(report.failures[5].reason.find("metadata \"team\" is not valid UTF-8"), std::string::npos);
  ASSERT_TRUE(kb.get("good").has_value());
  EXPECT_EQ(kb.get("good")->title, "Good") << "the first of a repeated id is kept";
  EXPECT_TRUE(kb.get(longest).has_value());
  EXPECT_EQ(kb.stats().documents, 2);
}

TEST(Upsert, MetadataFilterAndHybridSearchFindUpsertedDocuments) {
  // Upserted metadata filters on both sides; vectors are written and vectors.faiss is brought up to date.
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto report = kb.upsert(two_documents());
  ASSERT_TRUE(report.ok()) << failures_of(report);
  EXPECT_GE(report.chunks_embedded + report.embeddings_from_cache, 2u);

  Query filtered("refund printer", 5);
  filtered.filter = R"({"equals": {"key": "team", "value": "facilities"}})";
  const auto result = kb.search(filtered);
  ASSERT_EQ(result.hits.size(), 1u);
  EXPECT_EQ(result.hits[0].document_uri, "tickets/2");
  EXPECT_EQ(std::get<double>(result.hits[0].metadata.at("priority")), 2.0);

  Query dense("customer refund annual plan", 5);
  dense.mode = SearchMode::dense;
  const auto dense_result = kb.search(dense);
  ASSERT_FALSE(dense_result.hits.empty());
  EXPECT_EQ(dense_result.hits[0].document_uri, "tickets/1");
  const auto hybrid = kb.search(Query("customer refund", 5));
  ASSERT_FALSE(hybrid.hits.empty());
  EXPECT_EQ(hybrid.hits[0].document_uri, "tickets/1");
  EXPECT_TRUE(hybrid.hits[0].dense.has_value());

  const auto stats = kb.stats();
  EXPECT_EQ(stats.vectors, stats.searchable_chunks);
  EXPECT_EQ(stats.vector_index_generation, stats.generation) << "vectors.faiss was saved by the upsert";
}

TEST(Upsert, GetReturnsTheStoredDocumentAndRemoveDeletesInOneGo) {
  // get() returns the normalised text, metadata, hash and chunk count; remove() counts what it removed.
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  auto documents = two_documents();
  documents[0].title = "  Refund\n request ";
  documents[0].text = "The customer asks for a refund.\r\n\r\n\r\nOf the annual plan.";
  documents[0].metadata["tags"] = std::vector<std::string>{"billing", "urgent"};
  ASSERT_TRUE(kb.upsert(documents).ok());

  const auto stored = kb.get("tickets/1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->id, "tickets/1");
  EXPECT_EQ(stored->title, "Refund request");
  EXPECT_EQ(stored->text, "The customer asks for a refund.\n\nOf the annual plan.");
  EXPECT_EQ(std::get<std::string>(stored->metadata.at("team")), "sales");
  EXPECT_EQ(std::get<std::vector<std::string>>(stored->metadata.at("tags")),
            (std::vector<std::string>{"billing", "urgent"}));
  EXPECT_GE(stored->chunk_count, 1);
  const auto listed = kb.documents();
  const auto info = std::find_if(listed.begin(), listed.end(), [](const auto& d) { return d.uri == "tickets/1"; });
  ASSERT_NE(info, listed.end());
  EXPECT_EQ(stored->content_hash, info->content_hash);
  EXPECT_EQ(stored->chunk_count, info->chunk_count);
  EXPECT_FALSE(kb.get("tickets/404").has_value());

  EXPECT_EQ(kb.remove({"tickets/1", "tickets/404", "tickets/1"}), 1u);
  EXPECT_FALSE(kb.get("tickets/1").has_value());
  EXPECT_FALSE(found(kb.search(keyword_query("refund")), "tickets/1"));
  EXPECT_EQ(kb.remove({"tickets/404"}), 0u);
  const auto check = kb.check();
  EXPECT_TRUE(check.ok()) << (check.findings.empty() ? "" : check.findings[0].message);
  const auto stats = kb.stats();
  EXPECT_EQ(stats.documents, 1);
  EXPECT_EQ(stats.vector_index_generation, stats.generation) << "vectors.faiss was synced by remove";
  EXPECT_TRUE(kb.remove_document("tickets/2"));
  EXPECT_EQ(kb.stats().documents, 0);
}

TEST(Upsert, RedactsWithTheKbsRecordedRedaction) {
  // Once a redaction is recorded, later upserts redact with it (and change the hash, not the id).
  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  IngestOptions redacting;
  redacting.redaction = RedactionConfig{};
  ASSERT_TRUE(kb.upsert({{"first", "", "Write to alice@example.com for access.", {}}}, redacting).ok());
  const auto report = kb.upsert({{"second", "", "Or ask bob@example.org instead.", {}}});
  ASSERT_TRUE(report.ok()) << failures_of(report);
  EXPECT_EQ(report.redactions.at("email"), 1u);
  EXPECT_EQ(kb.get("first")->text, "Write to [EMAIL] for access.");
  EXPECT_EQ(kb.get("second")->text, "Or ask [EMAIL] instead.");
}

TEST(Upsert, LivesBesideFilesAndIsNeverPruned) {
  // A pruning ingest of a folder removes its vanished files only; upserts never remove file documents.
  TempDir dir;
  write_file(dir / "docs" / "keep.md", "# Keep\n\nThis file stays in the folder.\n");
  write_file(dir / "docs" / "gone.md", "# Gone\n\nThis file is deleted later.\n");
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.ingest({dir / "docs"}).ok());
  IngestOptions prune;
  prune.prune = true;
  const auto upserted = kb.upsert(two_documents(), prune);
  EXPECT_EQ(upserted.documents_added, 2u);
  EXPECT_EQ(upserted.documents_pruned, 0u);
  EXPECT_EQ(kb.stats().documents, 4) << "an upsert removes no file document";

  std::filesystem::remove(dir / "docs" / "gone.md");
  const auto report = kb.ingest({dir / "docs"}, prune);
  EXPECT_EQ(report.documents_pruned, 1u);
  EXPECT_EQ(kb.stats().documents, 3);
  EXPECT_TRUE(kb.get("tickets/1").has_value());
  EXPECT_TRUE(kb.get("tickets/2").has_value());
  EXPECT_TRUE(kb.get(file_uri(std::filesystem::canonical(dir / "docs" / "keep.md"))).has_value());
  EXPECT_TRUE(found(kb.search(keyword_query("printer")), "tickets/2"));
  EXPECT_TRUE(kb.check().ok());
}

TEST(Upsert, DocumentsJson) {
  // The upsert input reads from a list or {"documents": [...]}, names bad fields, and round-trips.
  const auto list = documents_from_json(
      R"([{"id": "a", "title": "A", "text": "alpha", "metadata": {"year": 2024, "tags": ["x"], "ok": true}},
          {"id": "b", "text": "beta"}])");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "a");
  EXPECT_EQ(std::get<double>(list[0].metadata.at("year")), 2024.0);
  EXPECT_EQ(std::get<std::vector<std::string>>(list[0].metadata.at("tags")), std::vector<std::string>{"x"});
  EXPECT_TRUE(std::get<bool>(list[0].metadata.at("ok")));
  EXPECT_EQ(list[1].title, "");
  const auto wrapped = documents_from_json(to_json(list));
  ASSERT_EQ(wrapped.size(), 2u);
  EXPECT_EQ(wrapped[0].metadata, list[0].metadata);
  EXPECT_EQ(wrapped[1].text, "beta");

  const auto error_of = [](const char* json) {
    try {
      documents_from_json(json);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"([{"id": "a"}])").find("documents[0].text"), std::string::npos);
  EXPECT_NE(error_of(R"([{"id": 3, "text": "x"}])").find("documents[0].id"), std::string::npos);
  EXPECT_NE(error_of(R"({"documents": [{"id": "a", "text": "x", "bogus": 1}]})").find("documents[0].bogus"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"id": "a", "text": "x", "metadata": {"m": {"nested": 1}}}])").find("documents[0].metadata.m"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"docs": []})").find("docs"), std::string::npos);
  EXPECT_NE(error_of("7").find("documents"), std::string::npos);

  // One document alone (a JSON Lines record of rag-query upsert), its fields named "document.*".
  const auto single = document_input_from_json(R"({"id": "c", "text": "gamma", "metadata": {"n": 1}})");
  EXPECT_EQ(single.id, "c");
  EXPECT_EQ(single.text, "gamma");
  EXPECT_EQ(std::get<double>(single.metadata.at("n")), 1.0);
  const auto single_error_of = [](const char* json) {
    try {
      document_input_from_json(json);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(single_error_of(R"({"id": "c"})").find("document.text"), std::string::npos);
  EXPECT_NE(single_error_of(R"([{"id": "c", "text": "x"}])").find("document"), std::string::npos);
  EXPECT_NE(single_error_of(R"({"id": "c", "text": "x"} {"id": "d", "text": "y"})").find("not JSON"),
            std::string::npos);

  TempDir dir;
  auto kb = KnowledgeBase::open(dir / "kb");
  ASSERT_TRUE(kb.upsert(list).ok());
  const auto stored = kb.get("a");
  ASSERT_TRUE(stored.has_value());
  const auto read_back = stored_document_from_json(to_json(*stored));
  EXPECT_EQ(read_back.id, "a");
  EXPECT_EQ(read_back.text, "alpha");
  EXPECT_EQ(read_back.metadata, stored->metadata);
  EXPECT_EQ(read_back.content_hash, stored->content_hash);
  EXPECT_EQ(read_back.chunk_count, stored->chunk_count);
}

}  // namespace
}  // namespace ragline
