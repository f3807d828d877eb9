// An OpenAI-compatible /v1/chat/completions client (OpenAI, vLLM, llama.cpp server, Ollama,
// LM Studio...), streamed as server-sent events or not.
//
// Streamed answers: each `data:` event is a chat.completion.chunk whose choices[0].delta.content
// carries the next piece; the stream ends with `data: [DONE]`. An event holding "error" (some
// servers send it after a 200 once the stream has started) is an error naming its message. A
// stream that stops before [DONE] and before any finish_reason is refused as "truncated
// stream": the answer would be silently incomplete. Events without a "choices" array (keep-alive
// pings such as `event: ping` / `data: {}`, usage-only chunks) carry no text and are skipped. A
// server that ignores "stream": true and answers with one JSON body is accepted.

#include <nlohmann/json.hpp>
#include <utility>

#include "core/check.hpp"
#include "generate/chat_models.hpp"
#include "net/api_key.hpp"
#include "net/sse.hpp"
#include "net/url.hpp"

namespace ragline::generate {
namespace {

constexpr std::string_view kDefaultBaseUrl = "https://api.openai.com";
constexpr std::size_t kKeptRawBytes = 64 * 1024;

std::string completions_url(const std::string& base_url) {
  return net::join_versioned_url(base_url.empty() ? kDefaultBaseUrl : base_url, "/v1", "/chat/completions");
}

std::string error_text(const nlohmann::json& error) {
  if (error.is_string()) return error.get<std::string>();
  if (error.is_object() && error.contains("message") && error["message"].is_string()) {
    return error["message"].get<std::string>();
  }
  return error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// choices[0].<field>.content as a string; empty when absent or null.
std::string choice_content(const nlohmann::json& body, std::string_view field, std::string_view endpoint,
                           std::string_view what) {
  if (!body.is_object() || !body.contains("choices") || !body["choices"].is_array()) {
    throw_malformed_answer(endpoint, what, "no \"choices\" array");
  }
  if (body["choices"].empty()) return {};
  const auto& choice = body["choices"][0];
  if (!choice.is_object()) throw_malformed_answer(endpoint, what, "choices[0] is not an object");
  const auto part = choice.find(std::string(field));
  if (part == choice.end() || part->is_null()) return {};
  if (!part->is_object())
    throw_malformed_answer(endpoint, what, "choices[0]." + std::string(field) + " is not an object");
  const auto content = part->find("content");
  if (content == part->end() || content->is_null()) return {};
  if (!content->is_string()) throw_malformed_answer(endpoint, what, "content is not a string");
  return content->get<std::string>();
}

nlohmann::json parse_json(std::string_view text, std::string_view endpoint, std::string_view what) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    std::string snippet(text.substr(0, 120));
    for (auto& c : snippet) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    throw_malformed_answer(endpoint, what, "not JSON: " + snippet);
  }
  return value;
}

class OpenAiChatModel final : public ChatModel {
 public:
  explicit OpenAiChatModel(const LlmConfig& config)
      : config_(config), url_(completions_url(config.base_url)), endpoint_(net::redact_url(url_)) {
    RAGLINE_CHECK(!config.model.empty(), invalid_argument, "openai chat model: a model is required (--model)");
    chat_http_options(config, true);  // validates the options now rather than at the first call
    api_key();                        // a named key variable that is unset fails here, before any search
  }

  std::string id() const override { return "openai/" + config_.model; }

  std::string complete(const std::vector<ChatMessage>& messages, const TokenHandler& on_token) override {
    nlohmann::json body = {{"model", config_.model},
                           {"messages", nlohmann::json::array()},
                           {"stream", config_.stream},
                           {"temperature", config_.temperature},
                           {"max_tokens", config_.max_tokens}};
    for (const auto& message : messages)
      body["messages"].push_back({{"role", message.role}, {"content", message.content}});
    net::HttpRequest request;
    request.url = url_;
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", config_.stream ? "text/event-stream" : "application/json"}};
    const std::string api_key = this->api_key();
    if (!api_key.empty()) request.headers.emplace_back("Authorization", "Bearer " + api_key);
    request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return config_.stream ? complete_streamed(std::move(request), on_token)
                          : complete_once(std::move(request), on_token);
  }

