// markdown: splits at headings and keeps each chunk's heading path. A subset of CommonMark is
// recognised, enough for structure: ATX headings, setext headings under a one-line paragraph,
// fenced code blocks (``` or ~~~, closed by a fence of the same character at least as long;
// headings inside are text), tables as runs of lines starting with '|', and paragraphs.
//
// A section (a heading and everything up to the next heading) that fits max_tokens is one
// chunk. A longer section is cut into blocks packed greedily: a fence is never cut (one that
// is longer than max_tokens becomes a chunk of its own above the limit), a table is cut only
// between rows (a single row above the limit is likewise a chunk of its own), and a paragraph
// longer than max_tokens falls back to sentence packing.
#include <optional>

#include "ingest/chunk_packing.hpp"

namespace ragline::ingest::detail {
namespace {

enum class BlockKind { heading, paragraph, fence, table };

struct Block {
  BlockKind kind = BlockKind::paragraph;
  ByteRange bytes;
  int level = 0;        // headings: 1..6
  std::string heading;  // headings: the text without markers
};

// '\r' included so that text that kept CRLF line ends still parses.
constexpr std::string_view kSpaces = " \t\r";

bool is_blank(std::string_view line) { return line.find_first_not_of(kSpaces) == std::string_view::npos; }

std::string_view trim_spaces(std::string_view text) {
  const std::size_t first = text.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpaces) - first + 1);
}

// Up to three spaces of indentation, as CommonMark allows before block markers.
std::optional<std::string_view> strip_indent(std::string_view line) {
  std::size_t spaces = 0;
  while (spaces < line.size() && line[spaces] == ' ') ++spaces;
  if (spaces > 3) return std::nullopt;
  return line.substr(spaces);
}

// "## Title ##" -> level 2, "Title".
std::optional<Block> parse_atx_heading(std::string_view line) {
  auto rest = strip_indent(line);
  if (!rest) return std::nullopt;
  std::size_t level = 0;
  while (level < rest->size() && (*rest)[level] == '#') ++level;
  if (level == 0 || level > 6) return std::nullopt;
  if (level < rest->size() && kSpaces.find((*rest)[level]) == std::string_view::npos) return std::nullopt;
  std::string_view text = trim_spaces(rest->substr(level));
  // A closing run of '#' is dropped when it stands alone ("# Title ##"), not in "C#".
  const std::size_t closing = text.find_last_not_of('#');
  if (closing == std::string_view::npos) {
    text = {};
  } else if (closing + 1 < text.size() && kSpaces.find(text[closing]) != std::string_view::npos) {
    text = trim_spaces(text.substr(0, closing));
  }
  Block block;
  block.kind = BlockKind::heading;
  block.level = static_cast<int>(level);
  block.heading = std::string(text);
  return block;
}

// "===" -> 1, "---" -> 2. Two characters at least, so that "-" (an empty list item) is not
// taken for an underline.
int setext_level(std::string_view line) {
  auto rest = strip_indent(line);
  if (!rest) return 0;
  const std::string_view marks = trim_spaces(*rest);
  if (marks.size() < 2 || (marks[0] != '=' && marks[0] != '-')) return 0;
  if (marks.find_first_not_of(marks[0]) != std::string_view::npos) return 0;
  return marks[0] == '=' ? 1 : 2;
}

struct Fence {
  char mark = 0;
  std::size_t length = 0;
};

// Fences are accepted at any indentation (not just up to three spaces) because fences nested
// in list items are indented, and treating their content as Markdown would cut code.
std::optional<Fence> parse_fence_open(std::string_view line) {
  const std::string_view rest = trim_spaces(line);
  if (rest.size() < 3 || (rest[0] != '`' && rest[0] != '~')) return std::nullopt;
  const std::size_t length = std::min(rest.find_first_not_of(rest[0]), rest.size());
  if (length < 3) return std::nullopt;
  if (rest[0] == '`' && rest.find('`', length) != std::string_view::npos) return std::nullopt;
  return Fence{rest[0], length};
}

bool closes_fence(std::string_view line, const Fence& fence) {
  const std::string_view rest = trim_spaces(line);
  return rest.size() >= fence.length && rest.find_first_not_of(fence.mark) == std::string_view::npos;
}

bool is_table_row(std::string_view line) {
  const std::size_t first = line.find_first_not_of(kSpaces);
  return first != std::string_view::npos && line[first] == '|';
}

