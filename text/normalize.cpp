#include "text/normalize.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/check.hpp"

namespace ragline::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the ASCII prefix, eight bytes at a time: most ingested text is ASCII and this scan
// decides whether ICU is needed at all.
std::size_t ascii_prefix(std::string_view text) {
  std::size_t position = 0;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  while (position + 8 <= text.size()) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + position, sizeof word);
    if (word & kHighBits) break;
    position += 8;
  }
  while (position < text.size() && static_cast<unsigned char>(text[position]) < 0x80) ++position;
  return position;
}

// Length of the well-formed sequence starting at `position`, or, when it is ill-formed, minus
// the length of its maximal subpart (Unicode 15 §3.9, "U+FFFD Substitution of Maximal
// Subparts"), which is what one U+FFFD replaces. The ranges are those of Table 3-7.
int sequence_length(std::string_view text, std::size_t position) {
  const auto lead = static_cast<unsigned char>(text[position]);
  if (lead < 0x80) return 1;
  int length = 0;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_low = 0xA0;   // overlong
    if (lead == 0xED) second_high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_low = 0x90;   // overlong
    if (lead == 0xF4) second_high = 0x8F;  // above U+10FFFF
  } else {
    return -1;  // a continuation byte or a byte that never occurs in UTF-8
  }
  int consumed = 1;
  for (; consumed < length; ++consumed) {
    if (position + consumed >= text.size()) return -consumed;
    const auto byte = static_cast<unsigned char>(text[position + consumed]);
    const unsigned char low = consumed == 1 ? second_low : 0x80;
    const unsigned char high = consumed == 1 ? second_high : 0xBF;
    if (byte < low || byte > high) return -consumed;
  }
  return length;
}

// Decodes one code point of text already known to be well-formed UTF-8.
char32_t decode_valid(std::string_view text, std::size_t& position) {
  const auto lead = static_cast<unsigned char>(text[position]);
  if (lead < 0x80) {
    ++position;
    return lead;
  }
  int length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  char32_t code_point = lead & (0x7F >> length);
  for (int index = 1; index < length; ++index) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[position + index]) & 0x3F);
  }
  position += length;
  return code_point;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Cleans white space and control characters one code point at a time. Spaces are held back
// until something visible follows on the same line (so trailing spaces vanish), and line
// breaks until the next visible character (so blank lines collapse to one and leading and
// trailing blank lines vanish).
class WhitespaceCleaner {
 public:
  explicit WhitespaceCleaner(std::size_t size_hint) { out_.reserve(size_hint); }

  void feed(char32_t code_point) {
    const bool after_carriage_return = after_carriage_return_;
    after_carriage_return_ = false;
    switch (code_point) {
      case U'\r':
        after_carriage_return_ = true;
        line_break();
        return;
      case U'\n':
        if (!after_carriage_return) line_break();
        return;
      // Vertical tab, form feed (a page break in plain text), NEL and the Unicode line and
      // paragraph separators all end a line.
      case 0x0B:
      case 0x0C:
      case 0x85:
      case 0x2028:
      case 0x2029:
        line_break();
        return;
      case U'\t':
        held_spaces_.push_back('\t');
        return;
      case U' ':
        held_spaces_.push_back(' ');
        return;
      case 0xFEFF:  // byte order mark; never content
        return;
      default:
        break;
    }
    if (code_point < 0x20 || (code_point >= 0x7F && code_point < 0xA0)) return;  // controls
    if (code_point >= 0x80 && u_isUWhiteSpace(static_cast<UChar32>(code_point))) {
      held_spaces_.push_back(' ');
      return;
    }
    if (held_line_breaks_ > 0) {
      if (!out_.empty()) out_.append(std::min(held_line_breaks_, 2), '\n');
      held_line_breaks_ = 0;
    }
    out_ += held_spaces_;
    held_spaces_.clear();
    append_utf8(out_, code_point);
  }

  // Feeds a run of visible ASCII without the per-character dispatch.
  void feed_visible_ascii(std::string_view run) {
    if (run.empty()) return;
    feed(static_cast<unsigned char>(run.front()));
    out_.append(run.substr(1));
  }

  std::string finish() && { return std::move(out_); }

 private:
  void line_break() {
    held_spaces_.clear();
    ++held_line_breaks_;
  }

  std::string out_;
  std::string held_spaces_;
  int held_line_breaks_ = 0;
  bool after_carriage_return_ = false;
};

bool is_visible_ascii(char byte) { return byte > 0x20 && byte < 0x7F; }

// Runs of visible ASCII go to the cleaner whole; everything else one code point at a time.
std::string clean_whitespace(std::string_view valid_utf8) {
  WhitespaceCleaner cleaner(valid_utf8.size());
  std::size_t position = 0;
  while (position < valid_utf8.size()) {
    if (is_visible_ascii(valid_utf8[position])) {
      std::size_t run_end = position + 1;
      while (run_end < valid_utf8.size() && is_visible_ascii(valid_utf8[run_end])) ++run_end;
      cleaner.feed_visible_ascii(valid_utf8.substr(position, run_end - position));
      position = run_end;
    } else {
      cleaner.feed(decode_valid(valid_utf8, position));
    }
  }
  return std::move(cleaner).finish();
}

