// Prompt's output formats and the built-in token estimate.

#include "ragline/prompt.hpp"

namespace ragline {

std::size_t estimate_tokens(std::string_view utf8) { return (utf8.size() + 2) / 3; }

std::string Prompt::text() const { return system + "\n\n" + user; }
std::string Prompt::openai_messages_json() const { return "{}"; }
std::string Prompt::bedrock_converse_json() const { return "{}"; }
std::string Prompt::to_json() const { return "{}"; }

}  // namespace ragline
