#include "text/text_analyzer.hpp"

#include <libstemmer.h>
#include <unicode/brkiter.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utext.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <sstream>
#include <unordered_map>

#include "core/check.hpp"
#include "text/stopwords.hpp"

namespace ragline::text {
namespace {

struct StemmerDeleter {
  void operator()(sb_stemmer* stemmer) const { sb_stemmer_delete(stemmer); }
};
using StemmerPtr = std::unique_ptr<sb_stemmer, StemmerDeleter>;

// ICU's break iterator indexes text with int32_t, so longer inputs are analysed in windows.
constexpr std::size_t kMaxWindowBytes = std::size_t{1} << 30;
// Words follow Zipf's law: a few thousand distinct surface forms cover most of the running text,
// so remembering each form's result skips folding, stopword lookup and stemming (the dominant
// cost) for most words. Two generations of this many entries each (about 1 MB at most in all).
constexpr std::size_t kMemoGenerationSize = 8192;

bool is_ascii(std::string_view text) {
  // No early exit: for short words a branch-free OR is cheaper and vectorises.
  unsigned char any_high = 0;
  for (char c : text) any_high |= static_cast<unsigned char>(c);
  return any_high < 0x80;
}

bool is_letter_status(int32_t rule_status) {
  return rule_status >= UBRK_WORD_LETTER && rule_status < UBRK_WORD_LETTER_LIMIT;
}

bool is_kana_or_ideographic_status(int32_t rule_status) {
  return rule_status >= UBRK_WORD_KANA && rule_status < UBRK_WORD_IDEO_LIMIT;
}

// A UTF-16 scratch buffer whose storage is kept between words: `units` only grows, `length` is
// the current content.
struct WideBuffer {
  std::u16string units = std::u16string(512, u'\0');
  int32_t length = 0;
  std::u16string_view view() const { return {units.data(), static_cast<std::size_t>(length)}; }
};

// Runs an ICU "write into a caller buffer" function, growing the buffer once on overflow.
// Returns false when ICU fails for another reason; the word is then skipped, never thrown on.
template <typename Buffer, typename Call>
bool icu_fill(Buffer& out, Call&& call) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = call(out.units.data(), static_cast<int32_t>(out.units.size()), status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    out.units.resize(static_cast<std::size_t>(length) + 16);
    status = U_ZERO_ERROR;
    length = call(out.units.data(), static_cast<int32_t>(out.units.size()), status);
  }
  if (U_FAILURE(status)) return false;
  out.length = length;
  return true;
}

struct NarrowBuffer {
  std::string units = std::string(1024, '\0');
  int32_t length = 0;
  std::string_view view() const { return {units.data(), static_cast<std::size_t>(length)}; }
};

bool utf8_to_wide(std::string_view utf8, WideBuffer& out) {
  return icu_fill(out, [&](char16_t* dest, int32_t capacity, UErrorCode& status) {
    int32_t length = 0;
    u_strFromUTF8WithSub(dest, capacity, &length, utf8.data(), static_cast<int32_t>(utf8.size()), 0xFFFD, nullptr,
                         &status);
    return length;
  });
}

bool wide_to_utf8(std::u16string_view wide, NarrowBuffer& out) {
  return icu_fill(out, [&](char* dest, int32_t capacity, UErrorCode& status) {
    int32_t length = 0;
    u_strToUTF8WithSub(dest, capacity, &length, wide.data(), static_cast<int32_t>(wide.size()), 0xFFFD, nullptr,
                       &status);
    return length;
  });
}

bool normalize(const UNormalizer2* normalizer, std::u16string_view source, WideBuffer& out) {
  return icu_fill(out, [&](char16_t* dest, int32_t capacity, UErrorCode& status) {
    return unorm2_normalize(normalizer, source.data(), static_cast<int32_t>(source.size()), dest, capacity, &status);
  });
}

bool script_sheds_diacritics(UChar32 base) {
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(base, &status);
  return U_SUCCESS(status) && (script == USCRIPT_LATIN || script == USCRIPT_GREEK || script == USCRIPT_CYRILLIC);
}

// Where the surface word's first apostrophe ends, or 0 if it has none. ASCII, U+2019 and the
// fullwidth U+FF07 all fold to an ASCII apostrophe, so all three mark an elision.
std::size_t end_of_first_apostrophe(std::string_view surface) {
  for (std::size_t index = 0; index < surface.size(); ++index) {
    if (surface[index] == '\'') return index + 1;
    if (surface.substr(index, 3) == "\xE2\x80\x99" || surface.substr(index, 3) == "\xEF\xBC\x87") return index + 3;
  }
  return 0;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// The analysis of one surface word: dropped, or a term and how many leading bytes (an elided
// article) fall outside the term's surface span.
struct WordResult {
  bool indexed = false;
  std::string term;
  std::size_t skipped_prefix_bytes = 0;
};

}  // namespace

struct TextAnalyzer::Impl {
  AnalyzerConfig config;
  std::unique_ptr<icu::BreakIterator> words;
  UText text = UTEXT_INITIALIZER;  // reopened over each input; closed in the destructor
  StemmerPtr stemmer;              // null: no stemming
  const StopwordSet* stopwords = nullptr;
  std::span<const std::string_view> elisions;
  // English and Porter stemmers treat every non-ASCII letter as a consonant, so "résumé" and
  // "resume" would stem differently; for them diacritics are folded before stemming.
  bool fold_diacritics_before_stemming = false;
  // Turkish has a dotted and a dotless i: I -> ı and İ -> i (Unicode SpecialCasing "tr").
  bool turkic_casing = false;
  bool ascii_fast_path = true;
  const UNormalizer2* nfkc_casefold = nullptr;
  const UNormalizer2* nfd = nullptr;
  const UNormalizer2* nfc = nullptr;

