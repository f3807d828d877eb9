#include "ingest/format.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "ragline/error.hpp"
#include "support/test_support.hpp"
#include "text/normalize.hpp"

namespace ragline::ingest {
namespace {

using ragline::testing::TempDir;
using ragline::testing::test_data;
using ragline::testing::write_file;

SourceFile source_from_bytes(const std::filesystem::path& path, std::string bytes) {
  SourceFile file;
  file.path = path;
  file.uri = "file://" + path.string();
  file.bytes = std::move(bytes);
  file.mtime = 1700000000;
  return file;
}

SourceFile load_fixture(std::string_view name) {
  const std::filesystem::path path = test_data(std::string("formats/") + std::string(name));
  SourceFile file = source_from_bytes(path, ragline::testing::read_file(path));
  file.sidecar_metadata = read_sidecar_metadata(path);
  return file;
}

ParsedFile parse(const SourceFile& file, const ParseOptions& options = {}) {
  const FormatParser* parser = parser_for(file.path);
  if (parser == nullptr) throw std::runtime_error("no parser for " + file.path.string());
  return parser->parse(file, options);
}

// The message of the Error(format) that parsing throws, or "" when it does not throw.
std::string format_error(const SourceFile& file) {
  try {
    parse(file);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::format) << error.what();
    return error.what();
  }
  return "";
}

const Document& only_document(const ParsedFile& parsed) {
  if (parsed.documents.size() != 1) throw std::runtime_error("expected exactly one document");
  return parsed.documents.front();
}

template <typename T>
T metadata_as(const Metadata& metadata, const std::string& key) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw std::runtime_error("no metadata key " + key);
  return std::get<T>(found->second);
}

// ---- A minimal PDF writer: enough structure for poppler, nothing more. -------------------------

struct PdfSpec {
  std::vector<std::vector<std::string>> pages;  // lines of text per page; an empty page has none
  std::string title;
  bool locked = false;  // adds a Standard security handler whose user password is not empty
};

std::string pdf_string(std::string_view text) {
  std::string out = "(";
  for (const char character : text) {
    if (character == '(' || character == ')' || character == '\\') out += '\\';
    out += character;
  }
  return out + ")";
}

std::string make_pdf(const PdfSpec& spec) {
  std::vector<std::string> objects;  // objects[i] is object number i + 1
  const std::size_t page_count = spec.pages.size();
  std::string kids;
  for (std::size_t page = 0; page < page_count; ++page) kids += std::to_string(4 + 2 * page) + " 0 R ";
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(page_count) + " >>");
  objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  for (std::size_t page = 0; page < page_count; ++page) {
    std::string content;
    if (!spec.pages[page].empty()) {
      content = "BT /F1 12 Tf 72 720 Td 14 TL\n";
      for (const std::string& line : spec.pages[page]) content += pdf_string(line) + " Tj T*\n";
      content += "ET\n";
    }
    objects.push_back(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        "/Contents " +
        std::to_string(5 + 2 * page) + " 0 R >>");
    objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream");
  }
  std::string trailer_extra;
  if (!spec.title.empty()) {
    objects.push_back("<< /Title " + pdf_string(spec.title) + " /Producer (ragline tests) >>");
    trailer_extra += " /Info " + std::to_string(objects.size()) + " 0 R";
  }
  if (spec.locked) {
    const std::string hex32(64, 'A');
    objects.push_back("<< /Filter /Standard /V 1 /R 2 /O <" + hex32 + "> /U <" + std::string(64, '5') + "> /P -44 >>");
    trailer_extra += " /Encrypt " + std::to_string(objects.size()) +
                     " 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]";
  }

  std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets;
  for (std::size_t index = 0; index < objects.size(); ++index) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(index + 1) + " 0 obj\n" + objects[index] + "\nendobj\n";
  }
  const std::size_t xref_offset = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (const std::size_t offset : offsets) {
    char entry[32];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", offset);
    pdf += entry;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R" + trailer_extra +
         " >>\nstartxref\n" + std::to_string(xref_offset) + "\n%%EOF\n";
  return pdf;
}

// ---- Registry ---------------------------------------------------------------------------------

