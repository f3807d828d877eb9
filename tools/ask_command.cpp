#include "ask_command.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"

namespace rag_query {
namespace {

std::string read_template(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ragline::Error(ragline::ErrorKind::not_found, "cannot read template file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void print_sources(const ragline::AskResult& result) {
  std::printf("\n\nSources:\n");
  if (result.used_sources.empty()) {
    std::printf("  (the answer cites none of the %zu sources it was given)\n", result.prompt.sources.size());
    return;
  }
  for (const auto& source : result.used_sources) {
    std::printf("  [%d] %s", source.number, source.title.empty() ? source.document_uri.c_str() : source.title.c_str());
    if (!source.heading_path.empty() && source.heading_path != source.title) {
      std::printf(" > %s", source.heading_path.c_str());
    }
    if (source.page) std::printf(", page %d", *source.page);
    std::printf("\n      %s (bytes %zu-%zu)\n", source.document_uri.c_str(), source.byte_start, source.byte_end);
  }
}

}  // namespace

void AskCommand::add_options(CLI::App* command) {
  command->add_option("--llm", llm.provider, "Chat model provider: " + alternatives(ragline::registered_chat_models()))
      ->required()
      ->check(CLI::IsMember(ragline::registered_chat_models()));
  command->add_option("--model", llm.model, "Model name or Bedrock model id")->required();
  command->add_option("--base-url", llm.base_url, "Service URL (openai: with or without /v1)");
  command->add_option("--api-key-env", llm.api_key_env, "openai: variable holding the API key (OPENAI_API_KEY)");
  command->add_option("--region", llm.region, "bedrock: AWS region (default $AWS_REGION, us-east-1)");
  command->add_option("--temperature", llm.temperature, "Sampling temperature (0)");
  command->add_option("--max-tokens", llm.max_tokens, "Longest answer, in tokens (1024)");
  command->add_option("--timeout", llm.timeout_seconds, "Seconds: per call, or the longest silence of a stream (120)");
  command->add_option("--retries", llm.max_retries, "Retries on 429/5xx/timeouts before the answer starts (3)");
  command->add_option("--session", session_id, "Conversation id: history is kept and sent with the question");
  command->add_option("--sessions-db", sessions_db, "Sessions database (default KB/sessions.sqlite)");
  command->add_flag("--no-rewrite", no_rewrite, "Search follow-up questions as asked, without rewriting them");
  command->add_flag("--no-stream", no_stream, "Wait for the whole answer instead of streaming it");
  command->add_option("--context-window", ask.prompt.context_window, "The model's context window, in tokens")
      ->check(CLI::Range(1, 100000000));
  command->add_option("--answer-reserve", ask.prompt.answer_reserve, "Tokens kept free for the answer");
  command->add_option("--history-max-tokens", ask.prompt.history_max_tokens,
                      "Cap for conversation history (0: a quarter of the budget)");
  command->add_option("--template", template_file,
                      "Template file with {{question}} {{context}} {{sources}} {{history}} placeholders");
  command->add_option("--token-count-url", token_count_url,
                      "Count prompt tokens with a llama.cpp server (POST URL/tokenize)");
}

int AskCommand::run(const ragline::KnowledgeBase& kb) {
  llm.stream = !no_stream;
  ask.rewrite = !no_rewrite;
  ask.session_id = session_id;
  if (!template_file.empty()) ask.prompt.template_text = read_template(template_file);
  if (!token_count_url.empty()) ask.prompt.count_tokens = ragline::make_llama_token_counter(token_count_url);
  auto model = ragline::make_chat_model(llm);
  // The rewrite is a short answer nobody watches: no need to stream it.
  ragline::LlmConfig rewrite_config = llm;
  rewrite_config.stream = false;
  auto rewriter = ragline::make_chat_model(rewrite_config);
  ask.rewriter = rewriter.get();

  std::optional<ragline::SessionStore> sessions;
  if (!session_id.empty()) {
    sessions = ragline::SessionStore::open(sessions_db.empty() ? ragline::SessionStore::default_path(kb.directory())
                                                               : std::filesystem::path(sessions_db));
  }
  bool printed = false;
  const auto on_token = [&](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    printed = true;
  };
  const auto on_warning = [](const std::string& warning) { std::cerr << "rag-query: warning: " << warning << "\n"; };
  try {
    const auto result = ragline::ask(kb, *model, sessions ? &*sessions : nullptr, question, ask, on_token, on_warning);
    if (result.rewritten) std::cerr << "rag-query: searched for: " << result.search_query << "\n";
    print_sources(result);
    return 0;
  } catch (const ragline::Error& error) {
    if (printed) std::printf("\n");
    std::fflush(stdout);
    std::cerr << "rag-query: " << error.what() << "\n";
    if (sessions) {
      std::cerr << "rag-query: the question is kept in session \"" << session_id
                << "\" (marked failed); ask again to retry\n";
    } else {
      std::cerr << "rag-query: the question was not saved (give --session ID to keep it)\n";
    }
    return 1;
  }
}

}  // namespace rag_query
