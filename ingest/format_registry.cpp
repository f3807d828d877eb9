#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

#include "ingest/format.hpp"
#include "ingest/format_common.hpp"

namespace ragline::ingest {
namespace {

std::string lower_ascii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char character) { return static_cast<char>(std::tolower(character)); });
  return text;
}

}  // namespace

const FormatParser* parser_for(const std::filesystem::path& path) {
  // A sidecar is metadata about another file, never a document of its own.
  if (is_sidecar_metadata_file(path)) return nullptr;
  using ParserGetter = const FormatParser& (*)();
  static constexpr std::array<std::pair<std::string_view, ParserGetter>, 12> kByExtension{{
      {".txt", formats::text_parser},
      {".text", formats::text_parser},
      {".md", formats::markdown_parser},
      {".markdown", formats::markdown_parser},
      {".rst", formats::rst_parser},
      {".rest", formats::rst_parser},
      {".html", formats::html_parser},
      {".htm", formats::html_parser},
      {".pdf", formats::pdf_parser},
      {".jsonl", formats::json_parser},
      {".ndjson", formats::json_parser},
      {".json", formats::json_parser},
  }};
  const std::string extension = lower_ascii(path.extension().string());
  for (const auto& [known, parser] : kByExtension) {
    if (extension == known) return &parser();
  }
  return nullptr;
}

bool parser_streams_records(const std::filesystem::path& path) {
  const std::string extension = lower_ascii(path.extension().string());
  return parser_for(path) == &formats::json_parser() && extension != ".json";
}

const FormatParser* parser_by_name(std::string_view name) {
  for (const FormatParser* parser : {&formats::text_parser(), &formats::markdown_parser(), &formats::rst_parser(),
                                     &formats::html_parser(), &formats::pdf_parser(), &formats::json_parser()}) {
    if (parser->name() == name) return parser;
  }
  return nullptr;
}

}  // namespace ragline::ingest