std::vector<Block> parse_blocks(std::string_view text) {
  std::vector<Block> blocks;
  // The paragraph, table or fence still growing; plain members rather than std::optional<Block>
  // because GCC 12 reports a false maybe-uninitialized on the optional's string.
  bool has_open = false;
  Block open;
  std::optional<Fence> fence;
  int paragraph_lines = 0;
  auto close_open = [&] {
    if (has_open) blocks.push_back(std::move(open));
    has_open = false;
    fence.reset();
  };
  auto start = [&](BlockKind kind, std::size_t line_start, std::size_t line_end) {
    close_open();
    open = Block{kind, ByteRange{line_start, line_end}, 0, {}};
    has_open = true;
  };
  auto is_open = [&](BlockKind kind) { return has_open && open.kind == kind; };
  for (std::size_t line_start = 0; line_start < text.size();) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);

    if (fence) {
      open.bytes.end = line_end;
      if (closes_fence(line, *fence)) close_open();
    } else if (is_blank(line)) {
      close_open();
    } else if (auto opening = parse_fence_open(line)) {
      start(BlockKind::fence, line_start, line_end);
      fence = opening;
    } else if (auto heading = parse_atx_heading(line)) {
      close_open();
      heading->bytes = ByteRange{line_start, line_end};
      blocks.push_back(std::move(*heading));
    } else if (int level = setext_level(line); level > 0 && is_open(BlockKind::paragraph) && paragraph_lines == 1) {
      open.kind = BlockKind::heading;
      open.level = level;
      open.heading = std::string(trim_spaces(text.substr(open.bytes.start, open.bytes.end - open.bytes.start)));
      open.bytes.end = line_end;
      close_open();
    } else if (is_table_row(line)) {
      if (is_open(BlockKind::table)) {
        open.bytes.end = line_end;
      } else {
        start(BlockKind::table, line_start, line_end);
      }
    } else if (is_open(BlockKind::paragraph)) {
      open.bytes.end = line_end;
      ++paragraph_lines;
    } else {
      start(BlockKind::paragraph, line_start, line_end);
      paragraph_lines = 1;
    }
    line_start = line_end + 1;
  }
  close_open();  // an unclosed fence runs to the end of the document
  return blocks;
}

struct Section {
  ByteRange bytes;
  std::size_t block_begin = 0;
  std::size_t block_end = 0;
  std::string heading_path;
  int level = 0;  // 0: text before the first heading
  bool has_body = false;
};

std::vector<Section> make_sections(const std::vector<Block>& blocks) {
  std::vector<Section> sections;
  std::vector<const Block*> open_headings;  // the enclosing headings, outermost first
  for (std::size_t index = 0; index < blocks.size(); ++index) {
    const Block& block = blocks[index];
    if (block.kind == BlockKind::heading) {
      while (!open_headings.empty() && open_headings.back()->level >= block.level) open_headings.pop_back();
      open_headings.push_back(&block);
      Section section{block.bytes, index, index + 1, {}, block.level, false};
      for (const Block* heading : open_headings) {
        if (!section.heading_path.empty()) section.heading_path += " > ";
        section.heading_path += heading->heading;
      }
      // A heading with no text of its own followed by a subheading ("# Guide" then
      // "## Install") flows into that subsection instead of becoming a chunk of one line.
      if (!sections.empty() && !sections.back().has_body && sections.back().level > 0 &&
          block.level > sections.back().level) {
        section.bytes.start = sections.back().bytes.start;
        section.block_begin = sections.back().block_begin;
        sections.back() = std::move(section);
      } else {
        sections.push_back(std::move(section));
      }
      continue;
    }
    if (sections.empty()) sections.push_back(Section{block.bytes, index, index, {}, 0, true});
    Section& section = sections.back();
    section.bytes.end = block.bytes.end;
    section.block_end = index + 1;
    section.has_body = true;
  }
  return sections;
}

class MarkdownChunker final : public Chunker {
 public:
  explicit MarkdownChunker(int max_tokens) : max_tokens_(max_tokens) {}

  std::vector<Chunk> chunk(const Document& document) const override {
    const std::string_view text = document.text;
    const DocumentTokens tokens(text);
    const std::vector<Block> blocks = parse_blocks(text);
    const auto max = static_cast<std::size_t>(max_tokens_);
    std::vector<Chunk> chunks;
    std::vector<PackUnit> units;
    for (const Section& section : make_sections(blocks)) {
      const auto [first_token, last_token] = tokens.tokens_within(section.bytes);
      if (last_token - first_token <= max) {
        append_chunk(document, section.bytes, section.heading_path, chunks);
        continue;
      }
      units.clear();
      for (std::size_t index = section.block_begin; index < section.block_end; ++index) {
        add_units(text, tokens, blocks[index], units);
      }
      for (const ByteRange& range : pack_units(tokens, units, max_tokens_, 0)) {
        append_chunk(document, range, section.heading_path, chunks);
      }
    }
    return chunks;
  }

 private:
  void add_units(std::string_view text, const DocumentTokens& tokens, const Block& block,
                 std::vector<PackUnit>& units) const {
    const PackUnit whole = make_unit(tokens, block.bytes, block.kind != BlockKind::fence);
    if (whole.tokens() <= static_cast<std::size_t>(max_tokens_) || block.kind == BlockKind::fence ||
        block.kind == BlockKind::heading) {
      units.push_back(whole);
    } else if (block.kind == BlockKind::table) {
      for (std::size_t row_start = block.bytes.start; row_start < block.bytes.end;) {
        std::size_t row_end = text.find('\n', row_start);
        if (row_end == std::string_view::npos || row_end > block.bytes.end) row_end = block.bytes.end;
        units.push_back(make_unit(tokens, ByteRange{row_start, row_end}, false));
        row_start = row_end + 1;
      }
    } else {
      const auto sentences = sentence_units(text, tokens, block.bytes);
      units.insert(units.end(), sentences.begin(), sentences.end());
    }
  }

  int max_tokens_;
};

}  // namespace

std::unique_ptr<Chunker> make_markdown_chunker(int max_tokens) { return std::make_unique<MarkdownChunker>(max_tokens); }

}  // namespace ragline::ingest::detail
