#pragma once
// Text normalisation with ICU, applied to every document before chunking.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/document.hpp"

namespace ragline::text {

struct Utf8Repair {
  std::string text;
  std::size_t replaced = 0;  // invalid bytes (or sequences) replaced by U+FFFD
};

// Validates UTF-8; each maximal invalid subsequence becomes U+FFFD and is counted.
Utf8Repair repair_utf8(std::string_view bytes);

// NFKC; line endings to \n; control characters other than \n and \t removed; every other
// white space character becomes a space; trailing spaces of lines dropped; runs of more than
// one blank line reduced to one; leading and trailing blank lines removed. Input must be valid
// UTF-8 (run repair_utf8 first). Internal runs of spaces are kept (code indentation matters).
std::string normalise_text(std::string_view utf8);

// Normalises document.text (and title) in place, page by page, keeping page_starts valid.
void normalise_document(Document& document);

}  // namespace ragline::text
