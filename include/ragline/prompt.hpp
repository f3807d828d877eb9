#pragma once
// Prompt assembly: a question and ranked hits become a grounded prompt that fits a model's
// context window, with numbered citations ([n]) pointing at exact document spans
// (retrieve/README.md). Plain value types; KnowledgeBase::build_prompt fills them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/export.hpp"

namespace ragline {

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};

// Counts the tokens of a text for the model the prompt is for. Must be deterministic. It is
// called on each message of the rendered prompt and on its text form at every packing step
// (one step per hit, about log2(sentences) more when a passage is cut, one per expansion
// step): a counter backed by a remote service should cache.
using TokenCounter = std::function<std::size_t(std::string_view)>;

// The built-in estimate used when PromptOptions::count_tokens is empty: an upper bound of a
// byte-level BPE tokenizer's count for typical text (retrieve/README.md gives the measured ratio).
RAGLINE_API std::size_t estimate_tokens(std::string_view utf8);

// Tokens added per chat message for the role and the message framing (OpenAI documents about
// 3-4 for its chat models); the budget reserves this on top of the counted contents.
inline constexpr std::size_t kMessageOverheadTokens = 4;

struct PromptOptions {
  std::size_t context_window = 8192;   // the model's context window, in its tokens
  std::size_t answer_reserve = 1024;   // tokens kept free for the answer
  std::size_t history_max_tokens = 0;  // cap for conversation history (0 = a quarter of the budget)
  // Empty: the built-in template. Placeholders {{question}} {{context}} {{sources}} {{history}};
  // {{context}} is required, any other {{name}} is an error naming it.
  std::string template_text;
  std::string system_text;  // empty: the built-in instructions (answer only from the sources, cite [n], say when they
                            // do not contain the answer)
  // none | sentences | parent: neighbours added while the budget allows, never at the cost of a
  // higher-ranked passage. sentences needs a KB (neighbouring text is read from the document);
  // parent replaces a child chunk of a hierarchical KB by its parent chunk.
  std::string expand = "none";
  int sentence_window = 1;    // expand=sentences: sentences added on each side
  TokenCounter count_tokens;  // empty: estimate_tokens
};

struct Citation {
  int number = 0;  // [n]
  std::string document_uri, title, heading_path;
  std::optional<int> page;
  std::vector<std::int64_t> chunk_ids;       // the hits merged into this passage, in rank order
  std::size_t byte_start = 0, byte_end = 0;  // span of the cited text in the document's normalised text
};

struct RAGLINE_API Prompt {
  std::string system;  // instructions
  // The filled template (question, context, sources) for chat formats, where the history goes
  // as prior messages and {{history}} renders empty.
  std::string user;
  std::string user_with_history;     // the same template with {{history}} filled in, as text() prints it
  std::vector<ChatMessage> history;  // the history kept after trimming, oldest first
  std::vector<Citation> sources;     // in citation order
  // Counted size of what is sent: the larger of the chat form (system, history, user, each with
  // kMessageOverheadTokens) and text(). Never above budget.
  std::size_t tokens = 0;
  std::size_t budget = 0;  // context_window - answer_reserve

  // Plain text: system, a blank line, then user_with_history (the history where the template
  // puts {{history}}; the built-in template puts it first).
  std::string text() const;
  // {"messages":[{"role":"system",...},...history...,{"role":"user",...}]}
  std::string openai_messages_json() const;
  // {"system":[{"text":...}],"messages":[{"role":"user","content":[{"text":...}]},...]}
  std::string bedrock_converse_json() const;
  // The whole Prompt as JSON (system, user, history, sources, tokens, budget), for --json.
  std::string to_json() const;
};

}  // namespace ragline
