#pragma once
// Expands the paths given to ingest into the list of files to read.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ragline/types.hpp"

namespace ragline::ingest {

class FormatParser;

struct FoundFile {
  // The file's real path (std::filesystem::canonical: absolute, every symbolic link resolved):
  // what names its document, so a file reached through a link, or through a root given by a
  // linked folder, is the same document as the file reached directly.
  std::filesystem::path path;
  std::filesystem::path root;  // the given root it was found under (absolute, as given)
  std::uint64_t size = 0;
  std::int64_t mtime = 0;                // seconds since the epoch
  const FormatParser* parser = nullptr;  // how it is read (choose_format, format.hpp)
  bool gzip = false;                     // its bytes are inflated before parsing
};

struct WalkResult {
  std::vector<FoundFile> files;  // sorted by path, each real file once
  // Where --prune looks for documents: the absolute form of each given path that exists, followed
  // by its canonical form when that differs (a root given through a symbolic link).
  std::vector<std::filesystem::path> roots;
  std::vector<IngestFailure> failures;  // missing roots, unreadable directories, binary files named directly
  std::vector<IngestSkip> skipped;      // empty files, and files neither a known format nor text
};

// Directories are walked recursively. Hidden entries (names starting with '.') and sidecar
// metadata files are passed over silently, and so are files the globs leave out. A file whose
// name has no parser is sniffed (choose_format): text is read as plain text; an empty file, and
// inside a directory one that is not text, is listed in `skipped` with the reason; a file named
// directly that is not text is a failure. A symbolic link is followed only when its target lies inside one of the
// given roots, so a link cannot pull in files from elsewhere (and link cycles end); a link that is
// not followed is reported in `failures` when it leads to a directory or its name has a parser
// (loops and dangling links as "cannot follow symbolic link"). A file reached several ways (a link
// and its target, overlapping roots) is listed once, under its real path.
// include_globs / exclude_globs are fnmatch patterns tested against the file name and against
// the path relative to its root.
WalkResult walk_inputs(const std::vector<std::filesystem::path>& paths, const std::vector<std::string>& include_globs,
                       const std::vector<std::string>& exclude_globs);

// The bytes of a listed file, measured and read through one open descriptor. The file may have
// changed since it was listed, so `max_bytes` (0: none) is checked again, and Error(io) says what
// happened to it: "the file no longer exists", "not a regular file (now a directory ...)",
// "cannot open for reading: <reason>".
std::string read_listed_file(const std::filesystem::path& path, std::uint64_t max_bytes);

}  // namespace ragline::ingest