// ICU takes int32 lengths; larger texts are normalised in pieces. Each piece ends just before
// an ASCII byte (a line break when there is one): no ASCII character combines with what
// precedes it, so a cut there cannot change the result.
constexpr std::size_t kNfkcPieceBytes = std::size_t{1} << 28;

void append_nfkc(std::string_view utf8, std::string& out) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFKCInstance(status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU NFKC normaliser unavailable: " << u_errorName(status));
  const icu::StringPiece input(utf8.data(), static_cast<std::int32_t>(utf8.size()));
  if (normalizer->isNormalizedUTF8(input, status) && U_SUCCESS(status)) {
    out.append(utf8);
    return;
  }
  status = U_ZERO_ERROR;
  icu::StringByteSink<std::string> sink(&out, static_cast<std::int32_t>(utf8.size()));
  normalizer->normalizeUTF8(0, input, sink, nullptr, status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU NFKC normalisation failed: " << u_errorName(status));
}

std::string nfkc(std::string_view utf8) {
  std::string normalised;
  normalised.reserve(utf8.size());
  while (utf8.size() > kNfkcPieceBytes) {
    std::size_t cut = utf8.rfind('\n', kNfkcPieceBytes);
    if (cut == std::string_view::npos || cut == 0) {
      cut = kNfkcPieceBytes;
      while (cut > 0 && static_cast<unsigned char>(utf8[cut]) >= 0x80) --cut;
    }
    // Without any ASCII byte, cut at the nearest code point boundary and accept the tiny risk.
    if (cut == 0) {
      cut = kNfkcPieceBytes;
      while (cut > 0 && (static_cast<unsigned char>(utf8[cut]) & 0xC0) == 0x80) --cut;
    }
    append_nfkc(utf8.substr(0, cut), normalised);
    utf8.remove_prefix(cut);
  }
  append_nfkc(utf8, normalised);
  return normalised;
}

}  // namespace

Utf8Repair repair_utf8(std::string_view bytes) {
  Utf8Repair result;
  std::size_t position = ascii_prefix(bytes);
  // Most input is valid: only start copying at the first ill-formed sequence.
  std::size_t first_invalid = bytes.size();
  while (position < bytes.size()) {
    const int length = sequence_length(bytes, position);
    if (length < 0) {
      first_invalid = position;
      break;
    }
    position += static_cast<std::size_t>(length);
    position += ascii_prefix(bytes.substr(position));
  }
  if (first_invalid == bytes.size()) {
    result.text.assign(bytes);
    return result;
  }
  result.text.reserve(bytes.size() + 16);
  result.text.append(bytes.substr(0, first_invalid));
  position = first_invalid;
  while (position < bytes.size()) {
    const int length = sequence_length(bytes, position);
    if (length > 0) {
      result.text.append(bytes.substr(position, static_cast<std::size_t>(length)));
      position += static_cast<std::size_t>(length);
    } else {
      result.text.append(kReplacement);
      ++result.replaced;
      position += static_cast<std::size_t>(-length);
    }
  }
  return result;
}

std::string normalise_text(std::string_view utf8) {
  if (ascii_prefix(utf8) == utf8.size()) return clean_whitespace(utf8);  // NFKC leaves ASCII alone

  // The contract asks for valid input, but a stray invalid byte must not corrupt the output.
  Utf8Repair repaired = repair_utf8(utf8);
  if (repaired.replaced > 0) utf8 = repaired.text;

  return clean_whitespace(nfkc(utf8));
}

void normalise_document(Document& document) {
  // A title is one line with single spaces, whatever layout it had in the source.
  std::string title;
  for (const char character : normalise_text(document.title)) {
    const bool space = character == ' ' || character == '\t' || character == '\n';
    if (!space) {
      title.push_back(character);
    } else if (!title.empty() && title.back() != ' ') {
      title.push_back(' ');
    }
  }
  if (!title.empty() && title.back() == ' ') title.pop_back();
  document.title = std::move(title);

  if (document.page_starts.empty()) {
    document.text = normalise_text(document.text);
    return;
  }

  const std::string_view text = document.text;
  std::string joined;
  joined.reserve(text.size());
  std::vector<std::size_t> page_starts;
  page_starts.reserve(document.page_starts.size());
  std::size_t page_begin = 0;
  for (std::size_t page = 0; page <= document.page_starts.size(); ++page) {
    std::size_t page_end = page < document.page_starts.size() ? document.page_starts[page] : text.size();
    page_end = std::clamp(page_end, page_begin, text.size());
    const std::string page_text = normalise_text(text.substr(page_begin, page_end - page_begin));
    // An empty page adds no separator; it begins where the next page's separator does, so the
    // starts stay sorted and every page keeps its number.
    if (!page_text.empty() && !joined.empty()) joined += "\n\n";
    if (page > 0) page_starts.push_back(joined.size());
    joined += page_text;
    page_begin = page_end;
  }
  document.text = std::move(joined);
  document.page_starts = std::move(page_starts);
}

}  // namespace ragline::text
