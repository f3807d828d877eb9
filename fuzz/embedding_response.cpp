// Fuzzes the parsers of the embedding services' HTTP bodies (OpenAI /v1/embeddings, Bedrock Titan
// and Cohere). The first byte picks the parser and how many inputs the request had; the rest is
// the body. Anything but the expected shape must be Error(format), never a crash or another
// exception type (a stray nlohmann::json exception would escape the embedder's error handling).

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "models/embedder_http.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t expected = 1 + (selector >> 2) % 4;
  try {
    switch (selector & 3) {
      case 0:
      case 3:
        (void)ragline::models::parse_openai_embeddings(body, expected, "http://fuzz/v1/embeddings");
        break;
      case 1:
        (void)ragline::models::parse_bedrock_embeddings(body, 1, /*titan=*/true, "http://fuzz/invoke");
        break;
      case 2:
        (void)ragline::models::parse_bedrock_embeddings(body, expected, /*titan=*/false, "http://fuzz/invoke");
        break;
    }
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
