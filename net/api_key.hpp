#pragma once
// Where a model service client's API key comes from: an environment variable named in its
// configuration (LlmConfig / EmbedderConfig / RerankerConfig::api_key_env), read when it is
// needed, never logged. One rule for every client (chat models, HTTP embedders, rerankers):
//
//   - no variable named (empty): no key is sent;
//   - the client's default variable (OPENAI_API_KEY, COHERE_API_KEY...) unset or empty: no key is
//     sent, since local servers (llama.cpp, vLLM, Ollama) need none;
//   - any other variable, named on purpose, unset or empty: an error naming the variable, rather
//     than a request without the key the user asked for.

#include <string>
#include <string_view>

namespace ragline::net {

// The default of LlmConfig::api_key_env and EmbedderConfig::api_key_env (OpenAI-compatible clients).
inline constexpr std::string_view kOpenAiKeyVariable = "OPENAI_API_KEY";

// The key under the rule above. Throws Error(invalid_argument) "<client>: the environment
// variable NAME (api_key_env) is not set" when `variable` is neither empty nor
// `default_variable` and holds no value. Reads the environment at each call (thread-safe as
// long as nobody calls setenv concurrently).
std::string api_key_from_environment(std::string_view variable, std::string_view default_variable,
                                     std::string_view client);

}  // namespace ragline::net