  // Scratch space reused across words so that analysing a word allocates nothing (only memo
  // misses allocate, to store the result).
  WideBuffer wide;
  WideBuffer wide_scratch;
  WideBuffer wide_stripped;
  std::string folded;
  NarrowBuffer narrow;
  // Per-word results by surface form: a cheap approximation of LRU. New results go into
  // `memo`; when it is full it becomes `memo_previous` (the older generation is dropped), and a
  // word found in the older generation moves back into `memo`.
  using Memo = std::unordered_map<std::string, WordResult, StringHash, std::equal_to<>>;
  Memo memo;
  Memo memo_previous;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { utext_close(&text); }

  bool analyze_window(std::string_view window, std::size_t base, const std::function<bool(const AnalyzedToken&)>& emit);
  const WordResult& lookup(std::string_view surface, int32_t rule_status);
  WordResult analyze_word(std::string_view surface, int32_t rule_status);
  bool fold_case(std::string_view surface, int32_t rule_status);
  bool strip_diacritics(WideBuffer& text_buffer);
  std::string_view fold_diacritics(std::string_view term);
};

bool TextAnalyzer::Impl::analyze_window(std::string_view window, std::size_t base,
                                        const std::function<bool(const AnalyzedToken&)>& emit) {
  if (window.empty()) return true;
  UErrorCode status = U_ZERO_ERROR;
  utext_openUTF8(&text, window.data(), static_cast<int64_t>(window.size()), &status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU utext_openUTF8 failed: " << u_errorName(status));
  words->setText(&text, status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU BreakIterator::setText failed: " << u_errorName(status));

  // Over a UTF-8 UText, boundaries are byte offsets into `window`. Ill-formed bytes read as
  // U+FFFD, which is never part of a word, so they separate words instead of failing.
  int32_t start = words->first();
  for (int32_t end = words->next(); end != icu::BreakIterator::DONE; start = end, end = words->next()) {
    const int32_t rule_status = words->getRuleStatus();
    if (rule_status < UBRK_WORD_NONE_LIMIT) continue;  // spaces, punctuation, symbols, emoji
    const std::string_view surface =
        window.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start));
    if (surface.size() > kMaxTokenBytes) continue;
    const WordResult& result = lookup(surface, rule_status);
    if (!result.indexed) continue;
    const AnalyzedToken token{result.term, base + static_cast<std::size_t>(start) + result.skipped_prefix_bytes,
                              base + static_cast<std::size_t>(end)};
    if (!emit(token)) return false;
  }
  return true;
}

const WordResult& TextAnalyzer::Impl::lookup(std::string_view surface, int32_t rule_status) {
  // Keyed by the surface bytes alone: the rule status is a function of the word's characters.
  if (auto found = memo.find(surface); found != memo.end()) return found->second;
  if (memo.size() >= kMemoGenerationSize) {
    std::swap(memo, memo_previous);
    memo.clear();
  }
  if (auto found = memo_previous.find(surface); found != memo_previous.end()) {
    return memo.insert(memo_previous.extract(found)).position->second;
  }
  return memo.emplace(std::string(surface), analyze_word(surface, rule_status)).first->second;
}

WordResult TextAnalyzer::Impl::analyze_word(std::string_view surface, int32_t rule_status) {
  WordResult result;
  if (!fold_case(surface, rule_status)) return result;
  std::string_view term = folded;

  if (!elisions.empty()) {
    const std::size_t apostrophe = term.find('\'');
    const std::size_t surface_skip = end_of_first_apostrophe(surface);
    if (apostrophe != std::string_view::npos && apostrophe + 1 < term.size() && surface_skip != 0 &&
        std::find(elisions.begin(), elisions.end(), term.substr(0, apostrophe)) != elisions.end()) {
      term.remove_prefix(apostrophe + 1);
      result.skipped_prefix_bytes = surface_skip;
    }
  }
  if (term.empty()) return result;
  if (stopwords != nullptr && stopwords->contains(term)) return result;

  // Numbers, kana and ideographs are left unstemmed: no Snowball stemmer has rules for them.
  if (stemmer != nullptr && is_letter_status(rule_status)) {
    const sb_symbol* stem =
        sb_stemmer_stem(stemmer.get(), reinterpret_cast<const sb_symbol*>(term.data()), static_cast<int>(term.size()));
    // Null only when the stemmer runs out of memory; the unstemmed term is still a usable term.
    if (stem != nullptr) {
      term = {reinterpret_cast<const char*>(stem), static_cast<std::size_t>(sb_stemmer_length(stemmer.get()))};
    }
  }
  if (!fold_diacritics_before_stemming && !is_kana_or_ideographic_status(rule_status) && !is_ascii(term)) {
    term = fold_diacritics(term);
  }
  if (term.empty()) return result;
  result.indexed = true;
  result.term.assign(term);
  return result;
}

// Folds `surface` into `folded`. Returns false (word skipped) only if ICU fails.
bool TextAnalyzer::Impl::fold_case(std::string_view surface, int32_t rule_status) {
  if (ascii_fast_path && is_ascii(surface) && !(turkic_casing && surface.find('I') != std::string_view::npos)) {
    // NFKC_Casefold maps every ASCII character to itself except A-Z, so this is exact.
    folded.assign(surface);
    for (char& c : folded) c = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 'a' - 'A' : 0));
    return true;
  }
  if (!utf8_to_wide(surface, wide_scratch)) return false;
  if (turkic_casing) {
    for (char16_t& unit : std::span(wide_scratch.units.data(), static_cast<std::size_t>(wide_scratch.length))) {
      if (unit == u'I') unit = u'\u0131';
      if (unit == u'\u0130') unit = u'i';
    }
  }
  // NFKC_Casefold rather than case folding alone: the same term whether the text arrives
  // composed or decomposed, in fullwidth forms or with ligatures, and soft hyphens and other
  // default-ignorable characters vanish. Ingest already NFKC-normalises documents; queries are
  // analysed here without that step.
  if (!normalize(nfkc_casefold, wide_scratch.view(), wide)) return false;
  // Snowball's English stemmer strips possessive 's only with an ASCII apostrophe.
  std::replace(wide.units.data(), wide.units.data() + wide.length, u'\u2019', u'\'');
  if (fold_diacritics_before_stemming && !is_kana_or_ideographic_status(rule_status)) strip_diacritics(wide);
  if (!wide_to_utf8(wide.view(), narrow)) return false;
  folded.assign(narrow.view());
  return true;
}

