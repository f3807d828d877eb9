#pragma once
// A KB of short notes for tests of what runs on search results (rerank chains, stages): the
// notes, as (id, text), go through a JSON Lines file into a KB with the default options.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline::testing {

using Notes = std::vector<std::pair<std::string, std::string>>;

// One document per note: {"_id": id, "title": "", "text": text} per line.
inline void write_notes_jsonl(const std::filesystem::path& path, const Notes& notes) {
  std::string lines;
  for (const auto& [id, text] : notes)
    lines += nlohmann::json{{"_id", id}, {"title", ""}, {"text", text}}.dump() + "\n";
  write_file(path, lines);
}

// GoogleTest fixture: dir_/notes.jsonl holds the notes and dir_/kb the KB they were ingested into.
class NotesKbTest : public ::testing::Test {
 protected:
  explicit NotesKbTest(Notes notes) : notes_(std::move(notes)) {}
  void SetUp() override {
    write_notes_jsonl(dir_ / "notes.jsonl", notes_);
    kb_.emplace(KnowledgeBase::open(dir_ / "kb", {}));
    ASSERT_TRUE(kb_->ingest({dir_ / "notes.jsonl"}, {}).ok());
  }

  TempDir dir_;
  std::optional<KnowledgeBase> kb_;

 private:
  Notes notes_;
};

}  // namespace ragline::testing
