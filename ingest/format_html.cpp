#include <gumbo.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.hpp"
#include "ingest/format.hpp"
#include "ingest/format_common.hpp"

namespace ragline::ingest {
namespace {

// Every block gumbo allocates during one parse, freed with the parse. Gumbo 0.10.1 (Debian's)
// drops a DOCTYPE token met inside <noscript> in <head> without freeing its strings
// (handle_in_head_noscript returns before ignore_token): with the default allocator every such
// page would leak them for the life of the process (the html fuzzer found it). Gumbo allocates
// through GumboOptions and never reallocates, so a per-parse list of live blocks is enough.
class GumboAllocations {
 public:
  GumboAllocations() = default;
  GumboAllocations(const GumboAllocations&) = delete;
  GumboAllocations& operator=(const GumboAllocations&) = delete;
  ~GumboAllocations() {
    while (live_.next != &live_) deallocate(this, live_.next + 1);
  }

  static void* allocate(void* allocations, size_t size) {
    // Gumbo treats the result as malloc's: on failure it gets nullptr, as it would from malloc.
    auto* block = static_cast<Block*>(std::malloc(sizeof(Block) + size));
    if (block == nullptr) return nullptr;
    Block& live = static_cast<GumboAllocations*>(allocations)->live_;
    block->previous = &live;
    block->next = live.next;
    live.next->previous = block;
    live.next = block;
    return block + 1;
  }

  static void deallocate(void* /*allocations*/, void* pointer) {
    if (pointer == nullptr) return;
    Block* block = static_cast<Block*>(pointer) - 1;
    block->previous->next = block->next;
    block->next->previous = block->previous;
    std::free(block);
  }

 private:
  struct alignas(std::max_align_t) Block {
    Block* previous;
    Block* next;
  };
  Block live_{&live_, &live_};
};

// One gumbo parse: its output, destroyed through the options that made it, then whatever gumbo
// did not free itself.
class GumboParse {
 public:
  explicit GumboParse(std::string_view html) {
    options_.allocator = &GumboAllocations::allocate;
    options_.deallocator = &GumboAllocations::deallocate;
    options_.userdata = &allocations_;
    options_.max_errors = 0;  // parse errors are not reported; don't collect them
    output_ = gumbo_parse_with_options(&options_, html.data(), html.size());
  }
  GumboParse(const GumboParse&) = delete;
  GumboParse& operator=(const GumboParse&) = delete;
  ~GumboParse() {
    if (output_ != nullptr) gumbo_destroy_output(&options_, output_);
  }

  const GumboOutput* output() const { return output_; }

 private:
  GumboAllocations allocations_;  // declared first: outlives the output
  GumboOptions options_ = kGumboDefaultOptions;
  GumboOutput* output_ = nullptr;
};

bool is_html_space(char character) {
  return character == ' ' || character == '\t' || character == '\n' || character == '\r' || character == '\f';
}

std::string lower_ascii(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char character) { return static_cast<char>(std::tolower(character)); });
  return lower;
}

std::string collapse_spaces(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (const char character : text) {
    if (is_html_space(character)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.push_back(character);
    }
  }
  return out;
}

const char* attribute(const GumboNode* node, const char* name) {
  const GumboAttribute* found = gumbo_get_attribute(&node->v.element.attributes, name);
  return found == nullptr ? nullptr : found->value;
}

// Elements whose content a reader never sees. `hidden` and inline display:none are honoured;
// style sheets are not evaluated.
bool is_invisible(const GumboNode* node) {
  switch (node->v.element.tag) {
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_NOEMBED:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_AUDIO:
    case GUMBO_TAG_VIDEO:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_DATALIST:
      return true;
    default:
      break;
  }
  if (attribute(node, "hidden") != nullptr) return true;
  if (const char* style = attribute(node, "style")) {
    std::string compact = lower_ascii(style);
    std::erase_if(compact, [](char character) { return is_html_space(character); });
    if (compact.find("display:none") != std::string::npos || compact.find("visibility:hidden") != std::string::npos) {
      return true;
    }
  }
  return false;
}

