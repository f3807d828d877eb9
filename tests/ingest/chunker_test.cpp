#include "ingest/chunker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/error.hpp"
#include "text/tokens.hpp"

namespace ragline::ingest {
namespace {

// ---- generated documents ---------------------------------------------------------------------

struct NamedDocument {
  std::string name;
  Document document;
};

Document make_document(std::string text) {
  Document document;
  document.uri = "file:///generated";
  document.text = std::move(text);
  return document;
}

std::string pick(std::mt19937& random, const std::vector<std::string>& words) {
  return words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(random)];
}

int between(std::mt19937& random, int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); }

// Space-separated prose: sentences of 3..max_words words, some commas, paragraphs of 1..6
// sentences, and now and then a sentence far longer than the others.
std::string spaced_prose(std::mt19937& random, const std::vector<std::string>& words, int paragraphs) {
  std::string text;
  for (int paragraph = 0; paragraph < paragraphs; ++paragraph) {
    if (paragraph > 0) text += "\n\n";
    const int sentences = between(random, 1, 6);
    for (int sentence = 0; sentence < sentences; ++sentence) {
      if (sentence > 0) text += ' ';
      const int length = between(random, 0, 15) == 0 ? between(random, 60, 120) : between(random, 3, 25);
      for (int word = 0; word < length; ++word) {
        std::string next = pick(random, words);
        if (word == 0) next[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(next[0])));
        text += next;
        if (word + 1 < length) text += between(random, 0, 9) == 0 ? ", " : " ";
      }
      text += between(random, 0, 4) == 0 ? "?" : ".";
    }
  }
  return text;
}

// CJK prose: words joined without spaces, sentences ended by full-width terminators.
std::string unspaced_prose(std::mt19937& random, const std::vector<std::string>& words, int paragraphs) {
  std::string text;
  for (int paragraph = 0; paragraph < paragraphs; ++paragraph) {
    if (paragraph > 0) text += "\n\n";
    const int sentences = between(random, 1, 5);
    for (int sentence = 0; sentence < sentences; ++sentence) {
      const int length = between(random, 3, 30);
      for (int word = 0; word < length; ++word) text += pick(random, words);
      text += between(random, 0, 3) == 0 ? "！" : "。";
    }
  }
  return text;
}

const std::vector<std::string> kEnglish = {
    "the",    "retrieval", "engine",  "splits", "documents", "into",    "chunks",   "and",      "indexes",   "each",
    "one",    "with",      "bm25",    "while",  "queries",   "return",  "ranked",   "passages", "model's",   "context",
    "window", "is",        "limited", "so",     "we",        "count",   "tokens",   "3.14",     "1,000",     "e-mail",
    "don't",  "U.S.A.",    "approx.", "data",   "pipeline",  "storage", "snake_id", "(note)",   "\"quote\"", "x@y.org"};
const std::vector<std::string> kGerman = {
    "die", "straßenbahn", "fährt",  "über",     "brücke", "schön",    "größe",    "mädchen", "läuft",      "schnell",
    "und", "der",         "zürich", "maßnahme", "für",    "ökonomie", "qualität", "prüfung", "übersetzung"};
const std::vector<std::string> kChinese = {"我们", "机器", "学习", "数据",     "模型", "训练", "今天",
                                           "天气", "很好", "研究", "人工智能", "系统", "可以", "处理",
                                           "文本", "的",   "是",   "在",       "和",   "了"};
const std::vector<std::string> kJapanese = {"私",   "は",   "東京",     "に",     "行きました", "機械", "学習",
                                            "が",   "好き", "です",     "データ", "を",         "分析", "する",
                                            "ため", "の",   "システム", "検索",   "文書",       "、"};

