#pragma once
// Per-language word lists used by the text analyser: stopwords and elided articles. The data
// lives in text/stopwords.cpp.

#include <span>
#include <string_view>
#include <unordered_set>

namespace ragline::text {

// The stopwords of `language` (an analyser language name; "porter" shares English's list), or
// an empty span when it has none. Entries are in the analyser's folded form: NFKC case-folded
// with diacritics kept (stopwords are matched before stemming and diacritic folding), so German
// has "dass", not "daß". No duplicates.
std::span<const std::string_view> stopword_list(std::string_view language);

// The same words as a lookup set, or nullptr when `language` has no list. Built on first use,
// never modified afterwards, shared: safe to read from any thread. Lives until exit.
using StopwordSet = std::unordered_set<std::string_view>;
const StopwordSet* find_stopwords(std::string_view language);

// Articles and pronouns that `language` elides before a vowel ("l" in "l'avion", "dell" in
// "dell'acqua"), folded; empty for languages without elision. The analyser drops such a prefix
// and indexes the word after the apostrophe.
std::span<const std::string_view> elided_articles(std::string_view language);

}  // namespace ragline::text
