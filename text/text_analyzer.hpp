#pragma once
// The text analyser: turns UTF-8 text into search terms, for documents at ingest and for queries
// alike (the FTS5 tokenizer calls it on both sides, so a term matches only if both sides produce
// the same bytes). See index/README.md, "Text analysis", for the pipeline and why its steps are
// ordered as they are.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/types.hpp"

namespace ragline::text {

// One indexable term and where its surface word sits in the analysed input.
struct AnalyzedToken {
  std::string_view term;   // folded (and stemmed) UTF-8 term; valid only during the emit callback
  std::size_t byte_start;  // [byte_start, byte_end) is the surface word in the input, in bytes; for a
  std::size_t byte_end;    // French "l'avion" it covers "avion" only (the elided article is dropped)
};

// Segments, folds, filters and stems text according to an AnalyzerConfig.
//
// Pipeline per word (ICU word boundaries; punctuation, spaces, symbols and emoji are not words):
//   NFKC case folding -> French/Italian/Catalan elision -> stopwords -> Snowball stemming (words
//   with letters only) -> diacritic folding (marks on Latin, Greek and Cyrillic letters).
// For English and Porter, whose stemmers only know ASCII letters, diacritics are folded before
// stemming instead, so "résumés" and "resume" stem alike.
//
// Robustness: any byte sequence is accepted. Invalid UTF-8 is treated as a non-word separator,
// words longer than kMaxTokenBytes are skipped, and analyze() throws only if ICU itself fails
// (out of memory) or if emit throws.
//
// Thread safety: not thread-safe (holds a break iterator, a stemmer and scratch buffers); use one
// per thread, e.g. one per FTS5 tokenizer instance. Different instances are independent.
// Move-only.
class TextAnalyzer {
 public:
  // Longest surface word, in bytes, that is indexed; longer ones (base64, hashes, URLs run
  // together) are noise and would bloat the FTS5 index.
  static constexpr std::size_t kMaxTokenBytes = 256;

  // config.language is one of analyzer_languages() or "none" (no stemmer, no stopwords).
  // Throws Error(invalid_argument) for an unknown language; the message lists the known ones.
  explicit TextAnalyzer(const AnalyzerConfig& config);
  ~TextAnalyzer();
  TextAnalyzer(TextAnalyzer&&) noexcept;
  TextAnalyzer& operator=(TextAnalyzer&&) noexcept;
  TextAnalyzer(const TextAnalyzer&) = delete;
  TextAnalyzer& operator=(const TextAnalyzer&) = delete;

  // Calls emit for every indexable term, in input order. Stops early when emit returns false.
  // emit must not call back into this analyser.
  void analyze(std::string_view utf8, const std::function<bool(const AnalyzedToken&)>& emit);

  // All terms of utf8, in order (copies; for queries and tests).
  std::vector<std::string> terms(std::string_view utf8);

  const AnalyzerConfig& config() const;

  // Pure-ASCII words are lowercased directly instead of going through ICU (on by default). The
  // switch exists so tests and benchmarks can check that both paths give the same terms.
  void set_ascii_fast_path(bool enabled);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Names of the Snowball stemmers this build offers (libstemmer's sb_stemmer_list), e.g.
// "english", "german", "porter". Together with "none" these are the valid analyser languages.
std::vector<std::string> analyzer_languages();

// True when `language` has a built-in stopword list (see text/stopwords.cpp).
bool has_stopword_list(std::string_view language);

}  // namespace ragline::text
