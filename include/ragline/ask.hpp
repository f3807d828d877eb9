#pragma once
// ask(): retrieve from a KnowledgeBase, assemble a grounded prompt, generate with a chat model
// (streaming) and record the turn in a session (kb/README.md).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ragline/export.hpp"
#include "ragline/generation.hpp"
#include "ragline/knowledge_base.hpp"
#include "ragline/prompt.hpp"
#include "ragline/types.hpp"

namespace ragline {

struct AskOptions {
  Query query;  // retrieval settings; its text is set by ask()
  PromptOptions prompt;
  bool rewrite = true;  // rewrite follow-ups when the session has history
  // The model that rewrites follow-ups (e.g. the same model configured not to stream); null:
  // the answering model.
  ChatModel* rewriter = nullptr;
  std::string session_id;  // empty: no memory
};

struct AskResult {
  std::string question;
  std::string search_query;  // what was searched
  bool rewritten = false;
  std::string answer;
  Prompt prompt;
  std::vector<Citation> used_sources;    // the prompt's sources cited in the answer, in citation order
  std::int64_t question_message_id = 0;  // in the session, when there is one
};

// Called with recoverable problems (a failed rewrite: the question is searched as is).
using WarningHandler = std::function<void(const std::string&)>;

// Asks `question`: records it in the session (status pending) before anything can fail,
// rewrites it with the history when options.rewrite, searches, builds the prompt with the
// history, calls the model streaming into on_token, then stores the answer with the citations
// it used and marks the question answered. Any failure marks the question failed with the
// error, then rethrows: the question is never lost. `sessions` may be null without a session.
RAGLINE_API AskResult ask(const KnowledgeBase& kb, ChatModel& model, SessionStore* sessions,
                          const std::string& question, const AskOptions& options, const TokenHandler& on_token,
                          const WarningHandler& on_warning = {});

}  // namespace ragline