TEST(FormatRegistry, ChoosesParserByExtension) {
  // Extensions map to parsers case-insensitively; unknown types and sidecars get none.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a.txt", "text"},   {"a.TEXT", "text"},   {"a.md", "markdown"}, {"a.Markdown", "markdown"},
      {"a.html", "html"},  {"a.HTM", "html"},    {"a.pdf", "pdf"},     {"a.PDF", "pdf"},
      {"a.jsonl", "json"}, {"a.ndjson", "json"}, {"a.json", "json"}};
  for (const auto& [name, parser_name] : cases) {
    const FormatParser* parser = parser_for(name);
    ASSERT_NE(parser, nullptr) << name;
    EXPECT_EQ(parser->name(), parser_name) << name;
    EXPECT_EQ(parser_by_name(parser_name), parser);
  }
  EXPECT_EQ(parser_for("image.png"), nullptr);
  EXPECT_EQ(parser_for("Makefile"), nullptr);
  EXPECT_EQ(parser_for("report.pdf.metadata.json"), nullptr);
  EXPECT_EQ(parser_by_name("docx"), nullptr);
}

// ---- Plain text -------------------------------------------------------------------------------

TEST(FormatText, ParsesFixtureWithSidecar) {
  // A plain text file: stem title, mime type, raw text, typed sidecar metadata attached.
  const SourceFile file = load_fixture("notes.txt");
  const ParsedFile parsed = parse(file);
  const Document& document = only_document(parsed);
  EXPECT_EQ(document.title, "notes");
  EXPECT_EQ(document.mime_type, "text/plain");
  EXPECT_EQ(document.uri, file.uri);
  EXPECT_EQ(document.source_path, file.path.string());
  EXPECT_EQ(document.size_bytes, static_cast<std::int64_t>(file.bytes.size()));
  EXPECT_EQ(document.mtime, 1700000000);
  EXPECT_NE(document.text.find("The water level rose by 12 cm overnight."), std::string::npos);
  EXPECT_EQ(parsed.invalid_utf8_replaced, 0u);
  EXPECT_EQ(metadata_as<std::string>(document.metadata, "team"), "hydrology");
  EXPECT_EQ(metadata_as<double>(document.metadata, "year"), 2023);
  EXPECT_FALSE(metadata_as<bool>(document.metadata, "reviewed"));
  EXPECT_EQ(metadata_as<std::vector<std::string>>(document.metadata, "sites"),
            (std::vector<std::string>{"north", "south"}));
}

TEST(FormatText, RejectsBinaryContent) {
  // A NUL byte anywhere, or mostly control bytes, makes a file binary; the reason says which.
  std::string with_nul(20000, 'a');
  with_nul[15000] = '\0';
  EXPECT_NE(format_error(source_from_bytes("/x/blob.txt", with_nul)).find("NUL byte at offset 15000"),
            std::string::npos);
  std::string controls;
  for (int index = 0; index < 1000; ++index) controls += index % 4 == 0 ? "\x01\x02" : "ab";
  const std::string message = format_error(source_from_bytes("/x/controls.txt", controls));
  EXPECT_NE(message.find("binary content"), std::string::npos) << message;
  EXPECT_NE(message.find("control characters"), std::string::npos) << message;
  // Tabs, form feeds and CRLF are text.
  EXPECT_EQ(format_error(source_from_bytes("/x/ok.txt", "a\tb\r\n\fc\n")), "");
  // The Markdown parser applies the same check.
  EXPECT_NE(format_error(source_from_bytes("/x/blob.md", with_nul)).find("NUL byte"), std::string::npos);
}

TEST(FormatText, ReplacesAndCountsInvalidUtf8) {
  // Invalid UTF-8 is replaced by U+FFFD, counted, and the rest of the text kept.
  const ParsedFile parsed = parse(source_from_bytes("/x/latin1.txt", "caf\xE9 cr\xE8me \xFF\xFE ok"));
  EXPECT_EQ(only_document(parsed).text, "caf\xEF\xBF\xBD cr\xEF\xBF\xBDme \xEF\xBF\xBD\xEF\xBF\xBD ok");
  EXPECT_EQ(parsed.invalid_utf8_replaced, 4u);
}

