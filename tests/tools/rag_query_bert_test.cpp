// rag-query with the local bert embedder end to end: ingest a small corpus with the tiny random
// BERT of tests/data/bert-tiny, then dense search through the CLI.
#include <gtest/gtest.h>

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

}  // namespace
