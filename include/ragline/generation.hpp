#pragma once
// Generation and conversation: chat models behind one small interface (OpenAI-compatible
// /v1/chat/completions, Amazon Bedrock Converse), conversation memory in a sessions database,
// and follow-up questions rewritten into standalone search queries (generate/README.md).
// ask(), which ties them to a KnowledgeBase, is in ragline/ask.hpp.
//
// Thread safety: a ChatModel may be used from one thread at a time; a SessionStore likewise
// (open one per thread; several processes may share the file, SQLite WAL).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/export.hpp"
#include "ragline/prompt.hpp"
#include "ragline/types.hpp"

namespace ragline {

struct LlmConfig {
  std::string provider = "openai";  // openai | bedrock | a name given to register_chat_model
  std::string model;                // required: e.g. gpt-4o-mini, anthropic.claude-3-haiku-20240307-v1:0
  // openai: with or without /v1 (default https://api.openai.com); bedrock: replaces
  // https://bedrock-runtime.<region>.amazonaws.com (tests, VPC endpoints, proxies). A query
  // string (?api-version=...) stays at the end, after the route.
  std::string base_url;
  // openai: the default unset sends no key; any other variable named and unset makes
  // make_chat_model throw invalid_argument naming it; empty sends no key.
  std::string api_key_env = "OPENAI_API_KEY";  // openai: sent as a Bearer token when set; never logged
  std::string region;                          // bedrock: empty = $AWS_REGION, else us-east-1
  double temperature = 0;
  int max_tokens = 1024;  // answer length limit sent to the model
  // Non-streamed calls: the limit of each attempt. Streamed calls: the longest silence (before
  // the first token or between two), and ten times this for the whole answer.
  double timeout_seconds = 120;
  int max_retries = 3;  // 408/429/5xx, timeouts, connection failures; streams only before the first byte
  bool stream = true;
};

// Receives each piece of the answer as the model produces it (any split, UTF-8 included).
using TokenHandler = std::function<void(std::string_view)>;

// A chat model. Stateless: every call carries the whole conversation.
class RAGLINE_API ChatModel {
 public:
  virtual ~ChatModel() = default;
  // The answer to `messages` (a system message first when there are instructions, then user and
  // assistant turns, the last one the user's). on_token (may be empty) receives the answer as
  // it arrives: several times when streaming, once otherwise. Throws Error(network) when the
  // service fails after its retries (naming endpoint and status), Error(format) for a
  // malformed, garbled or truncated answer.
  virtual std::string complete(const std::vector<ChatMessage>& messages, const TokenHandler& on_token) = 0;
  // "<provider>/<model>", for messages and session records.
  virtual std::string id() const = 0;
};

// Makes a chat model from its config; throws Error(invalid_argument) naming a bad field.
using ChatModelFactory = std::function<std::unique_ptr<ChatModel>(const LlmConfig& config)>;

// By provider name (LlmConfig::provider), through the chat model registry; throws
// Error(invalid_argument) for an unknown provider (listing the registered ones) or a missing model.
RAGLINE_API std::unique_ptr<ChatModel> make_chat_model(const LlmConfig& config);
// Adds a provider name (ask() and make_chat_model then find it), or replaces the factory
// registered under it (built-in ones included). Throws Error(invalid_argument) for an empty name
// or factory. Thread-safe.
RAGLINE_API void register_chat_model(const std::string& provider, ChatModelFactory factory);
// Every provider name (built in: openai, bedrock; and registered ones), sorted.
RAGLINE_API std::vector<std::string> registered_chat_models();

// One stored message of a conversation.
struct SessionMessage {
  std::int64_t id = 0;
  std::string role;  // user | assistant
  std::string content;
  std::string created_at;  // UTC, ISO 8601
  // user: pending (asked, no answer yet: the process died), answered, or failed (the model
  // call or retrieval failed: `error` says why; ask again to retry). assistant: answered.
  std::string status = "answered";
  std::string error;
  std::string citations_json = "[]";  // assistant: the citations the answer used, as JSON objects
  std::string search_query;           // user: the query that was searched (after rewriting)
};

// Conversation memory: a SQLite database of its own (WAL, schema version in user_version),
// by default <kb>/sessions.sqlite. Sessions are created on first append.
class RAGLINE_API SessionStore {
 public:
  static constexpr int kSchemaVersion = 1;
  // Opens or creates the database. Throws Error (database, io; unsupported for a newer schema).
  static SessionStore open(const std::filesystem::path& path);
  static std::filesystem::path default_path(const std::filesystem::path& kb_directory);

  SessionStore(SessionStore&&) noexcept;
  SessionStore& operator=(SessionStore&&) noexcept;
  ~SessionStore();

  // Every message of the session, oldest first; empty for an unknown session.
  std::vector<SessionMessage> load(const std::string& session_id) const;
  // Appends a message (its id and created_at are set here) and returns its id.
  std::int64_t append(const std::string& session_id, const SessionMessage& message);
  // Updates status, error and search query of a stored message.
  void update_status(std::int64_t message_id, const std::string& status, const std::string& error = {},
                     const std::string& search_query = {});
  std::vector<std::string> sessions() const;  // ids, most recently used first

 private:
  struct Impl;
  explicit SessionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The chat history a model sees: answered questions and their answers, oldest first (pending
// and failed questions are left out; the PromptBuilder trims the rest to its budget).
RAGLINE_API std::vector<ChatMessage> conversation_history(const std::vector<SessionMessage>& messages);

// A follow-up question rewritten as a standalone search query by the model, from the most
// recent history (one short non-streamed call with fixed instructions). Throws what the
// model throws; an empty answer comes back as `question`.
RAGLINE_API std::string rewrite_query(ChatModel& model, const std::vector<ChatMessage>& history,
                                      const std::string& question);

// The citation numbers an answer uses: [n], [n, m] and [n][m] markers, in order of first use,
// each once; only numbers within 1..max_number.
RAGLINE_API std::vector<int> cited_numbers(std::string_view answer, int max_number);

// A token counter asking a llama.cpp server (POST <url>/tokenize {"content": text} ->
// {"tokens": [...]}); results are cached (up to 4,096 texts). Throws Error(network) from the
// counter when the service fails.
RAGLINE_API TokenCounter make_llama_token_counter(const std::string& base_url, double timeout_seconds = 30);

}  // namespace ragline
