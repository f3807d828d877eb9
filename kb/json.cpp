// The library-side JSON of ragline/json.hpp; docs/json.md describes every shape. The config
// structs nest in the shape they are stored in (core/config_json.hpp).

#include "ragline/json.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/config_json.hpp"

namespace ragline {
namespace {

std::string_view to_string(IngestFailureKind kind) {
  switch (kind) {
    case IngestFailureKind::input:
      return "input";
    case IngestFailureKind::embedder:
      return "embedder";
    case IngestFailureKind::pending_vectors:
      return "pending_vectors";
  }
  return "input";
}

using core::JsonFields;
using core::UnknownFields;
using nlohmann::json;

constexpr auto kRefuse = UnknownFields::refuse;

// Every top-level document: the version beside its fields, and text that is not valid
// UTF-8 (hit text from a hostile file, metadata) replaced by U+FFFD instead of failing the dump.
std::string document(json object) {
  object["ragline_json"] = kJsonVersion;
  return object.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_document(std::string_view text, const std::string& path) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::parse_error& error) {
    RAGLINE_THROW(format, path << ": not JSON: " << error.what());
  }
  if (!parsed.is_object()) core::throw_wrong_type(path, "an object", parsed);
  return parsed;
}

// The optional "ragline_json" of a document read back: absent, or the version this library writes.
void read_version(JsonFields& fields) {
  int version = kJsonVersion;
  fields.read("ragline_json", version);
  RAGLINE_CHECK(version == kJsonVersion, format,
                fields.field_path("ragline_json")
                    << ": version " << version << " is not supported (this library reads " << kJsonVersion << ")");
}

json metadata_json(const Metadata& metadata) {
  json object = json::object();
  for (const auto& entry : metadata) {
    // A named reference, not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const std::string& key = entry.first;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          // Metadata numbers are doubles; whole ones print as integers (year 2024, not 2024.0).
          if constexpr (std::is_same_v<T, double>) {
            if (std::trunc(v) == v && std::fabs(v) < 9e15) {
              object[key] = static_cast<std::int64_t>(v);
              return;
            }
          }
          object[key] = v;
        },
        entry.second);
  }
  return object;
}

json source_score_json(const std::optional<SourceScore>& side) {
  return side ? json{{"rank", side->rank}, {"score", side->score}} : json(nullptr);
}

json hit_json(const Hit& hit) {
  json object = {{"score", hit.score},
                 {"chunk_id", hit.chunk_id},
                 {"document_uri", hit.document_uri},
                 {"title", hit.title},
                 {"heading_path", hit.heading_path},
                 {"byte_start", hit.byte_start},
                 {"byte_end", hit.byte_end},
                 {"text", hit.text},
                 {"metadata", metadata_json(hit.metadata)},
                 {"page", hit.page ? json(*hit.page) : json(nullptr)},
                 {"bm25", source_score_json(hit.bm25)},
                 {"dense", source_score_json(hit.dense)}};
  // Only hits a rerank stage scored have one; absent rather than null, as rag-query always printed.
  if (hit.rerank_score) object["rerank_score"] = *hit.rerank_score;
  return object;
}

json explanation_json(const SearchExplanation& e) {
  return {{"mode", to_string(e.mode)},
          {"fusion", e.fusion},
          {"filtered", e.filtered},
          {"filter_matches", e.filter_matches},
          {"dense_path", e.dense_path},
          {"bm25_candidates", e.bm25_candidates},
          {"dense_candidates", e.dense_candidates},
          {"ms",
           {{"embed", e.embed_ms},
            {"filter", e.filter_ms},
            {"bm25", e.bm25_ms},
            {"dense", e.dense_ms},
            {"fusion", e.fusion_ms},
            {"hydrate", e.hydrate_ms},
            {"rerank", e.rerank_ms}}},
          {"rerankers", e.rerankers},
          {"warnings", e.warnings}};
}

json search_result_json(const SearchResult& result) {
  json hits = json::array();
  for (std::size_t index = 0; index < result.hits.size(); ++index) {
    json hit = hit_json(result.hits[index]);
    hit["rank"] = index + 1;
    hits.push_back(std::move(hit));
  }
  return {{"hits", hits}, {"explanation", explanation_json(result.explanation)}};
}

json check_report_json(const CheckReport& report) {
  const auto list = [](const std::vector<CheckFinding>& findings) {
    json array = json::array();
    for (const auto& finding : findings) array.push_back({{"area", finding.area}, {"message", finding.message}});
    return array;
  };
  return {{"ok", report.ok()}, {"findings", list(report.findings)}, {"pending", list(report.pending)}};
}

