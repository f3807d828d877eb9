// Files the extension table does not know (README, LICENSE, copyright, changelog.Debian.gz),
// reStructuredText, gzip-compressed text and empty files: what a folder such as /usr/share/doc
// holds. Text is sniffed and ingested; what is not text is skipped with a reason, not failed.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "ingest/format.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using ragline::testing::keyword_query;
using ragline::testing::quoted;
using ragline::testing::rag_query;
using ragline::testing::run_command;
using ragline::testing::TempDir;
using ragline::testing::write_file;

OpenOptions without_vectors() {
  OpenOptions options;
  options.embedder = EmbedderConfig{};
  options.embedder->name = "none";
  return options;
}

void gzip_file(const fs::path& path) {
  const auto result = run_command("gzip -n -f " + quoted(path));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
}

std::map<std::string, std::string> skipped_by_name(const IngestReport& report) {
  std::map<std::string, std::string> by_name;
  for (const auto& skip : report.skipped) by_name[fs::path(skip.location).filename().string()] = skip.reason;
  return by_name;
}

std::map<std::string, std::string> failed_by_name(const IngestReport& report) {
  std::map<std::string, std::string> by_name;
  for (const auto& failure : report.failures) by_name[fs::path(failure.location).filename().string()] = failure.reason;
  return by_name;
}

std::set<std::string> document_names(const KnowledgeBase& kb) {
  std::set<std::string> names;
  for (const auto& document : kb.documents()) names.insert(document.uri.substr(document.uri.rfind('/') + 1));
  return names;
}

