// rag-query with the local bert embedder end to end: ingest a small corpus with the tiny random
// BERT of tests/data/bert-tiny, then dense search through the CLI; and a fetched model addressed
// by name (scripts/fetch-models.sh).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace {

using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::test_data;
using ragline::testing::write_file;

TEST(RagQueryBert, IngestWithTheBertEmbedderAndSearchDense) {
  TempDir dir;
  const char* texts[] = {"Wind tunnel measure lift and drag of the aircraft wing.",
                         "Blood cell study of cancer patients.", "The library book of information retrieval.",
                         "Heat flow and pressure in the tunnel.", "The quick brown fox jumps over the lazy dog."};
  std::string lines;
  for (int i = 0; i < 5; ++i) {
    lines += nlohmann::json{{"_id", "d" + std::to_string(i)}, {"title", "Doc " + std::to_string(i)}, {"text", texts[i]}}
                 .dump() +
             "\n";
  }
  write_file(dir / "corpus.jsonl", lines);
  const std::string kb = quoted(dir / "kb");
  auto result =
      run_command(rag_query("ingest " + quoted(dir / "corpus.jsonl") + " --kb " + kb +
                            " --embedder bert --embed-model " + quoted(test_data("bert-tiny")) + " --json -q"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(result.stdout_text).at("chunks_embedded"), 5);

  // The model has no query prefix, so a query equal to a chunk's text gets that chunk's vector:
  // it must come first with cosine ~1, whatever the random weights.
  result =
      run_command(rag_query("query 'Blood cell study of cancer patients.' --kb " + kb + " --mode dense -k 3 --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto json = nlohmann::json::parse(result.stdout_text);
  ASSERT_EQ(json.at("hits").size(), 3u);
  EXPECT_EQ(json["hits"][0].at("text"), "Blood cell study of cancer patients.");
  EXPECT_NEAR(json["hits"][0].at("score").get<double>(), 1.0, 1e-4);

  // The KB remembers its embedder: a second ingest needs no options, another model folder is refused.
  write_file(dir / "more.jsonl", nlohmann::json{{"_id", "m"}, {"text", "Red and white cells."}}.dump() + "\n");
  result = run_command(rag_query("ingest " + quoted(dir / "more.jsonl") + " --kb " + kb + " --json -q"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(result.stdout_text).at("chunks_embedded"), 1);
  std::filesystem::copy(test_data("bert-tiny"), dir / "other-model", std::filesystem::copy_options::recursive);
  result = run_command(rag_query("ingest " + quoted(dir / "more.jsonl") + " --kb " + kb +
                                 " --embedder bert --embed-model " + quoted(dir / "other-model") + " -q"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("holds vectors of embedder"), std::string::npos) << result.stderr_text;

  // Prefixes are stored with the KB: with the same prefix on both sides a document's own text is
  // still its nearest neighbour at cosine ~1, which holds only if the query gets the prefix too.
  const std::string kb3 = quoted(dir / "kb3");
  result = run_command(rag_query("ingest " + quoted(dir / "corpus.jsonl") + " --kb " + kb3 + " --embedder bert" +
                                 " --embed-model " + quoted(test_data("bert-tiny")) +
                                 " --query-prefix 'passage: ' --passage-prefix 'passage: ' -q"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  result = run_command(
      rag_query("query 'The library book of information retrieval.' --kb " + kb3 + " --mode dense -k 1 --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto prefixed = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(prefixed["hits"][0].at("text"), "The library book of information retrieval.");
  EXPECT_NEAR(prefixed["hits"][0].at("score").get<double>(), 1.0, 1e-4);

  // A missing model folder is a clear error naming it.
  result = run_command(rag_query("ingest " + quoted(dir / "corpus.jsonl") + " --kb " + quoted(dir / "kb2") +
                                 " --embedder bert --embed-model " + quoted(dir / "no-such-model") + " -q"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("no-such-model"), std::string::npos) << result.stderr_text;
}

std::filesystem::path models_dir() {
  const char* configured = std::getenv("RAGLINE_MODELS_DIR");
  return configured && *configured ? std::filesystem::path(configured)
                                   : std::filesystem::path(RAGLINE_SOURCE_DIR) / "models";
}

// --embed-model NAME finds the fetched model in --models-dir; the KB stores the name (not a path
// of this machine), so later commands in another directory find it through $RAGLINE_MODELS_DIR.
// A name that is not fetched is an error naming the fetch script. A missing model fails this test
// unless RAGLINE_ALLOW_MISSING_MODELS=1, as the use-lite tests do.
TEST(RagQueryBert, FetchedModelByNameIsStoredAsItsName) {
  if (!std::filesystem::exists(models_dir() / "all-MiniLM-L6-v2" / "ragline-model.json")) {
    const char* allowed = std::getenv("RAGLINE_ALLOW_MISSING_MODELS");
    if (allowed && std::string(allowed) == "1") GTEST_SKIP() << "all-MiniLM-L6-v2 not fetched";
    FAIL() << "all-MiniLM-L6-v2 missing under " << models_dir().string() << ": run scripts/fetch-models.sh";
  }
  TempDir dir;
  write_file(dir / "docs" / "cats.txt", "Cats are small domesticated felines that people keep as pets.");
  write_file(dir / "docs" / "rockets.txt", "Rocket engines burn propellant to produce thrust for launch.");
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + kb +
                                      " --embedder bert --embed-model all-MiniLM-L6-v2 --models-dir " +
                                      quoted(models_dir()) + " --json -q"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(result.stdout_text).at("chunks_embedded"), 2);
  result = run_command(rag_query("stats --kb " + kb + " --json"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto stats = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(stats.at("embedder").at("model"), "all-MiniLM-L6-v2");
  EXPECT_EQ(stats["embedder"].at("id").get<std::string>().rfind("bert/all-MiniLM-L6-v2/384/", 0), 0u) << stats;

  result = run_command("cd " + quoted(dir.path()) + " && RAGLINE_MODELS_DIR=" + quoted(models_dir()) + " " +
                       RAGLINE_RAG_QUERY + " query 'a kitten kept at home' --kb kb --mode dense -k 1 --json");
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto hits = nlohmann::json::parse(result.stdout_text).at("hits");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NE(hits[0].at("text").get<std::string>().find("Cats"), std::string::npos) << hits;

  result = run_command(rag_query("ingest " + quoted(dir / "docs") + " --kb " + quoted(dir / "kb2") +
                                 " --embedder bert --embed-model not-fetched-model --models-dir " +
                                 quoted(dir / "empty") + " -q"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("scripts/fetch-models.sh"), std::string::npos) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("not-fetched-model"), std::string::npos) << result.stderr_text;
}

}  // namespace