json optional_json(const auto& value) { return value ? json(*value) : json(nullptr); }

json bm25_json(const Bm25Config& config) {
  return {{"k1", config.k1},
          {"b", config.b},
          {"weight_text", config.weight_text},
          {"weight_title", config.weight_title},
          {"weight_heading", config.weight_heading}};
}

json fusion_json(const FusionConfig& config) {
  return {{"method", config.method},
          {"rrf_k", config.rrf_k},
          {"bm25_weight", config.bm25_weight},
          {"dense_weight", config.dense_weight},
          {"alpha", config.alpha},
          {"normalization", config.normalization},
          {"candidates", config.candidates}};
}

json reranker_json(const RerankerConfig& config) {
  return {{"name", config.name},
          {"lambda", config.lambda},
          {"mmr_relevance", config.mmr_relevance},
          {"format", config.format},
          {"base_url", config.base_url},
          {"model", config.model},
          {"api_key_env", config.api_key_env},
          {"region", config.region},
          {"candidates", config.candidates},
          {"top_n", config.top_n},
          {"min_score", optional_json(config.min_score)},
          {"batch_size", config.batch_size},
          {"max_in_flight", config.max_in_flight},
          {"timeout_seconds", config.timeout_seconds},
          {"max_retries", config.max_retries}};
}

// An optional config: null or absent keeps it unset.
template <class Config>
void read_optional_config(JsonFields& fields, const char* name, std::optional<Config>& config) {
  const auto* field = fields.find(name);
  if (!field) return;
  if (field->is_null()) {
    config.reset();
    return;
  }
  config = core::config_from_json<Config>(*field, fields.field_path(name), kRefuse);
}

void read_bm25(const json& value, const std::string& path, Bm25Config& config) {
  JsonFields fields(value, path);
  fields.read("k1", config.k1);
  fields.read("b", config.b);
  fields.read("weight_text", config.weight_text);
  fields.read("weight_title", config.weight_title);
  fields.read("weight_heading", config.weight_heading);
  fields.finish();
}

void read_fusion(const json& value, const std::string& path, FusionConfig& config) {
  JsonFields fields(value, path);
  fields.read("method", config.method);
  fields.read("rrf_k", config.rrf_k);
  fields.read("bm25_weight", config.bm25_weight);
  fields.read("dense_weight", config.dense_weight);
  fields.read("alpha", config.alpha);
  fields.read("normalization", config.normalization);
  fields.read("candidates", config.candidates);
  fields.finish();
}

RerankerConfig read_reranker(const json& value, const std::string& path) {
  RerankerConfig config;
  JsonFields fields(value, path);
  fields.read("name", config.name);
  fields.read("lambda", config.lambda);
  fields.read("mmr_relevance", config.mmr_relevance);
  fields.read("format", config.format);
  fields.read("base_url", config.base_url);
  fields.read("model", config.model);
  fields.read("api_key_env", config.api_key_env);
  fields.read("region", config.region);
  fields.read("candidates", config.candidates);
  fields.read("top_n", config.top_n);
  if (const auto* min_score = fields.find("min_score")) {
    if (min_score->is_null()) {
      config.min_score.reset();
    } else if (min_score->is_number()) {
      config.min_score = min_score->get<double>();
    } else {
      core::throw_wrong_type(fields.field_path("min_score"), "a number or null", *min_score);
    }
  }
  fields.read("batch_size", config.batch_size);
  fields.read("max_in_flight", config.max_in_flight);
  fields.read("timeout_seconds", config.timeout_seconds);
  fields.read("max_retries", config.max_retries);
  fields.finish();
  return config;
}

// Metadata values as documents carry them: strings, numbers, booleans, lists of strings.
Metadata read_metadata(const json& value, const std::string& path) {
  if (!value.is_object()) core::throw_wrong_type(path, "an object", value);
  Metadata metadata;
  for (const auto& [key, item] : value.items()) {
    const std::string item_path = path + "." + key;
    if (item.is_string()) {
      metadata.emplace(key, item.get<std::string>());
    } else if (item.is_boolean()) {
      metadata.emplace(key, item.get<bool>());
    } else if (item.is_number()) {
      metadata.emplace(key, item.get<double>());
    } else if (item.is_array()) {
      std::vector<std::string> list;
      for (std::size_t index = 0; index < item.size(); ++index) {
        if (!item[index].is_string()) {
          core::throw_wrong_type(item_path + "[" + std::to_string(index) + "]", "a string", item[index]);
        }
        list.push_back(item[index].get<std::string>());
      }
      metadata.emplace(key, std::move(list));
    } else {
      core::throw_wrong_type(item_path, "a string, number, boolean or list of strings", item);
    }
  }
  return metadata;
}

