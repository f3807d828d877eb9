#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace {

using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

class RagQueryPrompt : public ::testing::Test {
 protected:
  RagQueryPrompt() {
    write_file(dir_ / "docs" / "gliders.md",
               "# Gliders\n\n## Launch\n\nWinch launches lift gliders to 400 metres. The cable is released at the "
               "top.\n\n## Landing\n\nGliders land on grass strips into the wind.\n");
    write_file(dir_ / "docs" / "tug.txt", "Aerotow launches use a tug aircraft. The tug pilot signals the release.");
    kb_ = quoted(dir_ / "kb");
    const auto result = run_command(rag_query("ingest " + quoted(dir_ / "docs") + " --kb " + kb_));
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  }
  TempDir dir_;
  std::string kb_;
};

TEST_F(RagQueryPrompt, PrintsAGroundedPromptInEachFormat) {
  // rag-query prompt end to end: text with citations and a sources list, OpenAI and Bedrock
  // messages, and --json with the sources, tokens and budget.
  auto result = run_command(rag_query("prompt 'How are gliders launched?' --kb " + kb_ + " -k 3"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const std::string& text = result.stdout_text;
  EXPECT_NE(text.find("only the numbered sources"), std::string::npos) << text;
  EXPECT_NE(text.find("[1] Gliders \u2014 Gliders > Launch\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Winch launches lift gliders"), std::string::npos);
  EXPECT_NE(text.find("Question: How are gliders launched?"), std::string::npos);
  EXPECT_NE(text.find("Sources list:\n[1] Gliders (file://"), std::string::npos) << text;

  result = run_command(rag_query("prompt 'How are gliders launched?' --kb " + kb_ + " --format openai"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto openai = nlohmann::json::parse(result.stdout_text);
  ASSERT_EQ(openai.at("messages").size(), 2u);
  EXPECT_EQ(openai["messages"][0]["role"], "system");
  EXPECT_EQ(openai["messages"][1]["role"], "user");

  result = run_command(rag_query("prompt 'How are gliders launched?' --kb " + kb_ + " --format bedrock --mode bm25"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto bedrock = nlohmann::json::parse(result.stdout_text);
  EXPECT_TRUE(bedrock.at("system").at(0).contains("text"));
  EXPECT_EQ(bedrock.at("messages").at(0).at("role"), "user");

  result = run_command(rag_query("prompt 'tug release' --kb " + kb_ +
                                 " --json --context-window 2000 --answer-reserve 500 --expand sentences"));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto whole = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(whole.at("budget"), 1500);
  EXPECT_LE(whole.at("tokens").get<int>(), 1500);
  ASSERT_GE(whole.at("sources").size(), 1u);
  const auto& first = whole["sources"][0];
  EXPECT_NE(first.at("document_uri").get<std::string>().find("tug.txt"), std::string::npos);
  EXPECT_EQ(first.at("number"), 1);
  EXPECT_LT(first.at("byte_start").get<int>(), first.at("byte_end").get<int>());
}

TEST_F(RagQueryPrompt, TemplateFileAndErrors) {
  // --template reads a file; a bad placeholder, a missing {{context}}, a budget too small for the
  // question and a bad --expand fail with a message and a non-zero exit.
  write_file(dir_ / "good.txt", "Q: {{question}}\n{{context}}\n--\n{{sources}}");
  auto result = run_command(rag_query("prompt 'winch' --kb " + kb_ + " --template " + quoted(dir_ / "good.txt")));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("Q: winch\n[1] "), std::string::npos) << result.stdout_text;

  write_file(dir_ / "bad.txt", "{{context}} {{answer}}");
  result = run_command(rag_query("prompt 'winch' --kb " + kb_ + " --template " + quoted(dir_ / "bad.txt")));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("unknown placeholder {{answer}}"), std::string::npos) << result.stderr_text;

  write_file(dir_ / "nocontext.txt", "{{question}}");
  result = run_command(rag_query("prompt 'winch' --kb " + kb_ + " --template " + quoted(dir_ / "nocontext.txt")));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("{{context}} is missing"), std::string::npos) << result.stderr_text;

  result = run_command(rag_query("prompt 'winch' --kb " + kb_ + " --template " + quoted(dir_ / "missing.txt")));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("missing.txt"), std::string::npos) << result.stderr_text;

  result = run_command(rag_query("prompt 'winch' --kb " + kb_ + " --context-window 40 --answer-reserve 10"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("budget of 30"), std::string::npos) << result.stderr_text;

  result = run_command(rag_query("prompt 'winch' --kb " + kb_ + " --expand paragraphs"));
  EXPECT_EQ(result.exit_code, 2);
}

}  // namespace