// Removes nonspacing marks that sit on a Latin, Greek or Cyrillic base letter, in place.
// Marks on other scripts carry meaning that folding would destroy (Japanese dakuten: が is not
// か; Indic vowel signs), so they stay. Returns whether anything was removed.
bool TextAnalyzer::Impl::strip_diacritics(WideBuffer& text_buffer) {
  if (!normalize(nfd, text_buffer.view(), wide_scratch)) return false;
  const std::u16string_view decomposed = wide_scratch.view();
  if (wide_stripped.units.size() < decomposed.size()) wide_stripped.units.resize(decomposed.size());
  int32_t kept = 0;
  bool base_sheds_marks = false;
  bool removed = false;
  for (int32_t index = 0; index < static_cast<int32_t>(decomposed.size());) {
    const int32_t code_point_start = index;
    UChar32 code_point = 0;
    U16_NEXT(decomposed.data(), index, static_cast<int32_t>(decomposed.size()), code_point);
    if (u_charType(code_point) == U_NON_SPACING_MARK) {
      if (base_sheds_marks) {
        removed = true;
        continue;
      }
    } else {
      base_sheds_marks = script_sheds_diacritics(code_point);
    }
    for (int32_t unit = code_point_start; unit < index; ++unit) wide_stripped.units[kept++] = decomposed[unit];
  }
  if (!removed) return false;
  wide_stripped.length = kept;
  return normalize(nfc, wide_stripped.view(), text_buffer);
}