// A required string field.
void read_required(JsonFields& fields, const char* name, std::string& value) {
  const auto* field = fields.find(name);
  RAGLINE_CHECK(field != nullptr, format, fields.field_path(name) << ": missing (a string is required)");
  if (!field->is_string()) core::throw_wrong_type(fields.field_path(name), "a string", *field);
  value = field->get<std::string>();
}

DocumentInput read_document_input(const json& value, const std::string& path) {
  DocumentInput input;
  JsonFields fields(value, path);
  read_required(fields, "id", input.id);
  fields.read("title", input.title);
  read_required(fields, "text", input.text);
  if (const auto* metadata = fields.find("metadata"); metadata && !metadata->is_null()) {
    input.metadata = read_metadata(*metadata, fields.field_path("metadata"));
  }
  fields.finish();
  return input;
}

}  // namespace

std::string_view to_string(SearchMode mode) noexcept {
  switch (mode) {
    case SearchMode::bm25:
      return "bm25";
    case SearchMode::dense:
      return "dense";
    case SearchMode::hybrid:
      return "hybrid";
  }
  return "hybrid";
}

SearchMode parse_search_mode(std::string_view name) {
  if (name == "bm25") return SearchMode::bm25;
  if (name == "dense") return SearchMode::dense;
  if (name == "hybrid") return SearchMode::hybrid;
  RAGLINE_THROW(invalid_argument, "unknown search mode \"" << name << "\" (known: bm25, dense, hybrid)");
}

std::string to_json(const SearchResult& result) { return document(search_result_json(result)); }

std::string to_json(const SearchResult& result, std::string_view query_text) {
  json object = search_result_json(result);
  object["query"] = query_text;
  return document(std::move(object));
}

std::string to_json(const Hit& hit) { return document(hit_json(hit)); }

std::string to_json(const IngestReport& report) {
  json failures = json::array();
  for (const auto& failure : report.failures)
    failures.push_back({{"location", failure.location}, {"reason", failure.reason}, {"kind", to_string(failure.kind)}});
  json skipped = json::array();
  for (const auto& skip : report.skipped) skipped.push_back({{"location", skip.location}, {"reason", skip.reason}});
  // The names rag-query --json has always printed (files, added, ...), not the struct's.
  return document({{"ok", report.ok()},
                   {"files", report.files_seen},
                   {"added", report.documents_added},
                   {"updated", report.documents_updated},
                   {"unchanged", report.documents_unchanged},
                   {"pruned", report.documents_pruned},
                   {"failed", report.failures.size()},
                   {"skipped", report.skipped.size()},
                   {"chunks", report.chunks_written},
                   {"chunks_embedded", report.chunks_embedded},
                   {"embeddings_from_cache", report.embeddings_from_cache},
                   {"embed_seconds", report.embed_seconds},
                   {"chunks_truncated", report.chunks_truncated},
                   {"invalid_utf8_replaced", report.invalid_utf8_replaced},
                   {"bytes", report.bytes_read},
                   {"seconds", report.seconds},
                   {"redactions", report.redactions},
                   {"warnings", report.warnings},
                   {"failures", failures},
                   {"skipped_files", skipped}});
}

std::string to_json(const Stats& stats) {
  json embedder = stats.embedder;
  embedder["id"] = stats.embedder_id;
  return document({{"documents", stats.documents},
                   {"chunks", stats.chunks},
                   {"searchable_chunks", stats.searchable_chunks},
                   {"tokens", stats.tokens},
                   {"bytes_on_disk", stats.bytes_on_disk},
                   {"schema_version", stats.schema_version},
                   {"chunker", stats.chunker},
                   {"analyzer", stats.analyzer},
                   {"embedder", embedder},
                   {"vectors", stats.vectors},
                   {"vector_dimension", stats.vector_dimension},
                   // The type, as rag-query has always printed it; the whole config beside it.
                   {"vector_index", stats.vector_index.type},
                   {"vector_index_config", stats.vector_index},
                   {"generation", stats.generation},
                   {"vector_index_generation", stats.vector_index_generation},
                   {"redaction", optional_json(stats.redaction)}});
}

std::string to_json(const CheckReport& report) { return document(check_report_json(report)); }

std::string to_json(const RepairReport& report) {
  return document({{"actions", report.actions}, {"after", check_report_json(report.after)}});
}

std::string to_json(const CompactReport& report) {
  return document(
      {{"bytes_before", report.bytes_before}, {"bytes_after", report.bytes_after}, {"actions", report.actions}});
}

