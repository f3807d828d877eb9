#include "ingest/chunk_packing.hpp"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>

#include "core/check.hpp"

namespace ragline::ingest::detail {

std::pair<std::size_t, std::size_t> DocumentTokens::tokens_within(ByteRange range) const {
  auto first =
      std::lower_bound(spans_.begin(), spans_.end(), range.start,
                       [](const text::TokenSpan& span, std::size_t offset) { return span.byte_start < offset; });
  auto last = std::partition_point(first, spans_.end(),
                                   [&](const text::TokenSpan& span) { return span.byte_end <= range.end; });
  return {static_cast<std::size_t>(first - spans_.begin()), static_cast<std::size_t>(last - spans_.begin())};
}

PackUnit make_unit(const DocumentTokens& tokens, ByteRange bytes, bool splittable) {
  auto [first, last] = tokens.tokens_within(bytes);
  return PackUnit{bytes, first, last, splittable};
}

std::vector<PackUnit> sentence_units(std::string_view text, const DocumentTokens& tokens, ByteRange range) {
  std::vector<PackUnit> units;
  for (const text::TokenSpan& sentence : text::sentence_spans(text.substr(range.start, range.end - range.start))) {
    units.push_back(
        make_unit(tokens, ByteRange{range.start + sentence.byte_start, range.start + sentence.byte_end}, true));
  }
  return units;
}

void append_fixed_windows(const DocumentTokens& tokens, std::size_t token_begin, std::size_t token_end, int max_tokens,
                          int overlap_tokens, std::vector<ByteRange>& out) {
  assert(max_tokens >= 1 && overlap_tokens >= 0 && overlap_tokens < max_tokens);
  const auto& spans = tokens.spans();
  const auto window = static_cast<std::size_t>(max_tokens);
  const auto step = static_cast<std::size_t>(max_tokens - overlap_tokens);
  for (std::size_t first = token_begin; first < token_end; first += step) {
    const std::size_t last = std::min(first + window, token_end);
    out.push_back(ByteRange{spans[first].byte_start, spans[last - 1].byte_end});
    if (last == token_end) break;
  }
}

std::vector<ByteRange> pack_units(const DocumentTokens& tokens, std::span<const PackUnit> units, int max_tokens,
                                  int overlap_tokens) {
  const auto max = static_cast<std::size_t>(max_tokens);
  const auto overlap = static_cast<std::size_t>(overlap_tokens);
  std::vector<ByteRange> out;
  // The open chunk is units [first, last) holding `open_tokens` tokens; first == last: none.
  std::size_t first = 0;
  std::size_t last = 0;
  std::size_t open_tokens = 0;
  auto close_chunk = [&] {
    if (first < last) out.push_back(ByteRange{units[first].bytes.start, units[last - 1].bytes.end});
    first = last;
    open_tokens = 0;
  };
  for (std::size_t index = 0; index < units.size(); ++index) {
    const PackUnit& unit = units[index];
    const std::size_t size = unit.tokens();
    if (size > max) {
      close_chunk();
      if (unit.splittable) {
        append_fixed_windows(tokens, unit.token_begin, unit.token_end, max_tokens, overlap_tokens, out);
      } else {
        out.push_back(unit.bytes);
      }
      first = last = index + 1;
      continue;
    }
    if (first < last && open_tokens + size <= max) {
      last = index + 1;
      open_tokens += size;
      continue;
    }
    // Walk back over the closing chunk's trailing units for the overlap; the carried units plus
    // the new one must still fit, so the new chunk always adds text of its own.
    std::size_t carried_first = index;
    std::size_t carried_tokens = 0;
    if (overlap > 0) {
      for (std::size_t back = last; back > first; --back) {
        const std::size_t tokens_back = units[back - 1].tokens();
        if (carried_tokens + tokens_back > overlap || carried_tokens + tokens_back + size > max) break;
        carried_tokens += tokens_back;
        carried_first = back - 1;
      }
    }
    close_chunk();
    first = carried_first;
    last = index + 1;
    open_tokens = carried_tokens + size;
  }
  close_chunk();
  return out;
}

ByteRange trim_white_space(std::string_view text, ByteRange range) {
  RAGLINE_CHECK(range.end - range.start <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                unsupported, "a chunk of " << (range.end - range.start) << " bytes is too long");
  // ICU's UTF-8 macros index with int32_t, so work relative to the range.
  const char* bytes = text.data() + range.start;
  std::int32_t begin = 0;
  auto end = static_cast<std::int32_t>(range.end - range.start);
  while (begin < end) {
    if (static_cast<unsigned char>(bytes[begin]) < 0x80) {
      if (!u_isUWhiteSpace(bytes[begin])) break;
      ++begin;
      continue;
    }
    std::int32_t next = begin;
    UChar32 code_point = 0;
    U8_NEXT(bytes, next, end, code_point);
    if (code_point < 0 || !u_isUWhiteSpace(code_point)) break;
    begin = next;
  }
  while (end > begin) {
    std::int32_t previous = end;
    UChar32 code_point = 0;
    U8_PREV(bytes, begin, previous, code_point);
    if (code_point < 0 || !u_isUWhiteSpace(code_point)) break;
    end = previous;
  }
  return ByteRange{range.start + static_cast<std::size_t>(begin), range.start + static_cast<std::size_t>(end)};
}

bool append_chunk(const Document& document, ByteRange range, const std::string& heading_path, std::vector<Chunk>& out) {
  const ByteRange trimmed = trim_white_space(document.text, range);
  if (trimmed.start >= trimmed.end) return false;
  Chunk chunk;
  chunk.ordinal = static_cast<int>(out.size());
  chunk.byte_start = trimmed.start;
  chunk.byte_end = trimmed.end;
  chunk.text = document.text.substr(trimmed.start, trimmed.end - trimmed.start);
  chunk.heading_path = heading_path;
  // Counted on the chunk's own text, so the stored count can be reproduced from the stored
  // text alone (a dictionary segmentation of CJK text cut at a chunk edge may differ slightly
  // from the document-wide one used while packing).
  chunk.token_count = text::count_tokens(chunk.text);
  out.push_back(std::move(chunk));
  return true;
}

}  // namespace ragline::ingest::detail
