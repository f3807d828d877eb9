#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "core/check.hpp"
#include "ingest/format.hpp"
#include "ingest/format_common.hpp"
#include "text/normalize.hpp"

namespace ragline::ingest {
namespace {

using Json = nlohmann::json;

// A record that cannot become a document; the caller turns it into an ItemFailure (JSONL,
// arrays) or an Error (a file holding one object).
struct RecordError {
  std::string reason;
};

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest says what and where.
std::string parse_error_reason(const Json::exception& error) {
  std::string_view message = error.what();
  if (message.starts_with("[json.exception.")) {
    if (const auto end = message.find("] "); end != std::string_view::npos) message.remove_prefix(end + 2);
  }
  return std::string(message);
}

std::string in_quotes(std::string_view field) { return "\"" + std::string(field) + "\""; }

// RFC 3986: everything outside the unreserved set is percent-encoded so that any id, including
// one with '#', '/' or spaces, gives a URI that splits back unambiguously.
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char character : text) {
    const auto byte = static_cast<unsigned char>(character);
    const bool unreserved = (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
                            (character >= '0' && character <= '9') || character == '-' || character == '.' ||
                            character == '_' || character == '~';
    if (unreserved) {
      out.push_back(character);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

// Numbers name a record the way they were written: integers without a fraction.
std::string number_id(const Json& value) {
  if (value.is_number_integer()) return value.dump();
  const double number = value.get<double>();
  if (std::isfinite(number) && number == std::trunc(number) && std::fabs(number) < 1e15) {
    return std::to_string(static_cast<long long>(number));
  }
  return value.dump();
}

// The record's id: the configured field, else BEIR's "_id"; nothing when neither is there.
std::optional<std::string> record_id(const Json& record, const ParseOptions& options) {
  for (const std::string& field : {options.id_field, std::string("_id")}) {
    const auto found = record.find(field);
    if (found == record.end() || found->is_null()) continue;
    if (found->is_string()) {
      std::string id = found->get<std::string>();
      if (id.empty()) continue;
      return id;
    }
    if (found->is_number()) return number_id(*found);
    throw RecordError{"field " + in_quotes(field) + " is not a string or number"};
  }
  return std::nullopt;
}

MetadataValue metadata_value(const Json& value, const std::string& field) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>();
  if (value.is_array()) {
    std::vector<std::string> items;
    items.reserve(value.size());
    for (const Json& item : value) {
      if (!item.is_string()) throw RecordError{"field " + in_quotes(field) + " is a list with a non-string item"};
      items.push_back(item.get<std::string>());
    }
    return items;
  }
  throw RecordError{"field " + in_quotes(field) + " is not a string, number, boolean or list of strings"};
}

struct RecordContext {
  const SourceFile& file;
  const ParseOptions& options;
  // The URI fragment of a record without an id: "line=N" (JSON Lines, 1-based, as RFC 5147 names
  // lines) or "index=N" (a .json array, 0-based). An explicit id never spells it, because '=' is
  // percent-encoded in ids, so a generated name cannot collide with a record's own "_id": "3".
  std::string fallback_fragment;
  std::size_t record_bytes = 0;
};

Document record_document(const Json& record, const RecordContext& context) {
  if (!record.is_object()) throw RecordError{"record is not a JSON object"};
  const ParseOptions& options = context.options;

  const auto text = record.find(options.text_field);
  if (text == record.end()) throw RecordError{"missing field " + in_quotes(options.text_field)};
  if (!text->is_string()) throw RecordError{"field " + in_quotes(options.text_field) + " is not a string"};

  Document document;
  document.text = text->get<std::string>();
  if (const auto title = record.find(options.title_field); title != record.end() && !title->is_null()) {
    if (!title->is_string()) throw RecordError{"field " + in_quotes(options.title_field) + " is not a string"};
    document.title = title->get<std::string>();
  }
  if (const auto metadata = record.find(options.metadata_field); metadata != record.end() && !metadata->is_null()) {
    if (!metadata->is_object()) throw RecordError{"field " + in_quotes(options.metadata_field) + " is not an object"};
    for (const auto& [key, value] : metadata->items()) {
      document.metadata.emplace(key, metadata_value(value, options.metadata_field + "." + key));
    }
  }
  formats::merge_sidecar_metadata(document.metadata, context.file.sidecar_metadata);

  const std::optional<std::string> id = record_id(record, options);
  document.uri = context.file.uri + "#" + (id ? percent_encode(*id) : context.fallback_fragment);
  document.source_path = context.file.path.string();
  document.mime_type = "application/json";
  // A record's own size: the file's would count a large corpus once per record.
  document.size_bytes =
      static_cast<std::int64_t>(context.record_bytes > 0 ? context.record_bytes : document.text.size());
  document.mtime = context.file.mtime;
  return document;
}

// Collects documents, rejecting a second record with a URI already seen in the file.
class RecordCollector {
 public:
  // With `emit`, documents go to it as they come instead of into parsed.documents.
  explicit RecordCollector(ParsedFile& parsed, const DocumentCallback* emit = nullptr) : parsed_(parsed), emit_(emit) {}

  void add(Document document, const std::string& location) {
    const auto [first, inserted] = seen_.emplace(document.uri, location);
    if (!inserted) {
      parsed_.item_failures.push_back({location, "duplicate id (first used at " + first->second + ")"});
      return;
    }
    if (emit_ != nullptr) {
      (*emit_)(std::move(document));
    } else {
      parsed_.documents.push_back(std::move(document));
    }
  }

  void fail(const std::string& location, std::string reason) {
    parsed_.item_failures.push_back({location, std::move(reason)});
  }

 private:
  ParsedFile& parsed_;
  const DocumentCallback* emit_;
  std::unordered_map<std::string, std::string> seen_;  // uri -> where it was first used
};

std::string_view trim_spaces(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

ParsedFile parse_lines(const SourceFile& file, const ParseOptions& options, const DocumentCallback* emit = nullptr) {
  ParsedFile parsed;
  RecordCollector collector(parsed, emit);
  const std::string path = file.path.string();
  std::string_view rest = file.bytes;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);
  std::size_t line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    const auto newline = rest.find('\n');
    const std::string_view raw_line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    const std::string_view line = trim_spaces(raw_line);
    if (line.empty()) continue;

    const std::string location = path + ":" + std::to_string(line_number);
    if (const text::Utf8Repair repaired = text::repair_utf8(line); repaired.replaced > 0) {
      collector.fail(location, "invalid UTF-8 (" + std::to_string(repaired.replaced) + " invalid sequence(s))");
      continue;
    }
    try {
      const Json record = Json::parse(line);
      collector.add(record_document(record, {file, options, "line=" + std::to_string(line_number), raw_line.size()}),
                    location);
    } catch (const Json::exception& error) {
      collector.fail(location, "malformed JSON: " + parse_error_reason(error));
    } catch (const RecordError& error) {
      collector.fail(location, error.reason);
    }
  }
  return parsed;
}

// True when the first non-blank line is a JSON object on its own: JSON Lines saved as .json.
bool looks_like_json_lines(std::string_view text) {
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto newline = rest.find('\n');
    const std::string_view line = trim_spaces(rest.substr(0, newline));
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    if (line.empty()) continue;
    if (!line.starts_with('{') || rest.empty()) return false;
    return Json::accept(line);
  }
  return false;
}

ParsedFile parse_document(const SourceFile& file, const ParseOptions& options) {
  std::string_view text = file.bytes;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& error) {
    if (looks_like_json_lines(text)) return parse_lines(file, options);
    RAGLINE_THROW(format, "malformed JSON: " << parse_error_reason(error));
  }
  ParsedFile parsed;
  if (root.is_object()) {
    try {
      // One record: no name to collide with, so the fallback stays "0".
      parsed.documents.push_back(record_document(root, {file, options, "0", file.bytes.size()}));
    } catch (const RecordError& error) {
      RAGLINE_THROW(format, error.reason);
    }
    return parsed;
  }
  RAGLINE_CHECK(root.is_array(), format, "top-level JSON value is neither an array of records nor an object");
  RecordCollector collector(parsed);
  const std::string path = file.path.string();
  for (std::size_t index = 0; index < root.size(); ++index) {
    const std::string location = path + ":[" + std::to_string(index) + "]";
    try {
      collector.add(record_document(root[index], {file, options, "index=" + std::to_string(index), 0}), location);
    } catch (const RecordError& error) {
      collector.fail(location, error.reason);
    }
  }
  return parsed;
}

class JsonParser final : public FormatParser {
 public:
  std::string_view name() const override { return "json"; }

  ParsedFile parse(const SourceFile& file, const ParseOptions& options) const override {
    if (is_json_document(file)) return parse_document(file, options);
    return parse_lines(file, options);
  }

  void parse_each(const SourceFile& file, const ParseOptions& options, const DocumentCallback& emit,
                  ParsedFile& result) const override {
    if (is_json_document(file)) {
      FormatParser::parse_each(file, options, emit, result);
      return;
    }
    result = parse_lines(file, options, &emit);
  }

 private:
  static bool is_json_document(const SourceFile& file) {
    std::string extension = formats::name_inside_gzip(file.path).extension().string();
    for (char& character : extension)
      character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
    return extension == ".json";
  }
};

}  // namespace

const FormatParser& formats::json_parser() {
  static const JsonParser parser;
  return parser;
}

}  // namespace ragline::ingest