std::string to_json(const Prompt& prompt) {
  // Prompt::to_json (generate/) owns the shape; this adds the version.
  return document(json::parse(prompt.to_json()));
}

std::string to_json(const std::vector<DocumentInfo>& documents) {
  json list = json::array();
  for (const auto& d : documents) {
    list.push_back({{"id", d.id},
                    {"uri", d.uri},
                    {"title", d.title},
                    {"mime_type", d.mime_type},
                    {"content_hash", d.content_hash},
                    {"size_bytes", d.size_bytes},
                    {"mtime", d.mtime},
                    {"ingested_at", d.ingested_at},
                    {"chunks", d.chunk_count},
                    {"metadata", metadata_json(d.metadata)}});
  }
  return document({{"documents", list}});
}

std::string to_json(const Query& query) {
  json filter = nullptr;
  if (!query.filter.empty()) {
    try {
      filter = json::parse(query.filter);
    } catch (const json::parse_error& error) {
      RAGLINE_THROW(invalid_argument, "query.filter is not JSON: " << error.what());
    }
    RAGLINE_CHECK(filter.is_object(), invalid_argument, "query.filter is not a JSON object");
  }
  json rerank = json::array();
  for (const auto& stage : query.rerank) rerank.push_back(reranker_json(stage));
  return document({{"text", query.text},
                   {"k", query.k},
                   {"bm25", bm25_json(query.bm25)},
                   {"mode", to_string(query.mode)},
                   {"fusion", fusion_json(query.fusion)},
                   {"filter", filter},
                   {"ef_search", query.ef_search},
                   {"nprobe", query.nprobe},
                   {"exact_search_threshold", query.exact_search_threshold},
                   {"rerank", rerank}});
}

std::string to_json(const OpenOptions& options) {
  return document({{"create_if_missing", options.create_if_missing},
                   {"chunker", optional_json(options.chunker)},
                   {"analyzer", optional_json(options.analyzer)},
                   {"embedder", optional_json(options.embedder)},
                   {"vector_index", optional_json(options.vector_index)}});
}

std::string to_json(const IngestOptions& options) {
  return document({{"include_globs", options.include_globs},
                   {"exclude_globs", options.exclude_globs},
                   {"prune", options.prune},
                   {"id_field", options.id_field},
                   {"title_field", options.title_field},
                   {"text_field", options.text_field},
                   {"metadata_field", options.metadata_field},
                   {"batch_documents", options.batch_documents},
                   {"max_file_bytes", options.max_file_bytes},
                   {"max_chunks_per_document", options.max_chunks_per_document},
                   {"redaction", optional_json(options.redaction)}});
}

std::string to_json(const PromptOptions& options) {
  return document({{"context_window", options.context_window},
                   {"answer_reserve", options.answer_reserve},
                   {"history_max_tokens", options.history_max_tokens},
                   {"template_text", options.template_text},
                   {"system_text", options.system_text},
                   {"expand", options.expand},
                   {"sentence_window", options.sentence_window}});
}

std::string embeddings_to_json(const std::vector<std::vector<float>>& vectors) {
  return document({{"vectors", vectors}});
}

std::string to_json(const std::vector<DocumentInput>& documents) {
  json list = json::array();
  for (const auto& d : documents) {
    list.push_back({{"id", d.id}, {"title", d.title}, {"text", d.text}, {"metadata", metadata_json(d.metadata)}});
  }
  return document({{"documents", list}});
}

std::string to_json(const StoredDocument& d) {
  return document({{"id", d.id},
                   {"title", d.title},
                   {"text", d.text},
                   {"metadata", metadata_json(d.metadata)},
                   {"content_hash", d.content_hash},
                   {"chunks", d.chunk_count}});
}

std::vector<DocumentInput> documents_from_json(std::string_view text) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::parse_error& error) {
    RAGLINE_THROW(format, "documents: not JSON: " << error.what());
  }
  std::string path = "documents";
  const json* list = &parsed;
  if (parsed.is_object()) {
    // The top level has no name of its own: its fields are named as they are ("documents[2].id").
    JsonFields fields(parsed, "");
    read_version(fields);
    list = fields.find("documents");
    fields.finish();
    RAGLINE_CHECK(list != nullptr, format, "documents: missing (an object holds the list as \"documents\")");
    path = fields.field_path("documents");
  }
  if (!list->is_array()) core::throw_wrong_type(path, "an array of documents", *list);
  std::vector<DocumentInput> documents;
  documents.reserve(list->size());
  for (std::size_t index = 0; index < list->size(); ++index) {
    documents.push_back(read_document_input((*list)[index], path + "[" + std::to_string(index) + "]"));
  }
  return documents;
}

