#pragma once
// Internals of text/tokens.cpp exposed for tests: the pure-ICU tokeniser that the ASCII fast
// path of token_spans() must agree with, span for span.

#include <string_view>
#include <vector>

#include "text/tokens.hpp"

namespace ragline::text::detail {

// token_spans() without the ASCII fast path: every byte goes through the ICU word
// BreakIterator. Same contract as token_spans().
std::vector<TokenSpan> token_spans_icu_only(std::string_view utf8);

}  // namespace ragline::text::detail
