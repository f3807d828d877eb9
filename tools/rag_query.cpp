// rag-query: the command line of ragline. Only argument parsing and printing live here; all
// work goes through the public API in <ragline/ragline.hpp>.
//
// Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage;
// 3 ingest finished but some inputs failed (listed on stderr and in the summary).

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <ragline/ragline.hpp>
#include <sstream>

#include "terminal_progress.hpp"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kExitFailed = 1;
constexpr int kExitIngestFailures = 3;

json metadata_to_json(const ragline::Metadata& metadata) {
  json object = json::object();
  for (const auto& [key, value] : metadata) {
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
        value);
  }
  return object;
}

std::string metadata_to_text(const ragline::Metadata& metadata) {
  std::ostringstream text;
  bool first = true;
  for (const auto& [key, value] : metadata) {
    text << (first ? "" : ", ") << key << "=" << metadata_to_json({{key, value}})[key].dump();
    first = false;
  }
  return text.str();
}

// One line of text for a terminal: white space collapsed, cut at `limit` bytes on a UTF-8 boundary.
std::string snippet(const std::string& text, std::size_t limit) {
  std::string line;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == ' ') {
      space = !line.empty();
      continue;
    }
    if (space) line += ' ';
    space = false;
    line += c;
  }
  if (line.size() <= limit) return line;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "…";
}

std::string default_kb() {
  const char* from_environment = std::getenv("RAGLINE_KB");
  return from_environment ? from_environment : "";
}

void add_kb_option(CLI::App* command, std::string& kb) {
  command->add_option("--kb", kb, "Knowledge base directory (default: $RAGLINE_KB)");
}

ragline::KnowledgeBase open_existing(const std::string& kb) {
  if (kb.empty())
    throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
  ragline::OpenOptions options;
  options.create_if_missing = false;
  return ragline::KnowledgeBase::open(kb, options);
}

json hit_to_json(const ragline::Hit& hit, std::size_t rank) {
  json object = {{"rank", rank},
                 {"score", hit.score},
                 {"chunk_id", hit.chunk_id},
                 {"document_uri", hit.document_uri},
                 {"title", hit.title},
                 {"heading_path", hit.heading_path},
                 {"byte_start", hit.byte_start},
                 {"byte_end", hit.byte_end},
                 {"text", hit.text},
                 {"metadata", metadata_to_json(hit.metadata)}};
  object["page"] = hit.page ? json(*hit.page) : json(nullptr);
  return object;
}

void print_hits(const std::string& query, const std::vector<ragline::Hit>& hits, bool as_json) {
  if (as_json) {
    json list = json::array();
    for (std::size_t i = 0; i < hits.size(); ++i) list.push_back(hit_to_json(hits[i], i + 1));
    std::cout << json{{"query", query}, {"hits", list}}.dump(2) << "\n";
    return;
  }
  if (hits.empty()) {
    std::cout << "no results\n";
    return;
  }
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const auto& hit = hits[i];
    std::printf("%zu. %s  (score %.4f)\n", i + 1, hit.title.empty() ? "(untitled)" : hit.title.c_str(), hit.score);
    if (!hit.heading_path.empty()) std::printf("   section: %s\n", hit.heading_path.c_str());
    std::printf("   %s  bytes %zu-%zu", hit.document_uri.c_str(), hit.byte_start, hit.byte_end);
    if (hit.page) std::printf("  page %d", *hit.page);
    std::printf("\n   %s\n", snippet(hit.text, 300).c_str());
    if (!hit.metadata.empty()) std::printf("   metadata: %s\n", metadata_to_text(hit.metadata).c_str());
  }
}

struct IngestArguments {
  std::vector<std::string> paths;
  std::string kb = default_kb();
  std::string chunker;
  int max_tokens = 0, overlap = -1, parent_tokens = 0, child_tokens = 0;
  std::string language;
  bool no_stemming = false, no_stopwords = false;
  ragline::IngestOptions options;
  bool as_json = false, quiet = false;
};

