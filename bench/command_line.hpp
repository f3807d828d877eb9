#pragma once
// The shared ending of the bench executables' main(): parse the command line, run, and turn
// usage errors and exceptions into messages and exit code 2 (a run that could not happen, kept
// apart from exit 1, a run whose self-checks failed).

#include <CLI/CLI.hpp>
#include <exception>
#include <functional>
#include <iostream>
#include <string_view>

#include "ragline/error.hpp"

namespace ragline::bench {

inline constexpr int kExitSetupError = 2;

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
