#pragma once
// What the chat model implementations (chat_openai.cpp, chat_bedrock.cpp) share.

#include <memory>
#include <string>
#include <string_view>

#include "net/http_client.hpp"
#include "net/sse.hpp"
#include "ragline/generation.hpp"

namespace ragline::generate {

std::unique_ptr<ChatModel> make_openai_chat_model(const LlmConfig& config);
std::unique_ptr<ChatModel> make_bedrock_chat_model(const LlmConfig& config);

// HTTP options of `config` (checked: timeout, retries, max_tokens, temperature); for streamed
// calls timeout_seconds is the idle limit and ten times it the limit of the whole answer.
net::HttpOptions chat_http_options(const LlmConfig& config, bool streamed);

// Throws Error(format) "<endpoint>: malformed <what>: <detail>".
[[noreturn]] void throw_malformed_answer(std::string_view endpoint, std::string_view what, std::string_view detail);

// Where an OpenAI chat stream stands: [DONE] seen, a finish_reason seen.
struct OpenAiStreamState {
  bool done = false;
  bool finished = false;
};

// One server-sent event of an OpenAI chat stream: the answer text it adds (possibly empty).
// Updates `state`; events after [DONE] and events without a "choices" array (keep-alive pings,
// usage) add nothing. Throws Error(network) for an error event and
// Error(format) for a malformed one. A pure function of the bytes, so that it can be fuzzed.
std::string read_openai_stream_event(const net::SseEvent& event, std::string_view endpoint, OpenAiStreamState& state);

// The value of an environment variable, empty when unset.
std::string environment_value(const std::string& name);

}  // namespace ragline::generate