int run_ingest(IngestArguments& arguments) {
  if (arguments.kb.empty())
    throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
  ragline::OpenOptions open_options;
  const bool chunker_given = !arguments.chunker.empty() || arguments.max_tokens > 0 || arguments.overlap >= 0 ||
                             arguments.parent_tokens > 0 || arguments.child_tokens > 0;
  if (chunker_given) {
    ragline::ChunkerConfig chunker;
    if (!arguments.chunker.empty()) chunker.name = arguments.chunker;
    if (arguments.max_tokens > 0) chunker.max_tokens = arguments.max_tokens;
    if (arguments.overlap >= 0) chunker.overlap_tokens = arguments.overlap;
    if (arguments.parent_tokens > 0) chunker.parent_tokens = arguments.parent_tokens;
    if (arguments.child_tokens > 0) chunker.child_tokens = arguments.child_tokens;
    open_options.chunker = chunker;
  }
  if (!arguments.language.empty() || arguments.no_stemming || arguments.no_stopwords) {
    ragline::AnalyzerConfig analyzer;
    if (!arguments.language.empty()) analyzer.language = arguments.language;
    analyzer.stemming = !arguments.no_stemming;
    analyzer.stopwords = !arguments.no_stopwords;
    open_options.analyzer = analyzer;
  }
  open_options.log = [&](ragline::LogLevel level, const std::string& message) {
    if (level == ragline::LogLevel::warning || level == ragline::LogLevel::error) {
      if (!arguments.quiet) std::cerr << "\r" << message << "\n";
    }
  };
  auto kb = ragline::KnowledgeBase::open(arguments.kb, open_options);
  ragline::tools::ProgressBar progress_bar;
  if (!arguments.quiet) arguments.options.progress = [&](const ragline::IngestProgress& p) { progress_bar.update(p); };
  std::vector<fs::path> paths(arguments.paths.begin(), arguments.paths.end());
  const auto report = kb.ingest(paths, arguments.options);
  progress_bar.finish();

  const double megabytes = static_cast<double>(report.bytes_read) / 1e6;
  if (arguments.as_json) {
    json failures = json::array();
    for (const auto& failure : report.failures)
      failures.push_back({{"location", failure.location}, {"reason", failure.reason}});
    std::cout << json{{"files", report.files_seen},
                      {"added", report.documents_added},
                      {"updated", report.documents_updated},
                      {"unchanged", report.documents_unchanged},
                      {"pruned", report.documents_pruned},
                      {"failed", report.failures.size()},
                      {"chunks", report.chunks_written},
                      {"invalid_utf8_replaced", report.invalid_utf8_replaced},
                      {"bytes", report.bytes_read},
                      {"seconds", report.seconds},
                      {"failures", failures}}
                     .dump()
              << "\n";
  } else {
    std::printf(
        "ingested %zu files: %zu added, %zu updated, %zu unchanged, %zu pruned, %zu failed; %zu chunks; "
        "%.2f MB in %.2f s (%.2f MB/s)\n",
        report.files_seen, report.documents_added, report.documents_updated, report.documents_unchanged,
        report.documents_pruned, report.failures.size(), report.chunks_written, megabytes, report.seconds,
        report.seconds > 0 ? megabytes / report.seconds : 0.0);
    if (report.invalid_utf8_replaced > 0) {
      std::printf("replaced %zu invalid UTF-8 sequences with U+FFFD\n", report.invalid_utf8_replaced);
    }
  }
  return report.ok() ? 0 : kExitIngestFailures;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rag-query: ingest files into a ragline knowledge base and search it"};
  app.require_subcommand(1);

  IngestArguments ingest_arguments;
  auto* ingest = app.add_subcommand("ingest", "Ingest files and directories into a KB (created if missing)");
  ingest->add_option("paths", ingest_arguments.paths, "Files or directories")->required();
  add_kb_option(ingest, ingest_arguments.kb);
  ingest->add_option("--chunker", ingest_arguments.chunker,
                     "fixed | sentence | markdown | hierarchical | none (new KB)");
  ingest->add_option("--max-tokens", ingest_arguments.max_tokens, "Largest chunk, in tokens (new KB)");
  ingest->add_option("--overlap", ingest_arguments.overlap, "Tokens repeated between chunks (new KB)");
  ingest->add_option("--parent-tokens", ingest_arguments.parent_tokens, "hierarchical: parent chunk size (new KB)");
  ingest->add_option("--child-tokens", ingest_arguments.child_tokens, "hierarchical: child chunk size (new KB)");
  ingest->add_option("--language", ingest_arguments.language, "Stemming language, e.g. english, german (new KB)");
  ingest->add_flag("--no-stemming", ingest_arguments.no_stemming, "Index unstemmed terms (new KB)");
  ingest->add_flag("--no-stopwords", ingest_arguments.no_stopwords, "Keep stopwords (new KB)");
  ingest->add_option("--include", ingest_arguments.options.include_globs, "Only files matching this glob (repeatable)");
  ingest->add_option("--exclude", ingest_arguments.options.exclude_globs, "Skip files matching this glob (repeatable)");
  ingest->add_flag("--prune", ingest_arguments.options.prune, "Remove documents whose source under PATHS is gone");
  ingest->add_option("--id-field", ingest_arguments.options.id_field, "JSON record id field (default id, then _id)");
  ingest->add_option("--title-field", ingest_arguments.options.title_field, "JSON record title field");
  ingest->add_option("--text-field", ingest_arguments.options.text_field, "JSON record text field");
  ingest->add_option("--metadata-field", ingest_arguments.options.metadata_field, "JSON record metadata field");
  ingest->add_option("--batch", ingest_arguments.options.batch_documents, "Documents per transaction");
  ingest->add_flag("--json", ingest_arguments.as_json, "Print the report as JSON");
  ingest->add_flag("-q,--quiet", ingest_arguments.quiet, "No progress bar or per-file warnings");

  std::string search_text, search_kb = default_kb();
  std::size_t k = 10;
  bool search_json = false;
  auto* search = app.add_subcommand("search", "BM25 search: ranked chunks for a free-text query");
  search->add_option("text", search_text, "Query text")->required();
  add_kb_option(search, search_kb);
  search->add_option("-k", k, "Number of results")->check(CLI::Range(1, 100000));
  search->add_flag("--json", search_json, "Print results as JSON");

  std::string stats_kb = default_kb();
  bool stats_json = false;
  auto* stats = app.add_subcommand("stats", "Counts, size and settings of a KB");
  add_kb_option(stats, stats_kb);
  stats->add_flag("--json", stats_json, "Print as JSON");

  std::string docs_kb = default_kb();
  bool docs_json = false;
  auto* docs = app.add_subcommand("docs", "List the documents of a KB");
  add_kb_option(docs, docs_kb);
  docs->add_flag("--json", docs_json, "Print as JSON");

  std::string delete_target, delete_kb = default_kb();
  auto* remove = app.add_subcommand("delete", "Remove one document (by URI, or by file path)");
  remove->add_option("uri", delete_target, "Document URI (file:///...#id) or a file path")->required();
  add_kb_option(remove, delete_kb);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; every real usage error exits 2, whatever CLI11's own code.
    return app.exit(error) == 0 ? 0 : 2;
  }

  try {
    if (*ingest) return run_ingest(ingest_arguments);
    if (*search) {
      auto kb = open_existing(search_kb);
      print_hits(search_text, kb.retrieve({search_text, k}), search_json);
      return 0;
    }
    if (*stats) {
      auto kb = open_existing(stats_kb);
      const auto s = kb.stats();
      json chunker = {{"name", s.chunker.name},
                      {"max_tokens", s.chunker.max_tokens},
                      {"overlap_tokens", s.chunker.overlap_tokens},
                      {"parent_tokens", s.chunker.parent_tokens},
                      {"child_tokens", s.chunker.child_tokens}};
      json analyzer = {
          {"language", s.analyzer.language}, {"stemming", s.analyzer.stemming}, {"stopwords", s.analyzer.stopwords}};
      if (stats_json) {
        std::cout << json{{"documents", s.documents},
                          {"chunks", s.chunks},
                          {"searchable_chunks", s.searchable_chunks},
                          {"tokens", s.tokens},
                          {"bytes_on_disk", s.bytes_on_disk},
                          {"schema_version", s.schema_version},
                          {"chunker", chunker},
                          {"analyzer", analyzer}}
                         .dump(2)
                  << "\n";
      } else {
        std::printf(
            "documents:   %lld\nchunks:      %lld (%lld searchable)\ntokens:      %lld\n"
            "size:        %.2f MB\nschema:      v%d\nchunker:     %s\nanalyzer:    %s\n",
            static_cast<long long>(s.documents), static_cast<long long>(s.chunks),
            static_cast<long long>(s.searchable_chunks), static_cast<long long>(s.tokens),
            static_cast<double>(s.bytes_on_disk) / 1e6, s.schema_version, chunker.dump().c_str(),
            analyzer.dump().c_str());
      }
      return 0;
    }
    if (*docs) {
      auto kb = open_existing(docs_kb);
      const auto documents = kb.documents();
      if (docs_json) {
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
                          {"chunks", d.chunk_count}});
        }
        std::cout << list.dump(2) << "\n";
      } else {
        for (const auto& d : documents) {
          std::printf("%s\t%s\t%lld chunks\t%s\n", d.uri.c_str(), d.mime_type.c_str(),
                      static_cast<long long>(d.chunk_count), d.title.c_str());
        }
      }
      return 0;
    }
    if (*remove) {
      auto kb = open_existing(delete_kb);
      const std::string uri =
          delete_target.find("://") != std::string::npos ? delete_target : ragline::file_uri(delete_target);
      if (!kb.remove_document(uri)) {
        std::cerr << "rag-query: no document " << uri << " in " << delete_kb << "\n";
        return kExitFailed;
      }
      std::cout << "deleted " << uri << "\n";
      return 0;
    }
  } catch (const ragline::Error& error) {
    std::cerr << "rag-query: " << error.what() << "\n";
    return kExitFailed;
  } catch (const std::exception& error) {
    std::cerr << "rag-query: unexpected error: " << error.what() << "\n";
    return kExitFailed;
  }
  return 0;
}
