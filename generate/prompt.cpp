// Prompt's output formats and the built-in token estimate.

#include "ragline/prompt.hpp"

#include <nlohmann/json.hpp>

namespace ragline {

namespace {

using nlohmann::json;

// Invalid UTF-8 (documents are repaired at ingest, but a question or history may not be)
// becomes U+FFFD instead of an exception.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

bool is_ascii_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_ascii_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f'; }

}  // namespace

// A conservative stand-in for a byte-level BPE tokenizer (GPT-4's cl100k, Llama 3's, ...):
//  - a run of ASCII letters costs one token per 4 letters up to 8 letters, one per 3 beyond
//    (BPE vocabularies hold whole common words; long rare words and compounds split finely);
//  - a run of digits one per 3 (cl100k splits numbers into groups of at most 3);
//  - every other ASCII character (punctuation, symbols) one;
//  - white space nothing when it is one space (BPE joins it to the next word), one otherwise;
//  - a non-ASCII code point one when it takes 2 bytes in UTF-8 (accented Latin, Greek,
//    Cyrillic), two when it takes 3 or 4 (CJK, emoji: common ideographs are one cl100k token,
//    rarer ones two or three).
// retrieve/README.md gives its measured ratio to cl100k and o200k counts.
std::size_t estimate_tokens(std::string_view utf8) {
  std::size_t tokens = 0;
  std::size_t index = 0;
  const std::size_t size = utf8.size();
  while (index < size) {
    const auto c = static_cast<unsigned char>(utf8[index]);
    std::size_t run = 0;
    if (is_ascii_letter(c)) {
      while (index < size && is_ascii_letter(static_cast<unsigned char>(utf8[index]))) ++index, ++run;
      tokens += run <= 8 ? (run + 3) / 4 : 2 + (run - 8 + 2) / 3;
    } else if (is_ascii_digit(c)) {
      while (index < size && is_ascii_digit(static_cast<unsigned char>(utf8[index]))) ++index, ++run;
      tokens += (run + 2) / 3;
    } else if (is_ascii_space(c)) {
      while (index < size && is_ascii_space(static_cast<unsigned char>(utf8[index]))) ++index, ++run;
      if (run > 1 || c != ' ') ++tokens;
    } else if (c < 0x80) {
      ++index;
      ++tokens;
    } else {
      const std::size_t start = index++;  // one code point: the lead byte and its continuation bytes
      while (index < size && (static_cast<unsigned char>(utf8[index]) & 0xC0) == 0x80) ++index;
      tokens += index - start >= 3 ? 2 : 1;
    }
  }
  return tokens;
}

std::string Prompt::text() const {
  // A Prompt filled in by hand may leave user_with_history empty.
  return system + "\n\n" + (user_with_history.empty() ? user : user_with_history);
}

std::string Prompt::openai_messages_json() const {
  json messages = json::array();
  messages.push_back({{"role", "system"}, {"content", system}});
  for (const auto& message : history) messages.push_back({{"role", message.role}, {"content", message.content}});
  messages.push_back({{"role", "user"}, {"content", user}});
  return dump(json{{"messages", messages}});
}

std::string Prompt::bedrock_converse_json() const {
  json messages = json::array();
  auto add = [&](const std::string& role, const std::string& content) {
    messages.push_back({{"role", role}, {"content", json::array({json{{"text", content}}})}});
  };
  for (const auto& message : history) add(message.role, message.content);
  add("user", user);
  return dump(json{{"system", json::array({json{{"text", system}}})}, {"messages", messages}});
}

std::string Prompt::to_json() const {
  json sources_json = json::array();
  for (const auto& source : sources) {
    sources_json.push_back({{"number", source.number},
                            {"document_uri", source.document_uri},
                            {"title", source.title},
                            {"heading_path", source.heading_path},
                            {"page", source.page ? json(*source.page) : json(nullptr)},
                            {"chunk_ids", source.chunk_ids},
                            {"byte_start", source.byte_start},
                            {"byte_end", source.byte_end}});
  }
  json history_json = json::array();
  for (const auto& message : history) history_json.push_back({{"role", message.role}, {"content", message.content}});
  return dump(json{{"system", system},
                   {"user", user},
                   {"user_with_history", user_with_history},
                   {"history", history_json},
                   {"sources", sources_json},
                   {"tokens", tokens},
                   {"budget", budget}});
}

}  // namespace ragline
