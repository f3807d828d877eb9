#include "text/text_analyzer.hpp"

#include <gtest/gtest.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "ragline/error.hpp"
#include "text/stopwords.hpp"

namespace ragline::text {
namespace {

using Terms = std::vector<std::string>;

AnalyzerConfig config_for(std::string language, bool stemming = true, bool stopwords = true) {
  AnalyzerConfig config;
  config.language = std::move(language);
  config.stemming = stemming;
  config.stopwords = stopwords;
  return config;
}

std::vector<std::string> terms_of(std::string_view text, const AnalyzerConfig& config) {
  return TextAnalyzer(config).terms(text);
}

struct Surface {
  std::string term;
  std::string surface;
};

// Each term with the input bytes its offsets point at.
std::vector<Surface> surfaces_of(std::string_view text, const AnalyzerConfig& config) {
  std::vector<Surface> result;
  TextAnalyzer analyzer(config);
  analyzer.analyze(text, [&](const AnalyzedToken& token) {
    EXPECT_LT(token.byte_start, token.byte_end);
    EXPECT_LE(token.byte_end, text.size());
    result.push_back(
        {std::string(token.term), std::string(text.substr(token.byte_start, token.byte_end - token.byte_start))});
    return true;
  });
  return result;
}

bool is_valid_utf8(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strFromUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  return status != U_INVALID_CHAR_FOUND;
}

// Covers English case folding, stemming and stopword removal together.
TEST(TextAnalyzerEnglish, FoldsStemsAndDropsStopwords) {
  EXPECT_EQ(terms_of("The Runner was RUNNING and runs; he ran.", config_for("english")),
            (Terms{"runner", "run", "run", "ran"}));
}

// Covers possessives with ASCII and typographic apostrophes, and contractions in the stoplist.
TEST(TextAnalyzerEnglish, Possessives) {
  EXPECT_EQ(terms_of("John's car, John\u2019s cars, don't", config_for("english")),
            (Terms{"john", "car", "john", "car"}));
}

// Covers numbers: kept whole (decimal points and digit groups included) and never stemmed.
TEST(TextAnalyzerEnglish, NumbersKept) {
  EXPECT_EQ(terms_of("In 1990 pi was 3.14 and 1,000 items sold", config_for("english")),
            (Terms{"1990", "pi", "3.14", "1,000", "item", "sold"}));
}

// Covers diacritic folding: accented and plain spellings give one term.
TEST(TextAnalyzerEnglish, Diacritics) {
  const AnalyzerConfig english = config_for("english");
  EXPECT_EQ(terms_of("Résumés", english), terms_of("resume", english));
  EXPECT_EQ(terms_of("naïve", english), std::vector<std::string>{"naiv"});
  EXPECT_EQ(terms_of("café", english), terms_of("cafe", english));
  // Decomposed input (e + U+0301) folds like the precomposed form.
  EXPECT_EQ(terms_of("cafe\u0301", english), terms_of("café", english));
}

// Covers the Porter stemmer being accepted and sharing English's stoplist.
TEST(TextAnalyzerEnglish, PorterStemmer) {
  EXPECT_TRUE(has_stopword_list("porter"));
  EXPECT_EQ(terms_of("the generalizations", config_for("porter")), (Terms{"gener"}));
}

// Covers stopwords=false: function words are indexed.
TEST(TextAnalyzerOptions, StopwordsOffKeepsThem) {
  EXPECT_EQ(terms_of("The cat and the hat", config_for("english", true, false)),
            (Terms{"the", "cat", "and", "the", "hat"}));
}

// Covers stemming=false: words are folded but keep their endings.
TEST(TextAnalyzerOptions, StemmingOff) {
  EXPECT_EQ(terms_of("Running Résumés quickly", config_for("english", false)),
            (Terms{"running", "resumes", "quickly"}));
}

// Covers language "none": no stemmer, no stopwords, folding still applies.
TEST(TextAnalyzerOptions, LanguageNone) {
  EXPECT_EQ(terms_of("The Running Häuser", config_for("none")), (Terms{"the", "running", "hauser"}));
}

// Covers the error for an unknown language, which lists the known ones.
TEST(TextAnalyzerOptions, UnknownLanguageListsKnownOnes) {
  try {
    TextAnalyzer analyzer(config_for("klingon"));
    FAIL() << "no error for an unknown language";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    const std::string message = error.what();
    EXPECT_NE(message.find("klingon"), std::string::npos) << message;
    EXPECT_NE(message.find("english"), std::string::npos) << message;
    EXPECT_NE(message.find("german"), std::string::npos) << message;
    EXPECT_NE(message.find("none"), std::string::npos) << message;
  }
}

// Covers analyzer_languages() and has_stopword_list() for the required languages.
TEST(TextAnalyzerOptions, LanguagesAndStoplists) {
  const std::vector<std::string> languages = analyzer_languages();
  for (const char* language : {"english", "porter", "german", "french", "spanish", "italian", "portuguese", "dutch"}) {
    EXPECT_NE(std::find(languages.begin(), languages.end(), language), languages.end()) << language;
    EXPECT_TRUE(has_stopword_list(language)) << language;
    EXPECT_NO_THROW(TextAnalyzer(config_for(language))) << language;
  }
  EXPECT_FALSE(has_stopword_list("none"));
  EXPECT_FALSE(has_stopword_list("finnish"));
}

// Covers the stoplist data: every entry is already in folded form and no list repeats a word.
TEST(TextAnalyzerOptions, StoplistsAreFoldedAndUnique) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* casefold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  ASSERT_TRUE(U_SUCCESS(status));
  for (const char* language : {"english", "german", "french", "spanish", "italian", "portuguese", "dutch"}) {
    std::set<std::string_view> seen;
    for (std::string_view word : stopword_list(language)) {
      EXPECT_TRUE(seen.insert(word).second) << language << " repeats " << word;
      std::string folded;
      casefold
          ->normalize(icu::UnicodeString::fromUTF8(icu::StringPiece(word.data(), static_cast<int32_t>(word.size()))),
                      status)
          .toUTF8String(folded);
      EXPECT_EQ(folded, word) << language;
    }
  }
  EXPECT_GE(stopword_list("english").size(), 120u);
  EXPECT_LE(stopword_list("english").size(), 180u);
}

// Covers German: umlauts fold after stemming so plural and singular collide; ß folds to ss.
TEST(TextAnalyzerGerman, Umlauts) {
  const AnalyzerConfig german = config_for("german");
  EXPECT_EQ(terms_of("Häuser", german), terms_of("Haus", german));
  EXPECT_EQ(terms_of("Straße", german), terms_of("STRASSE", german));
  EXPECT_EQ(terms_of("Die Häuser und das Haus", german), (Terms{"haus", "haus"}));
}

// Covers German compounds: one word stays one term.
TEST(TextAnalyzerGerman, CompoundsStayWhole) {
  const std::vector<Surface> surfaces = surfaces_of("Donaudampfschifffahrtsgesellschaft", config_for("german"));
  ASSERT_EQ(surfaces.size(), 1u);
  EXPECT_EQ(surfaces[0].surface, "Donaudampfschifffahrtsgesellschaft");
}

// Covers French accents: stemmed with them, then folded, so accented and plain spellings meet.
TEST(TextAnalyzerFrench, Accents) {
  const AnalyzerConfig french = config_for("french");
  EXPECT_EQ(terms_of("élèves", french), terms_of("élève", french));
  EXPECT_EQ(terms_of("Élève", french), terms_of("eleve", french));
  EXPECT_EQ(terms_of("à côté", french), (Terms{"cot"}));
}

// Covers French elision: "l'avion" and "l’avion" index "avion" with offsets on "avion" only.
TEST(TextAnalyzerFrench, Elision) {
  const std::vector<Surface> surfaces = surfaces_of("L'avion et l\u2019avion d'Air", config_for("french"));
  const std::vector<std::string> avion = terms_of("avion", config_for("french"));
  const std::vector<std::string> air = terms_of("air", config_for("french"));
  ASSERT_EQ(surfaces.size(), 3u);
  EXPECT_EQ(surfaces[0].term, avion.at(0));
  EXPECT_EQ(surfaces[0].surface, "avion");
  EXPECT_EQ(surfaces[1].term, avion.at(0));
  EXPECT_EQ(surfaces[1].surface, "avion");
  EXPECT_EQ(surfaces[2].term, air.at(0));
  EXPECT_EQ(surfaces[2].surface, "Air");
}

// Covers elision edge cases: a word that merely contains an apostrophe stays whole, and an
// elided pronoun followed by a stopword leaves nothing.
TEST(TextAnalyzerFrench, ElisionOnlyForArticles) {
  const AnalyzerConfig french = config_for("french", false);
  EXPECT_EQ(terms_of("aujourd'hui", french), (Terms{"aujourd'hui"}));
  EXPECT_EQ(terms_of("qu'il", french), (Terms{}));
  EXPECT_EQ(terms_of("qu'il", config_for("french", false, false)), (Terms{"il"}));
}

// Covers Italian elision of articulated prepositions.
TEST(TextAnalyzerItalian, Elision) {
  EXPECT_EQ(terms_of("dell'acqua, un'altra, l'amica", config_for("italian", false, false)),
            (Terms{"acqua", "altra", "amica"}));
}

// Covers Chinese: dictionary segmentation into several words, offsets on exact input bytes.
TEST(TextAnalyzerChinese, Segmentation) {
  const std::string text = "我喜欢机器学习";
  const std::vector<Surface> surfaces = surfaces_of(text, config_for("english"));
  ASSERT_GE(surfaces.size(), 3u);
  std::string joined;
  for (const Surface& surface : surfaces) {
    EXPECT_EQ(surface.term, surface.surface);
    joined += surface.surface;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(terms_of(text, config_for("english")), (Terms{"我", "喜欢", "机器", "学习"}));
}

// Covers Japanese: kanji and kana segmented into several words, punctuation dropped, offsets exact.
TEST(TextAnalyzerJapanese, Segmentation) {
  const std::string text = "東京都に住んでいます。";
  const std::vector<Surface> surfaces = surfaces_of(text, config_for("english"));
  ASSERT_GE(surfaces.size(), 4u);
  EXPECT_EQ(surfaces.front().surface, "東京");
  std::string joined;
  for (const Surface& surface : surfaces) {
    EXPECT_EQ(surface.term, surface.surface);
    joined += surface.surface;
  }
  EXPECT_EQ(joined, "東京都に住んでいます");
}

// Covers marks outside Latin/Greek/Cyrillic: dakuten and handakuten survive, が is not か.
TEST(TextAnalyzerJapanese, DakutenKept) {
  const AnalyzerConfig config = config_for("english");
  EXPECT_EQ(terms_of("ガイド", config), (Terms{"ガイド"}));
  EXPECT_NE(terms_of("がっこう", config), terms_of("かっこう", config));
  EXPECT_NE(terms_of("パン", config), terms_of("ハン", config));
  // Decomposed kana (か + U+3099) composes to が rather than losing its mark.
  EXPECT_EQ(terms_of("か\u3099", config_for("none")), terms_of("が", config_for("none")));
}

// Covers diacritic folding of Greek and Cyrillic letters, which share Latin's treatment.
TEST(TextAnalyzerScripts, GreekAndCyrillicDiacritics) {
  const AnalyzerConfig none = config_for("none");
  EXPECT_EQ(terms_of("ΆΈΉ", none), terms_of("αεη", none));
  EXPECT_EQ(terms_of("ёлка", none), terms_of("елка", none));
}

// Covers Turkish casing: I lowercases to dotless ı, İ to i.
TEST(TextAnalyzerScripts, TurkishDottedAndDotlessI) {
  const AnalyzerConfig turkish = config_for("turkish", false);
  EXPECT_EQ(terms_of("ILIK", turkish), terms_of("ılık", turkish));
  EXPECT_EQ(terms_of("İSTANBUL", turkish), terms_of("istanbul", turkish));
}

// Covers offsets on mixed text: every token's span is the word it came from.
TEST(TextAnalyzerOffsets, SpanIsTheSurfaceWord) {
  const std::string text =
      "Über 3 “quoted” words, e-mail & naïve café — 東京 and Ελληνικά; l'été? Done.\n\tTabs\u00A0NBSP";
  const std::vector<Surface> surfaces = surfaces_of(text, config_for("none", false, false));
  std::vector<std::string> spans;
  for (const Surface& surface : surfaces) spans.push_back(surface.surface);
  EXPECT_EQ(spans, (Terms{"Über", "3", "quoted", "words", "e", "mail", "naïve", "café", "東京", "and", "Ελληνικά",
                          "l'été", "Done", "Tabs", "NBSP"}));
  for (const Surface& surface : surfaces) {
    if (surface.surface.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
        std::string::npos) {
      std::string lower = surface.surface;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(surface.term, lower);
    }
  }
}

// Covers the size limit: a word over kMaxTokenBytes is skipped, its neighbours are not.
TEST(TextAnalyzerRobustness, LongTokensSkipped) {
  const std::string longest(TextAnalyzer::kMaxTokenBytes, 'x');
  const std::string too_long(TextAnalyzer::kMaxTokenBytes + 1, 'y');
  EXPECT_EQ(terms_of("alpha " + too_long + " omega " + longest, config_for("none")),
            (Terms{"alpha", "omega", longest}));
}

// Covers empty and separator-only input.
TEST(TextAnalyzerRobustness, EmptyAndPunctuationOnly) {
  TextAnalyzer analyzer(config_for("english"));
  EXPECT_TRUE(analyzer.terms("").empty());
  EXPECT_TRUE(analyzer.terms(" \t\n.,;!? -- \"\" () 😀").empty());
  EXPECT_TRUE(analyzer.terms(std::string_view("\0\0\0", 3)).empty());
}

// Covers invalid UTF-8: ill-formed bytes separate words and valid words around them survive.
TEST(TextAnalyzerRobustness, InvalidUtf8SeparatesWords) {
  const std::string text =
      "abc\xC3"
      "def\xFF\xFEghi\xED\xA0\x80jkl\xE2\x82";
  const std::vector<Surface> surfaces = surfaces_of(text, config_for("none"));
  std::vector<std::string> terms;
  for (const Surface& surface : surfaces) terms.push_back(surface.term);
  EXPECT_EQ(terms, (Terms{"abc", "def", "ghi", "jkl"}));
}

// Covers random bytes and mutated multilingual text: never throws or crashes, offsets in range,
// every term non-empty valid UTF-8.
TEST(TextAnalyzerRobustness, RandomBytesNeverCrash) {
  std::mt19937 random(20240601);
  const std::string seed_text = "Ünïcödé l'avion 東京都に住んでいます 我喜欢机器学习 Ελληνικά ёлка John's 3.14 naïve";
  for (const char* language : {"english", "french", "german", "none", "turkish"}) {
    TextAnalyzer analyzer(config_for(language));
    for (int round = 0; round < 400; ++round) {
      std::string text;
      if (round % 2 == 0) {
        text.resize(random() % 600);
        for (char& c : text) c = static_cast<char>(random() % 256);
      } else {
        text = seed_text;
        for (int flip = 0; flip < 8; ++flip) text[random() % text.size()] = static_cast<char>(random() % 256);
      }
      ASSERT_NO_THROW(analyzer.analyze(text, [&](const AnalyzedToken& token) {
        EXPECT_LT(token.byte_start, token.byte_end);
        EXPECT_LE(token.byte_end, text.size());
        EXPECT_FALSE(token.term.empty());
        EXPECT_TRUE(is_valid_utf8(token.term));
        return true;
      })) << language;
    }
  }
}

// Covers early termination: analyze stops as soon as emit returns false.
TEST(TextAnalyzerRobustness, StopsWhenEmitReturnsFalse) {
  TextAnalyzer analyzer(config_for("none"));
  int calls = 0;
  analyzer.analyze("one two three four", [&](const AnalyzedToken&) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);
}

// Covers the ASCII fast path: identical terms and offsets to the ICU path on ASCII input.
TEST(TextAnalyzerFastPath, EqualsIcuPathOnAscii) {
  std::mt19937 random(7);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:'-_!?\"()\n\t";
  std::string text = "The QUICK brown fox's jumps over 3.14 lazy dogs; don't e-mail U.S.A. I'm Ivy's ISTANBUL! ";
  for (int index = 0; index < 20000; ++index) text += alphabet[random() % alphabet.size()];
  for (const char* language : {"english", "german", "french", "none", "turkish"}) {
    for (bool stopwords : {true, false}) {
      TextAnalyzer fast(config_for(language, true, stopwords));
      TextAnalyzer icu(config_for(language, true, stopwords));
      icu.set_ascii_fast_path(false);
      std::vector<std::tuple<std::string, std::size_t, std::size_t>> fast_tokens;
      std::vector<std::tuple<std::string, std::size_t, std::size_t>> icu_tokens;
      fast.analyze(text, [&](const AnalyzedToken& token) {
        fast_tokens.emplace_back(token.term, token.byte_start, token.byte_end);
        return true;
      });
      icu.analyze(text, [&](const AnalyzedToken& token) {
        icu_tokens.emplace_back(token.term, token.byte_start, token.byte_end);
        return true;
      });
      EXPECT_GT(fast_tokens.size(), 1000u);
      EXPECT_EQ(fast_tokens, icu_tokens) << language;
    }
  }
}

// Covers reuse: one analyser gives the same terms on repeated and interleaved inputs (the
// per-word memo must not leak results between words).
TEST(TextAnalyzerFastPath, ReuseIsStateless) {
  TextAnalyzer analyzer(config_for("english"));
  const std::vector<std::string> first = analyzer.terms("Running résumés");
  analyzer.terms("completely different words 東京");
  EXPECT_EQ(analyzer.terms("Running résumés"), first);
  TextAnalyzer moved = std::move(analyzer);
  EXPECT_EQ(moved.terms("Running résumés"), first);
  EXPECT_EQ(moved.config().language, "english");
}

}  // namespace
}  // namespace ragline::text