std::string long_unpunctuated(std::mt19937& random, int words) {
  std::string text;
  for (int word = 0; word < words; ++word) {
    if (word > 0) text += ' ';
    text += pick(random, {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"});
  }
  return text;
}

std::string fence(std::mt19937& random, int lines) {
  std::string text = between(random, 0, 1) == 0 ? "```cpp\n" : "~~~~\n";
  const bool tilde = text[0] == '~';
  for (int line = 0; line < lines; ++line) {
    text +=
        line % 5 == 0 ? "# a comment that looks like a heading\n" : "int value_" + std::to_string(line) + " = 42;\n";
    if (line % 7 == 3) text += "\n";  // blank lines inside a fence stay inside it
  }
  text += tilde ? "~~~~" : "```";
  return text;
}

std::string table(int rows) {
  std::string text = "| name | value | note |\n|---|---|---|";
  for (int row = 0; row < rows; ++row) {
    text += "\n| item " + std::to_string(row) + " | " + std::to_string(row * 7) + " | ok, fine. |";
  }
  return text;
}

std::string markdown(std::mt19937& random, int sections) {
  std::string text = "Preamble before any heading. " + spaced_prose(random, kEnglish, 1) + "\n\n";
  for (int section = 0; section < sections; ++section) {
    const int level = between(random, 1, 3);
    text += std::string(static_cast<std::size_t>(level), '#') + " Section " + std::to_string(section) + "\n\n";
    const int blocks = between(random, 1, 5);
    for (int block = 0; block < blocks; ++block) {
      switch (between(random, 0, 3)) {
        case 0:
          text += fence(random, between(random, 1, 40));
          break;
        case 1:
          text += table(between(random, 1, 30));
          break;
        default:
          text += spaced_prose(random, kEnglish, 1);
          break;
      }
      text += "\n\n";
    }
  }
  return text;
}

std::vector<NamedDocument> generated_documents() {
  std::mt19937 random(20240601);
  std::vector<NamedDocument> documents;
  documents.push_back({"english", make_document(spaced_prose(random, kEnglish, 30))});
  documents.push_back({"german", make_document(spaced_prose(random, kGerman, 20))});
  documents.push_back({"chinese", make_document(unspaced_prose(random, kChinese, 20))});
  documents.push_back({"japanese", make_document(unspaced_prose(random, kJapanese, 20))});
  documents.push_back({"markdown", make_document(markdown(random, 25))});
  documents.push_back({"unpunctuated", make_document(long_unpunctuated(random, 2000))});
  documents.push_back(
      {"mixed", make_document(spaced_prose(random, kEnglish, 3) + "\n\n" + unspaced_prose(random, kChinese, 3) +
                              "\n  \n" + spaced_prose(random, kGerman, 3) + "\n")});
  documents.push_back({"tiny", make_document("  Hi.  ")});
  return documents;
}

// ---- invariant checks ------------------------------------------------------------------------

bool is_continuation_byte(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }
bool is_ascii_space(char byte) { return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r'; }

std::vector<std::string> token_texts(std::string_view text) {
  std::vector<std::string> texts;
  for (const text::TokenSpan& span : text::token_spans(text)) {
    texts.emplace_back(text.substr(span.byte_start, span.byte_end - span.byte_start));
  }
  return texts;
}

// Offsets map back to the text, ranges sit on code point boundaries and are trimmed, ordinals
// count from 0, and token_count is the chunk text's own count.
void expect_valid_chunks(const Document& document, const std::vector<Chunk>& chunks, const std::string& context) {
  SCOPED_TRACE(context);
  for (std::size_t index = 0; index < chunks.size(); ++index) {
    const Chunk& chunk = chunks[index];
    ASSERT_EQ(chunk.ordinal, static_cast<int>(index));
    ASSERT_LT(chunk.byte_start, chunk.byte_end);
    ASSERT_LE(chunk.byte_end, document.text.size());
    ASSERT_EQ(chunk.text, document.text.substr(chunk.byte_start, chunk.byte_end - chunk.byte_start));
    EXPECT_FALSE(is_continuation_byte(document.text[chunk.byte_start]));
    if (chunk.byte_end < document.text.size()) {
      EXPECT_FALSE(is_continuation_byte(document.text[chunk.byte_end]));
    }
    EXPECT_FALSE(is_ascii_space(chunk.text.front()));
    EXPECT_FALSE(is_ascii_space(chunk.text.back()));
    EXPECT_EQ(chunk.token_count, text::count_tokens(chunk.text));
    EXPECT_GT(chunk.token_count, 0);
  }
}

// Every token of the document (within [from, to)) lies inside some chunk: no text is lost.
void expect_tokens_covered(const Document& document, const std::vector<Chunk>& chunks, std::size_t from = 0,
                           std::size_t to = std::string::npos) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const Chunk& chunk : chunks) ranges.emplace_back(chunk.byte_start, chunk.byte_end);
  std::sort(ranges.begin(), ranges.end());
  std::size_t range = 0;
  std::size_t covered_to = 0;
  for (const text::TokenSpan& token : text::token_spans(document.text)) {
    if (token.byte_start < from || token.byte_end > to) continue;
    while (range < ranges.size() && ranges[range].first <= token.byte_start) {
      covered_to = std::max(covered_to, ranges[range].second);
      ++range;
    }
    ASSERT_LE(token.byte_end, covered_to) << "token at " << token.byte_start << " is in no chunk";
  }
}

std::vector<Chunk> run(const ChunkerConfig& config, const Document& document) {
  return make_chunker(config)->chunk(document);
}

std::string describe(const ChunkerConfig& config, const std::string& document) {
  return config.name + " max=" + std::to_string(config.max_tokens) +
         " overlap=" + std::to_string(config.overlap_tokens) + " parent=" + std::to_string(config.parent_tokens) +
         " child=" + std::to_string(config.child_tokens) + " on " + document;
}

ChunkerConfig config(std::string name, int max_tokens, int overlap_tokens = 0) {
  ChunkerConfig result;
  result.name = std::move(name);
  result.max_tokens = max_tokens;
  result.overlap_tokens = overlap_tokens;
  return result;
}

ChunkerConfig hierarchical(int parent_tokens, int child_tokens) {
  ChunkerConfig result;
  result.name = "hierarchical";
  result.parent_tokens = parent_tokens;
  result.child_tokens = child_tokens;
  return result;
}

// ---- all chunkers ----------------------------------------------------------------------------

TEST(Chunkers, OffsetsMapBackAndAllTextIsCovered) {
  // For every chunker on every generated document: exact offsets, trimming, counts, coverage.
  const std::vector<ChunkerConfig> configs = {
      config("fixed", 16, 4),     config("fixed", 7, 6),  config("fixed", 1, 0),   config("sentence", 20, 0),
      config("sentence", 40, 10), config("markdown", 30), config("markdown", 200), hierarchical(60, 15),
      hierarchical(16, 16),       config("none", 1)};
  for (const NamedDocument& named : generated_documents()) {
    for (const ChunkerConfig& chunker : configs) {
      const std::string context = describe(chunker, named.name);
      const auto chunks = run(chunker, named.document);
      ASSERT_FALSE(chunks.empty()) << context;
      expect_valid_chunks(named.document, chunks, context);
      expect_tokens_covered(named.document, chunks);
    }
  }
}

TEST(Chunkers, EmptyAndWhiteSpaceDocumentsGiveNoChunks) {
  // No chunker produces a chunk for empty or white-space-only text.
  for (std::string_view name : chunker_names()) {
    for (const std::string text : {"", "   ", "\n\n\t \n", "\u3000 \u00a0"}) {
      EXPECT_TRUE(run(config(std::string(name), 8), make_document(text)).empty()) << name;
    }
  }
}

TEST(ChunkerRegistry, NamesAndUnknownName) {
  // All five chunkers are registered; an unknown name is an invalid_argument naming it.
  EXPECT_EQ(chunker_names(), (std::vector<std::string_view>{"fixed", "sentence", "markdown", "hierarchical", "none"}));
  try {
    make_chunker(config("paragraphs", 10));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("'paragraphs'"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("markdown"), std::string::npos) << error.what();
  }
}

TEST(ChunkerRegistry, BadParametersNameTheParameterAndValue) {
  // Each out-of-range parameter throws invalid_argument naming the parameter and its value.
  struct Case {
    ChunkerConfig config;
    std::string parameter;
    std::string value;
  };
  ChunkerConfig child_above_parent = hierarchical(100, 200);
  const std::vector<Case> cases = {
      {config("fixed", 0), "max_tokens", "got 0"},
      {config("sentence", -5), "max_tokens", "got -5"},
      {config("markdown", 0), "max_tokens", "got 0"},
      {config("fixed", 10, 10), "overlap_tokens", "got 10"},
      {config("sentence", 10, 11), "overlap_tokens", "got 11"},
      {config("fixed", 10, -1), "overlap_tokens", "got -1"},
      {hierarchical(100, 0), "child_tokens", "got 0"},
      {child_above_parent, "parent_tokens (100)", "got 200"},
  };
  for (const Case& bad : cases) {
    try {
      make_chunker(bad.config);
      ADD_FAILURE() << "no error for " << describe(bad.config, "-");
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
      const std::string message = error.what();
      EXPECT_NE(message.find(bad.parameter), std::string::npos) << message;
      EXPECT_NE(message.find(bad.value), std::string::npos) << message;
    }
  }
  // Parameters a chunker does not use are not checked.
  EXPECT_NO_THROW(make_chunker(config("none", 0, 5)));
  EXPECT_NO_THROW(make_chunker(config("markdown", 10, 50)));
  ChunkerConfig hierarchical_ignores_max = hierarchical(64, 8);
  hierarchical_ignores_max.max_tokens = 0;
  EXPECT_NO_THROW(make_chunker(hierarchical_ignores_max));
}

// ---- fixed -----------------------------------------------------------------------------------

TEST(ChunkerFixed, WindowsHaveMaxTokensAndRealOverlap) {
  // Windows hold max tokens (the last may hold fewer), start max-overlap tokens apart, and the
  // last `overlap` tokens of chunk i are the first tokens of chunk i+1.
  for (const NamedDocument& named : generated_documents()) {
    const auto document_tokens = text::token_spans(named.document.text);
    for (auto [max, overlap] : {std::pair{16, 4}, std::pair{10, 0}, std::pair{7, 6}, std::pair{50, 25}}) {
      const std::string context = describe(config("fixed", max, overlap), named.name);
      SCOPED_TRACE(context);
      const auto chunks = run(config("fixed", max, overlap), named.document);
      const std::size_t step = static_cast<std::size_t>(max - overlap);
      for (std::size_t index = 0; index < chunks.size(); ++index) {
        const std::size_t first = index * step;
        const std::size_t last = std::min(first + static_cast<std::size_t>(max), document_tokens.size());
        ASSERT_LT(first, document_tokens.size());
        EXPECT_EQ(chunks[index].byte_start, document_tokens[first].byte_start);
        EXPECT_EQ(chunks[index].byte_end, document_tokens[last - 1].byte_end);
        EXPECT_LE(chunks[index].token_count, max);
        if (index + 1 == chunks.size()) {
          EXPECT_EQ(last, document_tokens.size());
        }
      }
      // On text segmented by rules (not a CJK dictionary), re-tokenising each chunk shows the
      // overlap directly.
      if (named.name == "chinese" || named.name == "japanese" || named.name == "mixed") continue;
      for (std::size_t index = 0; index + 1 < chunks.size(); ++index) {
        const auto current = token_texts(chunks[index].text);
        const auto next = token_texts(chunks[index + 1].text);
        ASSERT_EQ(current.size(), static_cast<std::size_t>(max));
        ASSERT_GE(next.size(), static_cast<std::size_t>(overlap));
        EXPECT_TRUE(std::equal(current.end() - overlap, current.end(), next.begin())) << "between " << index;
      }
    }
  }
}

TEST(ChunkerFixed, SmallExample) {
  // Eight tokens, windows of four stepping two.
  const auto chunks = run(config("fixed", 4, 2), make_document("one two, three four. five six"));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].text, "one two, three");
  EXPECT_EQ(chunks[1].text, ", three four.");
  EXPECT_EQ(chunks[2].text, "four. five six");
}

