#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <system_error>

#include "core/check.hpp"
#include "ingest/format.hpp"

namespace ragline::ingest {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kSidecarSuffix = ".metadata.json";
// Bedrock Knowledge Bases accept 10 KB of metadata per file; a sidecar a hundred times that is
// not metadata, and is refused before it is read into memory.
constexpr std::uintmax_t kMaxSidecarBytes = 1 << 20;

std::string read_whole_file(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  RAGLINE_CHECK(error || size <= kMaxSidecarBytes, format,
                "metadata file " << path.string() << " is " << size << " bytes; at most " << kMaxSidecarBytes);
  std::ifstream in(path, std::ios::binary);
  RAGLINE_CHECK(in, io, "cannot open metadata file " << path.string());
  std::ostringstream contents;
  contents << in.rdbuf();
  RAGLINE_CHECK(!in.bad(), io, "cannot read metadata file " << path.string());
  return contents.str();
}

// Checks one metadata file and names the file and field in every complaint.
class SidecarReader {
 public:
  explicit SidecarReader(std::filesystem::path sidecar) : sidecar_(std::move(sidecar)) {}

  Metadata read(const std::string& bytes) const {
    Json root;
    try {
      root = Json::parse(bytes);
    } catch (const Json::exception& error) {
      fail("", std::string("malformed JSON: ") + error.what());
    }
    if (!root.is_object()) fail("", "the top-level value is not an object");
    const auto attributes = root.find("metadataAttributes");
    if (attributes == root.end()) fail("", "missing field \"metadataAttributes\"");
    if (!attributes->is_object()) fail("metadataAttributes", "is not an object");

    Metadata metadata;
    for (const auto& [key, value] : attributes->items()) {
      const std::string field = "metadataAttributes." + key;
      metadata.emplace(key, value.is_object() ? typed_value(value, field) : plain_value(value, field));
    }
    return metadata;
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    if (field.empty()) RAGLINE_THROW(format, "metadata file " << sidecar_.string() << ": " << problem);
    RAGLINE_THROW(format, "metadata file " << sidecar_.string() << ": field \"" << field << "\" " << problem);
  }

  std::vector<std::string> string_list(const Json& value, const std::string& field) const {
    std::vector<std::string> items;
    items.reserve(value.size());
    for (const Json& item : value) {
      if (!item.is_string()) fail(field, "is a list with a non-string item (" + item.dump() + ")");
      items.push_back(item.get<std::string>());
    }
    return items;
  }

  MetadataValue plain_value(const Json& value, const std::string& field) const {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return value.get<bool>();
    if (value.is_number()) return value.get<double>();
    if (value.is_array()) return string_list(value, field);
    fail(field, "is not a string, number, boolean or list of strings");
  }

  // {"value": {"type": "NUMBER", "numberValue": 2024}, "includeForEmbedding": true}. Whether a
  // key is embedded does not apply to keyword search; it is checked and otherwise ignored.
  MetadataValue typed_value(const Json& attribute, const std::string& field) const {
    const auto value = attribute.find("value");
    if (value == attribute.end() || !value->is_object()) {
      fail(field, "is an object without a \"value\" object (expected {\"value\": {\"type\": ..., ...}})");
    }
    if (const auto include = attribute.find("includeForEmbedding");
        include != attribute.end() && !include->is_boolean()) {
      fail(field + ".includeForEmbedding", "is not a boolean");
    }
    const auto type = value->find("type");
    if (type == value->end() || !type->is_string()) fail(field + ".value.type", "is missing or not a string");
    const std::string type_name = type->get<std::string>();
    const auto member = [&](const char* name) -> const Json& {
      const auto found = value->find(name);
      if (found == value->end()) fail(field + ".value." + name, "is missing for type " + type_name);
      return *found;
    };
    if (type_name == "STRING") {
      const Json& string_value = member("stringValue");
      if (!string_value.is_string()) fail(field + ".value.stringValue", "is not a string");
      return string_value.get<std::string>();
    }
    if (type_name == "NUMBER") {
      const Json& number_value = member("numberValue");
      if (!number_value.is_number()) fail(field + ".value.numberValue", "is not a number");
      return number_value.get<double>();
    }
    if (type_name == "BOOLEAN") {
      const Json& boolean_value = member("booleanValue");
      if (!boolean_value.is_boolean()) fail(field + ".value.booleanValue", "is not a boolean");
      return boolean_value.get<bool>();
    }
    if (type_name == "STRING_LIST") {
      const Json& list_value = member("stringListValue");
      if (!list_value.is_array()) fail(field + ".value.stringListValue", "is not a list of strings");
      return string_list(list_value, field + ".value.stringListValue");
    }
    fail(field + ".value.type", "is \"" + type_name + "\", not one of STRING, NUMBER, BOOLEAN, STRING_LIST");
  }

  std::filesystem::path sidecar_;
};

}  // namespace

Metadata read_sidecar_metadata(const std::filesystem::path& path) {
  std::filesystem::path sidecar = path;
  sidecar += kSidecarSuffix;
  std::error_code error;
  if (!std::filesystem::is_regular_file(sidecar, error)) return {};
  return SidecarReader(sidecar).read(read_whole_file(sidecar));
}

bool is_sidecar_metadata_file(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return name.size() > kSidecarSuffix.size() && name.ends_with(kSidecarSuffix);
}

}  // namespace ragline::ingest
