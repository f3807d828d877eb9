#pragma once
// The synthetic corpus of the scale benchmarks (rag-bench-scale, rag-bench-vectors): a fixed
// random generator and a Zipf-distributed vocabulary of English function words and pseudo-words.
// One seed gives the same corpus in every benchmark and with every standard library.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ragline::bench {

// Zipf exponent of the word distribution: 1.0 is the classic fit for English running text, and
// with 100 function words ahead of 50k content words it gives them about 45% of all tokens, close
// to real English, so a stoplist decides how many rows a question matches.
constexpr double kZipfExponent = 1.0;

// Frequent English function words, roughly in corpus-frequency order; they take the first 100
// ranks of the vocabulary. All are in ragline's English stoplist and none in FTS5's (it has none).
constexpr std::array<std::string_view, 100> kFunctionWords = {
    "the",     "of",     "and",   "to",      "a",     "in",   "is",    "that", "for",    "it",      "as",    "was",
    "with",    "be",     "by",    "on",      "not",   "he",   "this",  "are",  "or",     "his",     "from",  "at",
    "which",   "but",    "have",  "an",      "they",  "you",  "were",  "had",  "her",    "she",     "there", "been",
    "all",     "we",     "their", "has",     "would", "if",   "more",  "when", "will",   "can",     "so",    "no",
    "them",    "about",  "who",   "what",    "some",  "out",  "into",  "up",   "than",   "its",     "other", "only",
    "could",   "then",   "these", "may",     "do",    "also", "any",   "such", "our",    "how",     "over",  "most",
    "between", "should", "after", "through", "those", "very", "both",  "each", "where",  "before",  "under", "because",
    "while",   "being",  "does",  "same",    "did",   "why",  "again", "own",  "during", "against", "until", "few",
    "further", "once",   "off",   "here"};

// Content words are consonant-vowel syllables over these letters. Every word then ends in a
// vowel from {a, o, u} and contains no e, i, y, s, l, n or c, so no Porter or Snowball suffix
// rule applies: both systems index each pseudo-word as itself, no two words share a stem, and a
// rare query term matches exactly the paragraphs that contain it (the rare1 self-check).
constexpr std::string_view kConsonants = "bdfgkmprtvz";
constexpr std::string_view kVowels = "aou";

// SplitMix64 (Steele, Lea & Flood 2014). The standard distributions are implementation-defined,
// so one seed could give another corpus with another standard library; this is fully specified.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [first, last]; the modulo bias (range / 2^64) is far below anything measured here.
  std::size_t between(std::size_t first, std::size_t last) {
    return first + static_cast<std::size_t>(next() % (last - first + 1));
  }

 private:
  std::uint64_t state_;
};

// Independent streams per purpose, so that e.g. --queries does not change the corpus.
enum class Stream : std::uint64_t { vocabulary = 1, corpus = 2, queries = 3, metadata = 4 };
inline Random random_stream(std::uint64_t seed, Stream stream) {
  return Random(seed * 0xD1342543DE82EF95ULL + static_cast<std::uint64_t>(stream));
}

class Vocabulary {
 public:
  // `content_words` pseudo-words after the function words, drawn from the `seed`'s vocabulary
  // stream.
  Vocabulary(std::size_t content_words, std::uint64_t seed);

  std::size_t size() const { return words_.size(); }
  std::size_t content_size() const { return words_.size() - kFunctionWords.size(); }
  const std::string& word(std::size_t rank) const { return words_[rank]; }
  const std::string& content_word(std::size_t content_rank) const {
    return words_[kFunctionWords.size() + content_rank];
  }
  // Share of all tokens that are function words, for the report.
  double function_word_share() const { return cumulative_[kFunctionWords.size() - 1] / cumulative_.back(); }

  // A rank drawn from the Zipf distribution over the whole vocabulary.
  std::size_t sample(Random& random) const {
    const double target = random.uniform() * cumulative_.back();
    const auto found = std::upper_bound(cumulative_.begin(), cumulative_.end(), target);
    return std::min<std::size_t>(static_cast<std::size_t>(found - cumulative_.begin()), words_.size() - 1);
  }
  // A content word drawn from the same distribution restricted to content words (rejection:
  // about 55% of draws are content words already).
  std::size_t sample_content(Random& random) const {
    std::size_t rank = 0;
    do rank = sample(random);
    while (rank < kFunctionWords.size());
    return rank;
  }

 private:
  std::vector<std::string> words_;  // by rank: function words, then content words
  std::vector<double> cumulative_;  // unnormalised Zipf CDF by rank
};

}  // namespace ragline::bench