// ---- sentence --------------------------------------------------------------------------------

TEST(ChunkerSentence, NeverSplitsASentenceThatFitsAndRespectsMax) {
  // Every sentence of at most max tokens lies whole inside one chunk; no chunk exceeds max.
  for (const NamedDocument& named : generated_documents()) {
    for (auto [max, overlap] : {std::pair{20, 0}, std::pair{40, 10}, std::pair{8, 3}}) {
      const std::string context = describe(config("sentence", max, overlap), named.name);
      SCOPED_TRACE(context);
      const auto chunks = run(config("sentence", max, overlap), named.document);
      for (const Chunk& chunk : chunks) EXPECT_LE(chunk.token_count, max) << chunk.text;
      for (const text::TokenSpan& sentence : text::sentence_spans(named.document.text)) {
        const std::string_view text(named.document.text.data() + sentence.byte_start,
                                    sentence.byte_end - sentence.byte_start);
        if (text::count_tokens(text) > max) continue;
        const bool whole = std::any_of(chunks.begin(), chunks.end(), [&](const Chunk& chunk) {
          return chunk.byte_start <= sentence.byte_start && sentence.byte_end <= chunk.byte_end;
        });
        EXPECT_TRUE(whole) << "split sentence: " << text;
      }
      for (std::size_t index = 0; index + 1 < chunks.size(); ++index) {
        EXPECT_LT(chunks[index].byte_start, chunks[index + 1].byte_start);
        // What two chunks share is whole sentences of at most `overlap` tokens.
        if (chunks[index + 1].byte_start < chunks[index].byte_end) {
          const std::string_view shared(named.document.text.data() + chunks[index + 1].byte_start,
                                        chunks[index].byte_end - chunks[index + 1].byte_start);
          EXPECT_LE(text::count_tokens(shared), overlap) << shared;
        }
      }
    }
  }
}