int heading_level(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1:
      return 1;
    case GUMBO_TAG_H2:
      return 2;
    case GUMBO_TAG_H3:
      return 3;
    case GUMBO_TAG_H4:
      return 4;
    case GUMBO_TAG_H5:
      return 5;
    case GUMBO_TAG_H6:
      return 6;
    default:
      return 0;
  }
}

// Line breaks that separate an element from its neighbours: 2 for paragraph-like blocks (a
// blank line, as Markdown needs around headings and tables), 1 for other blocks, 0 inline.
int block_breaks(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_FORM:
      return 2;
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_HGROUP:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_HTML:
    case GUMBO_TAG_MENU:
    case GUMBO_TAG_TEXTAREA:
      return 1;
    default:
      return 0;
  }
}

// Renders the visible text of a DOM as Markdown-lite: headings as "#" lines, list items as
// "- ", table rows as "| a | b |" (with the separator row after the first, as GFM wants),
// <pre> as a fenced block, other blocks on lines of their own. The walk is iterative so a
// deeply nested page cannot exhaust the stack.
class MarkdownRenderer {
 public:
  std::string render(const GumboNode* root) {
    std::vector<Frame> stack;
    stack.push_back({root, Opened::plain, 0, mark()});
    while (!stack.empty()) {
      Frame& frame = stack.back();
      const GumboVector* children = child_nodes(frame.node);
      if (children != nullptr && frame.next_child < children->length) {
        const auto* child = static_cast<const GumboNode*>(children->data[frame.next_child++]);
        if (const auto opened = enter(child)) stack.push_back({child, *opened, 0, mark()});
      } else {
        leave(frame.opened, frame.mark);
        stack.pop_back();
      }
    }
    return std::move(out_);
  }

 private:
  // What entering an element started, so that leaving it can finish exactly that.
  enum class Opened { plain, block, paragraph, flattened, heading, pre, list, item, table, row, cell };
  struct Frame {
    const GumboNode* node;
    Opened opened;
    unsigned next_child = 0;
    std::size_t mark = 0;  // output size once the element's own opening was written
  };
  struct ListState {
    bool ordered = false;
    long next_number = 1;
  };
  struct TableState {
    int rows = 0;
    int cells_in_row = 0;
  };

  static const GumboVector* child_nodes(const GumboNode* node) {
    if (node->type == GUMBO_NODE_DOCUMENT) return &node->v.document.children;
    if (node->type == GUMBO_NODE_ELEMENT) return &node->v.element.children;
    return nullptr;
  }

  std::size_t mark() const { return out_.size(); }
  // Inside a heading or a table cell everything stays on one line.
  bool flattening() const { return inline_only_ > 0; }

