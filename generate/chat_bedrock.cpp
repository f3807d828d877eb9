// Amazon Bedrock Converse (POST /model/{modelId}/converse) and ConverseStream
// (/converse-stream, answered in the AWS event-stream binary framing, net/event_stream.hpp),
// signed with SigV4 (service "bedrock") afresh for every attempt.
//
// Converse wants the system instructions apart ("system": [{"text"}]) and the conversation as
// alternating user/assistant messages starting with a user message: consecutive messages of
// one role are joined with a blank line, and a leading assistant message is dropped.
//
// A stream's text comes in contentBlockDelta events ({"delta": {"text": ...}}) and ends with
// messageStop; an exception message (throttlingException, modelStreamErrorException...) is an
// error naming it; a stream ending before messageStop is refused as truncated.

#include <nlohmann/json.hpp>
#include <utility>

#include "core/check.hpp"
#include "generate/chat_models.hpp"
#include "net/event_stream.hpp"
#include "net/sigv4.hpp"
#include "net/url.hpp"

namespace ragline::generate {
namespace {

std::string resolve_region(const std::string& configured) {
  if (!configured.empty()) return configured;
  const std::string from_environment = environment_value("AWS_REGION");
  return from_environment.empty() ? "us-east-1" : from_environment;
}

// The Converse route (`stream`: ConverseStream) of `model` under the base URL.
std::string converse_url(std::string base_url, const std::string& region, const std::string& model, bool stream) {
  if (base_url.empty()) base_url = "https://bedrock-runtime." + region + ".amazonaws.com";
  return net::join_url(base_url, "/model/" + net::uri_encode(model) + (stream ? "/converse-stream" : "/converse"));
}

std::string payload_message(const std::string& payload) {
  const auto body = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!body.is_discarded() && body.is_object() && body.contains("message") && body["message"].is_string()) {
    return body["message"].get<std::string>();
  }
  return payload.substr(0, 300);
}

class BedrockChatModel final : public ChatModel {
 public:
  explicit BedrockChatModel(const LlmConfig& config)
      : config_(config),
        scope_{resolve_region(config.region), "bedrock"},
        url_(converse_url(config.base_url, scope_.region, config.model, config.stream)),
        endpoint_(net::redact_url(url_)) {
    RAGLINE_CHECK(!config.model.empty(), invalid_argument,
                  "bedrock chat model: a model id is required (--model, e.g. anthropic.claude-3-haiku-20240307-v1:0)");
    chat_http_options(config, config.stream);
  }

  std::string id() const override { return "bedrock/" + config_.model; }

  std::string complete(const std::vector<ChatMessage>& messages, const TokenHandler& on_token) override {
    const net::AwsCredentials credentials = net::credentials_from_environment();
    net::HttpRequest request;
    request.url = url_;
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = request_body(messages).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    request.before_attempt = [scope = scope_, credentials](net::HttpRequest& attempt) {
      net::sigv4_sign_request(attempt, scope, credentials);
    };
    if (config_.stream) {
      request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/vnd.amazon.eventstream"}};
      return complete_streamed(std::move(request), on_token);
    }
    const auto response = net::perform_http_request(std::move(request), chat_http_options(config_, false));
    std::string answer = answer_of(response.body);
    if (on_token && !answer.empty()) on_token(answer);
    return answer;
  }

 private:
  nlohmann::json request_body(const std::vector<ChatMessage>& messages) const {
    nlohmann::json system = nlohmann::json::array();
    nlohmann::json turns = nlohmann::json::array();
    std::string role, text;
    const auto flush = [&] {
      if (!role.empty() && !(role == "assistant" && turns.empty())) {
        turns.push_back({{"role", role}, {"content", nlohmann::json::array({{{"text", text}}})}});
      }
      role.clear();
      text.clear();
    };
    for (const auto& message : messages) {
      if (message.role == "system") {
        if (!message.content.empty()) system.push_back({{"text", message.content}});
        continue;
      }
      RAGLINE_CHECK(message.role == "user" || message.role == "assistant", invalid_argument,
                    "bedrock chat model: unknown message role \"" << message.role << '"');
      if (message.role != role) {
        flush();
        role = message.role;
      } else {
        text += "\n\n";
      }
      text += message.content;
    }
    flush();
    RAGLINE_CHECK(!turns.empty(), invalid_argument, "bedrock chat model: no user message to answer");
    nlohmann::json body = {
        {"messages", std::move(turns)},
        {"inferenceConfig", {{"maxTokens", config_.max_tokens}, {"temperature", config_.temperature}}}};
    if (!system.empty()) body["system"] = std::move(system);
    return body;
  }

  std::string complete_streamed(net::HttpRequest request, const TokenHandler& on_token) {
    const std::string endpoint = endpoint_;
    net::EventStreamDecoder decoder;
    std::string answer;
    bool stopped = false;
    const auto on_message = [&](const net::EventStreamMessage& message) {
      const std::string type = message.header(":message-type");
      if (type == "exception") {
        RAGLINE_THROW(network, endpoint << ": Bedrock reported " << message.header(":exception-type")
                                        << " in the stream: " << payload_message(message.payload));
      }
      if (type == "error") {
        RAGLINE_THROW(network, endpoint << ": Bedrock reported " << message.header(":error-code")
                                        << " in the stream: " << message.header(":error-message"));
      }
      const std::string event = message.header(":event-type");
      if (event == "messageStop") stopped = true;
      if (event != "contentBlockDelta") return;
      const auto body = nlohmann::json::parse(message.payload, nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded() || !body.is_object()) {
        throw_malformed_answer(endpoint, "stream event", "contentBlockDelta payload is not a JSON object");
      }
      const auto delta = body.find("delta");
      if (delta == body.end() || !delta->is_object()) return;
      const auto text = delta->find("text");
      if (text == delta->end() || !text->is_string()) return;  // reasoning or tool-use deltas
      const std::string piece = text->get<std::string>();
      if (piece.empty()) return;
      answer += piece;
      if (on_token) on_token(piece);
    };
    net::perform_http_stream(std::move(request), chat_http_options(config_, true),
                             [&](std::string_view bytes) { decoder.feed(bytes, on_message); });
    if (!stopped) {
      throw_malformed_answer(endpoint, "stream",
                             std::string("truncated stream: it ended before messageStop") +
                                 (decoder.finished_cleanly() ? "" : " inside a message") + ", after " +
                                 std::to_string(answer.size()) + " bytes of answer");
    }
    return answer;
  }

  std::string answer_of(const std::string& text) const {
    const nlohmann::json body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) throw_malformed_answer(endpoint_, "response", "not a JSON object");
    const auto output = body.find("output");
    if (output == body.end() || !output->is_object() || !output->contains("message") ||
        !(*output)["message"].is_object() || !(*output)["message"].contains("content") ||
        !(*output)["message"]["content"].is_array()) {
      throw_malformed_answer(endpoint_, "response", "no output.message.content array");
    }
    std::string answer;
    for (const auto& block : (*output)["message"]["content"]) {
      // Other block kinds (reasoningContent, toolUse...) are not part of the answer text.
      if (block.is_object() && block.contains("text") && block["text"].is_string()) {
        answer += block["text"].get<std::string>();
      }
    }
    return answer;
  }

  LlmConfig config_;
  net::SigV4Scope scope_;
  std::string url_;       // Converse, or ConverseStream when streaming; query string included
  std::string endpoint_;  // what messages name: url_ without query string
};

}  // namespace

std::unique_ptr<ChatModel> make_bedrock_chat_model(const LlmConfig& config) {
  return std::make_unique<BedrockChatModel>(config);
}

}  // namespace ragline::generate