TEST(ChunkerSentence, OverlapRepeatsTrailingWholeSentences) {
  // With room for it, the previous chunk's last sentence (4 tokens) begins the next chunk.
  const std::string text = "One two three. Four five six. Seven eight nine. Ten eleven twelve. End here now.";
  const auto chunks = run(config("sentence", 12, 4), make_document(text));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, "One two three. Four five six. Seven eight nine.");
  EXPECT_EQ(chunks[1].text, "Seven eight nine. Ten eleven twelve. End here now.");
  // A sentence longer than the overlap is not repeated.
  const auto no_overlap = run(config("sentence", 12, 3), make_document(text));
  ASSERT_EQ(no_overlap.size(), 2u);
  EXPECT_EQ(no_overlap[1].text, "Ten eleven twelve. End here now.");
}

TEST(ChunkerSentence, LongSentenceIsCutIntoWindows) {
  // A sentence longer than max is the only thing cut, into max-token windows.
  std::mt19937 random(7);
  // (Capitalised: ICU does not end a sentence at ". " followed by a lowercase word.)
  const std::string text = "Short one. Omega " + long_unpunctuated(random, 95) + ". Short two.";
  const auto chunks = run(config("sentence", 30, 0), make_document(text));
  ASSERT_GE(chunks.size(), 5u);
  EXPECT_EQ(chunks.front().text, "Short one.");
  EXPECT_EQ(chunks.back().text, "Short two.");
  for (std::size_t index = 1; index + 1 < chunks.size(); ++index) EXPECT_LE(chunks[index].token_count, 30);
  EXPECT_EQ(chunks[1].token_count, 30);
}

