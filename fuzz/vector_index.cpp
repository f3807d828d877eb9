// Fuzzes the vector index file reader: any bytes as vectors.faiss. load() must answer with
// Error(corrupt) or an index that can be searched, never crash or allocate without bound.

#include "index/vector_index.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <vector>

#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto path = ragline::fuzz::scratch_directory() / "vectors.faiss";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    (void)ragline::index::VectorIndex::read_header(path);
    auto loaded = ragline::index::VectorIndex::load(path);
    if (loaded) {
      const std::vector<float> query(loaded->second.dimension, 0.5f);
      (void)loaded->first.search(query, 3);
    }
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
  }
  return 0;
}