std::string_view TextAnalyzer::Impl::fold_diacritics(std::string_view term) {
  if (!utf8_to_wide(term, wide) || !strip_diacritics(wide) || !wide_to_utf8(wide.view(), narrow)) return term;
  return narrow.view();
}

TextAnalyzer::TextAnalyzer(const AnalyzerConfig& config) : impl_(std::make_unique<Impl>()) {
  const std::vector<std::string> languages = analyzer_languages();
  if (config.language != "none" && std::find(languages.begin(), languages.end(), config.language) == languages.end()) {
    std::ostringstream known;
    for (const std::string& language : languages) known << language << ", ";
    RAGLINE_THROW(invalid_argument,
                  "unknown analyzer language '" << config.language << "'; known languages: " << known.str() << "none");
  }
  Impl& impl = *impl_;
  impl.config = config;

  UErrorCode status = U_ZERO_ERROR;
  impl.words.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  RAGLINE_CHECK(U_SUCCESS(status) && impl.words != nullptr, internal,
                "ICU word break iterator unavailable: " << u_errorName(status));
  impl.nfkc_casefold = unorm2_getNFKCCasefoldInstance(&status);
  impl.nfd = unorm2_getNFDInstance(&status);
  impl.nfc = unorm2_getNFCInstance(&status);
  RAGLINE_CHECK(U_SUCCESS(status), internal, "ICU normalizer data unavailable: " << u_errorName(status));

  if (config.stemming && config.language != "none") {
    impl.stemmer.reset(sb_stemmer_new(config.language.c_str(), "UTF_8"));
    RAGLINE_CHECK(impl.stemmer != nullptr, internal,
                  "libstemmer could not create the '" << config.language << "' stemmer");
  }
  if (config.stopwords) impl.stopwords = find_stopwords(config.language);
  impl.elisions = elided_articles(config.language);
  impl.fold_diacritics_before_stemming = config.language == "english" || config.language == "porter";
  impl.turkic_casing = config.language == "turkish";
}

TextAnalyzer::~TextAnalyzer() = default;
TextAnalyzer::TextAnalyzer(TextAnalyzer&&) noexcept = default;
TextAnalyzer& TextAnalyzer::operator=(TextAnalyzer&&) noexcept = default;

void TextAnalyzer::analyze(std::string_view utf8, const std::function<bool(const AnalyzedToken&)>& emit) {
  std::size_t base = 0;
  while (utf8.size() - base > kMaxWindowBytes) {
    // Cut after a space if one is near the limit, else at a character boundary; a word cut in
    // two is acceptable at a gigabyte scale.
    std::size_t cut = base + kMaxWindowBytes;
    const std::size_t earliest = cut - (std::size_t{1} << 16);
    while (cut > earliest && utf8[cut - 1] != ' ' && utf8[cut - 1] != '\n') --cut;
    if (cut == earliest) {
      cut = base + kMaxWindowBytes;
      while (cut > base + kMaxWindowBytes - 4 && (static_cast<unsigned char>(utf8[cut]) & 0xC0) == 0x80) --cut;
    }
    if (!impl_->analyze_window(utf8.substr(base, cut - base), base, emit)) return;
    base = cut;
  }
  impl_->analyze_window(utf8.substr(base), base, emit);
}

std::vector<std::string> TextAnalyzer::terms(std::string_view utf8) {
  std::vector<std::string> result;
  analyze(utf8, [&](const AnalyzedToken& token) {
    result.emplace_back(token.term);
    return true;
  });
  return result;
}

const AnalyzerConfig& TextAnalyzer::config() const { return impl_->config; }

void TextAnalyzer::set_ascii_fast_path(bool enabled) {
  impl_->ascii_fast_path = enabled;
  impl_->memo.clear();
  impl_->memo_previous.clear();
}

std::vector<std::string> analyzer_languages() {
  std::vector<std::string> names;
  for (const char** name = sb_stemmer_list(); *name != nullptr; ++name) names.emplace_back(*name);
  return names;
}

}  // namespace ragline::text
