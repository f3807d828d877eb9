#include "ingest/file_walker.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <system_error>

#include "core/check.hpp"
#include "ingest/format.hpp"

namespace ragline::ingest {
namespace {

namespace fs = std::filesystem;

bool matches_any(const std::vector<std::string>& globs, const fs::path& relative) {
  const std::string name = relative.filename().string();
  const std::string whole = relative.generic_string();
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& glob) {
    return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0 || ::fnmatch(glob.c_str(), whole.c_str(), 0) == 0;
  });
}

bool is_inside(const fs::path& path, const fs::path& root) {
  auto mismatch = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return mismatch.first == root.end();
}

// Closes the descriptor it holds.
struct FileDescriptor {
  explicit FileDescriptor(int opened) : descriptor(opened) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (descriptor >= 0) ::close(descriptor);
  }
  const int descriptor;
};

std::string_view file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a file";
}

std::int64_t seconds_since_epoch(fs::file_time_type time) {
  const auto system_time = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::seconds>(system_time.time_since_epoch()).count();
}

class Walker {
 public:
  Walker(const std::vector<std::string>& include_globs, const std::vector<std::string>& exclude_globs)
      : include_globs_(include_globs), exclude_globs_(exclude_globs) {}

  WalkResult run(const std::vector<fs::path>& paths) {
    for (const auto& given : paths) {
      std::error_code error;
      fs::path absolute = fs::absolute(given, error).lexically_normal();
      if (!absolute.has_filename() && absolute.has_parent_path()) absolute = absolute.parent_path();
      if (error || !fs::exists(absolute, error)) {
        result_.failures.push_back({given.string(), "no such file or directory"});
        continue;
      }
      given_roots_.push_back(absolute);
      canonical_roots_.push_back(fs::canonical(absolute, error));
      // Documents are named by their real paths, so --prune looks under the real folder too (and
      // under the given spelling, where a KB made before documents had real paths keeps some).
      result_.roots.push_back(absolute);
      if (!error && canonical_roots_.back() != absolute) result_.roots.push_back(canonical_roots_.back());
    }
    for (const auto& root : given_roots_) {
      std::error_code error;
      if (fs::is_directory(root, error)) {
        walk_directory(root, root);
      } else {
        add_file(root, root, /*named_directly=*/true);
      }
    }
    std::sort(result_.files.begin(), result_.files.end(),
              [](const FoundFile& a, const FoundFile& b) { return a.path < b.path; });
    std::sort(result_.skipped.begin(), result_.skipped.end(),
              [](const IngestSkip& a, const IngestSkip& b) { return a.location < b.location; });
    return std::move(result_);
  }

 private:
  bool inside_roots(const fs::path& canonical) const {
    return std::any_of(canonical_roots_.begin(), canonical_roots_.end(),
                       [&](const fs::path& root) { return is_inside(canonical, root); });
  }

  void walk_directory(const fs::path& directory, const fs::path& root) {
    std::error_code error;
    const fs::path canonical = fs::canonical(directory, error);
    if (error || !visited_directories_.insert(canonical).second) return;
    fs::directory_iterator entries(directory, error);
    if (error) {
      result_.failures.push_back({directory.string(), "cannot read directory: " + error.message()});
      return;
    }
    std::vector<fs::directory_entry> sorted(begin(entries), end(entries));
    std::sort(sorted.begin(), sorted.end());
    for (const auto& entry : sorted) {
      const fs::path& path = entry.path();
      if (path.filename().string().starts_with(".")) continue;
      if (entry.is_symlink(error)) {
        // Skipped links are reported when they would have been read: a loop or a dangling link
        // is damage the user should hear about, and a link out of the roots a file left out.
        const fs::path target = fs::canonical(path, error);
        if (error) {
          if (parser_for(path) != nullptr) {
            result_.failures.push_back({path.string(), "cannot follow symbolic link: " + error.message()});
          }
          continue;
        }
        if (!inside_roots(target)) {
          if (fs::is_directory(target, error) || parser_for(path) != nullptr) {
            result_.failures.push_back({path.string(), "symbolic link to " + target.string() +
                                                           " leads outside the ingested roots; not followed"});
          }
          continue;
        }
      }
      if (entry.is_directory(error)) {
        walk_directory(path, root);
      } else if (entry.is_regular_file(error)) {
        add_file(path, root, /*named_directly=*/false);
      }
    }
  }

