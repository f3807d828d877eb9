// The C API (ragline/ragline.h) over KnowledgeBase and the library-side JSON (ragline/json.hpp).
// Every entry point runs its body through guarded(), which turns any exception into a NULL (or
// nothing) and the thread's last error: no exception may unwind into C.

#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/check.hpp"
#include "ragline/error.hpp"
#include "ragline/json.hpp"
#include "ragline/knowledge_base.hpp"
#include "ragline/ragline.h"
#include "ragline/version.hpp"

struct ragline_kb {
  ragline::KnowledgeBase kb;
};

namespace {

using nlohmann::json;
using ragline::Error;
using ragline::ErrorKind;

// "" until a call on this thread fails; then {"kind", "message"} of the last failure.
thread_local std::string last_error;

// What last_error holds when even building the error message runs out of memory.
constexpr const char* kOutOfMemoryError = R"({"kind":"out_of_memory","message":"out of memory"})";
thread_local bool out_of_memory = false;

void set_last_error(std::string_view kind, std::string_view message) noexcept {
  try {
    // Messages can carry bytes of hostile input (paths, record text): replaced, never a throw.
    last_error = json{{"kind", kind}, {"message", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
    out_of_memory = false;
  } catch (...) {
    out_of_memory = true;
  }
}

// The ErrorKind's identifier, as ragline.h documents it (to_string(ErrorKind) is for people:
// "format error").
std::string_view kind_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::invalid_argument:
      return "invalid_argument";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::io:
      return "io";
    case ErrorKind::database:
      return "database";
    case ErrorKind::corrupt:
      return "corrupt";
    case ErrorKind::format:
      return "format";
    case ErrorKind::busy:
      return "busy";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::internal:
      return "internal";
    case ErrorKind::network:
      return "network";
  }
  return "internal";
}

// Runs `body`, returning its result, or `failed` with the thread's last error set.
template <typename Body, typename Result = std::invoke_result_t<Body>>
Result guarded(Body&& body, Result failed) noexcept {
  try {
    return body();
  } catch (const Error& error) {
    set_last_error(kind_name(error.kind()), error.what());
  } catch (const std::bad_alloc&) {
    set_last_error("out_of_memory", "out of memory");
  } catch (const std::exception& error) {
    set_last_error("internal", std::string("unexpected error: ") + error.what());
  } catch (...) {
    set_last_error("internal", "unexpected error: an exception that is not a std::exception");
  }
  return failed;
}

// A malloc'ed copy the caller frees with ragline_free().
char* to_c_string(const std::string& text) {
  auto* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) throw std::bad_alloc();
  std::memcpy(copy, text.data(), text.size() + 1);
  return copy;
}

ragline::KnowledgeBase& knowledge_base(ragline_kb* kb) {
  RAGLINE_CHECK(kb != nullptr, invalid_argument, "the ragline_kb handle is NULL");
  return kb->kb;
}

std::string_view required_text(const char* text, const char* what) {
  RAGLINE_CHECK(text != nullptr, invalid_argument, what << " is NULL");
  return text;
}

// A request document of the C API: a JSON object whose fields are all in `known`.
json parse_request(std::string_view text, const char* what, std::initializer_list<std::string_view> known) {
  json request;
  try {
    request = json::parse(text);
  } catch (const json::parse_error& error) {
    RAGLINE_THROW(format, what << ": not JSON: " << error.what());
  }
  RAGLINE_CHECK(request.is_object(), format, what << ": not a JSON object");
  for (const auto& [key, value] : request.items()) {
    bool is_known = false;
    for (const auto name : known) is_known = is_known || key == name;
    RAGLINE_CHECK(is_known, format, what << ": unknown field \"" << key << "\"");
  }
  return request;
}

// The JSON text of an optional sub-object, for the library's *_from_json readers ("" when absent).
std::string sub_document(const json& request, const char* field, const char* what) {
  const auto found = request.find(field);
  if (found == request.end() || found->is_null()) return {};
  RAGLINE_CHECK(found->is_object(), format, what << ": \"" << field << "\" is not an object");
  return found->dump();
}

template <typename T>
T field_or(const json& object, const char* field, T fallback, const std::string& where) {
  const auto found = object.find(field);
  if (found == object.end() || found->is_null()) return fallback;
  try {
    return found->get<T>();
  } catch (const json::exception&) {
    RAGLINE_THROW(format, where << "." << field << ": wrong type (" << found->type_name() << ")");
  }
}

