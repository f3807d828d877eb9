// rag-query upsert: documents from JSON Lines (a file or stdin) through KnowledgeBase::upsert.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"

namespace rag_query {
namespace {

struct UpsertArguments {
  std::string input = "-";
  std::string kb = default_kb();
  bool as_json = false;
};

struct ReadDocuments {
  std::vector<ragline::DocumentInput> documents;
  std::vector<std::size_t> line_of;  // the line each document came from, by index
  std::vector<ragline::IngestFailure> failures;
};

// Every non-blank line is one document; a line that is not one is a failure located as
// SOURCE:LINE, and the other lines are still read.
ReadDocuments read_json_lines(std::istream& in, const std::string& source) {
  ReadDocuments read;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      read.documents.push_back(ragline::document_input_from_json(line));
      read.line_of.push_back(number);
    } catch (const ragline::Error& error) {
      read.failures.push_back({source + ":" + std::to_string(number), error.what(), ragline::IngestFailureKind::input});
    }
  }
  if (in.bad()) throw ragline::Error(ragline::ErrorKind::io, "upsert: reading " + source + " failed");
  return read;
}

int run_upsert(const UpsertArguments& arguments) {
  if (arguments.kb.empty())
    throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
  const bool from_stdin = arguments.input == "-";
  const std::string source = from_stdin ? "stdin" : arguments.input;
  std::ifstream file;
  if (!from_stdin) {
    file.open(arguments.input, std::ios::binary);
    if (!file) throw UsageError("upsert: cannot read " + arguments.input);
  }
  ReadDocuments read = read_json_lines(from_stdin ? std::cin : file, source);

  // Created with the default settings when missing, as ingest creates one.
  auto kb = ragline::KnowledgeBase::open(arguments.kb);
  auto report = kb.upsert(read.documents);
  // The library locates a document whose id is unusable by its index in the list: here, its line.
  for (auto& failure : report.failures) {
    const std::string prefix = "documents[";
    if (failure.location.rfind(prefix, 0) != 0) continue;
    const std::size_t index = std::stoul(failure.location.substr(prefix.size()));
    if (index < read.line_of.size()) failure.location = source + ":" + std::to_string(read.line_of[index]);
  }
  report.failures.insert(report.failures.begin(), read.failures.begin(), read.failures.end());

  if (arguments.as_json) {
    print_json_line(ragline::to_json(report));
  } else {
    std::printf("upserted %zu documents: %zu added, %zu updated, %zu unchanged, %zu failed; %zu chunks\n",
                read.documents.size(), report.documents_added, report.documents_updated, report.documents_unchanged,
                report.failures.size(), report.chunks_written);
    for (const auto& failure : report.failures) {
      std::cerr << "rag-query: " << failure.location << ": " << failure.reason << "\n";
    }
    for (const auto& warning : report.warnings) std::printf("warning: %s\n", warning.c_str());
  }
  return report.ok() ? 0 : kExitIngestFailures;
}

}  // namespace

Command add_upsert_command(CLI::App& app) {
  auto arguments = std::make_shared<UpsertArguments>();
  auto* command = app.add_subcommand(
      "upsert", "Add or replace documents by id from JSON Lines ({\"id\", \"title\", \"text\", \"metadata\"} a line)");
  command->add_option("input", arguments->input, "JSON Lines file, or - for stdin (the default)");
  add_kb_option(command, arguments->kb);
  command->add_flag("--json", arguments->as_json, "Print the report as JSON");
  return {command, [arguments] { return run_upsert(*arguments); }};
}

}  // namespace rag_query
