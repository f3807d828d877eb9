// Fuzzes the JSON Lines reader: any bytes as a .jsonl file, then each document it yields is
// normalised and chunked as ingest does. Bad lines are item failures; nothing may crash.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "ingest/chunker.hpp"
#include "ingest/format.hpp"
#include "text/normalize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ragline::ingest;
  static const auto chunker = make_chunker(ragline::ChunkerConfig{});
  SourceFile file;
  file.path = "/fuzz/records.jsonl";
  file.uri = "file:///fuzz/records.jsonl";
  file.bytes.assign(reinterpret_cast<const char*>(data), size);
  ParsedFile parsed;
  try {
    parser_by_name("json")->parse_each(
        file, ParseOptions{},
        [&](ragline::Document&& document) {
          ragline::text::normalise_document(document);
          (void)chunker->chunk(document);
        },
        parsed);
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
