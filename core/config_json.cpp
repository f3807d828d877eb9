#include "core/config_json.hpp"

#include <algorithm>

#include "core/check.hpp"

namespace ragline {

void to_json(nlohmann::json& json, const ChunkerConfig& config) {
  json = {{"name", config.name},
          {"max_tokens", config.max_tokens},
          {"overlap_tokens", config.overlap_tokens},
          {"parent_tokens", config.parent_tokens},
          {"child_tokens", config.child_tokens}};
}

void to_json(nlohmann::json& json, const AnalyzerConfig& config) {
  json = {{"language", config.language}, {"stemming", config.stemming}, {"stopwords", config.stopwords}};
}

void to_json(nlohmann::json& json, const EmbedderConfig& config) {
  json = {{"name", config.name},
          {"dimension", config.dimension},
          {"model", config.model},
          {"base_url", config.base_url},
          {"api_key_env", config.api_key_env},
          {"region", config.region},
          {"batch_size", config.batch_size},
          {"batch_bytes", config.batch_bytes},
          {"max_in_flight", config.max_in_flight},
          {"timeout_seconds", config.timeout_seconds},
          {"max_retries", config.max_retries},
          {"models_dir", config.models_dir},
          {"query_prefix", config.query_prefix},
          {"passage_prefix", config.passage_prefix},
          {"precision", config.precision}};
}

void to_json(nlohmann::json& json, const VectorIndexConfig& config) {
  json = {{"type", config.type},           {"hnsw_m", config.hnsw_m},  {"ef_construction", config.ef_construction},
          {"ef_search", config.ef_search}, {"nlist", config.nlist},    {"nprobe", config.nprobe},
          {"pq_m", config.pq_m},           {"pq_bits", config.pq_bits}};
}

void to_json(nlohmann::json& json, const RedactionConfig& config) {
  nlohmann::json patterns = nlohmann::json::array();
  for (const auto& pattern : config.patterns) patterns.push_back({{"name", pattern.name}, {"regex", pattern.regex}});
  json = {{"types", config.types}, {"patterns", patterns}};
}

}  // namespace ragline

namespace ragline::core {
namespace {

std::string_view type_name(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "number";
  return value.type_name();  // null, boolean, string, array, object
}

}  // namespace

void throw_wrong_type(std::string_view path, std::string_view expected, const nlohmann::json& got) {
  RAGLINE_THROW(format, path << ": expected " << expected << ", got " << type_name(got));
}

JsonFields::JsonFields(const nlohmann::json& json, std::string path, UnknownFields unknown)
    : json_(json), path_(std::move(path)), unknown_(unknown) {
  if (!json_.is_object()) throw_wrong_type(path_, "an object", json_);
}

std::string JsonFields::field_path(const char* name) const { return path_.empty() ? name : path_ + "." + name; }

const nlohmann::json* JsonFields::find(const char* name) {
  known_.emplace_back(name);
  const auto found = json_.find(name);
  return found == json_.end() ? nullptr : &*found;
}

void JsonFields::read(const char* name, std::string& value) {
  const auto* field = find(name);
  if (!field) return;
  if (!field->is_string()) throw_wrong_type(field_path(name), "a string", *field);
  value = field->get<std::string>();
}

void JsonFields::read(const char* name, bool& value) {
  const auto* field = find(name);
  if (!field) return;
  if (!field->is_boolean()) throw_wrong_type(field_path(name), "true or false", *field);
  value = field->get<bool>();
}

void JsonFields::read(const char* name, std::int64_t& value) {
  const auto* field = find(name);
  if (!field) return;
  if (field->is_number_unsigned()) {
    RAGLINE_CHECK(field->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                  format, field_path(name) << ": " << field->dump() << " is out of range");
  } else if (!field->is_number_integer()) {
    throw_wrong_type(field_path(name), "an integer", *field);
  }
  value = field->get<std::int64_t>();
}

void JsonFields::read(const char* name, int& value) {
  std::int64_t wide = value;
  read(name, wide);
  RAGLINE_CHECK(wide >= std::numeric_limits<int>::min() && wide <= std::numeric_limits<int>::max(), format,
                field_path(name) << ": " << wide << " is out of range");
  value = static_cast<int>(wide);
}

void JsonFields::read_unsigned(const char* name, std::uint64_t& value, std::uint64_t max) {
  const auto* field = find(name);
  if (!field) return;
  if (!field->is_number_integer()) throw_wrong_type(field_path(name), "a non-negative integer", *field);
  RAGLINE_CHECK(field->is_number_unsigned() || field->get<std::int64_t>() >= 0, format,
                field_path(name) << ": " << field->dump() << " is negative");
  RAGLINE_CHECK(field->get<std::uint64_t>() <= max, format,
                field_path(name) << ": " << field->dump() << " is too large");
  value = field->get<std::uint64_t>();
}

void JsonFields::read(const char* name, double& value) {
  const auto* field = find(name);
  if (!field) return;
  if (!field->is_number()) throw_wrong_type(field_path(name), "a number", *field);
  value = field->get<double>();
}

void JsonFields::read(const char* name, std::vector<std::string>& value) {
  const auto* field = find(name);
  if (!field) return;
  if (!field->is_array()) throw_wrong_type(field_path(name), "an array of strings", *field);
  std::vector<std::string> strings;
  for (std::size_t index = 0; index < field->size(); ++index) {
    const auto& item = (*field)[index];
    if (!item.is_string()) throw_wrong_type(field_path(name) + "[" + std::to_string(index) + "]", "a string", item);
    strings.push_back(item.get<std::string>());
  }
  value = std::move(strings);
}

void JsonFields::finish() const {
  if (unknown_ == UnknownFields::ignore) return;
  for (const auto& [key, value] : json_.items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string known;
    for (const auto& name : known_) known += (known.empty() ? "" : ", ") + name;
    RAGLINE_THROW(format, (path_.empty() ? key : path_ + "." + key) << ": unknown field (known: " << known << ")");
  }
}

void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, ChunkerConfig& config) {
  JsonFields fields(json, std::string(path), unknown);
  fields.read("name", config.name);
  fields.read("max_tokens", config.max_tokens);
  fields.read("overlap_tokens", config.overlap_tokens);
  fields.read("parent_tokens", config.parent_tokens);
  fields.read("child_tokens", config.child_tokens);
  fields.finish();
}

