// rag-query stats, docs, delete, check, repair: what a KB holds and how healthy it is.

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"

namespace rag_query {
namespace {

namespace fs = std::filesystem;

void print_check_text(const ragline::CheckReport& report) {
  for (const auto& finding : report.findings) std::cout << finding.area << ": " << finding.message << "\n";
  for (const auto& item : report.pending) std::cout << "pending: " << item.area << ": " << item.message << "\n";
  std::cout << (report.ok() ? "ok" : std::to_string(report.findings.size()) + " findings") << "\n";
}

struct KbArguments {
  std::string kb = default_kb();
  bool as_json = false;
};

}  // namespace

Command add_stats_command(CLI::App& app) {
  auto arguments = std::make_shared<KbArguments>();
  auto* command = app.add_subcommand("stats", "Counts, size and settings of a KB");
  add_kb_option(command, arguments->kb);
  command->add_flag("--json", arguments->as_json, "Print as JSON");
  return {command, [arguments] {
            const auto s = open_existing(arguments->kb).stats();
            const std::string document = ragline::to_json(s);
            if (arguments->as_json) {
              print_json_indented(document);
              return 0;
            }
            // The settings print as the library's JSON of them.
            const auto settings = nlohmann::json::parse(document);
            std::printf(
                "documents:   %lld\nchunks:      %lld (%lld searchable)\ntokens:      %lld\n"
                "size:        %.2f MB\nschema:      v%d\nchunker:     %s\nanalyzer:    %s\n"
                "embedder:    %s\nvectors:     %lld (index %s)\n",
                static_cast<long long>(s.documents), static_cast<long long>(s.chunks),
                static_cast<long long>(s.searchable_chunks), static_cast<long long>(s.tokens),
                static_cast<double>(s.bytes_on_disk) / 1e6, s.schema_version, settings.at("chunker").dump().c_str(),
                settings.at("analyzer").dump().c_str(),
                s.embedder_id.empty() ? s.embedder.name.c_str() : s.embedder_id.c_str(),
                static_cast<long long>(s.vectors), s.vector_index.type.c_str());
            std::printf("redaction:   %s\n", s.redaction ? settings.at("redaction").dump().c_str() : "none");
            return 0;
          }};
}

Command add_docs_command(CLI::App& app) {
  struct DocsArguments : KbArguments {
    std::string filter;
    std::size_t limit = 0, offset = 0;
  };
  auto arguments = std::make_shared<DocsArguments>();
  auto* command = app.add_subcommand("docs", "List the documents of a KB (URI order)");
  add_kb_option(command, arguments->kb);
  command->add_flag("--json", arguments->as_json, "Print as JSON (with each document's metadata)");
  command->add_option("--filter", arguments->filter, "Only documents whose metadata pass this filter (JSON)");
  command->add_option("--limit", arguments->limit, "At most this many documents (0: all)");
  command->add_option("--offset", arguments->offset, "Pass over this many documents first");
  return {command, [arguments] {
            if (!arguments->filter.empty()) {
              as_usage_error([&] {
                ragline::Query probe;
                probe.filter = arguments->filter;
                ragline::KnowledgeBase::validate(probe);
              });
            }
            const auto documents =
                open_existing(arguments->kb).documents(arguments->filter, arguments->limit, arguments->offset);
            if (arguments->as_json) {
              print_json_indented(ragline::to_json(documents));
              return 0;
            }
            for (const auto& d : documents) {
              std::printf("%s\t%s\t%lld chunks\t%s\n", d.uri.c_str(), d.mime_type.c_str(),
                          static_cast<long long>(d.chunk_count), d.title.c_str());
            }
            return 0;
          }};
}

Command add_delete_command(CLI::App& app) {
  struct DeleteArguments {
    std::string target, prefix, filter, kb = default_kb();
  };
  auto arguments = std::make_shared<DeleteArguments>();
  auto* command = app.add_subcommand(
      "delete", "Remove documents: one by URI or file path, all under a URI prefix, or all passing a filter");
  auto* uri_option =
      command->add_option("uri", arguments->target, "Document URI (file:///...#id, an upsert's id) or a file path");
  auto* prefix_option = command->add_option(
      "--prefix", arguments->prefix,
      "Every document whose URI starts with this (a folder path stands for file:///its/real/path/)");
  auto* filter_option =
      command->add_option("--filter", arguments->filter, "Every document whose metadata pass this filter (JSON)");
  uri_option->excludes(prefix_option)->excludes(filter_option);
  prefix_option->excludes(filter_option);
  add_kb_option(command, arguments->kb);
  return {command, [arguments] {
            if (arguments->target.empty() && arguments->prefix.empty() && arguments->filter.empty()) {
              throw UsageError("delete: name a document URI, --prefix URI-PREFIX or --filter JSON");
            }
            if (!arguments->prefix.empty() || !arguments->filter.empty()) {
              std::string filter = arguments->filter;
              if (!arguments->prefix.empty()) {
                std::string prefix_uri = arguments->prefix;
                if (prefix_uri.find("://") == std::string::npos) {
                  // A path: its documents are named by real paths (file_uri of the canonical path);
                  // a folder ends in '/' so that /srv/doc does not also take /srv/docs.
                  std::error_code error;
                  const fs::path real = fs::weakly_canonical(fs::absolute(prefix_uri), error);
                  const bool folder = fs::is_directory(real, error) || prefix_uri.ends_with('/');
                  prefix_uri = ragline::file_uri(real.lexically_normal());
                  if (folder && !prefix_uri.ends_with('/')) prefix_uri += '/';
                }
                filter = nlohmann::json{{"startsWith", {{"key", "_source_uri"}, {"value", prefix_uri}}}}.dump();
              }
              as_usage_error([&] {
                ragline::Query probe;
                probe.filter = filter;
                ragline::KnowledgeBase::validate(probe);
              });
              auto kb = open_existing(arguments->kb);
              const std::size_t removed = kb.remove_where(filter);
              std::cout << "deleted " << removed << " document" << (removed == 1 ? "" : "s") << "\n";
              return 0;
            }
            auto kb = open_existing(arguments->kb);
            const std::string uri = arguments->target.find("://") != std::string::npos
                                        ? arguments->target
                                        : ragline::file_uri(arguments->target);
            if (!kb.remove_document(uri)) {
              std::cerr << "rag-query: no document " << uri << " in " << arguments->kb << "\n";
              return kExitFailed;
            }
            std::cout << "deleted " << uri << "\n";
            return 0;
          }};
}

Command add_check_command(CLI::App& app) {
  auto arguments = std::make_shared<KbArguments>();
  auto* command =
      app.add_subcommand("check", "Verify a KB (exit 0 clean, 1 with findings, 2 when it cannot be checked)");
  add_kb_option(command, arguments->kb);
  command->add_flag("--json", arguments->as_json, "Print the findings as JSON");
  // Exit 0 when the KB is clean (pending work is not damage), 1 with findings, 2 when the KB
  // cannot be opened or checked.
  return {command, [arguments] {
            try {
              const auto report = open_existing(arguments->kb).check();
              if (arguments->as_json) {
                print_json_indented(ragline::to_json(report));
              } else {
                print_check_text(report);
              }
              return report.ok() ? 0 : kExitFailed;
            } catch (const std::exception& error) {
              std::cerr << "rag-query: " << error.what() << "\n";
              return kExitUsage;
            }
          }};
}

Command add_repair_command(CLI::App& app) {
  auto arguments = std::make_shared<KbArguments>();
  auto* command = app.add_subcommand("repair", "Rebuild the keyword index and vectors.faiss from kb.sqlite");
  add_kb_option(command, arguments->kb);
  command->add_flag("--json", arguments->as_json, "Print the actions and the check after them as JSON");
  return {command, [arguments] {
            const auto report = open_existing(arguments->kb).repair();
            if (arguments->as_json) {
              print_json_indented(ragline::to_json(report));
            } else {
              for (const auto& action : report.actions) std::cout << action << "\n";
              print_check_text(report.after);
            }
            return report.after.ok() ? 0 : kExitFailed;
          }};
}

Command add_compact_command(CLI::App& app) {
  auto arguments = std::make_shared<KbArguments>();
  auto* command = app.add_subcommand(
      "compact", "Give the space of removed documents back: rewrite kb.sqlite (VACUUM) and vectors.faiss");
  add_kb_option(command, arguments->kb);
  command->add_flag("--json", arguments->as_json, "Print the sizes and actions as JSON");
  return {command, [arguments] {
            const auto report = open_existing(arguments->kb).compact();
            if (arguments->as_json) {
              print_json_indented(ragline::to_json(report));
            } else {
              for (const auto& action : report.actions) std::cout << action << "\n";
              std::printf("%.2f MB -> %.2f MB\n", static_cast<double>(report.bytes_before) / 1e6,
                          static_cast<double>(report.bytes_after) / 1e6);
            }
            return 0;
          }};
}

}  // namespace rag_query
