#pragma once
// Expands the paths given to ingest into the list of files to read.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ragline/types.hpp"

namespace ragline::ingest {

struct FoundFile {
  std::filesystem::path path;  // absolute, lexically normal
  std::filesystem::path root;  // the given root it was found under
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  // seconds since the epoch
};

struct WalkResult {
  std::vector<FoundFile> files;              // sorted by path, each file once
  std::vector<std::filesystem::path> roots;  // absolute forms of the given paths that exist
  std::vector<IngestFailure> failures;       // missing roots, unreadable directories, unsupported files named directly
};

// Directories are walked recursively. Hidden entries (names starting with '.') and sidecar
// metadata files are skipped; files without a parser are skipped inside directories and reported
// when named directly. A symbolic link is followed only when its target lies inside one of the
// given roots, so a link cannot pull in files from elsewhere (and link cycles end); a link that is
// not followed is reported in `failures` when it leads to a directory or its name has a parser
// (loops and dangling links as "cannot follow symbolic link").
// include_globs / exclude_globs are fnmatch patterns tested against the file name and against
// the path relative to its root.
WalkResult walk_inputs(const std::vector<std::filesystem::path>& paths, const std::vector<std::string>& include_globs,
                       const std::vector<std::string>& exclude_globs);

}  // namespace ragline::ingest
