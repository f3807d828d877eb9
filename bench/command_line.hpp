#pragma once
// What the rag-bench* programs share on the command line: the exit codes (0 ok, 1 a run whose
// self-checks failed, 2 a run that could not happen, so CI can tell a quality regression from a
// broken set-up), the common flags, the library's log on stderr, and the ending of main(): parse,
// run, and turn usage errors and exceptions into messages and exit code 2.

#include <CLI/CLI.hpp>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "ragline/error.hpp"
#include "ragline/types.hpp"

namespace ragline::bench {

inline constexpr int kExitSelfCheckFailed = 1;
inline constexpr int kExitSetupError = 2;

// --json and -v/--verbose, worded the same in every bench.
inline void add_output_flags(CLI::App& app, bool& json, bool& verbose) {
  app.add_flag("--json", json, "end standard output with one JSON object on its own line");
  app.add_flag("-v,--verbose", verbose, "show the library's info and debug messages");
}

// --work and --keep of the benches that generate their corpus (WorkFiles, scale_support.hpp).
inline void add_work_options(CLI::App& app, std::filesystem::path& work, bool& keep) {
  app.add_option("--work", work, "directory for corpus.jsonl, kb/ and fts5.sqlite (default: a fresh temp dir)");
  app.add_flag("--keep", keep, "keep the work files after the run");
}

// The library's messages on stderr as "ragline: ...": warnings and errors, and with `verbose`
// info and debug too.
inline LogCallback stderr_log(bool verbose) {
  return [verbose](LogLevel level, const std::string& message) {
    if (verbose || level >= LogLevel::warning) std::cerr << "ragline: " << message << '\n';
  };
}

// Prints each failed self-check as "<program>: self-check failed: ..." on stderr; the exit
// status of the run (0, or kExitSelfCheckFailed).
inline int self_check_status(std::string_view program, const std::vector<std::string>& failures) {
  for (const std::string& failure : failures) std::cerr << program << ": self-check failed: " << failure << '\n';
  return failures.empty() ? 0 : kExitSelfCheckFailed;
}

inline int parse_and_run(CLI::App& app, int argc, char** argv, std::string_view program,
                         const std::function<int()>& run) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 prints the message (or the help text, exit code 0); its own codes are remapped so a
    // usage error has the same status as every other set-up error.
    return app.exit(error) == 0 ? 0 : kExitSetupError;
  }
  try {
    return run();
  } catch (const Error& error) {
    std::cerr << program << ": " << error.what() << " [" << to_string(error.kind()) << "]\n";
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << '\n';
  }
  return kExitSetupError;
}

}  // namespace ragline::bench
