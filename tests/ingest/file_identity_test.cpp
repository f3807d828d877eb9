// Which file a document is and what reading it reports: one document per real file whatever
// symbolic links lead to it (its URI is the real path), and a listed file that is no longer a
// regular file (a directory now, or gone) is reported as such.

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include "ingest/file_walker.hpp"
#include "ragline/error.hpp"
#include "ragline/knowledge_base.hpp"
#include "ragline/uri.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_file;

OpenOptions without_vectors() {
  OpenOptions options;
  options.embedder = EmbedderConfig{};
  options.embedder->name = "none";
  return options;
}

std::set<std::string> document_uris(KnowledgeBase& kb) {
  std::set<std::string> uris;
  for (const auto& document : kb.documents()) uris.insert(document.uri);
  return uris;
}

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return {};
}

// A link sorted before its target names nothing: the document is the target, and ingesting the
// target's folder later finds the same document unchanged instead of adding a second one.
TEST(FileIdentity, LinkedFileIsOneDocumentUnderItsRealPath) {
  TempDir dir;
  const fs::path real = dir / "docs" / "zeta" / "real.md";
  write_file(real, "# Kestrels\n\nKestrels hover over verges.");
  fs::create_symlink(real, dir / "docs" / "a-link.md");
  auto kb = KnowledgeBase::open(dir / "kb", without_vectors());

  auto report = kb.ingest({dir / "docs"});
  ASSERT_TRUE(report.ok()) << report.failures.at(0).location << ": " << report.failures.at(0).reason;
  EXPECT_EQ(document_uris(kb), (std::set<std::string>{file_uri(real)}));

  report = kb.ingest({dir / "docs" / "zeta"});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.documents_unchanged, 1u);
  EXPECT_EQ(document_uris(kb), (std::set<std::string>{file_uri(real)}));
  EXPECT_EQ(kb.retrieve(testing::keyword_query("kestrels")).size(), 1u);
}

// A root given through a symbolic link to a folder reads the same files as the folder itself:
// ingesting both (and pruning through the link) keeps one document per file.
TEST(FileIdentity, RootThroughALinkIsTheSameFolder) {
  TempDir dir;
  write_file(dir / "real" / "note.txt", "Plovers nest on shingle.");
  fs::create_directory_symlink(dir / "real", dir / "alias");
  auto kb = KnowledgeBase::open(dir / "kb", without_vectors());

  ASSERT_TRUE(kb.ingest({dir / "real"}).ok());
  IngestOptions prune;
  prune.prune = true;
  const auto report = kb.ingest({dir / "alias"}, prune);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.documents_unchanged, 1u);
  EXPECT_EQ(report.documents_pruned, 0u);
  EXPECT_EQ(document_uris(kb), (std::set<std::string>{file_uri(dir / "real" / "note.txt")}));
}

// A file that became a directory after it was listed is reported as not a regular file, not as
// a file of 2^63 - 1 bytes (what seeking to the end of a directory answers on ext4).
TEST(FileIdentity, ListedFileThatBecameADirectory) {
  TempDir dir;
  write_file(dir / "docs" / "note.txt", "Terns dive for sand eels.");
  const auto walk = ingest::walk_inputs({dir / "docs"}, {}, {});
  ASSERT_EQ(walk.files.size(), 1u);
  const fs::path listed = walk.files[0].path;
  fs::remove(listed);
  fs::create_directory(listed);
  const std::string message = error_message([&] { ingest::read_listed_file(listed, 256u << 20); });
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
  EXPECT_EQ(message.find("too large"), std::string::npos) << message;

  fs::remove(listed);
  const std::string gone = error_message([&] { ingest::read_listed_file(listed, 256u << 20); });
  EXPECT_NE(gone.find("no longer exists"), std::string::npos) << gone;
}

}  // namespace
}  // namespace ragline