  // What the node opened, or nothing when its children are not to be visited.
  std::optional<Opened> enter(const GumboNode* node) {
    switch (node->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_WHITESPACE:
      case GUMBO_NODE_CDATA:
        text(node->v.text.text);
        return std::nullopt;
      case GUMBO_NODE_ELEMENT:
        break;
      default:  // comments and template contents
        return std::nullopt;
    }
    if (is_invisible(node)) return std::nullopt;
    const GumboTag tag = node->v.element.tag;
    if (flattening()) {
      if (tag == GUMBO_TAG_BR || block_breaks(tag) > 0 || heading_level(tag) > 0 || tag == GUMBO_TAG_LI ||
          tag == GUMBO_TAG_TR || tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH || tag == GUMBO_TAG_PRE ||
          tag == GUMBO_TAG_UL || tag == GUMBO_TAG_OL || tag == GUMBO_TAG_TABLE) {
        pending_space_ = true;
        return Opened::flattened;
      }
      return Opened::plain;
    }
    if (const int level = heading_level(tag); level > 0) {
      line_breaks(2);
      out_.append(static_cast<std::size_t>(level), '#');
      out_ += ' ';
      ++inline_only_;
      return Opened::heading;
    }
    switch (tag) {
      case GUMBO_TAG_BR:
        out_ += '\n';
        pending_space_ = false;
        return std::nullopt;
      case GUMBO_TAG_PRE:
        if (preformatted_ == 0) line_breaks(2);
        ++preformatted_;
        return Opened::pre;
      case GUMBO_TAG_UL:
      case GUMBO_TAG_OL: {
        line_breaks(lists_.empty() ? 2 : 1);
        ListState list;
        list.ordered = tag == GUMBO_TAG_OL;
        if (const char* start = attribute(node, "start")) list.next_number = std::strtol(start, nullptr, 10);
        lists_.push_back(list);
        return Opened::list;
      }
      case GUMBO_TAG_LI: {
        line_breaks(1);
        const std::size_t depth = std::max<std::size_t>(lists_.size(), 1);
        out_.append(2 * (depth - 1), ' ');
        if (!lists_.empty() && lists_.back().ordered) {
          out_ += std::to_string(lists_.back().next_number++) + ". ";
        } else {
          out_ += "- ";
        }
        return Opened::item;
      }
      case GUMBO_TAG_TABLE:
        line_breaks(2);
        tables_.emplace_back();
        return Opened::table;
      case GUMBO_TAG_TR:
        line_breaks(1);
        out_ += '|';
        if (!tables_.empty()) tables_.back().cells_in_row = 0;
        return Opened::row;
      case GUMBO_TAG_TD:
      case GUMBO_TAG_TH:
        out_ += ' ';
        ++inline_only_;
        ++table_cells_;
        return Opened::cell;
      default:
        break;
    }
    switch (block_breaks(tag)) {
      case 2:
        line_breaks(2);
        return Opened::paragraph;
      case 1:
        line_breaks(1);
        return Opened::block;
      default:
        return Opened::plain;
    }
  }

  void leave(Opened opened, std::size_t mark) {
    switch (opened) {
      case Opened::plain:
        return;
      case Opened::flattened:
        pending_space_ = true;
        return;
      case Opened::block:
      case Opened::item:
        line_breaks(1);
        return;
      case Opened::paragraph:
        line_breaks(2);
        return;
      case Opened::heading:
        --inline_only_;
        if (out_.find_first_not_of(' ', mark) == std::string::npos) {  // an empty heading leaves no trace
          out_.resize(mark);
          while (!out_.empty() && (out_.back() == ' ' || out_.back() == '#')) out_.pop_back();
        }
        line_breaks(2);
        return;
      case Opened::pre:
        if (--preformatted_ == 0) fence(mark);
        return;
      case Opened::list:
        lists_.pop_back();
        line_breaks(lists_.empty() ? 2 : 1);
        return;
      case Opened::table:
        tables_.pop_back();
        line_breaks(2);
        return;
      case Opened::row:
        if (!tables_.empty()) {
          TableState& table = tables_.back();
          if (table.rows++ == 0 && table.cells_in_row > 0) {
            out_ += "\n|";
            for (int cell = 0; cell < table.cells_in_row; ++cell) out_ += " --- |";
          }
        }
        line_breaks(1);
        return;
      case Opened::cell:
        --inline_only_;
        --table_cells_;
        pending_space_ = false;
        while (!out_.empty() && out_.back() == ' ') out_.pop_back();
        out_ += " |";
        if (!tables_.empty()) ++tables_.back().cells_in_row;
        return;
    }
  }

  void text(std::string_view content) {
    if (preformatted_ > 0 && !flattening()) {
      out_ += content;
      return;
    }
    for (const char character : content) {
      if (is_html_space(character)) {
        pending_space_ = true;
        continue;
      }
      if (pending_space_ && !out_.empty() && out_.back() != '\n' && out_.back() != ' ') out_ += ' ';
      pending_space_ = false;
      if (character == '|' && table_cells_ > 0) out_ += '\\';
      out_ += character;
    }
  }

  // Ends the current line and adds empty lines until `count` line breaks end the output.
  void line_breaks(int count) {
    pending_space_ = false;
    if (preformatted_ > 0) return;  // a block inside <pre> keeps the text as written
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    if (out_.empty()) return;
    int present = 0;
    for (auto position = out_.rbegin(); position != out_.rend() && *position == '\n' && present < count; ++position) {
      ++present;
    }
    out_.append(static_cast<std::size_t>(count - present), '\n');
  }

