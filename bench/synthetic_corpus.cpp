#include "bench/synthetic_corpus.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace ragline::bench {

Vocabulary::Vocabulary(std::size_t content_words, std::uint64_t seed) {
  words_.assign(kFunctionWords.begin(), kFunctionWords.end());
  Random random = random_stream(seed, Stream::vocabulary);
  std::unordered_set<std::string> seen;
  while (words_.size() < kFunctionWords.size() + content_words) {
    // Frequent words are short, as in natural language; 2 syllables give 1,089 words, 3 give
    // 35,937 and 4 give 1.2 million, so each band fills without many repeats.
    const std::size_t rank = words_.size() - kFunctionWords.size();
    const std::size_t syllables = rank < 500 ? 2 : rank < 15000 ? 3 : 4;
    std::string word;
    for (std::size_t syllable = 0; syllable < syllables; ++syllable) {
      word += kConsonants[random.between(0, kConsonants.size() - 1)];
      word += kVowels[random.between(0, kVowels.size() - 1)];
    }
    if (seen.insert(word).second) words_.push_back(std::move(word));
  }
  cumulative_.reserve(words_.size());
  double total = 0;
  for (std::size_t rank = 0; rank < words_.size(); ++rank) {
    total += 1.0 / std::pow(static_cast<double>(rank + 1), kZipfExponent);
    cumulative_.push_back(total);
  }
}

}  // namespace ragline::bench