// ---- markdown --------------------------------------------------------------------------------

const char* const kGuide = R"(Intro text before headings.

# Guide

Welcome paragraph.

## Install

Run the installer.

```bash
# not a heading
make install
```

## Usage ##

| a | b |
|---|---|
| 1 | 2 |

Setext Title
============

Body under setext.

Sub Setext
----------

More body.

### Deep C# notes

Deep text.
)";

TEST(ChunkerMarkdown, SectionsCarryHeadingPaths) {
  // Sections that fit are single chunks with their heading line; paths follow the nesting,
  // setext headings count, and a '#' line inside a fence is not a heading.
  const Document document = make_document(kGuide);
  const auto chunks = run(config("markdown", 1000), document);
  expect_valid_chunks(document, chunks, "guide");
  std::vector<std::pair<std::string, std::string>> got;
  for (const Chunk& chunk : chunks) got.emplace_back(chunk.heading_path, chunk.text.substr(0, chunk.text.find('\n')));
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"", "Intro text before headings."},
      {"Guide", "# Guide"},
      {"Guide > Install", "## Install"},
      {"Guide > Usage", "## Usage ##"},
      {"Setext Title", "Setext Title"},
      {"Setext Title > Sub Setext", "Sub Setext"},
      {"Setext Title > Sub Setext > Deep C# notes", "### Deep C# notes"},
  };
  EXPECT_EQ(got, expected);
  EXPECT_NE(chunks[2].text.find("# not a heading\nmake install\n```"), std::string::npos);
  EXPECT_EQ(chunks[3].text, "## Usage ##\n\n| a | b |\n|---|---|\n| 1 | 2 |");
}