  // Wraps the text rendered since `mark` in a code fence longer than any backtick run inside.
  void fence(std::size_t mark) {
    std::size_t longest_run = 0;
    std::size_t run = 0;
    for (std::size_t position = mark; position < out_.size(); ++position) {
      run = out_[position] == '`' ? run + 1 : 0;
      longest_run = std::max(longest_run, run);
    }
    if (out_.find_first_not_of(" \t\r\n", mark) == std::string::npos) {  // an empty <pre>
      out_.resize(mark);
      return;
    }
    const std::string marker(std::max<std::size_t>(3, longest_run + 1), '`');
    if (out_.back() != '\n') out_ += '\n';
    out_.insert(mark, marker + "\n");
    out_ += marker;
    line_breaks(2);
  }

  std::string out_;
  bool pending_space_ = false;
  int preformatted_ = 0;
  int inline_only_ = 0;
  int table_cells_ = 0;
  std::vector<ListState> lists_;
  std::vector<TableState> tables_;
};

// The text of an element's descendants, white space collapsed, invisible parts skipped.
std::string element_text(const GumboNode* node) {
  std::string raw;
  std::vector<const GumboNode*> pending{node};
  while (!pending.empty()) {
    const GumboNode* current = pending.back();
    pending.pop_back();
    if (current->type == GUMBO_NODE_TEXT || current->type == GUMBO_NODE_WHITESPACE ||
        current->type == GUMBO_NODE_CDATA) {
      raw += current->v.text.text;
      continue;
    }
    if (current->type != GUMBO_NODE_ELEMENT || (current != node && is_invisible(current))) continue;
    raw += ' ';
    const GumboVector& children = current->v.element.children;
    for (unsigned index = children.length; index > 0; --index) {
      pending.push_back(static_cast<const GumboNode*>(children.data[index - 1]));
    }
  }
  return collapse_spaces(raw);
}

// The first HTML-namespace element with this tag, document order (SVG has <title> too).
const GumboNode* find_first(const GumboNode* root, GumboTag tag) {
  std::vector<const GumboNode*> pending{root};
  while (!pending.empty()) {
    const GumboNode* current = pending.back();
    pending.pop_back();
    const GumboVector* children = nullptr;
    if (current->type == GUMBO_NODE_DOCUMENT) {
      children = &current->v.document.children;
    } else if (current->type == GUMBO_NODE_ELEMENT) {
      if (current->v.element.tag == tag && current->v.element.tag_namespace == GUMBO_NAMESPACE_HTML) return current;
      children = &current->v.element.children;
    }
    if (children == nullptr) continue;
    for (unsigned index = children->length; index > 0; --index) {
      pending.push_back(static_cast<const GumboNode*>(children->data[index - 1]));
    }
  }
  return nullptr;
}

// Gumbo's tree construction is quadratic in the depth of open elements (200,000 nested <div>s
// take minutes), so absurd nesting is refused before parsing. The estimate counts start tags
// minus end tags, leaving out void elements, elements whose end tag is optional (a long list of
// unclosed <li>s is ordinary HTML), comments and script/style contents.
constexpr std::size_t kMaxNestingDepth = 10000;

bool tag_never_nests(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "area",  "base",  "br",       "col",     "embed", "hr", "img", "input", "link", "meta",   "param",    "source",
      "track", "wbr",   "p",        "li",      "dt",    "dd", "tr",  "td",    "th",   "option", "optgroup", "thead",
      "tbody", "tfoot", "colgroup", "caption", "rb",    "rt", "rtc", "rp",    "html", "head",   "body"};
  for (const std::string_view known : kNames) {
    if (name == known) return true;
  }
  return false;
}

