#pragma once
// PromptBuilder: ranked hits + question (+ history) -> a grounded Prompt within a token budget.
//
// How a prompt is packed (retrieve/README.md has the rules with their reasons):
//  1. budget = context_window - answer_reserve. Everything sent is counted with the counter:
//     system, each history message and the user message, plus kMessageOverheadTokens per
//     message; the text form (history inside the user message) is counted too, and the larger
//     of the two must fit. The budget is never exceeded; a prompt whose question and
//     instructions alone do not fit is an Error(invalid_argument).
//  2. History: the newest whole messages within history_max_tokens (default budget / 4) that
//     still leave room for the prompt without sources; older ones are dropped.
//  3. Hits in rank order. A hit whose span overlaps or touches (only white space between) a
//     passage already taken from the same document extends that passage; a hit already inside a
//     passage, a repeated chunk id, or a text identical to a taken passage's is dropped. A new
//     passage that does not fit whole is cut at the last sentence end that fits, else at the
//     last word end (marked with an ellipsis); it is skipped when fewer than kMinPassageTokens
//     of it would fit. Lower-ranked hits are still tried after a skip.
//  4. Expansion, after every hit has been placed, so it never costs a ranked passage its room:
//     in rank order, each passage grows by whole sentences (expand=sentences) or to its parent
//     chunk (expand=parent) while the budget allows, never into another passage.
//  5. Passages are numbered [1], [2], ... in the rank order of their best hit.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ragline/prompt.hpp"
#include "ragline/types.hpp"

namespace ragline::index {
class Store;
}

namespace ragline::generate {

// Fragments smaller than this are not worth a citation: such a passage is skipped, not cut.
inline constexpr std::size_t kMinPassageTokens = 16;

// Where the builder reads text beyond the hits: a document's normalised text (for merging and
// sentence expansion) and a chunk's parent span (for parent expansion).
class PassageSource {
 public:
  virtual ~PassageSource() = default;
  // The document's normalised text, or nullptr when unknown. The pointer stays valid for the
  // source's lifetime.
  virtual const std::string* document_text(const std::string& document_uri) = 0;
  // The byte span of the chunk's parent chunk; nullopt for a chunk without a parent.
  virtual std::optional<std::pair<std::size_t, std::size_t>> parent_span(std::int64_t chunk_id) = 0;
};

// A PassageSource over a KB's Store (reads in the caller's transaction, caches documents).
class StorePassageSource final : public PassageSource {
 public:
  explicit StorePassageSource(index::Store& store) : store_(store) {}
  const std::string* document_text(const std::string& document_uri) override;
  std::optional<std::pair<std::size_t, std::size_t>> parent_span(std::int64_t chunk_id) override;

 private:
  index::Store& store_;
  std::unordered_map<std::string, std::unique_ptr<std::string>> documents_;
};

// The built-in system instructions and user template.
extern const char* const kDefaultSystemText;
extern const char* const kDefaultTemplate;

// Checks a template: every {{name}} must be question, context, sources or history, and
// {{context}} must occur. Throws Error(invalid_argument) naming the problem.
void validate_template(const std::string& template_text);

class PromptBuilder {
 public:
  // Checks the options (expand name, budget > 0, template) and throws Error(invalid_argument).
  // `source` may be null: hits then merge only when their spans overlap or meet exactly, and
  // expand needs a source (without one it adds nothing).
  explicit PromptBuilder(PromptOptions options, PassageSource* source = nullptr);

  Prompt build(const std::string& question, const std::vector<Hit>& hits,
               const std::vector<ChatMessage>& history = {}) const;

 private:
  PromptOptions options_;
  PassageSource* source_;
};

}  // namespace ragline::generate
