// The chat model registry, query rewriting, citation markers and the llama.cpp token counter.

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/check.hpp"
#include "generate/chat_models.hpp"
#include "net/url.hpp"

namespace ragline {
namespace generate {

net::HttpOptions chat_http_options(const LlmConfig& config, bool streamed) {
  RAGLINE_CHECK(config.timeout_seconds > 0, invalid_argument,
                "llm timeout_seconds must be positive, got " << config.timeout_seconds);
  RAGLINE_CHECK(config.max_retries >= 0, invalid_argument,
                "llm max_retries must not be negative, got " << config.max_retries);
  RAGLINE_CHECK(config.max_tokens > 0, invalid_argument, "llm max_tokens must be positive, got " << config.max_tokens);
  RAGLINE_CHECK(config.temperature >= 0 && config.temperature <= 2, invalid_argument,
                "llm temperature must be between 0 and 2, got " << config.temperature);
  net::HttpOptions options;
  options.max_in_flight = 1;
  options.max_retries = config.max_retries;
  options.timeout_seconds = streamed ? 10 * config.timeout_seconds : config.timeout_seconds;
  if (streamed) options.idle_timeout_seconds = config.timeout_seconds;
  return options;
}

void throw_malformed_answer(std::string_view endpoint, std::string_view what, std::string_view detail) {
  RAGLINE_THROW(format, endpoint << ": malformed " << what << ": " << detail);
}

std::string environment_value(const std::string& name) {
  if (name.empty()) return {};
  const char* value = std::getenv(name.c_str());
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace generate

namespace {

// The chat model registry: the single place a provider name is resolved.
struct ChatModelRegistry {
  std::mutex mutex;
  std::map<std::string, ChatModelFactory> factories = {
      {"openai", generate::make_openai_chat_model},
      {"bedrock", generate::make_bedrock_chat_model},
  };
};

ChatModelRegistry& chat_model_registry() {
  static ChatModelRegistry registry;
  return registry;
}

}  // namespace

std::unique_ptr<ChatModel> make_chat_model(const LlmConfig& config) {
  ChatModelFactory factory;
  {
    auto& registry = chat_model_registry();
    std::lock_guard lock(registry.mutex);
    if (auto found = registry.factories.find(config.provider); found != registry.factories.end()) {
      factory = found->second;
    }
  }
  if (!factory) {
    std::string known;
    for (const auto& name : registered_chat_models()) known += (known.empty() ? "" : ", ") + name;
    RAGLINE_THROW(invalid_argument, "unknown llm provider \""
                                        << config.provider << "\" (known: " << known
                                        << "; an application adds names with register_chat_model)");
  }
  auto model = factory(config);
  RAGLINE_CHECK(model != nullptr, invalid_argument,
                "the factory of llm provider \"" << config.provider << "\" made none");
  return model;
}

void register_chat_model(const std::string& provider, ChatModelFactory factory) {
  RAGLINE_CHECK(!provider.empty(), invalid_argument, "register_chat_model: the provider name is empty");
  RAGLINE_CHECK(factory != nullptr, invalid_argument,
                "register_chat_model(\"" << provider << "\"): the factory is empty");
  auto& registry = chat_model_registry();
  std::lock_guard lock(registry.mutex);
  registry.factories[provider] = std::move(factory);
}

std::vector<std::string> registered_chat_models() {
  auto& registry = chat_model_registry();
  std::lock_guard lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry.factories) names.push_back(name);
  return names;
}

namespace {

constexpr std::string_view kRewriteInstructions =
    "You rewrite the user's last question into one standalone search query for a document search engine. "
    "Use the conversation to resolve pronouns and references, keep the names and terms that matter, add nothing "
    "that was not asked. Answer with the query only: no quotes, no explanation, no answer to the question.";
constexpr std::size_t kRewriteHistoryMessages = 6;
constexpr std::size_t kRewriteMessageBytes = 2000;

std::string clipped(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + " ...";
}

}  // namespace

std::string rewrite_query(ChatModel& model, const std::vector<ChatMessage>& history, const std::string& question) {
  std::string conversation;
  const std::size_t first = history.size() > kRewriteHistoryMessages ? history.size() - kRewriteHistoryMessages : 0;
  for (std::size_t at = first; at < history.size(); ++at) {
    conversation += history[at].role + ": " + clipped(history[at].content, kRewriteMessageBytes) + "\n";
  }
  const std::vector<ChatMessage> messages = {
      {"system", std::string(kRewriteInstructions)},
      {"user", "Conversation:\n" + conversation + "\nLast question: " + question + "\n\nStandalone search query:"}};
  const std::string answer = model.complete(messages, {});
  // Models like to add quotes, a label or an explanation despite the instructions: keep the
  // first non-blank line without surrounding quotes.
  constexpr std::string_view kStrip = " \t\r\"'`";
  std::string rewritten;
  std::size_t line_start = 0;
  while (rewritten.empty() && line_start < answer.size()) {
    auto line_end = answer.find('\n', line_start);
    if (line_end == std::string::npos) line_end = answer.size();
    const std::string_view line(answer.data() + line_start, line_end - line_start);
    const auto first_char = line.find_first_not_of(kStrip);
    if (first_char != std::string_view::npos) {
      rewritten = std::string(line.substr(first_char, line.find_last_not_of(kStrip) - first_char + 1));
    }
    line_start = line_end + 1;
  }
  return rewritten.empty() ? question : rewritten;
}

std::vector<int> cited_numbers(std::string_view answer, int max_number) {
  std::vector<int> numbers;
  const auto add = [&](long number) {
    if (number < 1 || number > max_number) return;
    if (std::find(numbers.begin(), numbers.end(), static_cast<int>(number)) == numbers.end()) {
      numbers.push_back(static_cast<int>(number));
    }
  };
  for (std::size_t open = answer.find('['); open != std::string_view::npos; open = answer.find('[', open + 1)) {
    const auto close = answer.find(']', open + 1);
    if (close == std::string_view::npos) break;
    const std::string_view inside = answer.substr(open + 1, close - open - 1);
    // Only a list of numbers separated by commas and spaces is a citation: "[1, 3]", "[2]".
    std::vector<long> found;
    bool valid = !inside.empty();
    long current = -1;
    for (const char c : inside) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        current = (current < 0 ? 0 : current) * 10 + (c - '0');
        if (current > 1000000) valid = false;
      } else if (c == ',' || c == ' ') {
        if (current >= 0) found.push_back(current);
        current = -1;
      } else {
        valid = false;
        break;
      }
    }
    if (current >= 0) found.push_back(current);
    if (!valid || found.empty()) continue;
    for (const long number : found) add(number);
  }
  return numbers;
}

