#pragma once
// Internal building blocks shared by the chunkers (chunker_*.cpp): a document's tokens with
// range queries, greedy packing of units (sentences, Markdown blocks) into chunks of at most
// max tokens, fixed token windows, and turning byte ranges into Chunk values.
//
// A document is tokenised once (DocumentTokens); every count during packing is a difference of
// token indexes, so packing is linear in the number of units.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/document.hpp"
#include "ingest/chunker.hpp"
#include "text/tokens.hpp"

namespace ragline::ingest::detail {

// Half-open byte range [start, end) of a document's text.
struct ByteRange {
  std::size_t start = 0;
  std::size_t end = 0;
};

// The token spans of one text, with the index range of the tokens inside a byte range.
class DocumentTokens {
 public:
  explicit DocumentTokens(std::string_view text) : spans_(text::token_spans(text)) {}
  const std::vector<text::TokenSpan>& spans() const { return spans_; }
  std::size_t size() const { return spans_.size(); }
  // Indexes [first, second) of the tokens lying entirely inside `range`.
  std::pair<std::size_t, std::size_t> tokens_within(ByteRange range) const;

 private:
  std::vector<text::TokenSpan> spans_;
};

// One indivisible-unless-too-long piece of text to pack: a sentence, a paragraph, a table row,
// a fenced code block. byte range and token range describe the same text.
struct PackUnit {
  ByteRange bytes;
  std::size_t token_begin = 0;
  std::size_t token_end = 0;
  // What happens to a unit longer than max on its own: a splittable unit is cut into fixed
  // token windows; an unsplittable one (a code fence, a table row) becomes one oversized chunk.
  bool splittable = true;
  std::size_t tokens() const { return token_end - token_begin; }
};

PackUnit make_unit(const DocumentTokens& tokens, ByteRange bytes, bool splittable);

// ICU sentences of text[range), as splittable units with offsets into the whole text.
std::vector<PackUnit> sentence_units(std::string_view text, const DocumentTokens& tokens, ByteRange range);

// Windows of `max_tokens` tokens over tokens [token_begin, token_end), each starting
// max_tokens - overlap_tokens after the previous one; the last window ends at token_end.
// Requires 0 <= overlap_tokens < max_tokens.
void append_fixed_windows(const DocumentTokens& tokens, std::size_t token_begin, std::size_t token_end, int max_tokens,
                          int overlap_tokens, std::vector<ByteRange>& out);

// Greedy packing of units in order: a chunk takes units while their tokens sum to at most
// max_tokens. A unit longer than max_tokens on its own ends the current chunk and is handled by
// its `splittable` flag. With overlap_tokens > 0, a new chunk begins with the trailing whole
// units of the previous chunk whose tokens sum to at most overlap_tokens (none when the last
// unit alone exceeds it, or after a unit that was cut into windows).
std::vector<ByteRange> pack_units(const DocumentTokens& tokens, std::span<const PackUnit> units, int max_tokens,
                                  int overlap_tokens);

// `range` with leading and trailing Unicode white space removed (empty when only white space).
ByteRange trim_white_space(std::string_view text, ByteRange range);

// Appends the chunk for document.text[range), trimmed, with ordinal = out.size() and
// token_count = text::count_tokens(text). Returns false, appending nothing, when the range holds
// only white space.
bool append_chunk(const Document& document, ByteRange range, const std::string& heading_path, std::vector<Chunk>& out);

// Factories of the chunkers, one per chunker_<name>.cpp; parameters are validated by
// make_chunker before these are called.
std::unique_ptr<Chunker> make_fixed_chunker(int max_tokens, int overlap_tokens);
std::unique_ptr<Chunker> make_sentence_chunker(int max_tokens, int overlap_tokens);
std::unique_ptr<Chunker> make_markdown_chunker(int max_tokens);
std::unique_ptr<Chunker> make_hierarchical_chunker(int parent_tokens, int child_tokens);
std::unique_ptr<Chunker> make_none_chunker();

}  // namespace ragline::ingest::detail
