#include "core/document.hpp"

#include <algorithm>

namespace ragline {

std::optional<int> page_at(const Document& document, std::size_t offset) {
  if (document.page_starts.empty() && document.mime_type != "application/pdf") return std::nullopt;
  auto later_pages = std::upper_bound(document.page_starts.begin(), document.page_starts.end(), offset);
  return static_cast<int>(later_pages - document.page_starts.begin()) + 1;
}

}  // namespace ragline
