#pragma once
// Token spans for chunking: ICU word-boundary segments that are not white space. Words,
// numbers and each punctuation mark count one token; CJK text is segmented by ICU's dictionary.

#include <cstddef>
#include <string_view>
#include <vector>

namespace ragline::text {

struct TokenSpan {
  std::size_t byte_start = 0;
  std::size_t byte_end = 0;
};

std::vector<TokenSpan> token_spans(std::string_view utf8);
int count_tokens(std::string_view utf8);

// ICU sentence boundaries: byte spans of sentences, trailing white space excluded.
std::vector<TokenSpan> sentence_spans(std::string_view utf8);

}  // namespace ragline::text
