// Fuzzes the reader of rerank services' responses (Cohere, Jina, text-embeddings-inference,
// llama.cpp server, Bedrock): the first byte sets how many documents the batch had. Anything but
// the expected shape must be Error(format), never a crash or a stray JSON exception.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "rerank/reranker_service.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t documents = data[0] % 9;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    (void)ragline::rerank::read_batch_scores(body, "http://fuzz/v2/rerank", documents);
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