void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, AnalyzerConfig& config) {
  JsonFields fields(json, std::string(path), unknown);
  fields.read("language", config.language);
  fields.read("stemming", config.stemming);
  fields.read("stopwords", config.stopwords);
  fields.finish();
}

void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, EmbedderConfig& config) {
  JsonFields fields(json, std::string(path), unknown);
  fields.read("name", config.name);
  fields.read("dimension", config.dimension);
  fields.read("model", config.model);
  fields.read("base_url", config.base_url);
  fields.read("api_key_env", config.api_key_env);
  fields.read("region", config.region);
  fields.read("batch_size", config.batch_size);
  fields.read("batch_bytes", config.batch_bytes);
  fields.read("max_in_flight", config.max_in_flight);
  fields.read("timeout_seconds", config.timeout_seconds);
  fields.read("max_retries", config.max_retries);
  fields.read("models_dir", config.models_dir);
  fields.read("query_prefix", config.query_prefix);
  fields.read("passage_prefix", config.passage_prefix);
  fields.read("precision", config.precision);
  fields.finish();
}

void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, VectorIndexConfig& config) {
  JsonFields fields(json, std::string(path), unknown);
  fields.read("type", config.type);
  fields.read("hnsw_m", config.hnsw_m);
  fields.read("ef_construction", config.ef_construction);
  fields.read("ef_search", config.ef_search);
  fields.read("nlist", config.nlist);
  fields.read("nprobe", config.nprobe);
  fields.read("pq_m", config.pq_m);
  fields.read("pq_bits", config.pq_bits);
  fields.finish();
}

void read_config(const nlohmann::json& json, std::string_view path, UnknownFields unknown, RedactionConfig& config) {
  JsonFields fields(json, std::string(path), unknown);
  fields.read("types", config.types);
  if (const auto* patterns = fields.find("patterns")) {
    const std::string patterns_path = fields.field_path("patterns");
    if (!patterns->is_array()) throw_wrong_type(patterns_path, "an array", *patterns);
    config.patterns.clear();
    for (std::size_t index = 0; index < patterns->size(); ++index) {
      RedactionPattern pattern;
      JsonFields pattern_fields((*patterns)[index], patterns_path + "[" + std::to_string(index) + "]", unknown);
      pattern_fields.read("name", pattern.name);
      pattern_fields.read("regex", pattern.regex);
      pattern_fields.finish();
      config.patterns.push_back(std::move(pattern));
    }
  }
  fields.finish();
}

}  // namespace ragline::core
