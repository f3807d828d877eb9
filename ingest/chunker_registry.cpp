#include <array>
#include <string>

#include "core/check.hpp"
#include "ingest/chunk_packing.hpp"
#include "ingest/chunker.hpp"

namespace ragline::ingest {
namespace {

// Each chunker checks only the parameters it uses, so a KB created with --chunker none does
// not fail over an unused max_tokens.
void check_max_and_overlap(const ChunkerConfig& config, bool uses_overlap) {
  RAGLINE_CHECK(config.max_tokens >= 1, invalid_argument,
                "chunker '" << config.name << "': max_tokens must be at least 1, got " << config.max_tokens);
  if (!uses_overlap) return;
  RAGLINE_CHECK(config.overlap_tokens >= 0 && config.overlap_tokens < config.max_tokens, invalid_argument,
                "chunker '" << config.name << "': overlap_tokens must be at least 0 and less than max_tokens ("
                            << config.max_tokens << "), got " << config.overlap_tokens);
}

struct ChunkerEntry {
  std::string_view name;
  std::unique_ptr<Chunker> (*make)(const ChunkerConfig& config);
};

constexpr std::array<ChunkerEntry, 5> kChunkers = {{
    {"fixed",
     [](const ChunkerConfig& config) {
       check_max_and_overlap(config, true);
       return detail::make_fixed_chunker(config.max_tokens, config.overlap_tokens);
     }},
    {"sentence",
     [](const ChunkerConfig& config) {
       check_max_and_overlap(config, true);
       return detail::make_sentence_chunker(config.max_tokens, config.overlap_tokens);
     }},
    {"markdown",
     [](const ChunkerConfig& config) {
       check_max_and_overlap(config, false);
       return detail::make_markdown_chunker(config.max_tokens);
     }},
    {"hierarchical",
     [](const ChunkerConfig& config) {
       RAGLINE_CHECK(config.child_tokens >= 1, invalid_argument,
                     "chunker 'hierarchical': child_tokens must be at least 1, got " << config.child_tokens);
       RAGLINE_CHECK(config.child_tokens <= config.parent_tokens, invalid_argument,
                     "chunker 'hierarchical': child_tokens must not exceed parent_tokens ("
                         << config.parent_tokens << "), got " << config.child_tokens);
       return detail::make_hierarchical_chunker(config.parent_tokens, config.child_tokens);
     }},
    {"none", [](const ChunkerConfig&) { return detail::make_none_chunker(); }},
}};

}  // namespace

std::unique_ptr<Chunker> make_chunker(const ChunkerConfig& config) {
  for (const ChunkerEntry& entry : kChunkers) {
    if (entry.name == config.name) return entry.make(config);
  }
  std::string known;
  for (const ChunkerEntry& entry : kChunkers) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  RAGLINE_THROW(invalid_argument, "unknown chunker '" << config.name << "' (known: " << known << ")");
}

std::vector<std::string_view> chunker_names() {
  std::vector<std::string_view> names;
  for (const ChunkerEntry& entry : kChunkers) names.push_back(entry.name);
  return names;
}

}  // namespace ragline::ingest
