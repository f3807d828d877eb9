#pragma once
// rag-query's subcommands. Each add_*_command() declares one subcommand's options on the app and
// returns its action; main() (rag_query.cpp) only wires them and maps exceptions to exit codes.
// JSON output is the library's (ragline/json.hpp, docs/json.md), printed as is.
//
// Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage (options CLI11
// refuses, a UsageError: a bad query mode, fusion setting or filter, an ingest path that does not
// exist, an upsert file that cannot be read; check: the KB cannot be checked); 3 ingest or upsert
// finished but some inputs failed.

#include <CLI/CLI.hpp>
#include <functional>
#include <ragline/ragline.hpp>
#include <string>
#include <vector>

namespace rag_query {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitIngestFailures = 3;

// Bad usage that CLI11 cannot see when it parses: a query's mode, fusion settings or filter, an
// input path that does not exist. main() prints it and exits kExitUsage.
class UsageError : public ragline::Error {
 public:
  explicit UsageError(const std::string& message) : ragline::Error(ragline::ErrorKind::invalid_argument, message) {}
};

// Runs `check`; a ragline::Error it throws is rethrown as a UsageError with the same message.
template <typename Check>
auto as_usage_error(Check&& check) -> decltype(check()) {
  try {
    return check();
  } catch (const UsageError&) {
    throw;
  } catch (const ragline::Error& error) {
    throw UsageError(error.what());
  }
}

// "a | b | c", for help texts listing what a registry offers.
std::string alternatives(const std::vector<std::string>& names);

// A declared subcommand and what running it does; the action returns the exit code and may throw.
struct Command {
  CLI::App* subcommand = nullptr;
  std::function<int()> run;
};

Command add_ingest_command(CLI::App& app);   // ingest_command.cpp
Command add_embed_command(CLI::App& app);    // ingest_command.cpp
Command add_reindex_command(CLI::App& app);  // ingest_command.cpp
Command add_upsert_command(CLI::App& app);   // upsert_command.cpp
Command add_search_command(CLI::App& app);   // query_command.cpp
Command add_query_command(CLI::App& app);    // query_command.cpp
Command add_prompt_command(CLI::App& app);   // query_command.cpp
Command add_ask_command(CLI::App& app);      // query_command.cpp
Command add_stats_command(CLI::App& app);    // kb_commands.cpp
Command add_docs_command(CLI::App& app);     // kb_commands.cpp
Command add_delete_command(CLI::App& app);   // kb_commands.cpp
Command add_check_command(CLI::App& app);    // kb_commands.cpp
Command add_repair_command(CLI::App& app);   // kb_commands.cpp
Command add_compact_command(CLI::App& app);  // kb_commands.cpp

// Shared by the commands (commands.cpp).
std::string default_kb();  // $RAGLINE_KB or ""
void add_kb_option(CLI::App* command, std::string& kb);
// Opens a KB that must exist; Error(invalid_argument) when no --kb was given.
ragline::KnowledgeBase open_existing(const std::string& kb);
std::string read_text_file(const std::string& path);
// A library JSON document, indented for a terminal.
void print_json_indented(const std::string& document);
// A library JSON document as it is (one line).
void print_json_line(const std::string& document);

}  // namespace rag_query
