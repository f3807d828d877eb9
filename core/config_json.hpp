#pragma once
// JSON of the KB configuration structs (ragline/types.hpp), in one place for the two users:
// index/store.cpp keeps them in the `settings` table of kb.sqlite, kb/json.cpp nests them in
// the public JSON documents (ragline/json.hpp, docs/json.md).
//
// The writers' output is the stored format: changing a key or a value's type changes every KB's
// settings rows, which are compared as text in places (the recorded redaction, `describe()`).
// Keys come out sorted (nlohmann's default object), so a dump is byte-stable.
//
// The readers are lenient about what is missing (a missing field keeps its default: older KBs
// lack newer fields) and strict about what is there: a wrong type or an out-of-range number is
// an Error(format) naming the field's path, e.g. "open_options.embedder.dimension". Unknown
// fields are refused (public JSON) or ignored (stored settings, so a KB written by a newer
// version with an extra field still opens) as the caller asks.

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ragline/types.hpp"

namespace ragline {

// nlohmann's ADL hooks (`nlohmann::json j = config;`): the stored and public shape.
void to_json(nlohmann::json& json, const ChunkerConfig& config);
void to_json(nlohmann::json& json, const AnalyzerConfig& config);
void to_json(nlohmann::json& json, const EmbedderConfig& config);
void to_json(nlohmann::json& json, const VectorIndexConfig& config);
void to_json(nlohmann::json& json, const RedactionConfig& config);  // {"types": [...], "patterns": [{name, regex}]}

}  // namespace ragline

namespace ragline::core {

enum class UnknownFields { refuse, ignore };

// Reads the fields of one JSON object into a struct, one read() per field, each checking the
// value's type. Construction checks that `json` is an object; finish() refuses the fields no
// read() asked for (under UnknownFields::refuse). `path` names the object in messages ("query",
// "query.fusion", "query.rerank[1]").
class JsonFields {
 public:
  JsonFields(const nlohmann::json& json, std::string path, UnknownFields unknown = UnknownFields::refuse);

  // Leaves `value` unchanged when the field is missing.
  void read(const char* name, std::string& value);
  void read(const char* name, bool& value);
  void read(const char* name, int& value);
  void read(const char* name, std::int64_t& value);
  // std::size_t, std::uint64_t: a non-negative integer that fits.
  template <class Unsigned>
  requires(std::is_unsigned_v<Unsigned> && !std::is_same_v<Unsigned, bool>) void read(const char* name,
                                                                                      Unsigned& value) {
    std::uint64_t wide = value;
    read_unsigned(name, wide, std::numeric_limits<Unsigned>::max());
    value = static_cast<Unsigned>(wide);
  }
  void read(const char* name, double& value);
  void read(const char* name, std::vector<std::string>& value);
  // The field's value when it is present, else nullptr; marks it as known.
  const nlohmann::json* find(const char* name);
  // "path.name", for messages about a field's value.
  std::string field_path(const char* name) const;
  void finish() const;

 private:
  void read_unsigned(const char* name, std::uint64_t& value, std::uint64_t max);

  const nlohmann::json& json_;
  std::string path_;
  UnknownFields unknown_;
  std::vector<std::string> known_;
};

// Throws Error(format) "<path>: expected <what>, got <type>".
[[noreturn]] void throw_wrong_type(std::string_view path, std::string_view expected, const nlohmann::json& got);

// The readers of the stored and public shape: fields present in `json` replace those in `config`.
void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, ChunkerConfig& config);
void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, AnalyzerConfig& config);
void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, EmbedderConfig& config);
void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, VectorIndexConfig& config);
void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, RedactionConfig& config);

// A config read from a fresh default (the usual call).
template <class Config>
Config config_from_json(const nlohmann::json& json, std::string_view path,
                        UnknownFields unknown = UnknownFields::refuse) {
  Config config;
  read_config(json, path, unknown, config);
  return config;
}

}  // namespace ragline::core
