#include "text/normalize.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/document.hpp"

namespace ragline::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

std::string replacements(int count) {
  std::string out;
  for (int index = 0; index < count; ++index) out += kReplacement;
  return out;
}

TEST(NormalizeRepairUtf8, ValidTextIsUnchanged) {
  // Well-formed ASCII and multi-byte text passes through with nothing counted.
  const std::string text = "plain ASCII, caf\xC3\xA9, \xE6\x97\xA5\xE6\x9C\xAC, \xF0\x9F\x99\x82 and more ASCII";
  const Utf8Repair repaired = repair_utf8(text);
  EXPECT_EQ(repaired.text, text);
  EXPECT_EQ(repaired.replaced, 0u);
}

TEST(NormalizeRepairUtf8, ReplacesEachMaximalSubpartAndCounts) {
  // Invalid bytes become U+FFFD per maximal subpart (Unicode §3.9), each one counted.
  EXPECT_EQ(repair_utf8("a\xFF"
                        "b")
                .text,
            "a" + replacements(1) + "b");
  EXPECT_EQ(repair_utf8("a\xFF"
                        "b")
                .replaced,
            1u);
  // A truncated 4-byte sequence is one subpart.
  EXPECT_EQ(repair_utf8("x\xF0\x9F\x98"
                        "y")
                .text,
            "x" + replacements(1) + "y");
  // Overlong C0 AF: neither byte can start a valid sequence.
  EXPECT_EQ(repair_utf8("\xC0\xAF").replaced, 2u);
  // An encoded surrogate (ED A0 80): ED's second byte must be 80..9F, so three subparts.
  EXPECT_EQ(repair_utf8("\xED\xA0\x80").text, replacements(3));
  // A sequence cut off at the end of the input.
  const Utf8Repair cut = repair_utf8("euro \xE2\x82");
  EXPECT_EQ(cut.text, "euro " + replacements(1));
  EXPECT_EQ(cut.replaced, 1u);
  // Lone continuation bytes in a long ASCII run, past the 8-byte fast scan.
  const Utf8Repair lone = repair_utf8("0123456789abcdef\x80\x80 tail");
  EXPECT_EQ(lone.text, "0123456789abcdef" + replacements(2) + " tail");
  EXPECT_EQ(lone.replaced, 2u);
}

TEST(NormalizeText, AppliesNfkc) {
  // NFKC folds compatibility characters: ligatures, full-width forms, superscripts.
  EXPECT_EQ(normalise_text("\xEF\xAC\x81nal"), "final");                     // U+FB01 ﬁ
  EXPECT_EQ(normalise_text("\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93"), "123");  // full-width 123
  EXPECT_EQ(normalise_text("\xEF\xBC\xA8\xEF\xBD\x89"), "Hi");               // full-width Hi
  EXPECT_EQ(normalise_text("x\xC2\xB2"), "x2");                              // superscript two
  // Composed and decomposed é end up identical.
  EXPECT_EQ(normalise_text("cafe\xCC\x81"), "caf\xC3\xA9");
}

TEST(NormalizeText, LineEndingsBecomeNewlines) {
  // CRLF and lone CR both become \n, in the ASCII and the Unicode path.
  EXPECT_EQ(normalise_text("one\r\ntwo\rthree\n"), "one\ntwo\nthree");
  EXPECT_EQ(normalise_text("\xC3\xA9\r\n\xC3\xA9\r\xC3\xA9"), "\xC3\xA9\n\xC3\xA9\n\xC3\xA9");
  // CR CR LF is two line breaks: one blank line.
  EXPECT_EQ(normalise_text("a\r\r\nb"), "a\n\nb");
}

