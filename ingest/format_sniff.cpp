#include <fcntl.h>
#include <unicode/utf8.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/check.hpp"
#include "ingest/format.hpp"
#include "ingest/format_common.hpp"

namespace ragline::ingest {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kSniffBytes = 8192;
// Compressed bytes read to sniff a .gz file; text compresses well below 8:1, so this inflates
// to far more than kSniffBytes for anything worth reading.
constexpr std::size_t kSniffCompressedBytes = 64 * 1024;

bool starts_with_bytes(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

std::string lower_ascii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char character) { return static_cast<char>(std::tolower(character)); });
  return text;
}

// The first `limit` bytes of the file and whether more follow.
std::pair<std::string, bool> read_head(const fs::path& path, std::size_t limit) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  RAGLINE_CHECK(descriptor >= 0, io, "cannot open for reading: " << std::strerror(errno));
  std::string head(limit + 1, '\0');
  std::size_t filled = 0;
  while (filled < head.size()) {
    const ssize_t got = ::read(descriptor, head.data() + filled, head.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(descriptor);
      RAGLINE_THROW(io, "read failed: " << std::strerror(error));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  ::close(descriptor);
  const bool truncated = filled > limit;
  head.resize(std::min(filled, limit));
  return {std::move(head), truncated};
}

FormatChoice skip(std::string reason) {
  FormatChoice choice;
  choice.skip_reason = std::move(reason);
  return choice;
}

}  // namespace

std::string why_not_text(std::string_view head, bool truncated) {
  head = head.substr(0, kSniffBytes);
  // UTF-16 holds NUL bytes; with a byte order mark it is text decode_text_file converts.
  if (starts_with_bytes(head, "\xEF\xBB\xBF") || starts_with_bytes(head, "\xFF\xFE") ||
      starts_with_bytes(head, "\xFE\xFF")) {
    return {};
  }
  if (const void* nul = std::memchr(head.data(), '\0', head.size())) {
    std::ostringstream reason;
    reason << "binary content (a NUL byte at offset " << static_cast<const char*>(nul) - head.data() << ")";
    return reason.str();
  }
  std::size_t control_bytes = 0;
  const auto length = static_cast<std::int32_t>(head.size());
  std::int32_t offset = 0;
  while (offset < length) {
    const std::int32_t start = offset;
    UChar32 code_point = 0;
    U8_NEXT(reinterpret_cast<const std::uint8_t*>(head.data()), offset, length, code_point);
    if (code_point < 0) {
      // A sequence cut by the end of the sample is not evidence of anything.
      const bool cut_at_end = truncated && length - start < 4;
      if (cut_at_end) break;
      std::ostringstream reason;
      reason << "not UTF-8 text (an invalid byte at offset " << start << "; binary data, or text in a legacy encoding)";
      return reason.str();
    }
    if ((code_point < 0x20 && code_point != '\t' && code_point != '\n' && code_point != '\r' && code_point != '\f') ||
        code_point == 0x7F) {
      ++control_bytes;
    }
  }
  if (control_bytes * 10 > head.size()) {
    std::ostringstream reason;
    reason << "binary content (" << control_bytes << " of the first " << head.size()
           << " bytes are control characters)";
    return reason.str();
  }
  return {};
}

std::string gunzip(std::string_view compressed, std::uint64_t max_bytes, bool prefix_only) {
  z_stream stream{};
  // 16 + MAX_WBITS: the gzip wrapper (header and CRC-32 trailer), not zlib's or raw deflate.
  RAGLINE_CHECK(inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK, internal, "zlib: inflateInit2 failed");
  struct End {
    z_stream& stream;
    ~End() { inflateEnd(&stream); }
  } end{stream};
  RAGLINE_CHECK(starts_with_bytes(compressed, "\x1F\x8B"), format, "not gzip data (no gzip signature)");
  std::string output;
  std::size_t consumed = 0;
  char buffer[64 * 1024];
  while (true) {
    const std::size_t remaining = compressed.size() - consumed;
    // zlib's next_in is not const-qualified, but inflate only reads through it.
    auto* const start = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + consumed));
    stream.next_in = start;
    stream.avail_in = static_cast<uInt>(std::min<std::size_t>(remaining, 1u << 30));
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    const int status = inflate(&stream, Z_NO_FLUSH);
    consumed += static_cast<std::size_t>(stream.next_in - start);
    const std::size_t produced = sizeof buffer - stream.avail_out;
    output.append(buffer, produced);
    if (max_bytes != 0 && output.size() > max_bytes) {
      if (prefix_only) {
        output.resize(static_cast<std::size_t>(max_bytes));
        return output;
      }
      RAGLINE_THROW(format,
                    "gzip data inflates to more than " << max_bytes << " bytes (max_file_bytes, --max-file-bytes)");
    }
    if (status == Z_STREAM_END) {
      // Another member may follow (gzip -d reads concatenated members as one file).
      if (consumed < compressed.size() && starts_with_bytes(compressed.substr(consumed), "\x1F\x8B")) {
        RAGLINE_CHECK(inflateReset(&stream) == Z_OK, internal, "zlib: inflateReset failed");
        continue;
      }
      return output;
    }
    if (status == Z_BUF_ERROR && consumed == compressed.size()) {
      if (prefix_only) return output;
      RAGLINE_THROW(format, "damaged gzip data (it ends before the end of the compressed stream)");
    }
    if (status != Z_OK && status != Z_BUF_ERROR) {
      if (prefix_only && status == Z_DATA_ERROR && !output.empty()) return output;
      RAGLINE_THROW(
          format, "damaged gzip data (zlib: " << (stream.msg ? stream.msg : "error " + std::to_string(status)) << ")");
    }
  }
}

FormatChoice choose_format(const fs::path& path) {
  if (const FormatParser* parser = parser_for(path)) return {parser, false, {}};
  const bool gzip = lower_ascii(path.extension().string()) == ".gz";
  if (gzip) {
    const fs::path inner = path.stem();
    if (const FormatParser* parser = parser_for(inner)) return {parser, true, {}};
    auto [head, truncated] = read_head(path, kSniffCompressedBytes);
    std::string inflated;
    try {
      inflated = gunzip(head, kSniffBytes, /*prefix_only=*/true);
    } catch (const Error& error) {
      return skip(error.what());
    }
    if (inflated.empty()) return skip("empty file (after decompression)");
    const std::string problem = why_not_text(inflated, inflated.size() == kSniffBytes || truncated);
    if (!problem.empty()) return skip(problem + ", inside the gzip data");
    return {&formats::text_parser(), true, {}};
  }
  auto [head, truncated] = read_head(path, kSniffBytes);
  if (head.empty()) return skip("empty file");
  const std::string problem = why_not_text(head, truncated);
  if (!problem.empty()) return skip(problem);
  return {&formats::text_parser(), false, {}};
}

}  // namespace ragline::ingest
