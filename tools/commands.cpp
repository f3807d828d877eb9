#include "commands.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rag_query {

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

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ragline::Error(ragline::ErrorKind::not_found, "cannot read file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string alternatives(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : " | ") + name;
  return text;
}

void print_json_indented(const std::string& document) { std::cout << nlohmann::json::parse(document).dump(2) << "\n"; }

void print_json_line(const std::string& document) { std::cout << document << "\n"; }

}  // namespace rag_query
