// Fuzzes the server-sent-events parser and the OpenAI chat-stream reader on top of it, as a
// streamed chat answer meets them: the body arrives in pieces whose sizes the first bytes choose.
// Whatever the bytes, the parser must give the same events however the body is split, and every
// event must end as answer text or an Error(format/network), never a crash or another exception.

#include "net/sse.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "generate/chat_models.hpp"

namespace {

std::vector<ragline::net::SseEvent> parse(std::string_view body, std::size_t piece) {
  std::vector<ragline::net::SseEvent> events;
  ragline::net::SseParser parser(4096);
  const auto keep = [&](const ragline::net::SseEvent& event) { events.push_back(event); };
  try {
    for (std::size_t at = 0; at < body.size(); at += piece) parser.feed(body.substr(at, piece), keep);
    parser.finish(keep);
  } catch (const ragline::Error& error) {
    ragline::fuzz::expect_input_error(error);  // a line over the limit
    events.clear();
    events.push_back({"<error>", error.what(), ""});
  }
  return events;
}

bool same(const std::vector<ragline::net::SseEvent>& a, const std::vector<ragline::net::SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 17;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto whole = parse(body, body.size() + 1);
  const auto pieces = parse(body, piece);
  // An over-long line throws at a point that depends on the split; only clean parses must agree.
  const bool whole_failed = !whole.empty() && whole.back().event == "<error>";
  const bool pieces_failed = !pieces.empty() && pieces.back().event == "<error>";
  if (!whole_failed && !pieces_failed && !same(whole, pieces)) {
    std::fprintf(stderr, "finding: %zu events whole, %zu in pieces of %zu\n", whole.size(), pieces.size(), piece);
    std::abort();
  }
  ragline::generate::OpenAiStreamState state;
  for (const auto& event : whole) {
    try {
      (void)ragline::generate::read_openai_stream_event(event, "http://fuzz/v1/chat/completions", state);
    } catch (const ragline::Error& error) {
      ragline::fuzz::expect_input_error(error);
    }
  }
  return 0;
}
