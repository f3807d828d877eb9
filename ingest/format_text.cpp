#include "ingest/format.hpp"
#include "ingest/format_common.hpp"

namespace ragline::ingest {
namespace {

class TextParser final : public FormatParser {
 public:
  std::string_view name() const override { return "text"; }

  ParsedFile parse(const SourceFile& file, const ParseOptions& /*options*/) const override {
    formats::DecodedText decoded = formats::decode_text_file(file.bytes);
    Document document = formats::document_for_file(file, "text/plain");
    document.title = formats::file_stem_title(file);
    document.text = std::move(decoded.text);
    document.metadata = file.sidecar_metadata;
    return formats::single_document(std::move(document), decoded.replaced);
  }
};

}  // namespace

const FormatParser& formats::text_parser() {
  static const TextParser parser;
  return parser;
}

}  // namespace ragline::ingest
