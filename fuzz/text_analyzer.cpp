// Fuzzes the FTS5 tokenizer's text analyser (segmentation, folding, stopwords, stemming): any
// bytes, with the ASCII fast path on and off; every emitted span must lie inside the input.

#include "text/text_analyzer.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ragline::text::TextAnalyzer;
  static TextAnalyzer english(ragline::AnalyzerConfig{});
  static TextAnalyzer french(ragline::AnalyzerConfig{.language = "french"});
  if (size == 0) return 0;
  // The first byte picks the analyser and the path, so one corpus covers all four.
  const std::uint8_t selector = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  TextAnalyzer& analyzer = (selector & 1) ? french : english;
  analyzer.set_ascii_fast_path((selector & 2) == 0);
  try {
    analyzer.analyze(text, [&](const ragline::text::AnalyzedToken& token) {
      if (token.byte_start > token.byte_end || token.byte_end > text.size() || token.term.empty()) std::abort();
      return true;
    });
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
