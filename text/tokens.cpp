#include "text/tokens.hpp"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>

#include "core/check.hpp"
#include "text/tokens_internal.hpp"
#include "text/utf8_text.hpp"

namespace ragline::text {
namespace {

enum class BreakKind { word, sentence };

// Creating a break iterator loads and parses rule data (tens of microseconds or more), so each
// kind is created once and each thread clones its own: a BreakIterator is not thread-safe.
// Cloning happens under the lock because the prototypes are shared.
std::unique_ptr<icu::BreakIterator> clone_prototype(BreakKind kind) {
  static std::mutex mutex;
  static std::unique_ptr<icu::BreakIterator> word_prototype;
  static std::unique_ptr<icu::BreakIterator> sentence_prototype;
  std::lock_guard lock(mutex);
  auto& prototype = kind == BreakKind::word ? word_prototype : sentence_prototype;
  if (!prototype) {
    UErrorCode status = U_ZERO_ERROR;
    prototype.reset(kind == BreakKind::word
                        ? icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status)
                        : icu::BreakIterator::createSentenceInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status)) prototype.reset();
    RAGLINE_CHECK(prototype != nullptr, internal, "ICU break iterator could not be created: " << u_errorName(status));
  }
  std::unique_ptr<icu::BreakIterator> copy(prototype->clone());
  RAGLINE_CHECK(copy != nullptr, internal, "ICU break iterator could not be cloned");
  return copy;
}

icu::BreakIterator& thread_iterator(BreakKind kind) {
  thread_local std::unique_ptr<icu::BreakIterator> word;
  thread_local std::unique_ptr<icu::BreakIterator> sentence;
  auto& slot = kind == BreakKind::word ? word : sentence;
  if (!slot) slot = clone_prototype(kind);
  return *slot;
}

bool is_white_space(std::string_view bytes) {
  const auto length = static_cast<std::int32_t>(bytes.size());
  std::int32_t index = 0;
  while (index < length) {
    UChar32 code_point = 0;
    U8_NEXT(bytes.data(), index, length, code_point);
    if (code_point < 0 || !u_isUWhiteSpace(code_point)) return false;
  }
  return true;
}

// Runs `iterator` over `text` and calls visit(start, end) with byte offsets (plus `base`) of
// each segment.
template <typename Visit>
void for_each_segment(BreakKind kind, std::string_view text, std::size_t base, Visit&& visit) {
  if (text.empty()) return;
  RAGLINE_CHECK(text.size() <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), unsupported,
                "text of " << text.size() << " bytes without a line break is too long for ICU segmentation");
  Utf8Text utext(text);
  icu::BreakIterator& iterator = thread_iterator(kind);
  UErrorCode status = U_ZERO_ERROR;
  iterator.setText(utext.get(), status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "BreakIterator::setText failed: " << u_errorName(status));
  std::int32_t start = iterator.first();
  for (std::int32_t end = iterator.next(); end != icu::BreakIterator::DONE; start = end, end = iterator.next()) {
    visit(base + static_cast<std::size_t>(start), base + static_cast<std::size_t>(end));
  }
}

template <typename Visit>
void icu_tokens(std::string_view text, std::size_t base, Visit&& visit) {
  for_each_segment(BreakKind::word, text, base, [&](std::size_t start, std::size_t end) {
    if (!is_white_space(text.substr(start - base, end - start))) visit(start, end);
  });
}

// ASCII fast path. For ASCII input ICU's root word rules (UAX #29 as tailored by ICU, which
// takes ':' out of MidLetter and counts '@' as a letter so that e-mail addresses stay whole)
// reduce to: letters, digits and '_' join each other (WB5, WB8-10,
// WB13a/b); '.' and '\'' join letter-letter (WB6/7) and digit-digit (WB11/12); ',' and ';'
// join digit-digit only; every other character is a segment of its own, and white space
// segments are not tokens. tokens_test checks this against ICU exhaustively on short strings.
enum class AsciiClass : std::uint8_t { space, letter, digit, underscore, mid_num_let, mid_num, other };

constexpr std::array<AsciiClass, 128> make_ascii_classes() {
  std::array<AsciiClass, 128> classes{};
  for (auto& entry : classes) entry = AsciiClass::other;
  for (char c : {'\t', '\n', '\v', '\f', '\r', ' '}) classes[static_cast<unsigned char>(c)] = AsciiClass::space;
  for (int c = 'a'; c <= 'z'; ++c) classes[c] = AsciiClass::letter;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] = AsciiClass::letter;
  classes['@'] = AsciiClass::letter;
  for (int c = '0'; c <= '9'; ++c) classes[c] = AsciiClass::digit;
  classes['_'] = AsciiClass::underscore;
  classes['.'] = AsciiClass::mid_num_let;
  classes['\''] = AsciiClass::mid_num_let;
  classes[','] = AsciiClass::mid_num;
  classes[';'] = AsciiClass::mid_num;
  return classes;
}
constexpr std::array<AsciiClass, 128> kAsciiClasses = make_ascii_classes();