TEST(FormatText, DecodesUtf16WithByteOrderMark) {
  // UTF-16 LE and BE files with a BOM are converted, not rejected for their NUL bytes.
  const std::string little_endian("\xFF\xFEh\0i\0 \0\xE9\0", 10);
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/le.txt", little_endian))).text, "hi \xC3\xA9");
  const std::string big_endian("\xFE\xFF\0h\0i\xD8\x3D\xDE\x42", 10);
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/be.txt", big_endian))).text, "hi\xF0\x9F\x99\x82");
}

// ---- Markdown ---------------------------------------------------------------------------------

TEST(FormatMarkdown, ParsesFrontMatterAndKeepsMarkdown) {
  // Front matter becomes typed metadata and leaves the text; headings, fences and tables stay.
  const ParsedFile parsed = parse(load_fixture("guide.md"));
  const Document& document = only_document(parsed);
  EXPECT_EQ(document.mime_type, "text/markdown");
  EXPECT_EQ(document.title, "Installing the pump controller");
  EXPECT_EQ(document.text.rfind("\n# Pump controller guide\n", 0), 0u) << document.text;
  EXPECT_EQ(document.text.find("title:"), std::string::npos);
  EXPECT_NE(document.text.find("# Pump controller guide\n"), std::string::npos);
  EXPECT_NE(document.text.find("```bash\n# not a heading"), std::string::npos);
  EXPECT_NE(document.text.find("| 1   | Ground |"), std::string::npos);
  // The document's own "version" wins over the sidecar's; the sidecar adds "department".
  EXPECT_EQ(metadata_as<double>(document.metadata, "version"), 2.5);
  EXPECT_EQ(metadata_as<std::string>(document.metadata, "department"), "operations");
  EXPECT_FALSE(metadata_as<bool>(document.metadata, "draft"));
  EXPECT_EQ(metadata_as<std::vector<std::string>>(document.metadata, "tags"),
            (std::vector<std::string>{"setup", "hardware, field", "pumps"}));
  EXPECT_EQ(metadata_as<std::vector<std::string>>(document.metadata, "authors"),
            (std::vector<std::string>{"Ana", "Jun"}));
  EXPECT_EQ(document.metadata.count("nested"), 0u);
  EXPECT_EQ(document.metadata.count("ignored"), 0u);
}

TEST(FormatMarkdown, TitleFromFirstHeadingOutsideCodeThenStem) {
  // Without a front-matter title: the first "# " heading not inside a fence, else the file stem.
  const std::string text = "Intro line\n\n```\n# comment in code\n```\n\n## Second level\n\n# Real Title #\n";
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/a.md", text))).title, "Real Title");
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/b.md", "Setext title\n============\n\nbody"))).title,
            "Setext title");
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/release-notes.md", "no headings here"))).title, "release-notes");
  // An unclosed front matter block is ordinary text.
  const ParsedFile parsed = parse(source_from_bytes("/x/c.md", "---\ntitle: x\nbody\n"));
  const Document& unclosed = only_document(parsed);
  EXPECT_EQ(unclosed.title, "c");
  EXPECT_TRUE(unclosed.metadata.empty());
  EXPECT_NE(unclosed.text.find("title: x"), std::string::npos);
}

TEST(FormatMarkdown, FrontMatterWithCrlfQuotesAndComments) {
  // CRLF front matter, quoted values, comments and numbers that are really strings.
  const std::string text =
      "---\r\n# a comment\r\ntitle: 'It''s here'\r\ncount: 12 # trailing comment\r\ndate: 2024-05-01\r\n"
      "code: \"007\"\r\nempty: []\r\n---\r\nBody\r\n";
  const ParsedFile parsed = parse(source_from_bytes("/x/crlf.md", text));
  const Document& document = only_document(parsed);
  EXPECT_EQ(document.title, "It's here");
  EXPECT_EQ(metadata_as<double>(document.metadata, "count"), 12);
  EXPECT_EQ(metadata_as<std::string>(document.metadata, "date"), "2024-05-01");
  EXPECT_EQ(metadata_as<std::string>(document.metadata, "code"), "007");
  EXPECT_TRUE(metadata_as<std::vector<std::string>>(document.metadata, "empty").empty());
  EXPECT_EQ(document.text, "Body\r\n");
}

