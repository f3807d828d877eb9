// ask(): one turn of a grounded conversation. The question is written to the session before
// anything that can fail, so a dead model service costs the answer, never the question.

#include "ragline/ask.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.hpp"

namespace ragline {
namespace {

std::string citations_to_json(const std::vector<Citation>& citations) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& citation : citations) {
    nlohmann::json item = {{"number", citation.number},       {"document_uri", citation.document_uri},
                           {"title", citation.title},         {"heading_path", citation.heading_path},
                           {"chunk_ids", citation.chunk_ids}, {"byte_start", citation.byte_start},
                           {"byte_end", citation.byte_end}};
    if (citation.page) item["page"] = *citation.page;
    list.push_back(std::move(item));
  }
  return list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<ChatMessage> chat_messages(const Prompt& prompt) {
  std::vector<ChatMessage> messages;
  if (!prompt.system.empty()) messages.push_back({"system", prompt.system});
  messages.insert(messages.end(), prompt.history.begin(), prompt.history.end());
  messages.push_back({"user", prompt.user});
  return messages;
}

}  // namespace

AskResult ask(const KnowledgeBase& kb, ChatModel& model, SessionStore* sessions, const std::string& question,
              const AskOptions& options, const TokenHandler& on_token, const WarningHandler& on_warning) {
  RAGLINE_CHECK(!question.empty(), invalid_argument, "the question is empty");
  RAGLINE_CHECK(options.session_id.empty() || sessions != nullptr, invalid_argument,
                "a session id needs a session store");
  AskResult result;
  result.question = question;
  result.search_query = question;

  std::vector<ChatMessage> history;
  const bool with_session = !options.session_id.empty();
  if (with_session) {
    history = conversation_history(sessions->load(options.session_id));
    SessionMessage asked;
    asked.role = "user";
    asked.content = question;
    asked.status = "pending";
    result.question_message_id = sessions->append(options.session_id, asked);
  }

  try {
    if (options.rewrite && !history.empty()) {
      try {
        result.search_query = rewrite_query(options.rewriter != nullptr ? *options.rewriter : model, history, question);
        result.rewritten = result.search_query != question;
      } catch (const std::exception& error) {
        if (on_warning)
          on_warning(std::string("query rewriting failed, searching the question as asked: ") + error.what());
      }
    }
    Query query = options.query;
    query.text = result.search_query;
    const auto hits = kb.retrieve(query);
    result.prompt = kb.build_prompt(question, hits, options.prompt, history);
    result.answer = model.complete(chat_messages(result.prompt), on_token);

    const auto used = cited_numbers(result.answer, static_cast<int>(result.prompt.sources.size()));
    for (const auto& source : result.prompt.sources) {
      if (std::find(used.begin(), used.end(), source.number) != used.end()) result.used_sources.push_back(source);
    }
    if (with_session) {
      SessionMessage answered;
      answered.role = "assistant";
      answered.content = result.answer;
      answered.citations_json = citations_to_json(result.used_sources);
      sessions->append(options.session_id, answered);
      sessions->update_status(result.question_message_id, "answered", {}, result.search_query);
    }
  } catch (const std::exception& error) {
    if (with_session) {
      try {
        sessions->update_status(result.question_message_id, "failed", error.what(), result.search_query);
      } catch (const std::exception&) {
        // The original error matters more; the question stays recorded as pending.
      }
    }
    throw;
  }
  return result;
}

}  // namespace ragline