TEST(NormalizeText, RemovesControlCharactersButKeepsTabs) {
  // C0/C1 controls and DEL vanish; tab and newline stay; form feed ends a line.
  EXPECT_EQ(normalise_text("a\x01"
                           "b\x7F"
                           "c\td\x1B[0m"),
            "abc\td[0m");
  EXPECT_EQ(normalise_text("x\xC2\x80y\xC2\x9F"
                           "z \xC3\xA9"),
            "xyz \xC3\xA9");
  EXPECT_EQ(normalise_text("page one\fpage two"), "page one\npage two");
  EXPECT_EQ(normalise_text("\xEF\xBB\xBFstarts with a BOM"), "starts with a BOM");
}

TEST(NormalizeText, UnicodeWhiteSpaceBecomesSpace) {
  // NBSP, ideographic and en spaces become plain spaces; U+2028/2029 end lines.
  EXPECT_EQ(normalise_text("a\xC2\xA0"
                           "b"),
            "a b");
  EXPECT_EQ(normalise_text("a\xE3\x80\x80"
                           "b\xE2\x80\x82"
                           "c"),
            "a b c");
  EXPECT_EQ(normalise_text("a\xE2\x80\xA8"
                           "b\xE2\x80\xA9"
                           "c"),
            "a\nb\nc");
  EXPECT_EQ(normalise_text("a\xE1\x9A\x80"
                           "b"),
            "a b");  // U+1680 ogham space mark, not folded by NFKC
}

TEST(NormalizeText, CleansLinesAndBlankRuns) {
  // Trailing spaces go, blank runs collapse to one, edges trimmed, inner runs and indentation kept.
  const std::string input = "\n\n   \nint main() {   \n    return  0;\t\n}\n\n\n\n   \nnext    paragraph  \n\n\n";
  const std::string expected = "int main() {\n    return  0;\n}\n\nnext    paragraph";
  EXPECT_EQ(normalise_text(input), expected);
  // The Unicode path follows the same rules as the ASCII one.
  EXPECT_EQ(normalise_text(input + "\xC3\xA9"), expected + "\n\n\xC3\xA9");
  EXPECT_EQ(normalise_text(" \n \n"), "");
  EXPECT_EQ(normalise_text(""), "");
}

TEST(NormalizeText, RepairsInvalidInputInsteadOfMisbehaving) {
  // Input that breaks the valid-UTF-8 precondition still gives valid output.
  const std::string out = normalise_text("caf\xC3\xA9 \xFF end");
  EXPECT_EQ(out, "caf\xC3\xA9 " + replacements(1) + " end");
  EXPECT_EQ(repair_utf8(out).replaced, 0u);
}

TEST(NormalizeDocument, KeepsPageStartsValid) {
  // Pages are normalised separately and joined by a blank line; page_starts point at each page.
  Document document;
  document.mime_type = "application/pdf";
  document.title = "  Annual\r\nreport  ";
  const std::string page1 = "\n\nPage one\r\n\r\n\r\ntext  \n\n";
  const std::string page2 = " \n\f\n";  // blank page
  const std::string page3 = "\xEF\xAC\x81nal page\n";
  document.text = page1 + page2 + page3;
  document.page_starts = {page1.size(), page1.size() + page2.size()};

  normalise_document(document);

  EXPECT_EQ(document.title, "Annual report");
  EXPECT_EQ(document.text, "Page one\n\ntext\n\nfinal page");
  ASSERT_EQ(document.page_starts.size(), 2u);
  EXPECT_EQ(document.text.substr(document.page_starts[1]), "final page");
  EXPECT_LE(document.page_starts[0], document.page_starts[1]);
  EXPECT_EQ(page_at(document, 0), 1);
  EXPECT_EQ(page_at(document, document.text.find("text")), 1);
  EXPECT_EQ(page_at(document, document.text.find("final")), 3);
}

TEST(NormalizeDocument, WithoutPagesNormalisesWholeText) {
  // A document without pages is normalised as one text and gets no page starts.
  Document document;
  document.text = "\xEF\xBC\xA1 \r\n\r\n\r\nB  ";
  normalise_document(document);
  EXPECT_EQ(document.text, "A\n\nB");
  EXPECT_TRUE(document.page_starts.empty());
}

}  // namespace
}  // namespace ragline::text