TEST(ChunkerMarkdown, EmptyParentHeadingFlowsIntoFirstSubsection) {
  // "# A" directly followed by "## B" joins B's chunk; B's path names both.
  const auto chunks = run(config("markdown", 100), make_document("# A\n## B\ntext of b\n## C\ntext of c"));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, "# A\n## B\ntext of b");
  EXPECT_EQ(chunks[0].heading_path, "A > B");
  EXPECT_EQ(chunks[1].text, "## C\ntext of c");
  EXPECT_EQ(chunks[1].heading_path, "A > C");
  // CRLF line ends parse the same way.
  const auto crlf = run(config("markdown", 100), make_document("# A\r\n## B\r\ntext of b\r\n\r\n## C ##\r\ntext"));
  ASSERT_EQ(crlf.size(), 2u);
  EXPECT_EQ(crlf[1].heading_path, "A > C");
  // A heading followed by a sibling or a higher heading stays a chunk of its own.
  const auto siblings = run(config("markdown", 100), make_document("## A\n## B\nbody"));
  ASSERT_EQ(siblings.size(), 2u);
  EXPECT_EQ(siblings[0].text, "## A");
}

// Byte ranges of fenced code blocks and of table rows, found independently of the chunker
// (the generated documents use only unindented ``` and ~~~~ fences).
struct MarkdownParts {
  std::vector<std::pair<std::size_t, std::size_t>> fences;
  std::vector<std::pair<std::size_t, std::size_t>> rows;
};

MarkdownParts find_parts(const std::string& text) {
  MarkdownParts parts;
  std::string open_marker;
  std::size_t fence_start = 0;
  for (std::size_t line_start = 0; line_start < text.size();) {
    std::size_t line_end = std::min(text.find('\n', line_start), text.size());
    const std::string line = text.substr(line_start, line_end - line_start);
    if (open_marker.empty() && (line.rfind("```", 0) == 0 || line.rfind("~~~~", 0) == 0)) {
      open_marker = line.substr(0, 3) == "```" ? "```" : "~~~~";
      fence_start = line_start;
    } else if (!open_marker.empty() && line == open_marker) {
      parts.fences.emplace_back(fence_start, line_end);
      open_marker.clear();
    } else if (open_marker.empty() && line.rfind('|', 0) == 0) {
      parts.rows.emplace_back(line_start, line_end);
    }
    line_start = line_end + 1;
  }
  return parts;
}

TEST(ChunkerMarkdown, NeverSplitsFencesOrTableRows) {
  // Each fence and each table row lies whole in a chunk; only a fence or a row longer than max
  // may exceed max, and then it is a chunk of its own.
  std::mt19937 random(99);
  for (int round = 0; round < 6; ++round) {
    const Document document = make_document(markdown(random, 30));
    const MarkdownParts parts = find_parts(document.text);
    ASSERT_FALSE(parts.fences.empty());
    ASSERT_FALSE(parts.rows.empty());
    for (int max : {12, 40, 150}) {
      const std::string context = "round " + std::to_string(round) + " max " + std::to_string(max);
      SCOPED_TRACE(context);
      const auto chunks = run(config("markdown", max), document);
      expect_valid_chunks(document, chunks, context);
      expect_tokens_covered(document, chunks);
      auto inside_a_chunk = [&](std::pair<std::size_t, std::size_t> part) {
        return std::any_of(chunks.begin(), chunks.end(), [&](const Chunk& chunk) {
          return chunk.byte_start <= part.first && part.second <= chunk.byte_end;
        });
      };
      for (auto part : parts.fences) EXPECT_TRUE(inside_a_chunk(part)) << "fence at " << part.first;
      for (auto part : parts.rows) EXPECT_TRUE(inside_a_chunk(part)) << "row at " << part.first;
      for (const Chunk& chunk : chunks) {
        if (chunk.token_count <= max) continue;
        const std::pair<std::size_t, std::size_t> range{chunk.byte_start, chunk.byte_end};
        const bool is_part = std::count(parts.fences.begin(), parts.fences.end(), range) +
                                 std::count(parts.rows.begin(), parts.rows.end(), range) ==
                             1;
        EXPECT_TRUE(is_part) << "oversized chunk that is not one fence or row:\n" << chunk.text;
      }
      for (const Chunk& chunk : chunks) {
        EXPECT_EQ(chunk.heading_path.find("a comment"), std::string::npos) << chunk.heading_path;
        if (chunk.byte_start < document.text.find("\n#")) {
          EXPECT_EQ(chunk.heading_path, "");
        } else {
          EXPECT_EQ(chunk.heading_path.rfind("Section ", 0), 0u) << chunk.heading_path;
        }
      }
    }
  }
}

