#include "models/local/wordpiece.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <fstream>

#include "core/check.hpp"

namespace ragline::models::local {
namespace {

// The White_Space property, as the Hugging Face fast tokenizer (Rust's char::is_whitespace) has
// it: also U+2028 and U+2029, which Python's BertTokenizer kept inside words. The controls among
// them (VT, FF, NEL) are removed before this is asked.
bool is_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || u_isUWhiteSpace(static_cast<UChar32>(c));
}

// Every "other" category: Cc, Cf, Cs, Co, Cn (BERT's _is_control tests the category's first letter).
bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  const auto mask = U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CS_MASK | U_GC_CO_MASK | U_GC_CN_MASK;
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & mask) != 0;
}

bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0;
}

// The blocks BERT calls "Chinese characters": CJK Unified Ideographs and extensions A-E,
// compatibility ideographs and their supplement. Kana and hangul are not among them.
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::string to_utf8(const char32_t* begin, const char32_t* end) {
  std::string out;
  for (const char32_t* it = begin; it != end; ++it) {
    const char32_t c = *it;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// NFD with nonspacing marks removed, then lower case, in the fast tokenizer's order; each
// character is lower-cased alone (full mapping, no context), so a final capital sigma becomes σ,
// not ς, as in Rust's char::to_lowercase.
std::u32string fold_word(const std::u32string& word, bool lower_case, bool strip_accents) {
  bool ascii = true;
  for (char32_t c : word) ascii = ascii && c < 0x80;
  if (ascii) {
    std::u32string out = word;
    if (lower_case) {
      for (char32_t& c : out) c = (c >= U'A' && c <= U'Z') ? c + 32 : c;
    }
    return out;
  }
  icu::UnicodeString text =
      icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(word.data()), static_cast<int32_t>(word.size()));
  if (strip_accents) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
    RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU NFD normaliser unavailable: " << u_errorName(status));
    text = nfd->normalize(text, status);
    RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU NFD failed: " << u_errorName(status));
  }
  std::u32string out;
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    i += U16_LENGTH(c);
    if (strip_accents && u_charType(c) == U_NON_SPACING_MARK) continue;
    if (!lower_case || c < 0x80) {
      out.push_back(static_cast<char32_t>(lower_case && c >= 'A' && c <= 'Z' ? c + 32 : c));
      continue;
    }
    icu::UnicodeString lowered(c);
    lowered.toLower(icu::Locale::getRoot());
    for (int32_t j = 0; j < lowered.length();) {
      const UChar32 l = lowered.char32At(j);
      j += U16_LENGTH(l);
      out.push_back(static_cast<char32_t>(l));
    }
  }
  return out;
}

// Steps 1-4 of the basic tokenizer, on code points.
std::vector<std::u32string> basic_words(std::string_view text, const WordPieceOptions& options, bool strip_accents) {
  // 1 and 2: clean, and space out CJK ideographs.
  std::u32string cleaned;
  cleaned.reserve(text.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c <= 0 || c == 0xFFFD) continue;  // NUL, invalid UTF-8 (c < 0) and the replacement character
    const auto code = static_cast<char32_t>(c);
    if (is_control(code)) continue;
    if (is_whitespace(code)) {
      cleaned.push_back(U' ');
    } else if (options.split_cjk && is_cjk(code)) {
      cleaned.push_back(U' ');
      cleaned.push_back(code);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(code);
    }
  }
  // 3 and 4.
  std::vector<std::u32string> words;
  std::size_t position = 0;
  while (position < cleaned.size()) {
    if (cleaned[position] == U' ') {
      ++position;
      continue;
    }
    std::size_t end = position;
    while (end < cleaned.size() && cleaned[end] != U' ') ++end;
    std::u32string word = cleaned.substr(position, end - position);
    position = end;
    if (options.lower_case || strip_accents) word = fold_word(word, options.lower_case, strip_accents);
    std::u32string current;
    for (char32_t c : word) {
      if (is_punctuation(c)) {
        if (!current.empty()) words.push_back(std::move(current));
        current.clear();
        words.push_back(std::u32string(1, c));
      } else {
        current.push_back(c);
      }
    }
    if (!current.empty()) words.push_back(std::move(current));
  }
  return words;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> pieces, const WordPieceOptions& options,
                                       const std::string& source)
    : pieces_(std::move(pieces)),
      options_(options),
      strip_accents_(options.strip_accents.value_or(options.lower_case)) {
  ids_.reserve(pieces_.size());
  for (std::size_t id = 0; id < pieces_.size(); ++id) ids_.emplace(pieces_[id], static_cast<int>(id));  // first wins
  const auto required = [&](std::string_view name) {
    const auto id = find(name);
    RAGLINE_CHECK(id.has_value(), format, source << " lacks the special token " << name);
    return *id;
  };
  unk_id_ = required("[UNK]");
  cls_id_ = required("[CLS]");
  sep_id_ = required("[SEP]");
  pad_id_ = find("[PAD]").value_or(0);
}

WordPieceTokenizer WordPieceTokenizer::load(const std::filesystem::path& vocab_file, const WordPieceOptions& options) {
  std::ifstream in(vocab_file, std::ios::binary);
  RAGLINE_CHECK(in, not_found, "missing vocabulary file " << vocab_file.string());
  std::vector<std::string> pieces;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pieces.push_back(std::move(line));
  }
  return WordPieceTokenizer(std::move(pieces), options, vocab_file.string());
}

std::optional<int> WordPieceTokenizer::find(std::string_view piece) const {
  const auto it = ids_.find(std::string(piece));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> WordPieceTokenizer::split_words(std::string_view text) const {
  std::vector<std::string> words;
  for (const auto& word : basic_words(text, options_, strip_accents_)) {
    words.push_back(to_utf8(word.data(), word.data() + word.size()));
  }
  return words;
}

std::vector<int> WordPieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  for (const auto& word : basic_words(text, options_, strip_accents_)) append_pieces(word, ids);
  return ids;
}

void WordPieceTokenizer::append_pieces(const std::u32string& word, std::vector<int>& ids) const {
  if (word.size() > options_.max_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  const std::size_t first_piece = ids.size();
  std::size_t start = 0;
  std::string candidate;
  while (start < word.size()) {
    std::optional<int> match;
    std::size_t end = word.size();
    for (; end > start; --end) {
      candidate = start > 0 ? "##" : "";
      candidate += to_utf8(word.data() + start, word.data() + end);
      match = find(candidate);
      if (match) break;
    }
    if (!match) {
      ids.resize(first_piece);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(*match);
    start = end;
  }
}

}  // namespace ragline::models::local
