// rag-query: the command line of ragline. Only argument parsing and printing live in tools/; all
// work goes through the public API in <ragline/ragline.hpp>. main() declares the subcommands
// (each in its *_command.cpp, commands.hpp) and maps what they throw to exit codes.
//
// Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage (CLI11's parse
// errors and the UsageErrors of commands.hpp);
// 3 ingest finished but some inputs failed (listed on stderr and in the summary).

#include <CLI/CLI.hpp>
#include <iostream>
#include <ragline/ragline.hpp>
#include <string>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"rag-query: ingest files into a ragline knowledge base and search it"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rag-query ") + ragline::version());

  // In the order --help lists them.
  const std::vector<rag_query::Command> commands = {
      rag_query::add_ingest_command(app), rag_query::add_upsert_command(app),  rag_query::add_search_command(app),
      rag_query::add_query_command(app),  rag_query::add_prompt_command(app),  rag_query::add_ask_command(app),
      rag_query::add_embed_command(app),  rag_query::add_reindex_command(app), rag_query::add_stats_command(app),
      rag_query::add_docs_command(app),   rag_query::add_delete_command(app),  rag_query::add_check_command(app),
      rag_query::add_repair_command(app), rag_query::add_compact_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; every real usage error exits 2, whatever CLI11's own code.
    return app.exit(error) == 0 ? 0 : rag_query::kExitUsage;
  }

  try {
    for (const auto& command : commands) {
      if (*command.subcommand) return command.run();
    }
  } catch (const rag_query::UsageError& error) {
    std::cerr << "rag-query: " << error.what() << "\n";
    return rag_query::kExitUsage;
  } catch (const ragline::Error& error) {
    std::cerr << "rag-query: " << error.what() << "\n";
    return rag_query::kExitFailed;
  } catch (const std::exception& error) {
    std::cerr << "rag-query: unexpected error: " << error.what() << "\n";
    return rag_query::kExitFailed;
  }
  return 0;
}
