#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/format.hpp"
#include "ingest/format_common.hpp"

namespace ragline::ingest {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Splits off the next line (without its \n or \r\n); `rest` moves past it.
std::string_view next_line(std::string_view& rest) {
  const auto newline = rest.find('\n');
  std::string_view line = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// A YAML scalar of the simple kind front matter uses: a quoted string, or a plain one with an
// optional " # comment".
std::string unquote(std::string_view value) {
  value = trim(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    std::string out;
    for (std::size_t index = 1; index + 1 < value.size(); ++index) {
      char character = value[index];
      if (character == '\\' && index + 2 < value.size()) {
        character = value[++index];
        if (character == 'n') character = '\n';
        if (character == 't') character = '\t';
      }
      out.push_back(character);
    }
    return out;
  }
  if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
    std::string out;
    for (std::size_t index = 1; index + 1 < value.size(); ++index) {
      out.push_back(value[index]);
      if (value[index] == '\'' && value[index + 1] == '\'') ++index;  // '' is an escaped quote
    }
    return out;
  }
  if (const auto comment = value.find(" #"); comment != std::string_view::npos) value = trim(value.substr(0, comment));
  return std::string(value);
}

bool is_quoted(std::string_view value) { return !value.empty() && (value.front() == '"' || value.front() == '\''); }

std::vector<std::string> parse_flow_list(std::string_view inner) {
  std::vector<std::string> items;
  if (trim(inner).empty()) return items;
  std::size_t item_begin = 0;
  char quote = 0;
  for (std::size_t index = 0; index <= inner.size(); ++index) {
    const char character = index < inner.size() ? inner[index] : ',';
    if (quote != 0) {
      if (character == quote) quote = 0;
    } else if (character == '"' || character == '\'') {
      quote = character;
    } else if (character == ',') {
      items.push_back(unquote(inner.substr(item_begin, index - item_begin)));
      item_begin = index + 1;
    }
  }
  return items;
}

std::optional<MetadataValue> parse_scalar(std::string_view raw) {
  raw = trim(raw);
  if (raw.empty() || raw == "~" || raw == "null") return std::nullopt;
  if (raw.front() == '[' && raw.back() == ']') return parse_flow_list(raw.substr(1, raw.size() - 2));
  if (is_quoted(raw)) return unquote(raw);
  const std::string plain = unquote(raw);
  if (plain == "true" || plain == "True" || plain == "TRUE") return true;
  if (plain == "false" || plain == "False" || plain == "FALSE") return false;
  // from_chars would also accept "inf" and "nan"; YAML numbers start with a digit, sign or dot.
  const bool looks_numeric = !plain.empty() && (std::isdigit(static_cast<unsigned char>(plain.front())) ||
                                                plain.front() == '-' || plain.front() == '.');
  if (looks_numeric) {
    double number = 0;
    const auto [end, error] = std::from_chars(plain.data(), plain.data() + plain.size(), number);
    if (error == std::errc{} && end == plain.data() + plain.size()) return number;
  }
  return plain;
}

struct FrontMatter {
  Metadata metadata;
  std::string_view body;  // the text after the front matter
};

// Front matter is a YAML block between "---" lines at the very top. Only flat `key: value`,
// `key: [a, b]` and `key:` followed by `- item` lines are understood; anything nested is
// skipped rather than guessed at. Without a closing line there is no front matter.
std::optional<FrontMatter> parse_front_matter(std::string_view text) {
  std::string_view rest = text;
  if (trim(next_line(rest)) != "---") return std::nullopt;
  std::vector<std::string_view> lines;
  bool closed = false;
  while (!rest.empty()) {
    const std::string_view line = next_line(rest);
    const std::string_view trimmed = trim(line);
    if (trimmed == "---" || trimmed == "...") {
      closed = true;
      break;
    }
    lines.push_back(line);
  }
  if (!closed) return std::nullopt;

  FrontMatter front_matter;
  front_matter.body = rest;
  std::string list_key;  // a `key:` with no value, collecting `- item` lines
  std::vector<std::string> list_items;
  const auto finish_list = [&] {
    if (!list_key.empty() && !list_items.empty()) front_matter.metadata[list_key] = std::move(list_items);
    list_key.clear();
    list_items.clear();
  };
  for (const std::string_view line : lines) {
    const std::string_view trimmed = trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (!list_key.empty() && trimmed.starts_with("- ")) {
      list_items.push_back(unquote(trimmed.substr(2)));
      continue;
    }
    finish_list();
    if (line.front() == ' ' || line.front() == '\t') continue;  // nested mapping: not ours
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string key(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key.empty()) continue;
    if (value.empty()) {
      list_key = key;
      continue;
    }
    if (auto parsed = parse_scalar(value)) front_matter.metadata[key] = std::move(*parsed);
  }
  finish_list();
  return front_matter;
}

// The first level-1 heading outside fenced code blocks: "# Title" (ATX) or "Title" underlined
// with "=" (setext).
std::optional<std::string> first_heading(std::string_view text) {
  std::string_view rest = text;
  std::string_view fence;  // the opening fence while inside a code block
  std::string_view previous;
  while (!rest.empty()) {
    const std::string_view line = next_line(rest);
    const std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string_view::npos || indent > 3) {
      previous = indent == std::string_view::npos ? std::string_view{} : line;
      continue;
    }
    const std::string_view content = line.substr(indent);
    if (content.starts_with("```") || content.starts_with("~~~")) {
      const std::size_t fence_length = content.find_first_not_of(content.front());
      const std::string_view marker = content.substr(0, fence_length);
      if (fence.empty()) {
        fence = marker;
      } else if (marker.front() == fence.front() && marker.size() >= fence.size() &&
                 trim(content.substr(marker.size())).empty()) {
        fence = {};
      }
      previous = {};
      continue;
    }
    if (!fence.empty()) continue;
    if (content.starts_with('#') && (content.size() == 1 || content[1] == ' ' || content[1] == '\t')) {
      std::string_view heading = trim(content.substr(1));
      // An optional closing sequence of #s belongs to the syntax, not the title.
      const std::size_t closing = heading.find_last_not_of('#');
      if (closing == std::string_view::npos) {
        heading = {};
      } else if (closing + 1 < heading.size() && (heading[closing] == ' ' || heading[closing] == '\t')) {
        heading = trim(heading.substr(0, closing));
      }
      if (!heading.empty()) return std::string(heading);
    }
    const std::string_view trimmed = trim(content);
    if (!trim(previous).empty() && !trimmed.empty() && trimmed.find_first_not_of('=') == std::string_view::npos &&
        !trim(previous).starts_with('#')) {
      return std::string(trim(previous));
    }
    previous = line;
  }
  return std::nullopt;
}

class MarkdownParser final : public FormatParser {
 public:
  std::string_view name() const override { return "markdown"; }

  ParsedFile parse(const SourceFile& file, const ParseOptions& /*options*/) const override {
    formats::DecodedText decoded = formats::decode_text_file(file.bytes);
    Document document = formats::document_for_file(file, "text/markdown");
    if (auto front_matter = parse_front_matter(decoded.text)) {
      document.metadata = std::move(front_matter->metadata);
      document.text = std::string(front_matter->body);
    } else {
      document.text = std::move(decoded.text);
    }
    if (const auto title = document.metadata.find("title");
        title != document.metadata.end() && std::holds_alternative<std::string>(title->second)) {
      document.title = std::get<std::string>(title->second);
    }
    if (document.title.empty()) document.title = first_heading(document.text).value_or(formats::file_stem_title(file));
    formats::merge_sidecar_metadata(document.metadata, file.sidecar_metadata);
    return formats::single_document(std::move(document), decoded.replaced);
  }
};

}  // namespace

const FormatParser& formats::markdown_parser() {
  static const MarkdownParser parser;
  return parser;
}

}  // namespace ragline::ingest