DocumentInput document_input_from_json(std::string_view text) {
  const std::string path = "document";
  return read_document_input(parse_document(text, path), path);
}

StoredDocument stored_document_from_json(std::string_view text) {
  const std::string path = "stored_document";
  const json parsed = parse_document(text, path);
  StoredDocument stored;
  JsonFields fields(parsed, path);
  read_version(fields);
  read_required(fields, "id", stored.id);
  fields.read("title", stored.title);
  fields.read("text", stored.text);
  if (const auto* metadata = fields.find("metadata"); metadata && !metadata->is_null()) {
    stored.metadata = read_metadata(*metadata, fields.field_path("metadata"));
  }
  fields.read("content_hash", stored.content_hash);
  fields.read("chunks", stored.chunk_count);
  fields.finish();
  return stored;
}

Query query_from_json(std::string_view text) {
  const std::string path = "query";
  const json parsed = parse_document(text, path);
  Query query;
  JsonFields fields(parsed, path);
  read_version(fields);
  fields.read("text", query.text);
  fields.read("k", query.k);
  if (const auto* bm25 = fields.find("bm25")) read_bm25(*bm25, fields.field_path("bm25"), query.bm25);
  if (const auto* mode = fields.find("mode")) {
    if (!mode->is_string()) core::throw_wrong_type(fields.field_path("mode"), "a string", *mode);
    try {
      query.mode = parse_search_mode(mode->get<std::string>());
    } catch (const Error& error) {
      RAGLINE_THROW(format, fields.field_path("mode") << ": " << error.what());
    }
  }
  if (const auto* fusion = fields.find("fusion")) read_fusion(*fusion, fields.field_path("fusion"), query.fusion);
  // The filter language is JSON itself (retrieve/README.md); Query keeps it as text.
  if (const auto* filter = fields.find("filter")) {
    if (filter->is_object()) {
      query.filter = filter->dump();
    } else if (!filter->is_null()) {
      core::throw_wrong_type(fields.field_path("filter"), "an object or null", *filter);
    }
  }
  fields.read("ef_search", query.ef_search);
  fields.read("nprobe", query.nprobe);
  fields.read("exact_search_threshold", query.exact_search_threshold);
  if (const auto* rerank = fields.find("rerank")) {
    if (!rerank->is_array()) core::throw_wrong_type(fields.field_path("rerank"), "an array", *rerank);
    for (std::size_t index = 0; index < rerank->size(); ++index) {
      query.rerank.push_back(
          read_reranker((*rerank)[index], fields.field_path("rerank") + "[" + std::to_string(index) + "]"));
    }
  }
  fields.finish();
  return query;
}

OpenOptions open_options_from_json(std::string_view text) {
  const json parsed = parse_document(text, "open_options");
  OpenOptions options;
  JsonFields fields(parsed, "open_options");
  read_version(fields);
  fields.read("create_if_missing", options.create_if_missing);
  read_optional_config(fields, "chunker", options.chunker);
  read_optional_config(fields, "analyzer", options.analyzer);
  read_optional_config(fields, "embedder", options.embedder);
  read_optional_config(fields, "vector_index", options.vector_index);
  fields.finish();
  return options;
}

IngestOptions ingest_options_from_json(std::string_view text) {
  const json parsed = parse_document(text, "ingest_options");
  IngestOptions options;
  JsonFields fields(parsed, "ingest_options");
  read_version(fields);
  fields.read("include_globs", options.include_globs);
  fields.read("exclude_globs", options.exclude_globs);
  fields.read("prune", options.prune);
  fields.read("id_field", options.id_field);
  fields.read("title_field", options.title_field);
  fields.read("text_field", options.text_field);
  fields.read("metadata_field", options.metadata_field);
  fields.read("batch_documents", options.batch_documents);
  fields.read("max_file_bytes", options.max_file_bytes);
  fields.read("max_chunks_per_document", options.max_chunks_per_document);
  read_optional_config(fields, "redaction", options.redaction);
  fields.finish();
  return options;
}

PromptOptions prompt_options_from_json(std::string_view text) {
  const json parsed = parse_document(text, "prompt_options");
  PromptOptions options;
  JsonFields fields(parsed, "prompt_options");
  read_version(fields);
  fields.read("context_window", options.context_window);
  fields.read("answer_reserve", options.answer_reserve);
  fields.read("history_max_tokens", options.history_max_tokens);
  fields.read("template_text", options.template_text);
  fields.read("system_text", options.system_text);
  fields.read("expand", options.expand);
  fields.read("sentence_window", options.sentence_window);
  fields.finish();
  return options;
}

}  // namespace ragline
