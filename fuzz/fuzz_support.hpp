#pragma once
// What the fuzz targets share: which ragline::Error kinds are a finding rather than the expected
// answer to bad input, and a scratch directory that lives as long as the fuzzing process.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ragline/error.hpp"

namespace ragline::fuzz {

// Bad input must come back as invalid_argument or format (or unsupported / corrupt where the
// target says so). database means SQL reached SQLite that it rejected, internal a broken
// invariant: both are bugs, so the fuzzer stops on them as on a crash.
inline void expect_input_error(const Error& error) {
  if (error.kind() == ErrorKind::database || error.kind() == ErrorKind::internal) {
    std::fprintf(stderr, "finding: ragline::Error(%s): %s\n", std::string(to_string(error.kind())).c_str(),
                 error.what());
    std::abort();
  }
}

// A fresh directory under $TMPDIR (or /tmp) for this process.
inline const std::filesystem::path& scratch_directory() {
  static const std::filesystem::path directory = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "ragline-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return std::filesystem::path(pattern);
  }();
  return directory;
}

}  // namespace ragline::fuzz
