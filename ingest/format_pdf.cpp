#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/check.hpp"
#include "ingest/format.hpp"
#include "ingest/format_common.hpp"
#include "text/normalize.hpp"

namespace ragline::ingest {
namespace {

constexpr std::size_t kEofSearchBytes = 1024;

// The library never writes to stderr (STYLE.md §8); poppler's complaints about damaged files
// would otherwise go there. What they say reaches the user through the error we throw.
void quiet_poppler_errors(const std::string& /*message*/, void* /*closure*/) {}

void install_quiet_poppler_errors() {
  static std::once_flag installed;
  std::call_once(installed, [] { poppler::set_debug_error_function(quiet_poppler_errors, nullptr); });
}

std::string to_utf8(const poppler::ustring& text) {
  const poppler::byte_array bytes = text.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

bool has_visible_text(std::string_view text) { return text.find_first_not_of(" \t\r\n\f\v") != std::string_view::npos; }

class PdfParser final : public FormatParser {
 public:
  std::string_view name() const override { return "pdf"; }

  ParsedFile parse(const SourceFile& file, const ParseOptions& /*options*/) const override {
    install_quiet_poppler_errors();
    const std::string_view bytes = file.bytes;
    RAGLINE_CHECK(bytes.substr(0, kEofSearchBytes).find("%PDF-") != std::string_view::npos, format,
                  "not a PDF (no %PDF- header)");
    // Poppler reconstructs a missing cross-reference table and would return the pages that
    // survived a cut; a file that was cut short must be reported, not half ingested.
    const std::string_view tail = bytes.substr(bytes.size() > kEofSearchBytes ? bytes.size() - kEofSearchBytes : 0);
    RAGLINE_CHECK(tail.find("%%EOF") != std::string_view::npos, format,
                  "truncated or damaged PDF (no %%EOF marker in the last " << kEofSearchBytes << " bytes)");
    RAGLINE_CHECK(bytes.size() <= static_cast<std::size_t>(INT_MAX), format, "PDF larger than 2 GiB");

    // load_from_raw_data reads `bytes` in place; they outlive the document.
    const std::unique_ptr<poppler::document> pdf(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    RAGLINE_CHECK(pdf != nullptr, format, "truncated or damaged PDF (poppler could not load it)");
    RAGLINE_CHECK(!pdf->is_locked(), format, "encrypted PDF (a password is required to read it)");

    Document document = formats::document_for_file(file, "application/pdf");
    ParsedFile parsed;
    bool any_text = false;
    const int page_count = pdf->pages();
    for (int page_index = 0; page_index < page_count; ++page_index) {
      if (page_index > 0) {
        // Separate pages so words at a page break don't run together; the normaliser turns the
        // separator into the blank line between pages.
        document.text += "\n\n";
        document.page_starts.push_back(document.text.size());
      }
      const std::unique_ptr<poppler::page> page(pdf->create_page(page_index));
      if (page == nullptr) continue;
      // Reading order (what pdftotext prints by default), not the physical layout, which pads
      // columns with runs of spaces.
      std::string page_text = to_utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout));
      text::Utf8Repair repaired = text::repair_utf8(page_text);
      parsed.invalid_utf8_replaced += repaired.replaced;
      any_text = any_text || has_visible_text(repaired.text);
      document.text += repaired.text;
    }
    RAGLINE_CHECK(page_count > 0, format, "PDF has no pages");
    RAGLINE_CHECK(any_text, format, "no extractable text (scanned images?) in " << page_count << " page(s)");

    document.title = to_utf8(pdf->info_key("Title"));
    if (!has_visible_text(document.title)) document.title = formats::file_stem_title(file);
    document.metadata = file.sidecar_metadata;
    parsed.documents.push_back(std::move(document));
    return parsed;
  }
};

}  // namespace

const FormatParser& formats::pdf_parser() {
  static const PdfParser parser;
  return parser;
}

}  // namespace ragline::ingest
