#pragma once
// The URIs documents are keyed by.

#include <filesystem>
#include <string>

#include "ragline/export.hpp"

namespace ragline {

// file:// URI for a local path (absolute, percent-encoded), the form documents are keyed by.
RAGLINE_API std::string file_uri(const std::filesystem::path& path);

}  // namespace ragline