// ---- HTML -------------------------------------------------------------------------------------

TEST(FormatHtml, RendersVisibleTextAsMarkdownLite) {
  // Scripts, styles, hidden and template content are skipped; structure becomes Markdown-lite.
  const ParsedFile parsed = parse(load_fixture("page.html"));
  const Document& document = only_document(parsed);
  const std::string& text = document.text;
  EXPECT_EQ(document.mime_type, "text/html");
  EXPECT_EQ(document.title, "Tide tables & moon phases");
  for (const char* invisible : {"script text", "also invisible", "color: red", "Enable JavaScript", "Hidden navigation",
                                "Inline hidden", "template text", "Chart title", "chart label"}) {
    EXPECT_EQ(text.find(invisible), std::string::npos) << invisible << " in:\n" << text;
  }
  EXPECT_EQ(text.rfind("# Tides\n\n", 0), 0u) << text;
  EXPECT_NE(text.find("\n\n## High water\n\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Tides follow the moon\xC2\xA0"
                      "and the sun; spring tides are <larger>."),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("- Twice a day\n- About 50 minutes later each day\n  1. Nested first\n  2. Nested second\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("| Port | Range (m) |\n| --- | --- |\n| Brest | 7.0 |\n"), std::string::npos) << text;
  EXPECT_NE(text.find("```\ntide --port brest\n  --days 3\n```"), std::string::npos) << text;
  EXPECT_NE(text.find("First line\nsecond line"), std::string::npos) << text;
  EXPECT_EQ(parsed.invalid_utf8_replaced, 0u);
}

TEST(FormatHtml, TitleFallsBackToHeadingThenStem) {
  // No <title>: the first <h1>'s text; neither: the file stem.
  const std::string with_heading = "<html><body><h1>Main <em>heading</em></h1><p>x</p></body></html>";
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/a.html", with_heading))).title, "Main heading");
  EXPECT_EQ(only_document(parse(source_from_bytes("/x/bare-page.htm", "<p>only text</p>"))).title, "bare-page");
}

TEST(FormatHtml, RepairsInvalidUtf8AndConvertsDeclaredCharset) {
  // Undeclared invalid bytes are replaced and counted; a declared legacy charset is converted.
  const ParsedFile repaired = parse(source_from_bytes("/x/a.html", "<p>caf\xE9</p>"));
  EXPECT_EQ(text::normalise_text(only_document(repaired).text), "caf\xEF\xBF\xBD");
  EXPECT_EQ(repaired.invalid_utf8_replaced, 1u);
  const ParsedFile converted =
      parse(source_from_bytes("/x/b.html", "<meta charset=\"iso-8859-1\"><p>caf\xE9 \x93quoted\x94</p>"));
  EXPECT_EQ(text::normalise_text(only_document(converted).text), "caf\xC3\xA9 \xE2\x80\x9Cquoted\xE2\x80\x9D");
  EXPECT_EQ(converted.invalid_utf8_replaced, 0u);
}

TEST(FormatHtml, TableCellsStayOnOneLine) {
  // Block content and pipes inside a cell do not break the row.
  const std::string html = "<table><tr><td><p>a</p><p>b|c</p></td><td>d<br>e</td></tr></table>";
  EXPECT_EQ(text::normalise_text(only_document(parse(source_from_bytes("/x/t.html", html))).text),
            "| a b\\|c | d e |\n| --- | --- |");
}

TEST(FormatHtml, RefusesAbsurdNestingButNotLongLists) {
  // 20,000 nested <div>s (quadratic for gumbo) are refused; 20,000 unclosed <li>s are ordinary.
  std::string nested;
  for (int level = 0; level < 20000; ++level) nested += "<div>";
  nested += "deep";
  const std::string message = format_error(source_from_bytes("/x/deep.html", nested));
  EXPECT_NE(message.find("nested more than"), std::string::npos) << message;

  std::string list = "<script>var s = '<div><div><div>';</script><ul>";
  for (int item = 0; item < 20000; ++item) list += "<li>item";
  const ParsedFile parsed = parse(source_from_bytes("/x/list.html", list));
  const std::string& text = only_document(parsed).text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 20000 - 1 + 2) << text.substr(0, 200);
  EXPECT_EQ(text.rfind("- item\n- item\n", 0), 0u);
}

TEST(FormatHtml, DoctypeInsideHeadNoscriptParsesAndFreesEverything) {
  // Gumbo 0.10.1 never frees a DOCTYPE token inside <head><noscript>; the per-parse allocator
  // does (the ASan tree's leak check fails this test without it).
  const std::string html =
      "<html><head><title>T</title><noscript><!DOCTYPE html></noscript></head><body><p>Body text</p></body></html>";
  for (int repeat = 0; repeat < 3; ++repeat) {
    const ParsedFile parsed = parse(source_from_bytes("/x/noscript.html", html));
    const Document& document = only_document(parsed);
    EXPECT_EQ(document.title, "T");
    EXPECT_NE(document.text.find("Body text"), std::string::npos) << document.text;
  }
}

// ---- PDF --------------------------------------------------------------------------------------

TEST(FormatPdf, ExtractsPagesWithStartsAndTitle) {
  // Text per page, page_starts at each page, the Info title; page numbers survive normalisation.
  PdfSpec spec;
  spec.pages = {{"First page text", "continues here"}, {"Second (page) text"}, {"Third page"}};
  spec.title = "Survey Report";
  ::testing::internal::CaptureStderr();
  ParsedFile parsed = parse(source_from_bytes("/x/report.pdf", make_pdf(spec)));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  Document& document = parsed.documents.at(0);
  EXPECT_EQ(document.mime_type, "application/pdf");
  EXPECT_EQ(document.title, "Survey Report");
  ASSERT_EQ(document.page_starts.size(), 2u);
  EXPECT_EQ(document.text.substr(document.page_starts[0]).rfind("Second (page) text", 0), 0u) << document.text;
  EXPECT_EQ(document.text.substr(document.page_starts[1]).rfind("Third page", 0), 0u) << document.text;

  text::normalise_document(document);
  EXPECT_EQ(document.text.rfind("First page text\ncontinues here\n\nSecond", 0), 0u) << document.text;
  EXPECT_EQ(page_at(document, document.text.find("continues")), 1);
  EXPECT_EQ(page_at(document, document.text.find("Second")), 2);
  EXPECT_EQ(page_at(document, document.text.find("Third")), 3);
}

TEST(FormatPdf, TitleFallsBackToStemAndEmptyPagesKeepNumbers) {
  // No Info title: the file stem; a page without text still counts as a page.
  PdfSpec spec;
  spec.pages = {{"alpha"}, {}, {"gamma"}};
  ParsedFile parsed = parse(source_from_bytes("/x/scan-2024.pdf", make_pdf(spec)));
  Document& document = parsed.documents.at(0);
  EXPECT_EQ(document.title, "scan-2024");
  text::normalise_document(document);
  EXPECT_EQ(page_at(document, document.text.find("alpha")), 1);
  EXPECT_EQ(page_at(document, document.text.find("gamma")), 3);
}

TEST(FormatPdf, TruncatedPdfIsAnError) {
  // A PDF cut in half is reported as truncated, not half ingested, and poppler stays quiet.
  PdfSpec spec;
  spec.pages = {{"one"}, {"two"}, {"three"}, {"four"}};
  const std::string pdf = make_pdf(spec);
  ::testing::internal::CaptureStderr();
  const std::string message = format_error(source_from_bytes("/x/cut.pdf", pdf.substr(0, pdf.size() / 2)));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_NE(message.find("truncated or damaged PDF"), std::string::npos) << message;
}

TEST(FormatPdf, GarbageLockedAndTextlessPdfsAreErrors) {
  // Not a PDF, damaged body, password-protected and image-only files each fail with a reason.
  ::testing::internal::CaptureStderr();
  EXPECT_NE(format_error(source_from_bytes("/x/a.pdf", "this is not a PDF at all")).find("not a PDF"),
            std::string::npos);
  const std::string damaged = "%PDF-1.4\n" + std::string(4000, '\x7f') + "\n%%EOF\n";
  EXPECT_NE(format_error(source_from_bytes("/x/b.pdf", damaged)).find("damaged PDF"), std::string::npos);

  PdfSpec locked;
  locked.pages = {{"secret"}};
  locked.locked = true;
  const std::string locked_message = format_error(source_from_bytes("/x/c.pdf", make_pdf(locked)));
  EXPECT_NE(locked_message.find("encrypted PDF"), std::string::npos) << locked_message;

  PdfSpec blank;
  blank.pages = {{}, {}};
  const std::string blank_message = format_error(source_from_bytes("/x/d.pdf", make_pdf(blank)));
  EXPECT_NE(blank_message.find("no extractable text"), std::string::npos) << blank_message;
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// ---- JSON -------------------------------------------------------------------------------------

TEST(FormatJson, JsonLinesKeepsGoodRecordsAndReportsBadLines) {
  // Each bad line is an item failure with its line number and reason; every other record is kept.
  const SourceFile file = load_fixture("records.jsonl");
  const ParsedFile parsed = parse(file);
  std::vector<std::string> uris;
  for (const Document& document : parsed.documents) uris.push_back(document.uri);
  const std::string base = file.uri + "#";
  EXPECT_EQ(uris, (std::vector<std::string>{base + "doc-1", base + "42", base + "primary%20id%20wins", base + "line=6",
                                            base + "doc-11"}));
  const std::string path = file.path.string();
  ASSERT_EQ(parsed.item_failures.size(), 5u);
  EXPECT_EQ(parsed.item_failures[0].location, path + ":5");
  EXPECT_NE(parsed.item_failures[0].reason.find("malformed JSON"), std::string::npos);
  EXPECT_EQ(parsed.item_failures[1].location, path + ":7");
  EXPECT_EQ(parsed.item_failures[1].reason, "field \"title\" is not a string");
  EXPECT_EQ(parsed.item_failures[2].location, path + ":8");
  EXPECT_EQ(parsed.item_failures[2].reason, "field \"text\" is not a string");
  EXPECT_EQ(parsed.item_failures[3].location, path + ":9");
  EXPECT_NE(parsed.item_failures[3].reason.find("duplicate id"), std::string::npos);
  EXPECT_NE(parsed.item_failures[3].reason.find(path + ":1"), std::string::npos);
  EXPECT_EQ(parsed.item_failures[4].location, path + ":10");
  EXPECT_NE(parsed.item_failures[4].reason.find("metadata.nested"), std::string::npos);

  const Document& first = parsed.documents[0];
  EXPECT_EQ(first.title, "Anchors");
  EXPECT_EQ(first.text, "An anchor holds a ship in place.");
  EXPECT_EQ(first.mime_type, "application/json");
  EXPECT_EQ(first.source_path, path);
  EXPECT_EQ(metadata_as<std::string>(first.metadata, "topic"), "ships");
  EXPECT_EQ(metadata_as<double>(first.metadata, "pages"), 3);
  EXPECT_TRUE(metadata_as<bool>(first.metadata, "public"));
  EXPECT_EQ(metadata_as<std::vector<std::string>>(first.metadata, "tags"), (std::vector<std::string>{"a", "b"}));
}

TEST(FormatJson, FieldNamesAreConfigurableAndInvalidUtf8LineFails) {
  // Custom field names are honoured; a line with invalid UTF-8 fails alone.
  ParseOptions options;
  options.id_field = "key";
  options.title_field = "heading";
  options.text_field = "body";
  options.metadata_field = "attrs";
  const std::string lines =
      "{\"key\": \"a/b#c\", \"heading\": \"H\", \"body\": \"B\", \"attrs\": {\"n\": 1}}\r\n"
      "{\"key\": \"bad\", \"body\": \"caf\xE9\"}\n"
      "{\"_id\": \"beir\", \"body\": \"fallback to _id\"}";
  const ParsedFile parsed = parse(source_from_bytes("/x/custom.ndjson", lines), options);
  ASSERT_EQ(parsed.documents.size(), 2u);
  EXPECT_EQ(parsed.documents[0].uri, "file:///x/custom.ndjson#a%2Fb%23c");
  EXPECT_EQ(parsed.documents[0].title, "H");
  EXPECT_EQ(parsed.documents[0].text, "B");
  EXPECT_EQ(metadata_as<double>(parsed.documents[0].metadata, "n"), 1);
  EXPECT_EQ(parsed.documents[1].uri, "file:///x/custom.ndjson#beir");
  ASSERT_EQ(parsed.item_failures.size(), 1u);
  EXPECT_EQ(parsed.item_failures[0].location, "/x/custom.ndjson:2");
  EXPECT_NE(parsed.item_failures[0].reason.find("invalid UTF-8"), std::string::npos);
}

TEST(FormatJson, JsonArrayAndSingleObject) {
  // A .json array gives one document per element (index as fallback id); an object gives one.
  const SourceFile file = load_fixture("records.json");
  const ParsedFile parsed = parse(file);
  ASSERT_EQ(parsed.documents.size(), 3u);
  EXPECT_EQ(parsed.documents[0].uri, file.uri + "#alpha");
  EXPECT_EQ(parsed.documents[1].uri, file.uri + "#beta");
  EXPECT_EQ(metadata_as<double>(parsed.documents[1].metadata, "rank"), 2);
  EXPECT_EQ(parsed.documents[2].uri, file.uri + "#index=3");
  ASSERT_EQ(parsed.item_failures.size(), 1u);
  EXPECT_EQ(parsed.item_failures[0].location, file.path.string() + ":[2]");
  EXPECT_EQ(parsed.item_failures[0].reason, "missing field \"text\"");

  const ParsedFile single = parse(source_from_bytes("/x/one.json", R"({"id": 7, "title": "T", "text": "body"})"));
  EXPECT_EQ(only_document(single).uri, "file:///x/one.json#7");
  EXPECT_EQ(only_document(single).title, "T");
}

TEST(FormatJson, GeneratedIdsNeverCollideWithExplicitOnes) {
  // A record without an id is named line=N (JSON Lines) or index=N (array), which no explicit id
  // can spell ('=' is percent-encoded in ids): explicit "_id": "1" and "2" stand beside them.
  const ParsedFile lines = parse(
      source_from_bytes("/x/mixed.jsonl",
                        "{\"text\": \"no id\"}\n{\"_id\": \"1\", \"text\": \"one\"}\n{\"id\": 2, \"text\": \"two\"}\n"
                        "{\"text\": \"no id again\"}\n{\"id\": \"line=1\", \"text\": \"looks generated\"}\n"));
  EXPECT_TRUE(lines.item_failures.empty()) << lines.item_failures.at(0).reason;
  ASSERT_EQ(lines.documents.size(), 5u);
  EXPECT_EQ(lines.documents[0].uri, "file:///x/mixed.jsonl#line=1");
  EXPECT_EQ(lines.documents[1].uri, "file:///x/mixed.jsonl#1");
  EXPECT_EQ(lines.documents[2].uri, "file:///x/mixed.jsonl#2");
  EXPECT_EQ(lines.documents[3].uri, "file:///x/mixed.jsonl#line=4");
  EXPECT_EQ(lines.documents[4].uri, "file:///x/mixed.jsonl#line%3D1");

  const ParsedFile array =
      parse(source_from_bytes("/x/mixed.json", R"([{"text": "no id"}, {"_id": "0", "text": "zero"}])"));
  EXPECT_TRUE(array.item_failures.empty()) << array.item_failures.at(0).reason;
  ASSERT_EQ(array.documents.size(), 2u);
  EXPECT_EQ(array.documents[0].uri, "file:///x/mixed.json#index=0");
  EXPECT_EQ(array.documents[1].uri, "file:///x/mixed.json#0");
}

TEST(FormatJson, UnparsableJsonFileThrows) {
  // A .json file that does not parse, or holds no records, is a whole-file error.
  EXPECT_NE(format_error(source_from_bytes("/x/a.json", "[{\"text\": \"x\"},")).find("malformed JSON"),
            std::string::npos);
  EXPECT_NE(format_error(source_from_bytes("/x/b.json", "\"just a string\"")).find("neither an array"),
            std::string::npos);
  EXPECT_NE(format_error(source_from_bytes("/x/c.json", R"({"title": "no text"})")).find("missing field \"text\""),
            std::string::npos);
  // JSON Lines saved with a .json name is still read line by line.
  const ParsedFile lines = parse(source_from_bytes("/x/d.json", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n"));
  EXPECT_EQ(lines.documents.size(), 2u);
}

// ---- Sidecar metadata -------------------------------------------------------------------------

TEST(FormatSidecar, ReadsPlainAndTypedForms) {
  // Both Bedrock forms give typed values; a file without a sidecar gives none.
  TempDir directory;
  write_file(directory / "a.txt", "text");
  write_file(directory / "a.txt.metadata.json",
             R"({"metadataAttributes": {"genre": "report", "year": 2021, "final": true, "tags": ["x", "y"],
                 "owner": {"value": {"type": "STRING", "stringValue": "ops"}, "includeForEmbedding": false},
                 "labels": {"value": {"type": "STRING_LIST", "stringListValue": []}}}})");
  const Metadata metadata = read_sidecar_metadata(directory / "a.txt");
  EXPECT_EQ(metadata_as<std::string>(metadata, "genre"), "report");
  EXPECT_EQ(metadata_as<double>(metadata, "year"), 2021);
  EXPECT_TRUE(metadata_as<bool>(metadata, "final"));
  EXPECT_EQ(metadata_as<std::vector<std::string>>(metadata, "tags"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(metadata_as<std::string>(metadata, "owner"), "ops");
  EXPECT_TRUE(metadata_as<std::vector<std::string>>(metadata, "labels").empty());
  EXPECT_TRUE(read_sidecar_metadata(directory / "no-sidecar.txt").empty());
  EXPECT_TRUE(is_sidecar_metadata_file(directory / "a.txt.metadata.json"));
  EXPECT_FALSE(is_sidecar_metadata_file(directory / "a.txt"));
  EXPECT_FALSE(is_sidecar_metadata_file(directory / ".metadata.json"));
}

TEST(FormatSidecar, MalformedSidecarNamesFileAndField) {
  // Every malformed shape is an Error(format) naming the metadata file and the offending field.
  TempDir directory;
  const auto error_for = [&](const std::string& json) -> std::string {
    write_file(directory / "doc.md.metadata.json", json);
    try {
      read_sidecar_metadata(directory / "doc.md");
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::format);
      return error.what();
    }
    return "";
  };
  const std::string sidecar = (directory / "doc.md.metadata.json").string();
  std::string message =
      error_for(R"({"metadataAttributes": {"year": {"value": {"type": "NUMBER", "numberValue": "x"}}}})");
  EXPECT_NE(message.find(sidecar), std::string::npos) << message;
  EXPECT_NE(message.find("\"metadataAttributes.year.value.numberValue\" is not a number"), std::string::npos)
      << message;
  message = error_for(R"({"metadataAttributes": {"kind": {"value": {"type": "DATE", "stringValue": "x"}}}})");
  EXPECT_NE(message.find("metadataAttributes.kind.value.type"), std::string::npos) << message;
  message = error_for(R"({"metadataAttributes": {"tags": ["a", 1]}})");
  EXPECT_NE(message.find("\"metadataAttributes.tags\""), std::string::npos) << message;
  message = error_for(R"({"metadataAttributes": {"nested": {"a": 1}}})");
  EXPECT_NE(message.find("\"metadataAttributes.nested\""), std::string::npos) << message;
  message = error_for(R"({"metadataAttributes": {"gone": null}})");
  EXPECT_NE(message.find("\"metadataAttributes.gone\""), std::string::npos) << message;
  message = error_for(R"({"attributes": {}})");
  EXPECT_NE(message.find("missing field \"metadataAttributes\""), std::string::npos) << message;
  message = error_for("{not json");
  EXPECT_NE(message.find("malformed JSON"), std::string::npos) << message;
}

}  // namespace
}  // namespace ragline::ingest