TEST(UnknownFiles, TextIsSniffedAndTheRestIsSkippedWithAReason) {
  TempDir dir;
  const fs::path root = dir / "doc";
  write_file(root / "README", "Read me first: the walrus manual explains tusks.\n");
  write_file(root / "LICENSE", "Permission is hereby granted to any narwhal.\n");
  write_file(root / "copyright", "Copyright \xc2\xa9 2026 the ptarmigan project.\n");
  write_file(root / "latin1-notes", "Caf\xe9 na\xefve r\xe9sum\xe9 about lemmings\n");  // Latin-1, not UTF-8
  write_file(root / "logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  write_file(root / "empty", "");
  write_file(root / "empty.txt", "");
  write_file(root / "changelog.Debian", "ocelot (1.0-1) unstable; urgency=low\n\n  * Initial release.\n");
  gzip_file(root / "changelog.Debian");
  write_file(root / "NEWS.txt", "The quokka release adds compressed text.\n");
  gzip_file(root / "NEWS.txt");
  // A .json.gz is a JSON document (an array of records), not JSON Lines: the inner name decides.
  write_file(root / "records.json",
             R"([{"id": "a", "text": "The emu record."}, {"id": "b", "text": "The gnu record."}])");
  gzip_file(root / "records.json");
  write_file(root / "binary.bin", std::string("\x01\x02\0\x03 not text", 13));
  gzip_file(root / "binary.bin");
  // A UTF-16 file with its byte order mark has NUL bytes and is still text.
  write_file(root / "AUTHORS", std::string("\xFF\xFEk\0a\0k\0a\0p\0o\0\n\0", 16));

  auto kb = KnowledgeBase::open(dir / "kb", without_vectors());
  const auto report = kb.ingest({root});
  EXPECT_TRUE(report.ok()) << (report.failures.empty() ? "" : report.failures[0].reason);
  EXPECT_EQ(document_names(kb),
            (std::set<std::string>{"AUTHORS", "LICENSE", "NEWS.txt.gz", "README", "changelog.Debian.gz", "copyright",
                                   "records.json.gz#a", "records.json.gz#b"}));
  EXPECT_EQ(report.files_seen, 7u);
  const auto skipped = skipped_by_name(report);
  ASSERT_EQ(skipped.size(), 5u);
  EXPECT_EQ(skipped.at("empty"), "empty file");
  EXPECT_EQ(skipped.at("empty.txt"), "empty file");
  EXPECT_NE(skipped.at("logo.png").find("binary content (a NUL byte at offset 8)"), std::string::npos);
  EXPECT_NE(skipped.at("latin1-notes").find("not UTF-8 text"), std::string::npos) << skipped.at("latin1-notes");
  EXPECT_NE(skipped.at("binary.bin.gz").find("inside the gzip data"), std::string::npos) << skipped.at("binary.bin.gz");

  EXPECT_EQ(kb.retrieve(keyword_query("walrus tusks")).size(), 1u);
  EXPECT_EQ(kb.retrieve(keyword_query("quokka")).size(), 1u);  // inflated, then read as .txt
  EXPECT_EQ(kb.retrieve(keyword_query("ocelot")).size(), 1u);  // inflated, then sniffed
  EXPECT_EQ(kb.retrieve(keyword_query("kakapo")).size(), 1u);
  const auto quokka = kb.retrieve(keyword_query("quokka"));
  ASSERT_EQ(quokka.size(), 1u);
  EXPECT_EQ(quokka[0].title, "NEWS");  // the stem of the name inside the .gz

  // A binary file named directly is a failure: the user asked for that file.
  const auto direct = kb.ingest({root / "logo.png"});
  ASSERT_EQ(direct.failures.size(), 1u);
  EXPECT_NE(direct.failures[0].reason.find("unsupported file type: binary content"), std::string::npos);
}

TEST(UnknownFiles, GzipBombsAndDamagedGzipAreFailuresOfTheirFile) {
  TempDir dir;
  const fs::path root = dir / "doc";
  write_file(root / "bomb.txt", std::string(4 << 20, 'a'));  // 4 MiB of one letter: about 4 KiB compressed
  gzip_file(root / "bomb.txt");
  write_file(root / "good.txt", "A well-formed file about the axolotl.\n");
  gzip_file(root / "good.txt");
  std::string cut = ragline::testing::read_file(root / "good.txt.gz");
  write_file(root / "cut.txt.gz", cut.substr(0, cut.size() - 12));  // the end of the stream and trailer gone
  write_file(root / "fake.txt.gz", "not gzip at all");

  auto kb = KnowledgeBase::open(dir / "kb", without_vectors());
  IngestOptions options;
  options.max_file_bytes = 1 << 20;
  const auto report = kb.ingest({root}, options);
  const auto failed = failed_by_name(report);
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_NE(failed.at("bomb.txt.gz").find("inflates to more than 1048576 bytes"), std::string::npos)
      << failed.at("bomb.txt.gz");
  EXPECT_NE(failed.at("cut.txt.gz").find("damaged gzip data"), std::string::npos) << failed.at("cut.txt.gz");
  EXPECT_NE(failed.at("fake.txt.gz").find("not gzip data"), std::string::npos) << failed.at("fake.txt.gz");
  EXPECT_EQ(document_names(kb), (std::set<std::string>{"good.txt.gz"}));

  // Concatenated members read as one file, as gzip -d reads them.
  const std::string two =
      ragline::testing::read_file(root / "good.txt.gz") + ragline::testing::read_file(root / "good.txt.gz");
  EXPECT_EQ(ingest::gunzip(two, 0), "A well-formed file about the axolotl.\nA well-formed file about the axolotl.\n");
}

TEST(UnknownFiles, FilesWithNoTextAreSkippedButBlankRecordsStayFailures) {
  TempDir dir;
  const fs::path root = dir / "doc";
  write_file(root / "blank.txt", "  \n\t\n   \n");
  write_file(root / "bom-only.md", "\xEF\xBB\xBF\n");
  write_file(root / "NOTES", "   \n\n");  // sniffed as text, then nothing in it
  write_file(root / "tags-only.html", "<html><body> <p>  </p> </body></html>\n");
  write_file(root / "kept.txt", "The only file about the okapi.\n");
  write_file(root / "records.jsonl",
             "{\"id\": \"a\", \"text\": \"The gecko record.\"}\n"
             "{\"id\": \"b\", \"text\": \"  \\n\\t \"}\n");

  auto kb = KnowledgeBase::open(dir / "kb", without_vectors());
  const auto report = kb.ingest({root});
  const auto skipped = skipped_by_name(report);
  EXPECT_EQ(
      skipped,
      (std::map<std::string, std::string>{
          {"NOTES", "no text"}, {"blank.txt", "no text"}, {"bom-only.md", "no text"}, {"tags-only.html", "no text"}}));
  // Only the blank record of the JSON Lines file fails, located by its URI.
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_NE(report.failures[0].location.find("records.jsonl#b"), std::string::npos) << report.failures[0].location;
  EXPECT_NE(report.failures[0].reason.find("no text after normalisation"), std::string::npos);
  EXPECT_EQ(document_names(kb), (std::set<std::string>{"kept.txt", "records.jsonl#a"}));

  // A file emptied of text since the last ingest is skipped, and --prune removes its old version,
  // as it does an emptied file's.
  write_file(root / "kept.txt", "\n \n");
  IngestOptions prune;
  prune.prune = true;
  const auto again = kb.ingest({root}, prune);
  EXPECT_EQ(skipped_by_name(again).at("kept.txt"), "no text");
  EXPECT_EQ(document_names(kb), (std::set<std::string>{"records.jsonl#a"}));
}

TEST(UnknownFiles, RestructuredTextTitlesBecomeTheHeadingPath) {
  TempDir dir;
  write_file(dir / "guide.rst",
             "==========\n"
             "User Guide\n"
             "==========\n"
             "\n"
             "Intro text about capybaras.\n"
             "\n"
             "Install\n"
             "-------\n"
             "\n"
             "Steps for wombats.\n"
             "\n"
             "On Debian\n"
             "~~~~~~~~~\n"
             "\n"
             "Use apt for the pangolin package.\n"
             "\n"
             "----\n"
             "\n"
             "Usage\n"
             "-----\n"
             "\n"
             "Run it with numbats::\n"
             "\n"
             "    numbat --help\n");
  auto kb = KnowledgeBase::open(dir / "kb", without_vectors());
  const auto report = kb.ingest({dir / "guide.rst"});
  ASSERT_TRUE(report.ok()) << report.failures[0].reason;
  const auto pangolin = kb.retrieve(keyword_query("pangolin"));
  ASSERT_EQ(pangolin.size(), 1u);
  EXPECT_EQ(pangolin[0].heading_path, "User Guide > Install > On Debian");
  EXPECT_EQ(pangolin[0].title, "User Guide");
  const auto numbat = kb.retrieve(keyword_query("numbat"));
  ASSERT_EQ(numbat.size(), 1u);
  EXPECT_EQ(numbat[0].heading_path, "User Guide > Usage");
  EXPECT_EQ(numbat[0].text.find("~~~"), std::string::npos);
}

TEST(UnknownFiles, CliReportsSkippedFilesAndExitsZeroForEmptyOnes) {
  TempDir dir;
  const fs::path root = dir / "doc";
  write_file(root / "README", "Read me: tapirs.\n");
  write_file(root / "empty.md", "");
  write_file(root / "icon.ico", std::string("\0\0\1\0", 4));
  const std::string kb = quoted(dir / "kb");
  auto result = run_command(rag_query("ingest " + quoted(root) + " --kb " + kb + " --embedder none"));
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("ingested 1 files: 1 added, 0 updated, 0 unchanged, 0 pruned, 0 failed, 2 skipped"),
            std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("skipped 1: empty file"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("skipped 1: binary content"), std::string::npos) << result.stdout_text;

  result = run_command(rag_query("ingest " + quoted(root) + " --kb " + kb + " --json"));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto report = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(report.at("skipped"), 2);
  ASSERT_EQ(report.at("skipped_files").size(), 2u);
  EXPECT_EQ(report.at("skipped_files")[0].at("reason"), "empty file");
}

}  // namespace
}  // namespace ragline
