// Fuzzes the Markdown parser and the chunkers behind it: any bytes as a .md file
// (fuzz/document_format.hpp).

#include <cstddef>
#include <cstdint>

#include "fuzz/document_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ragline::fuzz::fuzz_document_format(data, size, "markdown", ".md");
  return 0;
}
