#pragma once
// rag-query ask: the model-related options and the printing of a streamed, cited answer.
// Retrieval options come from rag_query.cpp (shared with query and prompt).

#include <CLI/CLI.hpp>
#include <ragline/ragline.hpp>
#include <string>

namespace rag_query {

struct AskCommand {
  std::string question;
  ragline::LlmConfig llm;
  ragline::AskOptions ask;  // ask.query is filled by the caller from the retrieval options
  std::string session_id, sessions_db, template_file, token_count_url;
  bool no_rewrite = false, no_stream = false;

  // --llm --model --base-url --api-key-env --region --temperature --max-tokens --timeout
  // --retries --session --sessions-db --no-rewrite --no-stream --context-window
  // --answer-reserve --history-max-tokens --template --token-count-url
  void add_options(CLI::App* command);

  // Asks, printing the answer as it streams and then the sources it cites. Returns the exit
  // code; on failure says on stderr whether the question was kept in the session.
  int run(const ragline::KnowledgeBase& kb);
};

}  // namespace rag_query