// A count of the request (limit, offset): a non-negative integer, `fallback` when absent.
std::size_t count_field(const json& request, const char* field, std::size_t fallback, const char* what) {
  const auto found = request.find(field);
  if (found == request.end() || found->is_null()) return fallback;
  RAGLINE_CHECK(found->is_number_unsigned(), format,
                what << ": \"" << field << "\" must be a non-negative integer, not " << found->dump());
  return found->get<std::size_t>();
}

ragline::MetadataValue metadata_value(const json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>();
  if (value.is_array()) {
    std::vector<std::string> list;
    for (const auto& item : value) {
      RAGLINE_CHECK(item.is_string(), format, where << ": a list value holds strings only");
      list.push_back(item.get<std::string>());
    }
    return list;
  }
  RAGLINE_THROW(format, where << ": not a string, number, boolean or list of strings");
}

// A hit as ragline_kb_search_json returned it (ragline/json.hpp's to_json(Hit)); the fields
// build_prompt reads, the rest (rank, bm25, dense, rerank_score) ignored.
ragline::Hit hit_from_json(const json& object, const std::string& where) {
  RAGLINE_CHECK(object.is_object(), format, where << ": not a JSON object");
  RAGLINE_CHECK(object.contains("chunk_id"), format, where << ".chunk_id: missing");
  ragline::Hit hit;
  hit.chunk_id = field_or<std::int64_t>(object, "chunk_id", 0, where);
  hit.document_uri = field_or<std::string>(object, "document_uri", {}, where);
  hit.title = field_or<std::string>(object, "title", {}, where);
  hit.heading_path = field_or<std::string>(object, "heading_path", {}, where);
  hit.text = field_or<std::string>(object, "text", {}, where);
  hit.byte_start = field_or<std::size_t>(object, "byte_start", 0, where);
  hit.byte_end = field_or<std::size_t>(object, "byte_end", 0, where);
  hit.score = field_or<double>(object, "score", 0, where);
  if (const auto page = object.find("page"); page != object.end() && !page->is_null()) {
    hit.page = field_or<int>(object, "page", 0, where);
  }
  if (const auto metadata = object.find("metadata"); metadata != object.end() && !metadata->is_null()) {
    RAGLINE_CHECK(metadata->is_object(), format, where << ".metadata: not an object");
    for (const auto& [key, value] : metadata->items()) {
      hit.metadata.emplace(key, metadata_value(value, where + ".metadata." + key));
    }
  }
  return hit;
}

}  // namespace

