#include "bench/beir_dataset.hpp"

#include <charconv>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "ragline/error.hpp"

namespace ragline::bench {
namespace {

namespace fs = std::filesystem;

std::ifstream open_input(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw Error(ErrorKind::not_found, path.string() +
                                          ": no such file (a BEIR dataset needs corpus.jsonl, "
                                          "queries.jsonl and qrels/<split>.tsv)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::io, path.string() + ": cannot open for reading");
  return in;
}

}  // namespace

void throw_at(const std::filesystem::path& path, std::size_t line_number, const std::string& message) {
  std::ostringstream out;
  out << path.string() << ':' << line_number << ": " << message;
  throw Error(ErrorKind::format, out.str());
}

void for_each_line(const std::filesystem::path& path, const std::function<void(std::string_view, std::size_t)>& visit) {
  std::ifstream in = open_input(path);
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::string_view view = line;
    if (line_number == 1 && view.starts_with("\xEF\xBB\xBF")) view.remove_prefix(3);
    if (view.ends_with('\r')) view.remove_suffix(1);
    if (view.find_first_not_of(" \t") == std::string_view::npos) continue;
    visit(view, line_number);
  }
  if (in.bad()) throw Error(ErrorKind::io, path.string() + ": read error after line " + std::to_string(line_number));
}

namespace {

std::string record_id(const fs::path& path, std::size_t line_number, const nlohmann::json& record) {
  const auto found = record.find("_id");
  if (found == record.end()) throw_at(path, line_number, "record has no \"_id\"");
  if (found->is_string()) {
    std::string id = found->get<std::string>();
    if (id.empty()) throw_at(path, line_number, "\"_id\" is empty");
    return id;
  }
  if (found->is_number_integer()) return found->dump();
  throw_at(path, line_number, "\"_id\" must be a string or an integer");
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

void load_corpus(BeirDataset& dataset) {
  for_each_line(dataset.corpus_path, [&](std::string_view line, std::size_t line_number) {
    const nlohmann::json record = parse_record(dataset.corpus_path, line_number, line);
    std::string id = record_id(dataset.corpus_path, line_number, record);
    const auto text = record.find("text");
    if (text != record.end() && !text->is_string())
      throw_at(dataset.corpus_path, line_number, "\"text\" must be a string");
    if (!dataset.document_ids.insert(id).second) {
      throw_at(dataset.corpus_path, line_number, "duplicate document id '" + id + "'");
    }
  });
  std::error_code error;
  dataset.corpus_bytes = fs::file_size(dataset.corpus_path, error);
  if (error) throw Error(ErrorKind::io, dataset.corpus_path.string() + ": " + error.message());
}

void load_queries(BeirDataset& dataset) {
  std::unordered_set<std::string> seen;
  for_each_line(dataset.queries_path, [&](std::string_view line, std::size_t line_number) {
    const nlohmann::json record = parse_record(dataset.queries_path, line_number, line);
    std::string id = record_id(dataset.queries_path, line_number, record);
    const auto text = record.find("text");
    if (text == record.end() || !text->is_string()) {
      throw_at(dataset.queries_path, line_number, "query '" + id + "' has no string \"text\"");
    }
    if (!seen.insert(id).second) throw_at(dataset.queries_path, line_number, "duplicate query id '" + id + "'");
    dataset.queries.push_back({std::move(id), text->get<std::string>()});
  });
}

void load_qrels(BeirDataset& dataset) {
  std::unordered_set<std::string> query_ids;
  for (const BeirQuery& query : dataset.queries) query_ids.insert(query.id);

  bool header_seen = false;
  for_each_line(dataset.qrels_path, [&](std::string_view line, std::size_t line_number) {
    const std::vector<std::string_view> fields = split_tabs(line);
    if (!header_seen) {
      if (fields.size() != 3 || fields[0] != "query-id" || fields[1] != "corpus-id" || fields[2] != "score") {
        throw_at(dataset.qrels_path, line_number,
                 "expected the header \"query-id<TAB>corpus-id<TAB>score\", found \"" + std::string(line) + "\"");
      }
      header_seen = true;
      return;
    }
    if (fields.size() != 3) {
      throw_at(dataset.qrels_path, line_number,
               "expected 3 tab-separated fields (query-id, corpus-id, score), found " + std::to_string(fields.size()));
    }
    if (fields[0].empty() || fields[1].empty()) throw_at(dataset.qrels_path, line_number, "empty query or corpus id");
    int score = 0;
    const std::string_view score_text = fields[2];
    const auto [end, error] = std::from_chars(score_text.data(), score_text.data() + score_text.size(), score);
    if (error != std::errc() || end != score_text.data() + score_text.size()) {
      throw_at(dataset.qrels_path, line_number, "score \"" + std::string(score_text) + "\" is not an integer");
    }
    std::string query_id(fields[0]);
    std::string document_id(fields[1]);
    if (!query_ids.contains(query_id)) ++dataset.judgments_unknown_query;
    if (!dataset.document_ids.contains(document_id)) ++dataset.judgments_unknown_document;
    Judgments& judgments = dataset.qrels[query_id];
    if (!judgments.emplace(document_id, score).second) {
      throw_at(dataset.qrels_path, line_number,
               "duplicate judgment for query '" + query_id + "' and document '" + document_id + "'");
    }
    ++dataset.judgments;
  });
  if (!header_seen) throw_at(dataset.qrels_path, 1, "empty qrels file (expected a header and judgments)");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

nlohmann::json parse_record(const fs::path& path, std::size_t line_number, std::string_view line) {
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& error) {
    throw_at(path, line_number, std::string("invalid JSON: ") + error.what());
  }
  if (!record.is_object()) throw_at(path, line_number, "expected a JSON object");
  return record;
}

std::size_t BeirDataset::judged_query_count() const {
  std::size_t count = 0;
  for (const BeirQuery& query : queries) count += qrels.contains(query.id) ? 1 : 0;
  return count;
}

BeirDataset load_beir_dataset(const std::filesystem::path& directory, std::string_view split) {
  BeirDataset dataset;
  dataset.directory = directory;
  dataset.corpus_path = directory / "corpus.jsonl";
  dataset.queries_path = directory / "queries.jsonl";
  dataset.qrels_path = directory / "qrels" / (std::string(split) + ".tsv");
  load_corpus(dataset);
  load_queries(dataset);
  load_qrels(dataset);
  return dataset;
}

std::optional<std::string> document_id_from_uri(std::string_view uri) {
  const std::size_t hash = uri.rfind('#');
  if (hash == std::string_view::npos) return std::nullopt;
  const std::string_view encoded = uri.substr(hash + 1);
  std::string decoded;
  decoded.reserve(encoded.size());
  for (std::size_t index = 0; index < encoded.size(); ++index) {
    if (encoded[index] == '%' && index + 2 < encoded.size()) {
      const int high = hex_value(encoded[index + 1]);
      const int low = hex_value(encoded[index + 2]);
      if (high >= 0 && low >= 0) {
        decoded.push_back(static_cast<char>(high * 16 + low));
        index += 2;
        continue;
      }
    }
    // A '%' not followed by two hex digits is kept literally rather than rejected: the id is
    // still comparable with the corpus, and a mismatch shows up as an unknown document.
    decoded.push_back(encoded[index]);
  }
  return decoded;
}

std::vector<std::string> collapse_to_documents(std::span<const std::string> chunk_document_ids,
                                               std::size_t max_documents) {
  std::vector<std::string> documents;
  std::unordered_set<std::string_view> seen;
  for (const std::string& id : chunk_document_ids) {
    if (documents.size() >= max_documents) break;
    if (seen.insert(id).second) documents.push_back(id);
  }
  return documents;
}

}  // namespace ragline::bench
