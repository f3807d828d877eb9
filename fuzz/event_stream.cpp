// Fuzzes the AWS event-stream decoder (Bedrock ConverseStream): lengths, CRCs and headers come
// from the peer. Bad framing must be Error(format), and splitting the bytes differently must not
// change the messages decoded before it.

#include "net/event_stream.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"

namespace {

std::vector<ragline::net::EventStreamMessage> decode(std::string_view bytes, std::size_t piece, bool& failed) {
  std::vector<ragline::net::EventStreamMessage> messages;
  ragline::net::EventStreamDecoder decoder(1 << 16);
  failed = false;
  try {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      decoder.feed(bytes.substr(at, piece),
                   [&](const ragline::net::EventStreamMessage& message) { messages.push_back(message); });
    }
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);
    failed = true;
  }
  return messages;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 29;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  bool whole_failed = false, pieces_failed = false;
  const auto whole = decode(bytes, bytes.size() + 1, whole_failed);
  const auto pieces = decode(bytes, piece, pieces_failed);
  if (whole_failed == pieces_failed && whole.size() != pieces.size()) {
    std::fprintf(stderr, "finding: %zu messages whole, %zu in pieces of %zu\n", whole.size(), pieces.size(), piece);
    std::abort();
  }
  for (const auto& message : whole) (void)message.header(":event-type");
  return 0;
}