std::size_t estimated_nesting_depth(std::string_view html) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  std::size_t position = 0;
  while ((position = html.find('<', position)) != std::string_view::npos) {
    ++position;
    if (html.substr(position).starts_with("!--")) {
      const auto end = html.find("-->", position);
      if (end == std::string_view::npos) break;
      position = end + 3;
      continue;
    }
    const bool closing = position < html.size() && html[position] == '/';
    if (closing) ++position;
    std::size_t name_end = position;
    while (name_end < html.size() && std::isalnum(static_cast<unsigned char>(html[name_end]))) ++name_end;
    if (name_end == position) continue;
    const std::string name = lower_ascii(html.substr(position, name_end - position));
    const auto tag_end = html.find('>', name_end);
    if (tag_end == std::string_view::npos) break;
    position = tag_end + 1;
    if (closing) {
      if (!tag_never_nests(name) && depth > 0) --depth;
      continue;
    }
    if (name == "script" || name == "style") {
      // Raw text: the element ends at the first "</script" or "</style", in any case.
      while ((position = html.find("</", position)) != std::string_view::npos) {
        position += 2;
        if (lower_ascii(html.substr(position, name.size())) == name) break;
      }
      if (position == std::string_view::npos) break;
      continue;
    }
    if (tag_never_nests(name) || html[tag_end - 1] == '/') continue;
    deepest = std::max(deepest, ++depth);
  }
  return deepest;
}

// The charset a <meta> declares near the top of the page, lower-cased, or nothing.
std::optional<std::string> declared_charset(std::string_view bytes) {
  const std::string head = lower_ascii(bytes.substr(0, 4096));
  const auto found = head.find("charset=");
  if (found == std::string::npos) return std::nullopt;
  std::size_t begin = found + 8;
  while (begin < head.size() && (head[begin] == '"' || head[begin] == '\'' || head[begin] == ' ')) ++begin;
  std::size_t end = begin;
  while (end < head.size() && (std::isalnum(static_cast<unsigned char>(head[end])) || head[end] == '-' ||
                               head[end] == '_' || head[end] == '.' || head[end] == ':')) {
    ++end;
  }
  if (end == begin) return std::nullopt;
  return head.substr(begin, end - begin);
}

// Pages that are not valid UTF-8 and declare a legacy charset are converted with ICU. As in
// browsers, Latin-1 and ASCII labels mean windows-1252.
std::optional<std::string> convert_legacy_charset(std::string_view bytes) {
  std::optional<std::string> charset = declared_charset(bytes);
  if (!charset || *charset == "utf-8" || *charset == "utf8") return std::nullopt;
  if (*charset == "iso-8859-1" || *charset == "latin1" || *charset == "us-ascii" || *charset == "ascii") {
    charset = "windows-1252";
  }
  const icu::UnicodeString decoded(bytes.data(), static_cast<std::int32_t>(bytes.size()), charset->c_str());
  if (decoded.isBogus()) return std::nullopt;
  std::string utf8;
  decoded.toUTF8String(utf8);
  return utf8;
}

class HtmlParser final : public FormatParser {
 public:
  std::string_view name() const override { return "html"; }

  ParsedFile parse(const SourceFile& file, const ParseOptions& /*options*/) const override {
    formats::DecodedText decoded = formats::decode_text_file(file.bytes);
    if (decoded.replaced > 0) {
      if (auto converted = convert_legacy_charset(file.bytes)) {
        decoded.text = std::move(*converted);
        decoded.replaced = 0;
      }
    }
    RAGLINE_CHECK(estimated_nesting_depth(decoded.text) <= kMaxNestingDepth, format,
                  "HTML nested more than " << kMaxNestingDepth << " elements deep");
    const GumboParse parse(decoded.text);
    const GumboOutput* output = parse.output();
    RAGLINE_CHECK(output != nullptr, format, "HTML parser failed");

    Document document = formats::document_for_file(file, "text/html");
    document.text = MarkdownRenderer().render(output->document);
    if (const GumboNode* title = find_first(output->document, GUMBO_TAG_TITLE)) document.title = element_text(title);
    if (document.title.empty()) {
      if (const GumboNode* heading = find_first(output->document, GUMBO_TAG_H1)) document.title = element_text(heading);
    }
    if (document.title.empty()) document.title = formats::file_stem_title(file);
    document.metadata = file.sidecar_metadata;

    return formats::single_document(std::move(document), decoded.replaced);
  }
};

}  // namespace

const FormatParser& formats::html_parser() {
  static const HtmlParser parser;
  return parser;
}

}  // namespace ragline::ingest
