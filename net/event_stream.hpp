#pragma once
// An incremental decoder of the AWS event-stream binary framing
// (application/vnd.amazon.eventstream), used by Bedrock ConverseStream. Each message is:
//
//   total length (u32 BE, the whole message) | headers length (u32 BE) | prelude CRC32 (of the
//   8 bytes before) | headers | payload | message CRC32 (of every byte before it)
//
// CRC32 is the gzip/IEEE one (reflected polynomial 0xEDB88320). A header is: name length (u8),
// name, value type (u8), value: 0 true, 1 false (no bytes), 2 byte, 3 short, 4 int, 5 long
// (big-endian), 6 bytes and 7 string (u16 BE length, then the bytes), 8 timestamp (i64 ms),
// 9 UUID (16 bytes). Bytes are fed as they arrive, split anywhere; a bad CRC, a length that does
// not add up or a malformed header throws Error(format). Pure (no I/O), for fuzz targets too.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ragline::net {

struct EventStreamMessage {
  // Values as text: strings and byte arrays as they are, integers in decimal, booleans as
  // "true"/"false", timestamps as milliseconds, UUIDs as 32 hex digits.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;

  // The first value of header `name` (e.g. ":event-type"), or empty.
  std::string header(std::string_view name) const;
};

// CRC-32 (gzip) of `bytes`, continuing from `crc` (0 to start).
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0);

// One encoded message (all headers as strings): for tests and test servers.
std::string encode_event_stream_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                        std::string_view payload);

class EventStreamDecoder {
 public:
  using MessageHandler = std::function<void(const EventStreamMessage&)>;

  explicit EventStreamDecoder(std::size_t max_message_bytes = 24 << 20) : max_message_bytes_(max_message_bytes) {}

  // Decodes every message completed by `bytes`. An exception thrown by on_message propagates.
  void feed(std::string_view bytes, const MessageHandler& on_message);
  // True when the stream ended on a message boundary (no partial message buffered).
  bool finished_cleanly() const { return buffer_.empty(); }
  std::size_t messages() const { return messages_; }

 private:
  std::size_t max_message_bytes_;
  std::string buffer_;
  std::size_t messages_ = 0;
};

}  // namespace ragline::net