extern "C" {

const char* ragline_version(void) { return ragline::version(); }

ragline_kb* ragline_kb_open(const char* dir, const char* options_json) {
  return guarded(
      [&]() -> ragline_kb* {
        const std::string_view directory = required_text(dir, "dir");
        RAGLINE_CHECK(!directory.empty(), invalid_argument, "dir is empty");
        ragline::OpenOptions options;
        if (options_json != nullptr && *options_json != '\0') options = ragline::open_options_from_json(options_json);
        return new ragline_kb{ragline::KnowledgeBase::open(std::string(directory), options)};
      },
      static_cast<ragline_kb*>(nullptr));
}

void ragline_kb_close(ragline_kb* kb) {
  guarded(
      [&] {
        delete kb;
        return 0;
      },
      0);
}

char* ragline_kb_ingest_json(ragline_kb* kb, const char* request_json) {
  return guarded(
      [&]() -> char* {
        auto& base = knowledge_base(kb);
        const char* what = "ingest request";
        const json request = parse_request(required_text(request_json, "request_json"), what, {"paths", "options"});
        const auto paths = request.find("paths");
        RAGLINE_CHECK(paths != request.end() && paths->is_array() && !paths->empty(), format,
                      what << ": \"paths\" must be a non-empty array of paths");
        std::vector<std::filesystem::path> inputs;
        for (const auto& path : *paths) {
          RAGLINE_CHECK(path.is_string(), format,
                        what << ": \"paths\" holds a " << path.type_name() << ", not a string");
          inputs.emplace_back(path.get<std::string>());
        }
        const std::string options = sub_document(request, "options", what);
        const auto report = base.ingest(
            inputs, options.empty() ? ragline::IngestOptions{} : ragline::ingest_options_from_json(options));
        return to_c_string(ragline::to_json(report));
      },
      static_cast<char*>(nullptr));
}

char* ragline_kb_upsert_json(ragline_kb* kb, const char* documents_json) {
  return guarded(
      [&]() -> char* {
        auto& base = knowledge_base(kb);
        const auto documents = ragline::documents_from_json(required_text(documents_json, "documents_json"));
        return to_c_string(ragline::to_json(base.upsert(documents)));
      },
      static_cast<char*>(nullptr));
}

char* ragline_kb_search_json(ragline_kb* kb, const char* query_json) {
  return guarded(
      [&]() -> char* {
        const auto& base = knowledge_base(kb);
        const auto query = ragline::query_from_json(required_text(query_json, "query_json"));
        return to_c_string(ragline::to_json(base.search(query)));
      },
      static_cast<char*>(nullptr));
}

char* ragline_kb_prompt_json(ragline_kb* kb, const char* request_json) {
  return guarded(
      [&]() -> char* {
        const auto& base = knowledge_base(kb);
        const char* what = "prompt request";
        const json request =
            parse_request(required_text(request_json, "request_json"), what, {"question", "query", "hits", "options"});
        const auto question = request.find("question");
        RAGLINE_CHECK(question != request.end() && question->is_string(), format,
                      what << ": \"question\" must be a string");
        const std::string question_text = question->get<std::string>();
        RAGLINE_CHECK(!(request.contains("query") && request.contains("hits")), format,
                      what << ": give either \"query\" or \"hits\", not both");

        std::vector<ragline::Hit> hits;
        if (const auto given = request.find("hits"); given != request.end()) {
          RAGLINE_CHECK(given->is_array(), format, what << ": \"hits\" is not an array");
          for (std::size_t index = 0; index < given->size(); ++index) {
            hits.push_back(hit_from_json((*given)[index], "hits[" + std::to_string(index) + "]"));
          }
        } else {
          const std::string query_document = sub_document(request, "query", what);
          ragline::Query query = query_document.empty() ? ragline::Query{} : ragline::query_from_json(query_document);
          if (query.text.empty()) query.text = question_text;
          hits = base.retrieve(query);
        }
        const std::string options = sub_document(request, "options", what);
        const auto prompt =
            base.build_prompt(question_text, hits,
                              options.empty() ? ragline::PromptOptions{} : ragline::prompt_options_from_json(options));
        return to_c_string(ragline::to_json(prompt));
      },
      static_cast<char*>(nullptr));
}

char* ragline_kb_stats_json(ragline_kb* kb) {
  return guarded([&]() -> char* { return to_c_string(ragline::to_json(knowledge_base(kb).stats())); },
                 static_cast<char*>(nullptr));
}

char* ragline_kb_documents_json(ragline_kb* kb, const char* request_json) {
  return guarded(
      [&]() -> char* {
        const auto& base = knowledge_base(kb);
        const char* what = "documents request";
        json request = json::object();
        if (request_json != nullptr && *request_json != '\0') {
          request = parse_request(request_json, what, {"filter", "limit", "offset"});
        }
        const std::string filter = sub_document(request, "filter", what);
        const std::size_t limit = count_field(request, "limit", 0, what);
        const std::size_t offset = count_field(request, "offset", 0, what);
        return to_c_string(ragline::to_json(base.documents(filter, limit, offset)));
      },
      static_cast<char*>(nullptr));
}

char* ragline_kb_remove_json(ragline_kb* kb, const char* request_json) {
  return guarded(
      [&]() -> char* {
        auto& base = knowledge_base(kb);
        const char* what = "remove request";
        const json request = parse_request(required_text(request_json, "request_json"), what, {"ids", "filter"});
        const auto ids = request.find("ids");
        const bool by_filter = request.contains("filter");
        RAGLINE_CHECK((ids != request.end()) != by_filter, format,
                      what << ": give either \"ids\" or \"filter\" (one of them)");
        std::size_t removed = 0;
        if (by_filter) {
          const std::string filter = sub_document(request, "filter", what);
          // An absent or null filter would select everything; never what a caller meant.
          RAGLINE_CHECK(!filter.empty(), format, what << ": \"filter\" must be a filter object");
          removed = base.remove_where(filter);
        } else {
          RAGLINE_CHECK(ids->is_array(), format, what << ": \"ids\" must be an array of strings");
          std::vector<std::string> list;
          for (const auto& id : *ids) {
            RAGLINE_CHECK(id.is_string(), format, what << ": \"ids\" holds a " << id.type_name() << ", not a string");
            list.push_back(id.get<std::string>());
          }
          removed = base.remove(list);
        }
        return to_c_string(json{{"ragline_json", ragline::kJsonVersion}, {"removed", removed}}.dump());
      },
      static_cast<char*>(nullptr));
}

char* ragline_kb_compact_json(ragline_kb* kb) {
  return guarded([&]() -> char* { return to_c_string(ragline::to_json(knowledge_base(kb).compact())); },
                 static_cast<char*>(nullptr));
}

const char* ragline_last_error(void) { return out_of_memory ? kOutOfMemoryError : last_error.c_str(); }

void ragline_free(void* pointer) { std::free(pointer); }

}  // extern "C"
