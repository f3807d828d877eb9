#include "text/tokens.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "text/tokens_internal.hpp"

namespace ragline::text {
namespace {

std::vector<std::string> token_texts(std::string_view text) {
  std::vector<std::string> texts;
  for (const TokenSpan& span : token_spans(text)) {
    texts.emplace_back(text.substr(span.byte_start, span.byte_end - span.byte_start));
  }
  return texts;
}

std::vector<std::string> sentence_texts(std::string_view text) {
  std::vector<std::string> texts;
  for (const TokenSpan& span : sentence_spans(text)) {
    texts.emplace_back(text.substr(span.byte_start, span.byte_end - span.byte_start));
  }
  return texts;
}

bool same_spans(const std::vector<TokenSpan>& left, const std::vector<TokenSpan>& right) {
  if (left.size() != right.size()) return false;
  for (std::size_t index = 0; index < left.size(); ++index) {
    if (left[index].byte_start != right[index].byte_start || left[index].byte_end != right[index].byte_end) {
      return false;
    }
  }
  return true;
}

bool is_continuation_byte(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

using Texts = std::vector<std::string>;

TEST(TokenSpans, EnglishWordsNumbersAndPunctuation) {
  // Words, contractions and decimal numbers are one token each; every punctuation mark is one.
  EXPECT_EQ(token_texts("Hello, world! It's 3.14 today."),
            (Texts{"Hello", ",", "world", "!", "It's", "3.14", "today", "."}));
  EXPECT_EQ(token_texts("Wait... what?!"), (Texts{"Wait", ".", ".", ".", "what", "?", "!"}));
  EXPECT_EQ(token_texts("snake_case and 1,000,000 (e.g. here)"),
            (Texts{"snake_case", "and", "1,000,000", "(", "e.g", ".", "here", ")"}));
  EXPECT_EQ(count_tokens("a - b -- c"), 6);
  EXPECT_EQ(token_texts("mail joe@example.com:"), (Texts{"mail", "joe@example.com", ":"}));
}

TEST(TokenSpans, WhiteSpaceIsNeverAToken) {
  // Empty and white-space-only input gives no tokens, including non-ASCII white space.
  EXPECT_TRUE(token_spans("").empty());
  EXPECT_EQ(count_tokens(" \t\n\r\n  "), 0);
  EXPECT_EQ(count_tokens("\u3000\u00a0\u2003 \n"), 0);
  EXPECT_EQ(token_texts("\u3000word\u00a0next\n"), (Texts{"word", "next"}));
}

TEST(TokenSpans, GermanAndFrench) {
  // Accented Latin words stay whole; French elisions join like English contractions.
  EXPECT_EQ(token_texts("Die Straßenbahn fährt über die Brücke."),
            (Texts{"Die", "Straßenbahn", "fährt", "über", "die", "Brücke", "."}));
  EXPECT_EQ(token_texts("L'école d'été coûte 12,50 €."), (Texts{"L'école", "d'été", "coûte", "12,50", "€", "."}));
}

TEST(TokenSpans, ChineseAndJapaneseAreSegmentedByDictionary) {
  // CJK runs are split into dictionary words: more than one token, fewer than one per character.
  const int chinese = count_tokens("我喜欢机器学习");
  EXPECT_GT(chinese, 1);
  EXPECT_LT(chinese, 7);
  const int japanese = count_tokens("私は機械学習が好きです");
  EXPECT_GT(japanese, 1);
  EXPECT_LT(japanese, 11);
  // Full-width punctuation counts one token each.
  EXPECT_EQ(count_tokens("你好。") - count_tokens("你好"), 1);
  EXPECT_EQ(count_tokens("「はい」"), count_tokens("はい") + 2);
}

TEST(TokenSpans, SpansAreOrderedUtf8ByteRanges) {
  // Spans are increasing, non-overlapping byte ranges on code point boundaries, never white space.
  const std::string text =
      "Grüße aus Köln! 東京は日本の首都です。 Число π ≈ 3.14159, верно?\n\tEmoji 👍🏽 "
      "ok.\n中文和English混合。";
  const auto spans = token_spans(text);
  ASSERT_FALSE(spans.empty());
  std::size_t previous_end = 0;
  for (const TokenSpan& span : spans) {
    EXPECT_LE(previous_end, span.byte_start);
    EXPECT_LT(span.byte_start, span.byte_end);
    EXPECT_LE(span.byte_end, text.size());
    EXPECT_FALSE(is_continuation_byte(text[span.byte_start]));
    if (span.byte_end < text.size()) {
      EXPECT_FALSE(is_continuation_byte(text[span.byte_end]));
    }
    const std::string_view token(text.data() + span.byte_start, span.byte_end - span.byte_start);
    EXPECT_EQ(token.find_first_of(" \t\n"), std::string_view::npos) << token;
    previous_end = span.byte_end;
  }
  EXPECT_EQ(count_tokens(text), static_cast<int>(spans.size()));
}

TEST(TokenSpans, AsciiFastPathMatchesIcuExhaustively) {
  // Every string of up to 5 characters (longer than any rule's context) over one representative
  // of each ASCII word-break class and the characters near the rules segments exactly as ICU.
  const std::string alphabet = "a0._',;: \n\t\r\v-\"@";
  std::vector<std::string> level = {""};
  std::size_t checked = 0;
  for (int length = 1; length <= 5; ++length) {
    std::vector<std::string> next;
    next.reserve(level.size() * alphabet.size());
    for (const std::string& prefix : level) {
      for (char c : alphabet) next.push_back(prefix + c);
    }
    for (const std::string& text : next) {
      ASSERT_TRUE(same_spans(token_spans(text), detail::token_spans_icu_only(text))) << "text: [" << text << "]";
      ++checked;
    }
    level = std::move(next);
  }
  EXPECT_GT(checked, 1000000u);
}

TEST(TokenSpans, AsciiFastPathMatchesIcuOnRandomText) {
  // Random strings over all 128 ASCII characters, and word-like random text, segment as in ICU.
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> any_ascii(0, 127);
  const std::string wordish = "abcXYZ0123456789_.',;:- \n";
  std::uniform_int_distribution<std::size_t> pick_wordish(0, wordish.size() - 1);
  std::uniform_int_distribution<int> length(1, 300);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int size = length(random);
    for (int index = 0; index < size; ++index) {
      text.push_back(round % 2 == 0 ? static_cast<char>(any_ascii(random)) : wordish[pick_wordish(random)]);
    }
    ASSERT_TRUE(same_spans(token_spans(text), detail::token_spans_icu_only(text))) << "round " << round;
  }
}

TEST(TokenSpans, MixedScriptDocumentsMatchIcu) {
  // Documents mixing ASCII lines with non-ASCII lines (cut at line starts) segment as pure ICU.
  const std::vector<std::string> documents = {
      "Plain ASCII line.\nZeile mit Umlauten: äöü.\nBack to ASCII, 3.5 times.\n\n中文句子。\nend",
      "ünïcode first\nthen ascii\n",
      "ascii\r\nthen ÿ\r\nand ascii again\r\n",
      "a\n\nb\né\n\n\nc.d\n'e'\n日本語\n",
      "no newline but a café at the end",
  };
  for (const std::string& text : documents) {
    EXPECT_TRUE(same_spans(token_spans(text), detail::token_spans_icu_only(text))) << text;
  }
}

TEST(TokenSpans, SafeFromManyThreads) {
  // The per-thread break iterators give every thread the same answer at the same time.
  const std::string text = "Parallel tokenisation works. 並列処理も大丈夫です。 Ünïcödé too.\n";
  const auto expected = token_spans(text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int thread_index = 0; thread_index < 4; ++thread_index) {
    threads.emplace_back([&, thread_index] {
      for (int round = 0; round < 200; ++round) {
        if (!same_spans(token_spans(text), expected)) ++mismatches[thread_index];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int count : mismatches) EXPECT_EQ(count, 0);
}

TEST(TokenSentenceSpans, SplitsAndTrimsSentences) {
  // Sentences exclude trailing white space; white-space-only input has no sentences.
  EXPECT_EQ(sentence_texts("Hello world. How are you?  Fine!  "), (Texts{"Hello world.", "How are you?", "Fine!"}));
  EXPECT_EQ(sentence_texts("  leading space. Next"), (Texts{"leading space.", "Next"}));
  EXPECT_TRUE(sentence_spans("").empty());
  EXPECT_TRUE(sentence_spans(" \n\n \t").empty());
}

TEST(TokenSentenceSpans, LineBreaksEndSentencesAndCjkTerminators) {
  // A paragraph separator ends a sentence; full-width terminators end Chinese and Japanese ones.
  EXPECT_EQ(sentence_texts("# Title\nFirst line\n\nSecond."), (Texts{"# Title", "First line", "Second."}));
  EXPECT_EQ(sentence_texts("今天天气很好。我们去公园吧！"), (Texts{"今天天气很好。", "我们去公园吧！"}));
  EXPECT_EQ(sentence_texts("東京に行きました。楽しかったです。"), (Texts{"東京に行きました。", "楽しかったです。"}));
}

}  // namespace
}  // namespace ragline::text