TokenCounter make_llama_token_counter(const std::string& base_url, double timeout_seconds) {
  const std::string url = net::join_url(base_url, "/tokenize");
  net::HttpOptions options;
  options.max_in_flight = 1;
  options.timeout_seconds = timeout_seconds;
  options.max_retries = 2;
  // Least recently used texts leave first. Keyed by the text itself: prompt pieces repeat.
  struct Cache {
    std::mutex mutex;
    std::list<std::pair<std::string, std::size_t>> order;
    std::unordered_map<std::string_view, std::list<std::pair<std::string, std::size_t>>::iterator> index;
  };
  constexpr std::size_t kCacheEntries = 4096;
  auto cache = std::make_shared<Cache>();
  return [url, options, cache](std::string_view text) -> std::size_t {
    {
      std::lock_guard lock(cache->mutex);
      if (const auto found = cache->index.find(text); found != cache->index.end()) {
        cache->order.splice(cache->order.begin(), cache->order, found->second);
        return found->second->second;
      }
    }
    net::HttpRequest request;
    request.url = url;
    request.headers = {{"Content-Type", "application/json"}};
    request.body = nlohmann::json{{"content", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const auto response = net::perform_http_request(std::move(request), options);
    const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object() || !body.contains("tokens") || !body["tokens"].is_array()) {
      generate::throw_malformed_answer(net::redact_url(url), "response", "no \"tokens\" array");
    }
    const std::size_t count = body["tokens"].size();
    std::lock_guard lock(cache->mutex);
    if (cache->index.find(text) == cache->index.end()) {
      cache->order.emplace_front(std::string(text), count);
      cache->index.emplace(cache->order.front().first, cache->order.begin());
      if (cache->order.size() > kCacheEntries) {
        cache->index.erase(cache->order.back().first);
        cache->order.pop_back();
      }
    }
    return count;
  };
}

}  // namespace ragline
