#include <unicode/utf8.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/format.hpp"
#include "ingest/format_common.hpp"

namespace ragline::ingest {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    lines.push_back(line);
  }
  return lines;
}

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [](char byte) { return (static_cast<unsigned char>(byte) & 0xC0) != 0x80; }));
}

// A section adornment: one printable ASCII punctuation character repeated, at least twice,
// from the first column (docutils' rule).
bool is_adornment(std::string_view line) {
  if (line.size() < 2 || !std::ispunct(static_cast<unsigned char>(line[0]))) return false;
  return std::all_of(line.begin(), line.end(), [&](char character) { return character == line[0]; });
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// Rewrites reStructuredText section titles as ATX headings, which the Markdown chunker reads
// as a heading path. A section level is the order in which its adornment style (character,
// with or without an overline) first appears, as docutils assigns it; levels past 6 stay at 6.
// Transitions (an adornment line on its own) are dropped: `~~~~` would read as a code fence.
class RstToHeadings {
 public:
  std::string convert(std::string_view text) {
    const auto lines = split_lines(text);
    std::string out;
    out.reserve(text.size() + 64);
    for (std::size_t index = 0; index < lines.size();) {
      const bool after_blank = index == 0 || is_blank(lines[index - 1]) || last_was_heading_;
      last_was_heading_ = false;
      const std::string_view line = lines[index];
      // Overline, title (which may be inset), underline of the same character.
      if (after_blank && is_adornment(line) && index + 2 < lines.size() && !is_blank(lines[index + 1]) &&
          !is_adornment(lines[index + 1]) && lines[index + 2] == line) {
        heading(out, {line[0], true}, trim(lines[index + 1]));
        index += 3;
        continue;
      }
      // Title, then an underline at least as wide (or at least 4 characters: docutils only warns).
      if (after_blank && !is_blank(line) && line[0] != ' ' && line[0] != '\t' && !is_adornment(line) &&
          index + 1 < lines.size() && is_adornment(lines[index + 1]) &&
          (lines[index + 1].size() >= code_points(line) || lines[index + 1].size() >= 4)) {
        heading(out, {lines[index + 1][0], false}, trim(line));
        index += 2;
        continue;
      }
      if (!(is_adornment(line) && line.size() >= 4 && after_blank &&
            (index + 1 == lines.size() || is_blank(lines[index + 1])))) {
        out.append(line);
        out.push_back('\n');
      }
      ++index;
    }
    return out;
  }

  const std::string& first_title() const { return first_title_; }

 private:
  void heading(std::string& out, std::pair<char, bool> style, std::string_view title) {
    auto found = std::find(styles_.begin(), styles_.end(), style);
    if (found == styles_.end()) found = styles_.insert(styles_.end(), style);
    const auto level = std::min<std::size_t>(static_cast<std::size_t>(found - styles_.begin()) + 1, 6);
    out.append(level, '#');
    out.push_back(' ');
    out.append(title);
    out.append("\n\n");
    if (first_title_.empty()) first_title_ = std::string(title);
    last_was_heading_ = true;
  }

  std::vector<std::pair<char, bool>> styles_;
  std::string first_title_;
  bool last_was_heading_ = false;
};

class RstParser final : public FormatParser {
 public:
  std::string_view name() const override { return "rst"; }

  ParsedFile parse(const SourceFile& file, const ParseOptions& /*options*/) const override {
    formats::DecodedText decoded = formats::decode_text_file(file.bytes);
    RstToHeadings converter;
    Document document = formats::document_for_file(file, "text/x-rst");
    document.text = converter.convert(decoded.text);
    document.title = converter.first_title().empty() ? formats::file_stem_title(file) : converter.first_title();
    document.metadata = file.sidecar_metadata;
    return formats::single_document(std::move(document), decoded.replaced);
  }
};

}  // namespace

const FormatParser& formats::rst_parser() {
  static const RstParser parser;
  return parser;
}

}  // namespace ragline::ingest
