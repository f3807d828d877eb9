#include "net/event_stream.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ragline/error.hpp"

namespace ragline::net {
namespace {

std::string bytes_of(std::initializer_list<int> values) {
  std::string bytes;
  for (const int value : values) bytes.push_back(static_cast<char>(value));
  return bytes;
}

// CRC-32 check value and the published encodings of two small messages (AWS event-stream examples).
TEST(EventStream, KnownEncodings) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  const std::string payload = "{\"foo\": \"bar\"}";
  EXPECT_EQ(encode_event_stream_message({}, payload),
            bytes_of({0, 0, 0, 30, 0, 0, 0, 0, 186, 242, 246, 138}) + payload + bytes_of({174, 114, 88, 228}));
  const std::string with_header = encode_event_stream_message({{"content-type", "application/json"}}, payload);
  ASSERT_EQ(with_header.size(), 62u);
  EXPECT_EQ(with_header.substr(0, 12), bytes_of({0, 0, 0, 62, 0, 0, 0, 32, 64, 93, 249, 70}));
  EXPECT_EQ(with_header.substr(58), bytes_of({111, 162, 191, 59}));
}

// Messages come out whole and in order wherever the bytes are split.
TEST(EventStream, SplitAtEveryBytePosition) {
  const std::string stream =
      encode_event_stream_message({{":event-type", "contentBlockDelta"}, {":message-type", "event"}},
                                  "{\"delta\":{\"text\":\"Hi\"}}") +
      encode_event_stream_message({{":event-type", "messageStop"}}, "{\"stopReason\":\"end_turn\"}");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    EventStreamDecoder decoder;
    std::vector<EventStreamMessage> messages;
    const auto collect = [&](const EventStreamMessage& message) { messages.push_back(message); };
    decoder.feed(stream.substr(0, cut), collect);
    decoder.feed(stream.substr(cut), collect);
    ASSERT_EQ(messages.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(messages[0].header(":event-type"), "contentBlockDelta");
    EXPECT_EQ(messages[0].header(":message-type"), "event");
    EXPECT_EQ(messages[0].payload, "{\"delta\":{\"text\":\"Hi\"}}");
    EXPECT_EQ(messages[1].header(":event-type"), "messageStop");
    EXPECT_TRUE(decoder.finished_cleanly());
  }
}

// Non-string header types decode to text.
TEST(EventStream, HeaderTypes) {
  std::string headers;
  const auto name = [&](std::string_view text) {
    headers.push_back(static_cast<char>(text.size()));
    headers += text;
  };
  name("t");
  headers.push_back(0);
  name("s");
  headers += bytes_of({3, 0xFF, 0xFE});  // short -2
  name("i");
  headers += bytes_of({4, 0, 0, 1, 0});  // int 256
  name("b");
  headers += bytes_of({6, 0, 2}) + "xy";
  std::string message = bytes_of({0, 0, 0, 0, 0, 0, 0, static_cast<int>(headers.size())});
  const std::size_t total = 16 + headers.size();
  message[3] = static_cast<char>(total);
  std::string prelude_crc;
  for (int shift = 24; shift >= 0; shift -= 8)
    prelude_crc.push_back(static_cast<char>((crc32(message) >> shift) & 0xFF));
  message += prelude_crc + headers;
  const std::uint32_t crc = crc32(message);
  for (int shift = 24; shift >= 0; shift -= 8) message.push_back(static_cast<char>((crc >> shift) & 0xFF));

  EventStreamDecoder decoder;
  std::vector<EventStreamMessage> messages;
  decoder.feed(message, [&](const EventStreamMessage& m) { messages.push_back(m); });
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].header("t"), "true");
  EXPECT_EQ(messages[0].header("s"), "-2");
  EXPECT_EQ(messages[0].header("i"), "256");
  EXPECT_EQ(messages[0].header("b"), "xy");
  EXPECT_TRUE(messages[0].payload.empty());
}

// Corrupted CRCs, impossible lengths and a partial message at the end are detected.
TEST(EventStream, CorruptionIsDetected) {
  const std::string good = encode_event_stream_message({{":event-type", "x"}}, "payload");
  const auto error_of = [](const std::string& bytes) -> std::string {
    try {
      EventStreamDecoder decoder;
      decoder.feed(bytes, [](const EventStreamMessage&) {});
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::format);
      return error.what();
    }
    return "no error";
  };
  std::string bad_payload = good;
  bad_payload[good.size() - 6] ^= 1;
  EXPECT_NE(error_of(bad_payload).find("message CRC mismatch"), std::string::npos);
  std::string bad_prelude = good;
  bad_prelude[3] ^= 1;
  EXPECT_NE(error_of(bad_prelude).find("prelude CRC mismatch"), std::string::npos);
  EXPECT_NE(error_of(encode_event_stream_message({}, "").substr(0, 12).replace(3, 1, 1, '\x05')).find("CRC"),
            std::string::npos);
  EventStreamDecoder partial;
  partial.feed(good.substr(0, good.size() - 1), [](const EventStreamMessage&) { FAIL(); });
  EXPECT_FALSE(partial.finished_cleanly());
}

}  // namespace
}  // namespace ragline::net