TEST(ChunkerMarkdown, LongParagraphFallsBackToSentences) {
  // A paragraph over max is packed by sentences under the section's heading path.
  std::string text = "# Title\n\n## Long\n\n";
  for (int sentence = 0; sentence < 12; ++sentence)
    text += "Sentence number " + std::to_string(sentence) + " is here. ";
  text += "\n\n```\nshort code\n```";
  const Document document = make_document(text);
  const auto chunks = run(config("markdown", 20), document);
  expect_valid_chunks(document, chunks, "long paragraph");
  ASSERT_GE(chunks.size(), 4u);
  for (const Chunk& chunk : chunks) {
    EXPECT_LE(chunk.token_count, 20);
    EXPECT_EQ(chunk.heading_path, "Title > Long");
    if (chunk.text.find("Sentence") != std::string::npos) {
      EXPECT_TRUE(chunk.text.ends_with("here.") || chunk.text.ends_with("```")) << chunk.text;
    }
  }
}

// ---- hierarchical ----------------------------------------------------------------------------

TEST(ChunkerHierarchical, ParentsThenContainedChildren) {
  // Each parent (not searchable) is followed by its children, which lie inside it, point to it,
  // respect child_tokens and together cover the parent's tokens.
  for (const NamedDocument& named : generated_documents()) {
    for (auto [parent_tokens, child_tokens] : {std::pair{60, 15}, std::pair{200, 50}, std::pair{10, 3}}) {
      const std::string context = describe(hierarchical(parent_tokens, child_tokens), named.name);
      SCOPED_TRACE(context);
      const auto chunks = run(hierarchical(parent_tokens, child_tokens), named.document);
      expect_valid_chunks(named.document, chunks, context);
      ASSERT_FALSE(chunks.empty());
      std::vector<Chunk> parents;
      int current_parent = -1;
      std::vector<Chunk> children;
      auto check_family = [&] {
        if (current_parent < 0) return;
        const Chunk& parent = chunks[static_cast<std::size_t>(current_parent)];
        ASSERT_FALSE(children.empty()) << "parent without children: " << parent.text;
        for (const Chunk& child : children) {
          EXPECT_LE(parent.byte_start, child.byte_start);
          EXPECT_LE(child.byte_end, parent.byte_end);
          EXPECT_LE(child.token_count, child_tokens);
        }
        expect_tokens_covered(named.document, children, parent.byte_start, parent.byte_end);
      };
      for (const Chunk& chunk : chunks) {
        if (!chunk.parent_ordinal) {
          check_family();
          EXPECT_FALSE(chunk.searchable);
          EXPECT_LE(chunk.token_count, parent_tokens);
          parents.push_back(chunk);
          current_parent = chunk.ordinal;
          children.clear();
        } else {
          EXPECT_TRUE(chunk.searchable);
          EXPECT_EQ(*chunk.parent_ordinal, current_parent);
          children.push_back(chunk);
        }
      }
      check_family();
      expect_tokens_covered(named.document, parents);
    }
  }
}

// ---- none ------------------------------------------------------------------------------------

TEST(ChunkerNone, WholeTrimmedText) {
  // One chunk holding the whole text without surrounding white space, whatever its length.
  const auto chunks = run(config("none", 1), make_document("\n  First line.\nSecond line with many tokens.  \n"));
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "First line.\nSecond line with many tokens.");
  EXPECT_EQ(chunks[0].byte_start, 3u);
  EXPECT_EQ(chunks[0].token_count, 9);
}

}  // namespace
}  // namespace ragline::ingest