 private:
  std::string complete_once(net::HttpRequest request, const TokenHandler& on_token) {
    const auto response = net::perform_http_request(std::move(request), chat_http_options(config_, false));
    std::string answer = answer_of_body(response.body);
    if (on_token && !answer.empty()) on_token(answer);
    return answer;
  }

  std::string answer_of_body(std::string_view text) const {
    const nlohmann::json body = parse_json(text, endpoint_, "response");
    if (body.is_object() && body.contains("error")) {
      RAGLINE_THROW(network, endpoint_ << ": the model service reported an error: " << error_text(body["error"]));
    }
    return choice_content(body, "message", endpoint_, "response");
  }

  std::string complete_streamed(net::HttpRequest request, const TokenHandler& on_token) {
    net::SseParser parser;
    std::string answer;
    std::string raw;  // the start of the body, for a server that answered with plain JSON
    OpenAiStreamState state;
    const auto on_event = [&](const net::SseEvent& event) {
      const std::string piece = read_openai_stream_event(event, endpoint_, state);
      if (piece.empty()) return;
      answer += piece;
      if (on_token) on_token(piece);
    };
    const auto response =
        net::perform_http_stream(std::move(request), chat_http_options(config_, true), [&](std::string_view bytes) {
          if (raw.size() < kKeptRawBytes) raw.append(bytes);
          parser.feed(bytes, on_event);
        });
    parser.finish(on_event);
    if (parser.events() == 0) {
      const std::string type = response.header("content-type").value_or("");
      if (type.find("json") != std::string::npos) {
        answer = answer_of_body(raw);
        if (on_token && !answer.empty()) on_token(answer);
        return answer;
      }
      throw_malformed_answer(endpoint_, "stream",
                             "no server-sent events in the response (Content-Type \"" + type + "\")");
    }
    if (!state.done && !state.finished) {
      throw_malformed_answer(endpoint_, "stream",
                             "truncated stream: it ended before [DONE] or a finish_reason, after " +
                                 std::to_string(answer.size()) + " bytes of answer");
    }
    return answer;
  }

  // Read at each call, so that a key set after the model was made is used.
  std::string api_key() const {
    return net::api_key_from_environment(config_.api_key_env, net::kOpenAiKeyVariable, "openai chat model");
  }

  LlmConfig config_;
  std::string url_;       // what is requested, query string included
  std::string endpoint_;  // what messages name: url_ without query string (it may hold a key)
};

}  // namespace

std::string read_openai_stream_event(const net::SseEvent& event, std::string_view endpoint, OpenAiStreamState& state) {
  if (state.done) return {};
  if (event.data == "[DONE]") {
    state.done = true;
    return {};
  }
  const nlohmann::json chunk = parse_json(event.data, endpoint, "stream event");
  if (event.event == "error" || (chunk.is_object() && chunk.contains("error"))) {
    RAGLINE_THROW(network,
                  endpoint << ": the model service reported an error in the stream: "
                           << error_text(chunk.is_object() && chunk.contains("error") ? chunk["error"] : chunk));
  }
  // Keep-alive and usage events carry no choices and no text; whether the stream finished is
  // still decided by [DONE] or a finish_reason.
  if (chunk.is_object() && !chunk.contains("choices")) return {};
  std::string piece = choice_content(chunk, "delta", endpoint, "stream event");
  const auto& choices = chunk["choices"];
  if (!choices.empty() && choices[0].contains("finish_reason") && !choices[0]["finish_reason"].is_null()) {
    state.finished = true;
  }
  return piece;
}

std::unique_ptr<ChatModel> make_openai_chat_model(const LlmConfig& config) {
  return std::make_unique<OpenAiChatModel>(config);
}

}  // namespace ragline::generate