  void add_file(const fs::path& path, const fs::path& root, bool named_directly) {
    if (is_sidecar_metadata_file(path)) return;
    const fs::path relative = named_directly ? path.filename() : path.lexically_relative(root);
    if (!include_globs_.empty() && !matches_any(include_globs_, relative)) return;
    if (matches_any(exclude_globs_, relative)) return;
    std::error_code error;
    const fs::path canonical = fs::canonical(path, error);
    if (error) {
      result_.failures.push_back({path.string(), "cannot resolve path: " + error.message()});
      return;
    }
    // One document per real file: whichever link or root spelling led here, the file is named
    // by its canonical path, so ingesting the same file another way finds the same document.
    if (!seen_files_.insert(canonical).second) return;
    FoundFile found;
    found.path = canonical;
    found.root = root;
    found.size = fs::file_size(canonical, error);
    if (!error) found.mtime = seconds_since_epoch(fs::last_write_time(canonical, error));
    if (error) {
      result_.failures.push_back({path.string(), "cannot stat file: " + error.message()});
      return;
    }
    if (found.size == 0) {
      result_.skipped.push_back({canonical.string(), "empty file"});
      return;
    }
    FormatChoice format;
    try {
      format = choose_format(canonical);
    } catch (const Error& failure) {
      result_.failures.push_back({path.string(), failure.what()});
      return;
    }
    if (format.parser == nullptr) {
      if (named_directly) {
        result_.failures.push_back({path.string(), "unsupported file type: " + format.skip_reason});
      } else {
        result_.skipped.push_back({canonical.string(), std::move(format.skip_reason)});
      }
      return;
    }
    found.parser = format.parser;
    found.gzip = format.gzip;
    result_.files.push_back(std::move(found));
  }

  const std::vector<std::string>& include_globs_;
  const std::vector<std::string>& exclude_globs_;
  std::vector<fs::path> given_roots_;  // absolute forms of the given paths that exist, in order
  std::vector<fs::path> canonical_roots_;
  std::set<fs::path> visited_directories_;
  std::set<fs::path> seen_files_;
  WalkResult result_;
};

}  // namespace

WalkResult walk_inputs(const std::vector<std::filesystem::path>& paths, const std::vector<std::string>& include_globs,
                       const std::vector<std::string>& exclude_globs) {
  return Walker(include_globs, exclude_globs).run(paths);
}

std::string read_listed_file(const fs::path& path, std::uint64_t max_bytes) {
  // O_NONBLOCK: a FIFO put in the file's place must not block the open; it is refused below.
  const FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.descriptor < 0) {
    const int error = errno;
    RAGLINE_CHECK(error != ENOENT, io, "the file no longer exists (removed after it was listed)");
    RAGLINE_THROW(io, "cannot open for reading: " << std::strerror(error));
  }
  // The size comes from the opened file itself, so what was measured is what is read: a path
  // that became a directory would otherwise "seek" to 2^63 - 1 on ext4.
  struct stat status {};
  RAGLINE_CHECK(::fstat(file.descriptor, &status) == 0, io, "cannot stat file: " << std::strerror(errno));
  RAGLINE_CHECK(S_ISREG(status.st_mode), io,
                "not a regular file (now " << file_type_name(status.st_mode) << "; it changed after it was listed)");
  const auto size = static_cast<std::uint64_t>(status.st_size);
  RAGLINE_CHECK(max_bytes == 0 || size <= max_bytes, format,
                "file too large: " << size << " bytes, max_file_bytes is " << max_bytes << " (--max-file-bytes)");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = ::read(file.descriptor, bytes.data() + filled, bytes.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    RAGLINE_CHECK(got >= 0, io, "read failed: " << std::strerror(errno));
    if (got == 0) break;  // the file shrank since fstat
    filled += static_cast<std::size_t>(got);
  }
  bytes.resize(filled);
  return bytes;
}

}  // namespace ragline::ingest
