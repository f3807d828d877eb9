#include "ingest/format_common.hpp"

#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <cctype>
#include <cstring>

#include "core/check.hpp"
#include "text/normalize.hpp"

namespace ragline::ingest::formats {
namespace {

constexpr std::size_t kBinarySniffBytes = 8192;

bool starts_with_bytes(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

// UTF-16 is the one non-UTF-8 encoding worth recognising in text files: Windows tools write
// it, always with a byte order mark, and its NUL bytes would otherwise read as binary.
DecodedText decode_utf16(std::string_view bytes, bool big_endian) {
  DecodedText decoded;
  decoded.text.reserve(bytes.size());
  const auto unit_at = [&](std::size_t index) -> char16_t {
    const auto first = static_cast<unsigned char>(bytes[2 * index]);
    const auto second = static_cast<unsigned char>(bytes[2 * index + 1]);
    return static_cast<char16_t>(big_endian ? (first << 8) | second : (second << 8) | first);
  };
  const std::size_t units = bytes.size() / 2;
  for (std::size_t index = 0; index < units; ++index) {
    UChar32 code_point = unit_at(index);
    if (U16_IS_LEAD(code_point) && index + 1 < units && U16_IS_TRAIL(unit_at(index + 1))) {
      code_point = U16_GET_SUPPLEMENTARY(code_point, unit_at(index + 1));
      ++index;
    } else if (U16_IS_SURROGATE(code_point)) {
      code_point = 0xFFFD;
      ++decoded.replaced;
    }
    char buffer[4];
    std::int32_t length = 0;
    U8_APPEND_UNSAFE(buffer, length, code_point);
    decoded.text.append(buffer, static_cast<std::size_t>(length));
  }
  if (bytes.size() % 2 != 0) {  // a dangling half code unit
    decoded.text += "\xEF\xBF\xBD";
    ++decoded.replaced;
  }
  return decoded;
}

void reject_binary(std::string_view bytes) {
  if (const void* nul = std::memchr(bytes.data(), '\0', bytes.size())) {
    const auto offset = static_cast<const char*>(nul) - bytes.data();
    RAGLINE_THROW(format, "binary content (NUL byte at offset " << offset << ")");
  }
  const std::string_view sample = bytes.substr(0, kBinarySniffBytes);
  std::size_t control_bytes = 0;
  for (const char byte : sample) {
    const auto value = static_cast<unsigned char>(byte);
    if ((value < 0x20 && value != '\t' && value != '\n' && value != '\r' && value != '\f') || value == 0x7F) {
      ++control_bytes;
    }
  }
  RAGLINE_CHECK(
      control_bytes * 10 <= sample.size(), format,
      "binary content (" << control_bytes << " of the first " << sample.size() << " bytes are control characters)");
}

}  // namespace

DecodedText decode_text_file(std::string_view bytes) {
  if (starts_with_bytes(bytes, "\xFF\xFE")) return decode_utf16(bytes.substr(2), false);
  if (starts_with_bytes(bytes, "\xFE\xFF")) return decode_utf16(bytes.substr(2), true);
  if (starts_with_bytes(bytes, "\xEF\xBB\xBF")) bytes.remove_prefix(3);
  reject_binary(bytes);
  text::Utf8Repair repaired = text::repair_utf8(bytes);
  return DecodedText{std::move(repaired.text), repaired.replaced};
}

Document document_for_file(const SourceFile& file, std::string mime_type) {
  Document document;
  document.uri = file.uri;
  document.source_path = file.path.string();
  document.mime_type = std::move(mime_type);
  document.size_bytes = static_cast<std::int64_t>(file.bytes.size());
  document.mtime = file.mtime;
  return document;
}

std::filesystem::path name_inside_gzip(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  for (char& character : extension) character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
  return extension == ".gz" ? path.parent_path() / path.stem() : path;
}

std::string file_stem_title(const SourceFile& file) { return name_inside_gzip(file.path).stem().string(); }

void merge_sidecar_metadata(Metadata& own, const Metadata& sidecar) {
  for (const auto& [key, value] : sidecar) own.emplace(key, value);
}

ParsedFile single_document(Document document, std::size_t invalid_utf8_replaced) {
  ParsedFile parsed;
  parsed.invalid_utf8_replaced = invalid_utf8_replaced;
  parsed.documents.push_back(std::move(document));
  return parsed;
}

}  // namespace ragline::ingest::formats
