#include "net/event_stream.hpp"

#include <array>
#include <cstdio>

#include "core/check.hpp"

namespace ragline::net {
namespace {

constexpr std::size_t kPreludeBytes = 12;  // two lengths and the prelude CRC
constexpr std::size_t kOverheadBytes = 16;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t value = byte;
    for (int bit = 0; bit < 8; ++bit) value = (value & 1) ? 0xEDB88320u ^ (value >> 1) : value >> 1;
    table[byte] = value;
  }
  return table;
}

std::uint64_t read_big_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

void append_big_endian(std::string& out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::vector<std::pair<std::string, std::string>> parse_headers(std::string_view bytes) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t at = 0;
  const auto need = [&](std::size_t count, const char* what) {
    RAGLINE_CHECK(bytes.size() - at >= count, format, "event stream: header " << what << " runs past the headers");
  };
  while (at < bytes.size()) {
    need(1, "name length");
    const std::size_t name_length = static_cast<unsigned char>(bytes[at++]);
    RAGLINE_CHECK(name_length > 0, format, "event stream: empty header name");
    need(name_length + 1, "name");
    std::string name(bytes.substr(at, name_length));
    at += name_length;
    const int type = static_cast<unsigned char>(bytes[at++]);
    std::string value;
    switch (type) {
      case 0:
      case 1:
        value = type == 0 ? "true" : "false";
        break;
      case 2:
      case 3:
      case 4:
      case 5:
      case 8: {
        const std::size_t width = type == 2 ? 1 : type == 3 ? 2 : type == 4 ? 4 : 8;
        need(width, "value");
        const std::uint64_t raw = read_big_endian(bytes, at, width);
        // Sign-extend: these integers are signed on the wire.
        const std::int64_t number = width == 8 ? static_cast<std::int64_t>(raw)
                                               : static_cast<std::int64_t>(raw << (64 - 8 * width)) >> (64 - 8 * width);
        value = std::to_string(number);
        at += width;
        break;
      }
      case 6:
      case 7: {
        need(2, "value length");
        const std::size_t length = read_big_endian(bytes, at, 2);
        at += 2;
        need(length, "value");
        value.assign(bytes.substr(at, length));
        at += length;
        break;
      }
      case 9: {
        need(16, "value");
        char hex[3];
        for (std::size_t i = 0; i < 16; ++i) {
          std::snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned char>(bytes[at + i]));
          value += hex;
        }
        at += 16;
        break;
      }
      default:
        RAGLINE_THROW(format, "event stream: unknown header value type " << type << " for header " << name);
    }
    headers.emplace_back(std::move(name), std::move(value));
  }
  return headers;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) {
  static const auto kTable = make_crc_table();
  crc = ~crc;
  for (const char c : bytes) crc = kTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string EventStreamMessage::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::string encode_event_stream_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                        std::string_view payload) {
  std::string encoded_headers;
  for (const auto& [name, value] : headers) {
    encoded_headers.push_back(static_cast<char>(name.size()));
    encoded_headers += name;
    encoded_headers.push_back(7);
    append_big_endian(encoded_headers, value.size(), 2);
    encoded_headers += value;
  }
  std::string message;
  append_big_endian(message, kOverheadBytes + encoded_headers.size() + payload.size(), 4);
  append_big_endian(message, encoded_headers.size(), 4);
  append_big_endian(message, crc32(message), 4);
  message += encoded_headers;
  message += payload;
  append_big_endian(message, crc32(message), 4);
  return message;
}

void EventStreamDecoder::feed(std::string_view bytes, const MessageHandler& on_message) {
  buffer_.append(bytes);
  std::size_t consumed = 0;
  while (buffer_.size() - consumed >= kPreludeBytes) {
    const std::string_view rest = std::string_view(buffer_).substr(consumed);
    const std::size_t total = read_big_endian(rest, 0, 4);
    const std::size_t headers_length = read_big_endian(rest, 4, 4);
    const auto prelude_crc = static_cast<std::uint32_t>(read_big_endian(rest, 8, 4));
    RAGLINE_CHECK(crc32(rest.substr(0, 8)) == prelude_crc, format,
                  "event stream: prelude CRC mismatch in message " << messages_ + 1);
    RAGLINE_CHECK(total >= kOverheadBytes && headers_length <= total - kOverheadBytes, format,
                  "event stream: message " << messages_ + 1 << " has total length " << total << " and headers length "
                                           << headers_length);
    RAGLINE_CHECK(total <= max_message_bytes_, format,
                  "event stream: message " << messages_ + 1 << " of " << total << " bytes exceeds the limit of "
                                           << max_message_bytes_);
    if (rest.size() < total) break;
    const auto message_crc = static_cast<std::uint32_t>(read_big_endian(rest, total - 4, 4));
    RAGLINE_CHECK(crc32(rest.substr(0, total - 4)) == message_crc, format,
                  "event stream: message CRC mismatch in message " << messages_ + 1);
    EventStreamMessage message;
    message.headers = parse_headers(rest.substr(kPreludeBytes, headers_length));
    message.payload.assign(rest.substr(kPreludeBytes + headers_length, total - kOverheadBytes - headers_length));
    consumed += total;
    ++messages_;
    // Drop what was decoded before calling out: the handler may throw.
    buffer_.erase(0, consumed);
    consumed = 0;
    on_message(message);
  }
  buffer_.erase(0, consumed);
}

}  // namespace ragline::net