inline AsciiClass ascii_class(char c) { return kAsciiClasses[static_cast<unsigned char>(c)]; }
inline bool joins_words(AsciiClass c) {
  return c == AsciiClass::letter || c == AsciiClass::digit || c == AsciiClass::underscore;
}

template <typename Visit>
void ascii_tokens(std::string_view text, std::size_t base, Visit&& visit) {
  const std::size_t size = text.size();
  std::size_t index = 0;
  while (index < size) {
    const AsciiClass first = ascii_class(text[index]);
    if (first == AsciiClass::space) {
      ++index;
      continue;
    }
    const std::size_t start = index++;
    if (joins_words(first)) {
      while (index < size) {
        const AsciiClass current = ascii_class(text[index]);
        if (joins_words(current)) {
          ++index;
          continue;
        }
        if ((current == AsciiClass::mid_num_let || current == AsciiClass::mid_num) && index + 1 < size) {
          const AsciiClass before = ascii_class(text[index - 1]);
          const AsciiClass after = ascii_class(text[index + 1]);
          const bool letter_join =
              current == AsciiClass::mid_num_let && before == AsciiClass::letter && after == AsciiClass::letter;
          const bool number_join = before == AsciiClass::digit && after == AsciiClass::digit;
          if (letter_join || number_join) {
            index += 2;
            continue;
          }
        }
        break;
      }
    }
    visit(base + start, base + index);
  }
}

std::size_t find_non_ascii(std::string_view text, std::size_t from, std::size_t to) {
  std::size_t index = from;
  for (; index + 8 <= to; index += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + index, sizeof word);
    if (word & 0x8080808080808080ULL) break;
  }
  for (; index < to; ++index) {
    if (static_cast<unsigned char>(text[index]) >= 0x80) return index;
  }
  return std::string_view::npos;
}

std::size_t end_of_line(std::string_view text, std::size_t from) {
  const std::size_t newline = text.find('\n', from);
  return newline == std::string_view::npos ? text.size() : newline + 1;
}

// UAX #29 always breaks after a line feed (WB3a), so a document can be cut at line starts and
// each piece segmented on its own: all-ASCII lines take the fast path, runs of lines holding
// other characters go through ICU.
template <typename Visit>
void for_each_token(std::string_view text, Visit&& visit) {
  std::size_t position = 0;
  while (position < text.size()) {
    const std::size_t non_ascii = find_non_ascii(text, position, text.size());
    if (non_ascii == std::string_view::npos) {
      ascii_tokens(text.substr(position), position, visit);
      return;
    }
    std::size_t run_start = non_ascii;
    while (run_start > position && text[run_start - 1] != '\n') --run_start;
    if (run_start > position) ascii_tokens(text.substr(position, run_start - position), position, visit);
    std::size_t run_end = end_of_line(text, non_ascii);
    while (run_end < text.size()) {
      const std::size_t next_end = end_of_line(text, run_end);
      if (find_non_ascii(text, run_end, next_end) == std::string_view::npos) break;
      run_end = next_end;
    }
    icu_tokens(text.substr(run_start, run_end - run_start), run_start, visit);
    position = run_end;
  }
}

}  // namespace

std::vector<TokenSpan> token_spans(std::string_view utf8) {
  std::vector<TokenSpan> spans;
  // Roughly one token per six bytes of prose; reserving avoids most regrowth.
  spans.reserve(utf8.size() / 6 + 1);
  for_each_token(utf8, [&](std::size_t start, std::size_t end) { spans.push_back({start, end}); });
  return spans;
}

int count_tokens(std::string_view utf8) {
  int count = 0;
  for_each_token(utf8, [&](std::size_t, std::size_t) { ++count; });
  return count;
}

std::vector<TokenSpan> sentence_spans(std::string_view utf8) {
  std::vector<TokenSpan> spans;
  for_each_segment(BreakKind::sentence, utf8, 0, [&](std::size_t start, std::size_t end) {
    // ICU puts the white space that follows a sentence into it; leading white space can only
    // occur before the first sentence. Both are trimmed so a span starts and ends on text.
    auto begin = static_cast<std::int32_t>(start);
    auto finish = static_cast<std::int32_t>(end);
    while (begin < finish) {
      std::int32_t next = begin;
      UChar32 code_point = 0;
      U8_NEXT(utf8.data(), next, finish, code_point);
      if (code_point < 0 || !u_isUWhiteSpace(code_point)) break;
      begin = next;
    }
    while (finish > begin) {
      std::int32_t previous = finish;
      UChar32 code_point = 0;
      U8_PREV(utf8.data(), begin, previous, code_point);
      if (code_point < 0 || !u_isUWhiteSpace(code_point)) break;
      finish = previous;
    }
    if (begin < finish) spans.push_back({static_cast<std::size_t>(begin), static_cast<std::size_t>(finish)});
  });
  return spans;
}

namespace detail {

std::vector<TokenSpan> token_spans_icu_only(std::string_view utf8) {
  std::vector<TokenSpan> spans;
  icu_tokens(utf8, 0, [&](std::size_t start, std::size_t end) { spans.push_back({start, end}); });
  return spans;
}

}  // namespace detail
}  // namespace ragline::text
